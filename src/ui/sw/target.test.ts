import { describe, expect, it } from 'vitest';
import { boundTarget, isBoundTarget, parseProxyPath, proxiedReferrer, targetUrl } from './target.js';
import { decodePageMessage } from './messages.js';
import { contentDisposition } from './downloads.js';
import { cacheable } from './shell.js';

describe('Service Worker helpers (pure)', () => {
  it('parses /proxy/ paths', () => {
    expect(parseProxyPath('/proxy/nas/8080/app/?q=1')).toEqual({ host: 'nas', port: '8080', rest: '/app/?q=1' });
    expect(parseProxyPath('/proxy/nas/8080?q')).toEqual({ host: 'nas', port: '8080', rest: '/?q' });
    expect(parseProxyPath('/proxy/%E0/80/')).toBeNull();
    expect(parseProxyPath('/app/')).toBeNull();
    expect(targetUrl({ host: 'fd7a::1', port: '80', rest: '/' })).toBe('http://[fd7a::1]:80/');
  });

  it('binds a proxy-host origin to its one target', () => {
    const b = boundTarget('p8080-nas.proxy.tailtab.localhost');
    expect(b).toEqual({ host: 'nas', port: 8080 });
    expect(boundTarget('p80-100-64-0-5.proxy.x')).toEqual({ host: '100.64.0.5', port: 80 });
    expect(boundTarget('proxy.tailtab.localhost')).toEqual({ host: '', port: 0 });
    expect(isBoundTarget(b, { host: 'nas', port: '8080' })).toBe(true);
    expect(isBoundTarget(b, { host: 'NAS.tailnet.ts.net.', port: '8080' })).toBe(true);
    expect(isBoundTarget(b, { host: 'nas', port: '80' })).toBe(false);
    expect(isBoundTarget(b, { host: 'db', port: '8080' })).toBe(false);
    expect(isBoundTarget(boundTarget('x.y'), { host: 'nas', port: '0' })).toBe(false);
    expect(isBoundTarget(null, { host: 'db', port: '1' })).toBe(true);
  });

  it('gives the app a Referer under /proxy/', () => {
    const o = 'http://t.localhost';
    expect(proxiedReferrer(`${o}/proxy/nas/80/a?b`, o, { host: 'nas', port: '80' })).toBe('/proxy/nas/80/a?b');
    expect(proxiedReferrer(`${o}/page`, o, { host: 'nas', port: '80' })).toBe('/proxy/nas/80/page');
    expect(proxiedReferrer(`${o}/__tailtab/frame.js`, o, { host: 'nas', port: '80' })).toBeUndefined();
    expect(proxiedReferrer('http://elsewhere/page', o, { host: 'nas', port: '80' })).toBeUndefined();
    expect(proxiedReferrer('', o, { host: 'nas', port: '80' })).toBeUndefined();
  });

  it('decodes page messages, ignoring what it does not know', () => {
    const { port1 } = new MessageChannel();
    expect(decodePageMessage({ type: 'tailtab-node-port' }, [])).toBeNull();
    expect(decodePageMessage({ type: 'tailtab-node-port' }, [port1])).toEqual({
      type: 'tailtab-node-port',
      port: port1,
    });
    expect(decodePageMessage({ type: 'tailtab-websocket', path: 'x', protocols: ['a', 1] }, [port1])).toEqual({
      type: 'tailtab-websocket',
      port: port1,
      path: null,
      protocols: ['a'],
    });
    expect(decodePageMessage({ type: 'tailtab-download', id: 'probe', size: -1, name: '' }, [port1])).toMatchObject({
      id: 'probe',
      size: undefined,
      name: undefined,
      stream: undefined,
    });
    for (const junk of [null, 1, 'x', {}, { type: 'tailtab-need-port' }])
      expect(decodePageMessage(junk, [port1])).toBeNull();
    port1.close();
  });

  it('names downloads (RFC 6266) and never caches the embedded config', () => {
    expect(contentDisposition('a "b".txt')).toBe(`attachment; filename="a _b_.txt"; filename*=UTF-8''a%20%22b%22.txt`);
    expect(contentDisposition('ü(1)')).toBe(`attachment; filename="_(1)"; filename*=UTF-8''%C3%BC%281%29`);
    const get = (path: string) => new Request(`http://t.localhost${path}`);
    expect(cacheable(get('/'), new Response('x'))).toBe(true);
    expect(cacheable(get('/tailtab-config.json'), new Response('{}'))).toBe(false);
    expect(cacheable(get('/a.js'), new Response('x', { headers: { 'cache-control': 'No-Store' } }))).toBe(false);
    expect(cacheable(new Request('http://t.localhost/', { method: 'POST' }), new Response('x'))).toBe(false);
    expect(cacheable(get('/'), new Response('x', { status: 404 }))).toBe(false);
  });
});
