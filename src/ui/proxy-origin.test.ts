import { describe, expect, it } from 'vitest';
import { chooseProxyOrigin } from './proxy-origin.js';

const at = (href: string) => {
  const u = new URL(href);
  return { protocol: u.protocol, hostname: u.hostname, port: u.port, origin: u.origin };
};

describe('chooseProxyOrigin', () => {
  it('uses the configured origin, reduced to its origin', () => {
    expect(chooseProxyOrigin('https://proxy.example.com/some/path', at('https://tailtab.example.com/'))).toBe('https://proxy.example.com');
  });
  it('refuses a configured origin equal to tailtab\'s own, or not http(s)', () => {
    expect(() => chooseProxyOrigin('https://tailtab.example.com/x', at('https://tailtab.example.com/'))).toThrow(/differ/);
    expect(() => chooseProxyOrigin('javascript:alert(1)', at('https://tailtab.example.com/'))).toThrow(/http/);
    expect(() => chooseProxyOrigin('not a url', at('https://tailtab.example.com/'))).toThrow(/not a URL/);
  });
  it('under .localhost, isolates by the sibling proxy.<name> (same site, another origin)', () => {
    expect(chooseProxyOrigin(undefined, at('http://tailtab.localhost:5173/'))).toBe('http://proxy.tailtab.localhost:5173');
    expect(chooseProxyOrigin(undefined, at('http://proxy.tailtab.localhost:5173/'))).toBeUndefined();
  });
  it('on 127.0.0.1 or localhost (different sites from any other name) stays on the same origin', () => {
    expect(chooseProxyOrigin(undefined, at('http://127.0.0.1:5173/'))).toBeUndefined();
    expect(chooseProxyOrigin(undefined, at('http://localhost:5173/'))).toBeUndefined();
  });
  it('elsewhere without configuration, stays on the same origin (the web view then warns)', () => {
    expect(chooseProxyOrigin(undefined, at('https://tailtab.example.com/'))).toBeUndefined();
  });
});
