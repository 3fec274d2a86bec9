import { describe, expect, it } from 'vitest';
import { appCsp, cspForHost } from './csp.js';

const directive = (csp: string, name: string) => csp.split('; ').find((d) => d.startsWith(`${name} `));

describe('Content-Security-Policy', () => {
  it('the app runs only its own scripts, no plugins, no <base>, and is framed by nobody', () => {
    const csp = appCsp();
    expect(directive(csp, 'script-src')).toBe("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-eval|script-src[^;]*unsafe-inline/);
    expect(directive(csp, 'object-src')).toBe("object-src 'none'");
    expect(directive(csp, 'base-uri')).toBe("base-uri 'none'");
    expect(directive(csp, 'frame-ancestors')).toBe("frame-ancestors 'none'");
    // Remote plain http/ws is not allowed; only this machine.
    expect(directive(csp, 'connect-src')).toMatch(/ https: wss: /);
    expect(directive(csp, 'connect-src')).not.toMatch(/ (http|ws): /);
  });
  it('the demo host frames its proxy sibling; the proxy sibling is framed only by the app', () => {
    expect(directive(cspForHost('tailtab.localhost:5173'), 'frame-src')).toBe(
      "frame-src 'self' http://*.proxy.tailtab.localhost:5173",
    );
    expect(directive(cspForHost('proxy.tailtab.localhost:5173'), 'frame-ancestors')).toBe(
      'frame-ancestors http://tailtab.localhost:5173',
    );
    expect(directive(cspForHost('p8080-nas.proxy.tailtab.localhost:5173'), 'frame-ancestors')).toBe(
      'frame-ancestors http://tailtab.localhost:5173',
    );
    expect(directive(cspForHost('127.0.0.1:5173'), 'frame-src')).toBe("frame-src 'self'");
  });
  it('a configured proxy origin is framed by the app and frames nothing else in', () => {
    const o = { scheme: 'https', proxyOrigin: 'https://proxy.example.com', appOrigin: 'https://tailtab.example.com' };
    expect(directive(cspForHost('tailtab.example.com', o), 'frame-src')).toBe(
      "frame-src 'self' https://*.proxy.example.com",
    );
    expect(directive(cspForHost('p80-nas.proxy.example.com', o), 'frame-ancestors')).toBe(
      'frame-ancestors https://tailtab.example.com',
    );
    expect(directive(cspForHost('proxy.example.com', o), 'frame-ancestors')).toBe(
      'frame-ancestors https://tailtab.example.com',
    );
  });
  it('vendor pages named as embedding the widget with proxy-origin may frame the proxy origin too, nothing else changes', () => {
    const o = {
      scheme: 'https',
      proxyOrigin: 'https://proxy.example.com',
      appOrigin: 'https://tailtab.example.com',
      widgetOrigins: ['https://support.acme.example/help/'],
    };
    expect(directive(cspForHost('p80-nas.proxy.example.com', o), 'frame-ancestors')).toBe(
      'frame-ancestors https://tailtab.example.com https://support.acme.example',
    );
    expect(directive(cspForHost('tailtab.example.com', o), 'frame-ancestors')).toBe("frame-ancestors 'none'");
    expect(directive(cspForHost('p80-nas.proxy.example.com', { ...o, widgetOrigins: [] }), 'frame-ancestors')).toBe(
      'frame-ancestors https://tailtab.example.com',
    );
  });
});
