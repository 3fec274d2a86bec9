import { describe, expect, it } from 'vitest';
import { chooseProxyOrigin, parseTargetLabel, targetLabel, targetOf, targetProxyOrigin } from './proxy-origin.js';

const at = (href: string) => {
  const u = new URL(href);
  return { protocol: u.protocol, hostname: u.hostname, port: u.port, origin: u.origin };
};

describe('chooseProxyOrigin', () => {
  it('uses the configured origin, reduced to its origin', () => {
    expect(chooseProxyOrigin('https://proxy.example.com/some/path', at('https://tailtab.example.com/'))).toBe(
      'https://proxy.example.com',
    );
  });
  it("refuses a configured origin equal to tailtab's own, or not http(s)", () => {
    expect(() => chooseProxyOrigin('https://tailtab.example.com/x', at('https://tailtab.example.com/'))).toThrow(
      /differ/,
    );
    expect(() => chooseProxyOrigin('javascript:alert(1)', at('https://tailtab.example.com/'))).toThrow(/http/);
    expect(() => chooseProxyOrigin('not a url', at('https://tailtab.example.com/'))).toThrow(/not a URL/);
  });
  it('under .localhost, isolates by the sibling proxy.<name> (same site, another origin)', () => {
    expect(chooseProxyOrigin(undefined, at('http://tailtab.localhost:5173/'))).toBe(
      'http://proxy.tailtab.localhost:5173',
    );
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

describe('one origin per tailnet target', () => {
  it('names each host and port its own DNS label, and reads it back', () => {
    expect(targetLabel({ host: 'nas', port: 8080 })).toBe('p8080-nas');
    expect(targetLabel({ host: 'peer1.tailtab.test.', port: 80 })).toBe('p80-peer1');
    expect(targetLabel({ host: '100.64.0.5', port: 3000 })).toBe('p3000-100-64-0-5');
    expect(targetLabel({ host: 'db', port: 80 })).toBe('p80-db'); // never "db--80" (IDNA forbids -- at 3-4)
    expect(parseTargetLabel('p8080-nas')).toEqual({ host: 'nas', port: 8080 });
    expect(parseTargetLabel('p3000-100-64-0-5')).toEqual({ host: '100.64.0.5', port: 3000 });
    expect(parseTargetLabel('proxy')).toBeNull();
    expect(parseTargetLabel('p0-x')).toBeNull();
    expect(parseTargetLabel('p70000-x')).toBeNull();
    expect(targetProxyOrigin('http://proxy.tailtab.localhost:5173', { host: 'peer2', port: 8080 })).toBe(
      'http://p8080-peer2.proxy.tailtab.localhost:5173',
    );
    expect(targetProxyOrigin('https://proxy.example.com', { host: 'nas.tail.ts.net', port: 80 })).toBe(
      'https://p80-nas.proxy.example.com',
    );
  });
  it('refuses what cannot be a label, with words', () => {
    expect(() => targetLabel({ host: 'fd7a:115c:a1e0::1', port: 80 })).toThrow(/machine name, not the IPv6/);
    expect(() => targetLabel({ host: 'evil_host', port: 80 })).toThrow(/not a machine name/);
    expect(() => targetLabel({ host: 'a'.repeat(60), port: 80 })).toThrow(/too long/);
    expect(() => targetLabel({ host: 'x', port: 0 })).toThrow(/not a TCP port/);
  });
  it('reads the target of an address', () => {
    expect(targetOf('http://nas:8080/app?x=1')).toEqual({ host: 'nas', port: 8080 });
    expect(targetOf('peer1')).toEqual({ host: 'peer1', port: 80 });
    expect(targetOf('https://nas/')).toBeNull();
  });
});
