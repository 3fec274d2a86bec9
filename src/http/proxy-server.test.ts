// serveHttpProxy over a real MessageChannel, playing the Service Worker's side of the messages,
// against a real node:http app on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { HttpClient } from './client.js';
import { netDialer } from './net-socket.testkit.js';
import { serveHttpProxy } from './proxy-server.js';
import type { MessagePortLike } from '../platform/port.js';
import { CookieJar } from './cookies.js';
import {
  FrameScriptInjector,
  fromProxyPath,
  OriginLinkRewriter,
  rewriteCsp,
  rewriteResponseHeaders,
  toProxyPath,
} from './proxy-rewrite.js';
import { VirtualClock } from '../platform/clock.js';

let server: Server;
let port = 0;
// Well above what loopback socket buffers can absorb, so a held-back server is visible.
const BIG = 32 * 1024 * 1024;
let bigWritten = 0;
const big = (() => {
  const b = new Uint8Array(BIG);
  for (let i = 0; i < BIG; i++) b[i] = (i * 2654435761) >>> 27;
  return b;
})();

beforeAll(async () => {
  server = createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    if (u.pathname === '/page') {
      res.writeHead(200, {
        'content-type': 'text/html',
        'content-encoding': 'gzip',
        'x-frame-options': 'DENY',
        'content-security-policy': `default-src 'self' http://127.0.0.1:${port}; frame-ancestors 'none'`,
        'strict-transport-security': 'max-age=31536000',
        'clear-site-data': '"*"',
      });
      res.end(gzipSync(Buffer.from('<h1>page</h1>')));
    } else if (u.pathname === '/login' && req.method === 'POST') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.writeHead(303, {
          location: '/home',
          'set-cookie': [
            `session=${new URLSearchParams(body).get('user')}; Path=/; HttpOnly`,
            'theme=dark; Max-Age=60',
          ],
        });
        res.end(JSON.stringify({ origin: req.headers.origin, referer: req.headers.referer }));
      });
    } else if (u.pathname === '/whoami') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          cookie: req.headers.cookie ?? null,
          host: req.headers.host,
          origin: req.headers.origin ?? null,
          referer: req.headers.referer ?? null,
        }),
      );
    } else if (u.pathname === '/big') {
      res.writeHead(200, { 'content-length': BIG });
      let off = 0;
      bigWritten = 0;
      const pump = () => {
        while (off < BIG) {
          const ok = res.write(big.subarray(off, off + 65536));
          off += 65536;
          bigWritten = off;
          if (!ok) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

interface Answer {
  head?: { status: number; statusText: string; headers: [string, string][] };
  body: Uint8Array[];
  end: boolean;
  error?: string;
}

/** The Service Worker's side: send requests, collect answers, optionally acknowledge chunks. */
function swSide(autoAck = true) {
  const ch = new MessageChannel();
  const answers = new Map<number, Answer & { done: Promise<void>; resolve: () => void }>();
  const sw = ch.port2 as unknown as MessagePortLike;
  sw.onmessage = (ev: MessageEvent) => {
    const m = ev.data;
    const a = answers.get(m.id);
    if (!a) return;
    if (m.type === 'response') a.head = m;
    else if (m.type === 'chunk') {
      a.body.push(new Uint8Array(m.data));
      if (autoAck) sw.postMessage({ type: 'ack', id: m.id, bytes: m.data.byteLength });
    } else if (m.type === 'end') {
      a.end = true;
      a.resolve();
    } else if (m.type === 'error') {
      a.error = m.message;
      a.resolve();
    }
  };
  let nextId = 1;
  return {
    node: ch.port1 as unknown as MessagePortLike,
    sw,
    send(msg: Record<string, unknown>): Answer & { id: number; done: Promise<void> } {
      const id = nextId++;
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      const a = { body: [], end: false, done, resolve };
      answers.set(id, a);
      sw.postMessage({ type: 'request', id, method: 'GET', headers: [], ...msg });
      return Object.assign(a, { id });
    },
    close() {
      ch.port1.close();
      ch.port2.close();
    },
  };
}

const text = (a: Answer) => new TextDecoder().decode(Buffer.concat(a.body));
const hdr = (a: Answer, n: string) => a.head!.headers.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);

describe('serveHttpProxy', () => {
  it('serves a page decoded, framable, without origin-wide headers, CSP mapped to self', async () => {
    const s = swSide();
    const client = new HttpClient({ dial: netDialer() });
    const h = serveHttpProxy(s.node, client);
    const a = s.send({ url: `http://127.0.0.1:${port}/page` });
    await a.done;
    expect(a.error).toBeUndefined();
    expect(a.head!.status).toBe(200);
    expect(text(a)).toBe('<h1>page</h1>');
    expect(hdr(a, 'content-encoding')).toEqual([]);
    expect(hdr(a, 'x-frame-options')).toEqual([]);
    expect(hdr(a, 'strict-transport-security')).toEqual([]);
    expect(hdr(a, 'clear-site-data')).toEqual([]);
    expect(hdr(a, 'content-security-policy')).toEqual(["default-src 'self' 'self'"]);
    h.close();
    client.close();
    s.close();
  });

  it('forwards a form POST with Origin/Referer of the app, keeps the session cookie in the node and rewrites Location', async () => {
    const s = swSide();
    const client = new HttpClient({ dial: netDialer() });
    const h = serveHttpProxy(s.node, client);
    const body = new TextEncoder().encode('user=alice').buffer;
    const a = s.send({
      method: 'POST',
      url: `http://127.0.0.1:${port}/login`,
      headers: [['content-type', 'application/x-www-form-urlencoded']],
      body,
      referrer: `/proxy/127.0.0.1/${port}/form?x=1`,
    });
    await a.done;
    expect(a.head!.status).toBe(303);
    expect(hdr(a, 'location')).toEqual([`/proxy/127.0.0.1/${port}/home`]);
    expect(hdr(a, 'set-cookie')).toEqual([]);
    expect(JSON.parse(text(a))).toEqual({
      origin: `http://127.0.0.1:${port}`,
      referer: `http://127.0.0.1:${port}/form?x=1`,
    });
    const b = s.send({
      url: `http://127.0.0.1:${port}/whoami`,
      headers: [
        ['cookie', 'evil=1'],
        ['host', 'wrong'],
      ],
    });
    await b.done;
    expect(JSON.parse(text(b))).toMatchObject({ cookie: 'session=alice; theme=dark', host: `127.0.0.1:${port}` });
    h.close();
    // A second port for the same client (the Service Worker restarted) keeps the login.
    const s2 = swSide();
    const h2 = serveHttpProxy(s2.node, client);
    const c = s2.send({ url: `http://127.0.0.1:${port}/whoami` });
    await c.done;
    expect(JSON.parse(text(c)).cookie).toBe('session=alice; theme=dark');
    h2.close();
    client.close();
    s.close();
    s2.close();
  });

  it('keeps at most the window un-acknowledged, then delivers every byte once the frame reads', async () => {
    const s = swSide(false);
    const client = new HttpClient({ dial: netDialer() });
    const h = serveHttpProxy(s.node, client, { windowBytes: 256 * 1024 });
    const a = s.send({ url: `http://127.0.0.1:${port}/big` });
    const got = () => a.body.reduce((n, b) => n + b.length, 0);
    for (let i = 0; i < 100 && got() < 256 * 1024; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300)); // would more come without acknowledgements?
    const received = got();
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThanOrEqual(256 * 1024 + 65536);
    expect(bigWritten).toBeLessThan(BIG); // the server is held back through TCP
    // Now read: acknowledge everything received so far, and from here on.
    s.sw.postMessage({ type: 'ack', id: a.id, bytes: received });
    const old = s.sw.onmessage!;
    s.sw.onmessage = (ev) => {
      old(ev);
      if (ev.data.type === 'chunk') s.sw.postMessage({ type: 'ack', id: ev.data.id, bytes: ev.data.data.byteLength });
    };
    await a.done;
    expect(a.end).toBe(true);
    const all = Buffer.concat(a.body);
    expect(createHash('sha256').update(all).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
    h.close();
    client.close();
    s.close();
  });

  it('cancel stops the body and frees the request', async () => {
    const s = swSide(false);
    const client = new HttpClient({ dial: netDialer() });
    const h = serveHttpProxy(s.node, client, { windowBytes: 64 * 1024 });
    const a = s.send({ url: `http://127.0.0.1:${port}/big` });
    await new Promise((r) => setTimeout(r, 100));
    expect(h.stats.active).toBe(1);
    s.sw.postMessage({ type: 'cancel', id: a.id });
    await new Promise((r) => setTimeout(r, 100));
    expect(h.stats.active).toBe(0);
    expect(a.end).toBe(false);
    h.close();
    client.close();
    s.close();
  });

  it('answers refused and broken requests with an error message, counts malformed messages, never throws', async () => {
    const s = swSide();
    const client = new HttpClient({ dial: netDialer() });
    const h = serveHttpProxy(s.node, client, { allowTarget: (host) => host === '127.0.0.1' });
    const a = s.send({ url: 'https://127.0.0.1/' });
    const b = s.send({ url: 'http://outside.example/' });
    const c = s.send({ url: 'http://127.0.0.1:1/' });
    const d = s.send({ url: `http://127.0.0.1:${port}/`, headers: 'nope' });
    await Promise.all([a.done, b.done, c.done, d.done]);
    expect(a.error).toMatch(/only proxies http/);
    expect(b.error).toMatch(/is not a machine this web view may reach \(not in the tailnet/);
    expect(c.error).toMatch(/could not connect to 127\.0\.0\.1:1/);
    expect(d.error).toMatch(/malformed/);
    const pong = new Promise((r) => {
      const old = s.sw.onmessage!;
      s.sw.onmessage = (ev) => (ev.data.type === 'pong' ? r(ev.data) : old(ev));
    });
    s.sw.postMessage({ type: 'ping', id: 77 });
    expect(await pong).toEqual({ type: 'pong', id: 77 });
    for (const junk of [null, 42, 'x', { type: 'request' }, { id: 'x' }, { id: 99, type: 'weird' }])
      s.sw.postMessage(junk);
    await new Promise((r) => setTimeout(r, 50));
    expect(h.stats.malformed).toBeGreaterThanOrEqual(6);
    h.close();
    client.close();
    s.close();
  });
});

describe('serveHttpProxy with arbitrary messages', () => {
  it('property: any message is answered or counted, never thrown, and nothing stays in flight', async () => {
    const posted: { type: string; id: number }[] = [];
    const port: MessagePortLike = {
      onmessage: null,
      postMessage: (m) => void posted.push(m as { type: string; id: number }),
    };
    const client = new HttpClient({ dial: () => Promise.reject(new Error('no route')) });
    const h = serveHttpProxy(port, client);
    const requestLike = fc.record(
      {
        type: fc.constantFrom('request', 'ack', 'cancel', 'ping', 'other'),
        id: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.string()),
        method: fc.oneof(fc.constantFrom('GET', 'POST', 'HEAD'), fc.string()),
        url: fc.oneof(fc.constantFrom('http://nas:8080/x', 'https://nas/', 'ftp://x', 'http://[::1]:1/'), fc.string()),
        headers: fc.oneof(fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 3 }), fc.anything()),
        body: fc.oneof(fc.constant(undefined), fc.constant(new ArrayBuffer(3)), fc.anything()),
        bytes: fc.anything(),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(requestLike, fc.anything()), { maxLength: 20 }), async (msgs) => {
        for (const m of msgs) port.onmessage!({ data: m } as MessageEvent);
        await new Promise((r) => setTimeout(r, 0));
      }),
      fuzz(200),
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(h.stats.active).toBe(0);
    const finals = posted.filter((m) => m.type === 'end' || m.type === 'error');
    expect(finals.length).toBeGreaterThan(0);
    h.close();
    client.close();
  });
});

describe('proxy rewriting (pure)', () => {
  it('maps tailnet URLs to /proxy/ paths and back', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('nas', '100.64.0.7', 'fd7a:115c:a1e0::1', 'my-host.tail1234.ts.net'),
        fc.integer({ min: 1, max: 65535 }),
        fc.webPath(),
        (host, p, path) => {
          const u = new URL(
            `http://${host.includes(':') ? `[${host}]` : host}:${p}${path.startsWith('/') ? path : '/' + path}`,
          );
          const back = fromProxyPath(toProxyPath(u));
          expect(back?.href).toBe(u.href.replace(/#.*$/, ''));
        },
      ),
      fuzz(100),
    );
    expect(fromProxyPath('/proxy/nas/99999/')).toBeNull();
    expect(fromProxyPath('/app.js')).toBeNull();
  });

  it('rewrites Location, Refresh and CSP, pins Referrer-Policy', () => {
    const base = new URL('http://nas:8080/a/b');
    const out = rewriteResponseHeaders(
      [
        ['Location', '../c?x=1'],
        ['Refresh', '0; url=/next'],
        ['Location', 'https://login.example/'],
        ['Content-Security-Policy', "script-src http://nas:8080/static 'unsafe-inline'; frame-ancestors 'self'"],
        ['Referrer-Policy', 'no-referrer'],
        ['Connection', 'keep-alive'],
      ],
      base,
    );
    expect(out).toEqual([
      ['Location', '/proxy/nas/8080/c?x=1'],
      ['Refresh', '0; url=/proxy/nas/8080/next'],
      ['Location', 'https://login.example/'],
      ['Content-Security-Policy', "script-src 'self' 'unsafe-inline'"],
      ['Referrer-Policy', 'same-origin'],
    ]);
    expect(rewriteCsp("frame-ancestors 'none'", 'http://x')).toBe('');
  });
});

describe('OriginLinkRewriter', () => {
  const run = (target: string, text: string, cuts: number[]) => {
    const r = new OriginLinkRewriter(new URL(target));
    const bytes = Buffer.from(text, 'utf8');
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const out: Uint8Array[] = [];
    let prev = 0;
    for (const c of [...points, bytes.length]) {
      out.push(r.push(bytes.subarray(prev, c)));
      prev = c;
    }
    out.push(r.flush());
    return Buffer.concat(out).toString('utf8');
  };

  it("maps the app's own absolute links and nothing else", () => {
    const html =
      '<a href="http://nas:8080/x">a</a> <a href="HTTP://NAS:8080">b</a> http://nas:80800/ http://nas.evil:8080/ http://other:8080/ http://nas/y é';
    expect(run('http://nas:8080/', html, [])).toBe(
      '<a href="/proxy/nas/8080/x">a</a> <a href="/proxy/nas/8080">b</a> http://nas:80800/ http://nas.evil:8080/ http://other:8080/ http://nas/y é',
    );
    expect(run('http://nas/', 'src="http://nas/app.js" http://nas:80/z http://nas:81/', [])).toBe(
      'src="/proxy/nas/80/app.js" /proxy/nas/80/z http://nas:81/',
    );
  });

  it('property: the result does not depend on how the body is split into chunks', () => {
    const piece = fc.constantFrom(
      'http://nas:8080',
      'http://nas:8080/a',
      'http://nas',
      'http://nas:80',
      'http://nas-2:8080',
      'http://',
      'nas',
      ':8080',
      ' ',
      '"',
      'é',
      '✓',
      'x'.repeat(40),
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.constantFrom('http://nas:8080/', 'http://nas/'),
        (parts, cuts, target) => {
          const text = parts.join('');
          expect(run(target, text, cuts)).toBe(run(target, text, []));
        },
      ),
      fuzz(500),
    );
  });
});

describe('FrameScriptInjector', () => {
  const inject = (html: string, cuts: number[] = []) => {
    const r = new FrameScriptInjector();
    const b = Buffer.from(html, 'utf8');
    const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
    const out: Uint8Array[] = [];
    let prev = 0;
    for (const c of [...points, b.length]) {
      out.push(r.push(b.subarray(prev, c)));
      prev = c;
    }
    out.push(r.flush());
    return Buffer.concat(out).toString('utf8');
  };
  const tag = '<script src="/__tailtab/frame.js"></script>';

  it('goes after the doctype, or first when there is none', () => {
    expect(inject('<!DOCTYPE html>\n<html><head>é')).toBe(`<!DOCTYPE html>${tag}\n<html><head>é`);
    expect(inject('\ufeff  <!doctype html><p>x')).toBe(`\ufeff  <!doctype html>${tag}<p>x`);
    expect(inject('<html><body>x')).toBe(`${tag}<html><body>x`);
    expect(inject('')).toBe(tag);
  });

  it('property: the same output however the document is split', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('<!doctype html>', '<!DOCTYPE html PUBLIC "x">', '', '  ', '<!doc', '\ufeff'),
        fc.string({ maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (a, b, cuts) => {
          expect(inject(a + b, cuts)).toBe(inject(a + b));
          expect(inject(a + b).split(tag).length).toBe(2);
        },
      ),
      fuzz(100),
    );
  });
});

describe('CookieJar (RFC 6265 subset)', () => {
  it('expires by Max-Age on the injected clock, and by Expires relative to the Date header', () => {
    const clock = new VirtualClock();
    const jar = new CookieJar(clock);
    const u = new URL('http://nas:8080/app/page');
    jar.setFromResponse(
      u,
      ['a=1; Max-Age=10', 'b=2; Expires=Wed, 21 Oct 2026 07:28:10 GMT'],
      'Wed, 21 Oct 2026 07:28:00 GMT',
    );
    expect(jar.cookieHeader(new URL('http://nas:8080/app/x'))).toBe('a=1; b=2');
    clock.advance(10_001);
    expect(jar.cookieHeader(new URL('http://nas:8080/app/x'))).toBeNull();
  });

  it('scopes by default path, Path and host; deletes with Max-Age=0; refuses foreign Domain', () => {
    const jar = new CookieJar(new VirtualClock());
    const u = new URL('http://nas/app/login');
    jar.setFromResponse(u, ['d=1', 'root=2; Path=/', 'x=3; Domain=other.example']);
    expect(jar.cookieHeader(new URL('http://nas/app/more'))).toBe('d=1; root=2');
    expect(jar.cookieHeader(new URL('http://nas/apple'))).toBe('root=2');
    expect(jar.cookieHeader(new URL('http://other.example/'))).toBeNull();
    jar.setFromResponse(u, ['root=; Path=/; Max-Age=0']);
    expect(jar.cookieHeader(new URL('http://nas/'))).toBeNull();
  });

  it('property: arbitrary Set-Cookie strings never throw', () => {
    const jar = new CookieJar(new VirtualClock());
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 80 }), { maxLength: 5 }),
        fc.option(fc.string({ maxLength: 40 })),
        (lines, date) => {
          jar.setFromResponse(new URL('http://h/p/q'), lines, date);
          jar.cookieHeader(new URL('http://h/p/z'));
        },
      ),
      fuzz(100),
    );
  });
});
