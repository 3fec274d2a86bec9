import { describe, expect, it } from 'vitest';
import { proxyTargetFilter } from './proxy-target.js';

const tailnet: Record<string, string> = {
  peer1: '100.64.0.1',
  'peer1.tail.test': '100.64.0.1',
  '100.64.0.1': '100.64.0.1',
  peer2: '100.64.0.2',
  '100.64.0.2': '100.64.0.2',
};
const resolve = (h: string) => {
  const a = tailnet[h];
  if (!a) throw new Error(`unknown host ${h}`);
  return a;
};

describe('which targets a web-view proxy port reaches', () => {
  it("an unbound port (tailtab's own origin) reaches any tailnet machine and nothing else", () => {
    const allow = proxyTargetFilter(resolve);
    expect(allow('peer2', 80)).toBe(true);
    expect(allow('100.64.0.1', 8080)).toBe(true);
    expect(allow('example.com', 80)).toBe(false);
    expect(allow('127.0.0.1', 80)).toBe(false);
  });
  it('a port bound to one app reaches that machine and port only, by any of its names', () => {
    const allow = proxyTargetFilter(resolve, { host: '100.64.0.1', port: 8080 });
    expect(allow('100.64.0.1', 8080)).toBe(true);
    expect(allow('peer1', 8080)).toBe(true);
    expect(allow('peer1.tail.test', 8080)).toBe(true);
    // The hostile app's asks: another machine's app, another port of its own machine, the outside.
    expect(allow('peer2', 8080)).toBe(false);
    expect(allow('100.64.0.2', 8080)).toBe(false);
    expect(allow('100.64.0.1', 22)).toBe(false);
    expect(allow('example.com', 8080)).toBe(false);
  });
  it('a port bound to a host that does not resolve reaches nothing', () => {
    const allow = proxyTargetFilter(resolve, { host: 'gone', port: 80 });
    expect(allow('gone', 80)).toBe(false);
    expect(allow('peer1', 80)).toBe(false);
  });
  it('a bound name is resolved at each request, so a route turned on later is followed', () => {
    const routed = new Set<string>();
    const allow = proxyTargetFilter((h) => (routed.has(h) ? h : undefined), { host: '10.77.0.9', port: 80 });
    expect(allow('10.77.0.9', 80)).toBe(false);
    routed.add('10.77.0.9');
    expect(allow('10.77.0.9', 80)).toBe(true);
  });
});
