// HttpClient against a real node:http server (and raw net servers for broken ones) on loopback,
// through a net.Socket → web-streams adapter standing in for the netstack socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { gzipSync, deflateSync, deflateRawSync } from 'node:zlib';
import { HttpClient, HttpError } from './client.js';
import { netDialer } from './net-socket.testkit.js';
import { VirtualClock } from '../platform/clock.js';
import { turnsUntil } from '../platform/virtual-time.testkit.js';

function pattern(n: number, seed = 7): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let server: Server;
let port = 0;
let connections = 0;
let maxConcurrent = 0;
let open = 0;
const BIG = 32 * 1024 * 1024;
let bigProgress = { written: 0 };

function handler(req: IncomingMessage, res: ServerResponse) {
  const u = new URL(req.url!, 'http://x');
  const p = u.pathname;
  if (p === '/hello') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('hello world');
  if (p === '/chunked') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('part1-');
    setTimeout(() => res.end('part2'), 20);
    return;
  }
  if (p === '/echo') {
    const parts: Buffer[] = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts);
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          method: req.method,
          te: req.headers['transfer-encoding'] ?? null,
          cl: req.headers['content-length'] ?? null,
          sha: sha(body),
          len: body.length,
          host: req.headers.host,
        }),
      );
    });
    return;
  }
  if (p === '/gzip')
    return void res
      .writeHead(200, { 'content-encoding': 'gzip' })
      .end(gzipSync(Buffer.from('gzipped text '.repeat(1000))));
  if (p === '/deflate')
    return void res
      .writeHead(200, { 'content-encoding': 'deflate' })
      .end(deflateSync(Buffer.from('zlib text '.repeat(1000))));
  if (p === '/deflate-raw')
    return void res
      .writeHead(200, { 'content-encoding': 'deflate' })
      .end(deflateRawSync(Buffer.from('raw text '.repeat(1000))));
  if (p === '/gzip-corrupt') {
    const g = gzipSync(Buffer.from('x'.repeat(5000)));
    g[20] ^= 0xff;
    g[21] ^= 0xff;
    return void res.writeHead(200, { 'content-encoding': 'gzip' }).end(g);
  }
  if (p === '/big') {
    const total = Number(u.searchParams.get('n') ?? BIG);
    res.writeHead(200, { 'content-length': total });
    const data = pattern(1 << 20);
    let off = 0;
    bigProgress = { written: 0 };
    const pump = () => {
      while (off < total) {
        const n = Math.min(data.length, total - off);
        const ok = res.write(data.subarray(0, n));
        off += n;
        bigProgress.written = off;
        if (!ok) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
    return;
  }
  if (p === '/redirect') return void res.writeHead(302, { location: '/hello' }).end('moved');
  if (p === '/redirect-303') return void res.writeHead(303, { location: '/echo' }).end();
  if (p === '/redirect-307') return void res.writeHead(307, { location: '/echo' }).end();
  if (p === '/redirect-away') return void res.writeHead(302, { location: 'http://evil.example:80/x' }).end();
  if (p === '/redirect-loop') return void res.writeHead(302, { location: '/redirect-loop' }).end();
  if (p === '/no-content') return void res.writeHead(204).end();
  if (p === '/hang') return; // never answers
  if (p === '/stall-body') {
    res.writeHead(200, { 'content-length': 100 });
    res.write('only ten b');
    return; // and nothing more
  }
  if (p === '/slow') return void setTimeout(() => res.writeHead(200).end('slow'), 50);
  res.writeHead(404).end('not found');
}

beforeAll(async () => {
  server = createServer(handler);
  server.keepAliveTimeout = 5000;
  server.on('connection', (s) => {
    connections++;
    open++;
    maxConcurrent = Math.max(maxConcurrent, open);
    s.on('close', () => open--);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const url = (p: string) => `http://127.0.0.1:${port}${p}`;

describe('HttpClient against node:http', () => {
  it('GETs a Content-Length body and reuses one keep-alive connection for 20 requests', async () => {
    const dial = netDialer();
    const c = new HttpClient({ dial });
    const before = connections;
    for (let i = 0; i < 20; i++) {
      const r = await c.request({ url: url('/hello') });
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('hello world');
    }
    expect(dial.opened).toBe(1);
    expect(connections - before).toBe(1);
    c.close();
  });

  it('reads a chunked response', async () => {
    const c = new HttpClient({ dial: netDialer() });
    const r = await c.request({ url: url('/chunked') });
    expect(r.headers.get('transfer-encoding')).toBe('chunked');
    expect(await r.text()).toBe('part1-part2');
    c.close();
  });

  it('sends a Uint8Array body with Content-Length and a stream body chunked; the server gets every byte', async () => {
    const c = new HttpClient({ dial: netDialer() });
    const data = pattern(3 * 1024 * 1024 + 17);
    const a = JSON.parse(
      await (
        await c.request({
          method: 'POST',
          url: url('/echo'),
          body: data,
          headers: { 'content-type': 'application/octet-stream' },
        })
      ).text(),
    );
    expect(a).toMatchObject({
      method: 'POST',
      cl: String(data.length),
      te: null,
      sha: sha(data),
      host: `127.0.0.1:${port}`,
    });
    let off = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (off >= data.length) return ctrl.close();
        ctrl.enqueue(data.slice(off, off + 100_000));
        off += 100_000;
      },
    });
    const b = JSON.parse(await (await c.request({ method: 'PUT', url: url('/echo'), body: stream })).text());
    expect(b).toMatchObject({ method: 'PUT', te: 'chunked', cl: null, sha: sha(data), len: data.length });
    c.close();
  });

  it('decodes gzip, zlib deflate and raw deflate, and drops the encoding headers it undid', async () => {
    const c = new HttpClient({ dial: netDialer() });
    const g = await c.request({ url: url('/gzip') });
    expect(g.decoded).toBe(true);
    expect(g.headers.get('content-encoding')).toBeNull();
    expect(await g.text()).toBe('gzipped text '.repeat(1000));
    expect(await (await c.request({ url: url('/deflate') })).text()).toBe('zlib text '.repeat(1000));
    expect(await (await c.request({ url: url('/deflate-raw') })).text()).toBe('raw text '.repeat(1000));
    const raw = await c.request({ url: url('/gzip'), decompress: false });
    expect(raw.headers.get('content-encoding')).toBe('gzip');
    expect((await raw.bytes())[0]).toBe(0x1f);
    c.close();
  });

  it('a corrupt gzip body fails with HttpError decode', async () => {
    const c = new HttpClient({ dial: netDialer() });
    const r = await c.request({ url: url('/gzip-corrupt') });
    const err = await r.bytes().then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(HttpError);
    expect(err.code).toBe('decode');
    c.close();
  });

  it('streams 32 MiB with backpressure: a stalled reader stops the server, then everything arrives intact', async () => {
    const c = new HttpClient({ dial: netDialer() });
    const r = await c.request({ url: url('/big') });
    const reader = r.body.getReader();
    const h = createHash('sha256');
    const first = await reader.read();
    h.update(first.value!);
    let got = first.value!.length;
    // Stop reading; the server can only fill socket buffers (kernel + our 64 KiB queue).
    await new Promise((res) => setTimeout(res, 300));
    const writtenWhileStalled = bigProgress.written;
    expect(writtenWhileStalled).toBeLessThan(BIG / 2);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      h.update(value);
      got += value.length;
    }
    expect(got).toBe(BIG);
    const expected = createHash('sha256');
    const block = pattern(1 << 20);
    for (let i = 0; i < BIG / block.length; i++) expected.update(block);
    expect(h.digest('hex')).toBe(expected.digest('hex'));
    c.close();
  });

  it('follows a same-host redirect, turns POST into GET on 303, keeps the body on 307', async () => {
    const c = new HttpClient({ dial: netDialer() });
    const r = await c.request({ url: url('/redirect') });
    expect(r.redirected).toBe(true);
    expect(r.url).toBe(url('/hello'));
    expect(await r.text()).toBe('hello world');
    const r303 = JSON.parse(await (await c.request({ method: 'POST', url: url('/redirect-303'), body: 'a=1' })).text());
    expect(r303.method).toBe('GET');
    const r307 = JSON.parse(await (await c.request({ method: 'POST', url: url('/redirect-307'), body: 'a=1' })).text());
    expect(r307).toMatchObject({ method: 'POST', len: 3 });
    const manual = await c.request({ url: url('/redirect'), redirect: 'manual' });
    expect(manual.status).toBe(302);
    expect(manual.headers.get('location')).toBe('/hello');
    await manual.body.cancel();
    c.close();
  });

  it('refuses a redirect out of the allowed hosts, and a redirect loop, with HttpError redirect', async () => {
    const c = new HttpClient({ dial: netDialer() });
    const away = await c.request({ url: url('/redirect-away') }).catch((e) => e);
    expect(away).toBeInstanceOf(HttpError);
    expect(away.code).toBe('redirect');
    expect(away.message).toContain('evil.example');
    const loop = await c.request({ url: url('/redirect-loop') }).catch((e) => e);
    expect(loop.code).toBe('redirect');
    expect(loop.message).toMatch(/more than 10 redirects/);
    c.close();
  });

  it('handles 204 and HEAD without waiting for a body, and reuses the connection', async () => {
    const dial = netDialer();
    const c = new HttpClient({ dial });
    const r = await c.request({ url: url('/no-content') });
    expect(r.status).toBe(204);
    const h = await c.request({ method: 'HEAD', url: url('/big?n=1234') });
    expect(h.headers.get('content-length')).toBe('1234');
    expect(await h.text()).toBe('');
    expect(await (await c.request({ url: url('/hello') })).text()).toBe('hello world');
    expect(dial.opened).toBe(1);
    c.close();
  });

  it('keeps at most maxConnectionsPerHost connections for parallel requests', async () => {
    const dial = netDialer();
    const c = new HttpClient({ dial, maxConnectionsPerHost: 2 });
    const rs = await Promise.all(
      Array.from({ length: 10 }, () => c.request({ url: url('/slow') }).then((r) => r.text())),
    );
    expect(rs).toEqual(Array(10).fill('slow'));
    expect(dial.opened).toBe(2);
    c.close();
  });

  it('times out a silent server (head) and a stalled body with HttpError timeout', async () => {
    const c = new HttpClient({ dial: netDialer(), headersTimeoutMs: 200, bodyTimeoutMs: 200 });
    const e1 = await c.request({ url: url('/hang') }).catch((e) => e);
    expect(e1).toBeInstanceOf(HttpError);
    expect(e1.code).toBe('timeout');
    const r = await c.request({ url: url('/stall-body') });
    const e2 = await r.text().catch((e) => e);
    expect(e2.code).toBe('timeout');
    expect(e2.message).toMatch(/after 10/);
    c.close();
  });

  it('refuses header injection before using a connection, and the pool stays usable', async () => {
    const dial = netDialer();
    const c = new HttpClient({ dial, maxConnectionsPerHost: 1 });
    for (let i = 0; i < 3; i++) {
      const e = await c.request({ url: url('/hello'), headers: { 'x-a': 'b\r\nInjected: yes' } }).catch((x) => x);
      expect(e).toBeInstanceOf(HttpError);
      expect(e.code).toBe('bad-request');
    }
    expect(await (await c.request({ url: url('/hello') })).text()).toBe('hello world');
    expect(c.stats()).toMatchObject({ active: 0, idle: 1, opened: 1 });
    c.close();
  });

  it('a refused connection is HttpError connect', async () => {
    const free = await new Promise<number>((res) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => res(p));
      });
    });
    const c = new HttpClient({ dial: netDialer() });
    const e = await c.request({ url: `http://127.0.0.1:${free}/` }).catch((x) => x);
    expect(e).toBeInstanceOf(HttpError);
    expect(e.code).toBe('connect');
    expect(e.message).toContain(`127.0.0.1:${free}`);
  });

  it('aborting mid-body errors the body with HttpError aborted', async () => {
    const c = new HttpClient({ dial: netDialer() });
    const ac = new AbortController();
    const r = await c.request({ url: url('/big?n=8000000'), signal: ac.signal });
    const reader = r.body.getReader();
    await reader.read();
    ac.abort();
    const e = await reader.read().catch((x) => x);
    expect(e).toBeInstanceOf(HttpError);
    expect(e.code).toBe('aborted');
    c.close();
  });

  it('drops an idle connection the server closed and carries on with a new one', async () => {
    const s = createServer((_q, res) => res.end('ok'));
    s.keepAliveTimeout = 100;
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const p = (s.address() as net.AddressInfo).port;
    const dial = netDialer();
    const c = new HttpClient({ dial });
    expect(await (await c.request({ url: `http://127.0.0.1:${p}/` })).text()).toBe('ok');
    await new Promise((r) => setTimeout(r, 400));
    expect(await (await c.request({ url: `http://127.0.0.1:${p}/` })).text()).toBe('ok');
    expect(dial.opened).toBe(2);
    c.close();
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  });
});

describe('HttpClient: a reused connection that the server closed as idle', () => {
  /**
   * A server that answers the first request on each connection (keep-alive) and closes the
   * connection without a byte on the second: the race of a server closing an idle connection
   * while our next request is on its way. `partial` sends the start of a head before closing.
   */
  async function idleClosingServer(partial = false) {
    const seen: string[] = [];
    const socks = new Set<net.Socket>();
    const s = net.createServer((sock) => {
      socks.add(sock);
      sock.on('error', () => {});
      let n = 0;
      sock.on('data', (d) => {
        const line = d.toString('latin1').split('\r\n')[0];
        if (!/^[A-Z]+ /.test(line)) return; // a body chunk, not a request line
        seen.push(`${++n}:${line.split(' ')[0]}`);
        if (n === 1) sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        else if (partial) sock.end('HTTP/1.1 2');
        else sock.end();
      });
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(s.address() as net.AddressInfo).port}/`,
      seen,
      close: async () => {
        for (const x of socks) x.destroy();
        await new Promise((r) => s.close(r));
      },
    };
  }

  it('a POST is sent again on a new connection when resending is on (as browsers do), once', async () => {
    const srv = await idleClosingServer();
    const dial = netDialer();
    const c = new HttpClient({ dial, resendOnStaleConnection: 'any' });
    expect(await (await c.request({ url: srv.url })).text()).toBe('ok');
    const r = await c.request({ url: srv.url, method: 'POST', body: 'message=hi' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('ok');
    // Connection 1 saw GET then the POST it closed on; connection 2 answered the POST.
    expect(srv.seen).toEqual(['1:GET', '2:POST', '1:POST']);
    expect(dial.opened).toBe(2);
    c.close();
    await srv.close();
  });

  it('by default (RFC 9112 §9.3.1) a GET is sent again but a POST fails with a worded error', async () => {
    const srv = await idleClosingServer();
    const c = new HttpClient({ dial: netDialer() });
    await (await c.request({ url: srv.url })).text();
    expect(await (await c.request({ url: srv.url })).text()).toBe('ok');
    await (await c.request({ url: srv.url })).text(); // warm a third connection's keep-alive
    const e = await c.request({ url: srv.url, method: 'POST', body: 'x' }).catch((x) => x);
    expect(e).toBeInstanceOf(HttpError);
    expect(e.message).toMatch(/closed the connection without a response/);
    c.close();
    await srv.close();
  });

  it('nothing is sent again once the response had begun, nor a streamed body', async () => {
    const srv = await idleClosingServer(true);
    const c = new HttpClient({ dial: netDialer(), resendOnStaleConnection: 'any' });
    await (await c.request({ url: srv.url })).text();
    const e = await c.request({ url: srv.url, method: 'GET' }).catch((x) => x);
    expect(e).toBeInstanceOf(HttpError);
    expect(srv.seen).toEqual(['1:GET', '2:GET']);
    c.close();
    await srv.close();

    const srv2 = await idleClosingServer();
    const c2 = new HttpClient({ dial: netDialer(), resendOnStaleConnection: 'any' });
    await (await c2.request({ url: srv2.url })).text();
    const body = new ReadableStream<Uint8Array>({
      start(ctl) {
        ctl.enqueue(new TextEncoder().encode('streamed'));
        ctl.close();
      },
    });
    const e2 = await c2.request({ url: srv2.url, method: 'PUT', body }).catch((x) => x);
    expect(e2).toBeInstanceOf(HttpError);
    expect(srv2.seen).toEqual(['1:GET', '2:PUT']);
    c2.close();
    await srv2.close();
  });
});

describe('HttpClient against broken servers', () => {
  /** A raw TCP server that answers every connection with `reply()` and then closes (or not). */
  async function rawServer(reply: () => Uint8Array, closeAfter = true) {
    const socks = new Set<net.Socket>();
    const s = net.createServer((sock) => {
      socks.add(sock);
      sock.on('error', () => {});
      sock.once('data', () => {
        sock.write(reply());
        if (closeAfter) sock.end();
      });
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return {
      port: (s.address() as net.AddressInfo).port,
      close: () =>
        new Promise<void>((r) => {
          for (const x of socks) x.destroy();
          s.close(() => r());
        }),
    };
  }

  const base = new TextEncoder().encode(
    'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  );

  it('property: mutated responses end in a response or an HttpError, never a hang or another error', async () => {
    let current = base;
    const srv = await rawServer(() => current);
    const c = new HttpClient({ dial: netDialer(), headersTimeoutMs: 2000, bodyTimeoutMs: 2000 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()), { minLength: 1, maxLength: 4 }),
        async (muts) => {
          const b = Array.from(base);
          for (const [pos, val, ins] of muts) {
            const i = pos % b.length;
            if (ins) b.splice(i, 0, val);
            else b[i] = val;
          }
          current = Uint8Array.from(b);
          try {
            const r = await c.request({ url: `http://127.0.0.1:${srv.port}/` });
            await r.bytes();
          } catch (e) {
            if (!(e instanceof HttpError)) throw e;
          }
        },
      ),
      fuzz(150),
    );
    c.close();
    await srv.close();
  });

  it('garbage on a connection left open times out with HttpError instead of hanging', async () => {
    const srv = await rawServer(
      () => new TextEncoder().encode('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial'),
      false,
    );
    const c = new HttpClient({ dial: netDialer(), headersTimeoutMs: 300, bodyTimeoutMs: 300 });
    const r = await c.request({ url: `http://127.0.0.1:${srv.port}/` });
    const e = await r.bytes().catch((x) => x);
    expect(e).toBeInstanceOf(HttpError);
    expect(e.code).toBe('timeout');
    c.close();
    await srv.close();
  });

  it('a server that answers 413 without reading a 20 MB upload: the answer arrives, no deadlock, connection not reused', async () => {
    const socks: net.Socket[] = [];
    const s = net.createServer((sock) => {
      socks.push(sock);
      sock.on('error', () => {});
      sock.once('data', () => {
        sock.pause(); // stop reading: the client's writes fill the TCP window and block
        sock.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\n\r\ntoo large');
      });
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const p = (s.address() as net.AddressInfo).port;
    const dial = netDialer();
    const c = new HttpClient({ dial });
    const r = await c.request({ method: 'POST', url: `http://127.0.0.1:${p}/upload`, body: pattern(20 * 1024 * 1024) });
    expect(r.status).toBe(413);
    expect(await r.text()).toBe('too large');
    await new Promise((res) => setTimeout(res, 1200));
    expect(c.stats()).toMatchObject({ idle: 0, active: 0 });
    c.close();
    for (const x of socks) x.destroy();
    await new Promise((res) => s.close(res));
  });

  it('a server that speaks something else gets a clear protocol error', async () => {
    const srv = await rawServer(() => new TextEncoder().encode('SSH-2.0-OpenSSH_9.2p1\r\n'));
    const c = new HttpClient({ dial: netDialer() });
    const e = await c.request({ url: `http://127.0.0.1:${srv.port}/` }).catch((x) => x);
    expect(e).toBeInstanceOf(HttpError);
    expect(e.code).toBe('protocol');
    expect(e.message).toContain('SSH-2.0');
    c.close();
    await srv.close();
  });
});

describe('HttpClient on a VirtualClock with an in-memory connection', () => {
  /** A scripted server: `onRequest(text)` returns the bytes to answer with (or null to stay silent). */
  function memoryDialer(onRequest: (req: string) => string | null) {
    const conns: { closed: boolean }[] = [];
    const dial = async () => {
      const state = { closed: false };
      conns.push(state);
      let toClient!: ReadableStreamDefaultController<Uint8Array>;
      const readable = new ReadableStream<Uint8Array>({ start: (c) => void (toClient = c) });
      let buf = '';
      const writable = new WritableStream<Uint8Array>({
        write(chunk) {
          buf += new TextDecoder('latin1').decode(chunk);
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const req = buf.slice(0, end + 4);
          buf = buf.slice(end + 4);
          const answer = onRequest(req);
          if (answer !== null) toClient.enqueue(new TextEncoder().encode(answer));
        },
      });
      return { readable, writable, close: () => void (state.closed = true) };
    };
    return { dial, conns };
  }

  it('a silent server fails the request after exactly headersTimeoutMs of clock time', async () => {
    const clock = new VirtualClock();
    let heard = false;
    const m = memoryDialer(() => ((heard = true), null));
    const c = new HttpClient({ dial: m.dial, clock, headersTimeoutMs: 30_000 });
    let settled: unknown = 'pending';
    const p = c.request({ url: 'http://nas/' }).then(
      () => 'ok',
      (e) => e,
    );
    void p.then((v) => (settled = v));
    expect(await turnsUntil(() => heard && clock.pending > 0)).toBe(true); // the request is out, its deadline armed
    clock.advance(29_999);
    await turnsUntil(() => settled !== 'pending', 20);
    expect(settled).toBe('pending');
    clock.advance(1);
    const e = await p;
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).code).toBe('timeout');
    expect(m.conns[0].closed).toBe(true);
  });

  it('a server dribbling its head one byte every 200 ms fails at the one head deadline, not per read', async () => {
    const clock = new VirtualClock();
    let toClient: ReadableStreamDefaultController<Uint8Array> | undefined;
    let closed = false;
    const dial = async () => ({
      readable: new ReadableStream<Uint8Array>({ start: (c) => void (toClient = c) }),
      writable: new WritableStream<Uint8Array>(),
      close: () => void (closed = true),
    });
    const c = new HttpClient({ dial, clock, headersTimeoutMs: 30_000 });
    let settled: unknown = 'pending';
    const p = c.request({ url: 'http://nas/' }).then(
      () => 'ok',
      (e) => e,
    );
    void p.then((v) => (settled = v));
    expect(await turnsUntil(() => toClient !== undefined && clock.pending > 0)).toBe(true);
    // A head that never ends: "HTTP/1.1 200 OK\r\nX: aaaa…", one byte per 200 ms of clock time.
    const head = new TextEncoder().encode('HTTP/1.1 200 OK\r\nX-Slow: ' + 'a'.repeat(1000));
    let sent = 0;
    while (settled === 'pending' && sent < head.length) {
      toClient!.enqueue(head.subarray(sent, sent + 1));
      sent++;
      await turnsUntil(() => false, 5); // let the client read it (and re-arm, were it per read)
      clock.advance(200);
      await turnsUntil(() => settled !== 'pending', 5);
    }
    const e = await p;
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).code).toBe('timeout');
    expect((e as HttpError).message).toMatch(/complete response head .* within 30000 ms/);
    // 30 s at one byte per 200 ms: the 150th byte's tick ends it, whatever the server still had.
    expect(sent).toBe(150);
    expect(closed).toBe(true);
  });

  it('a redirect to https: on a tailnet host names the http: URL to use instead', async () => {
    const m = memoryDialer(() => 'HTTP/1.1 301 Moved\r\nLocation: https://nas/login?x=1\r\nContent-Length: 0\r\n\r\n');
    const c = new HttpClient({ dial: m.dial });
    const e = await c.request({ url: 'http://nas/' }).catch((x) => x);
    expect(e).toBeInstanceOf(HttpError);
    expect(e.code).toBe('redirect');
    expect(e.message).toContain('TLS to tailnet hosts is not supported');
    expect(e.message).toContain('use http://nas/login?x=1 instead');
    // Another host stays refused as leaving the allowed hosts.
    const m2 = memoryDialer(() => 'HTTP/1.1 302 Found\r\nLocation: https://evil.example/\r\nContent-Length: 0\r\n\r\n');
    const e2 = await new HttpClient({ dial: m2.dial }).request({ url: 'http://nas/' }).catch((x) => x);
    expect(e2.message).toContain('leaves the allowed tailnet hosts');
  });

  it('an idle keep-alive connection is closed after min(idle timeout, server Keep-Alive − 1 s)', async () => {
    const clock = new VirtualClock();
    const m = memoryDialer(() => 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\nok');
    const c = new HttpClient({ dial: m.dial, clock, idleTimeoutMs: 30_000 });
    expect(await (await c.request({ url: 'http://nas/' })).text()).toBe('ok');
    await turnsUntil(() => c.stats().idle === 1);
    expect(c.stats()).toMatchObject({ idle: 1, active: 0 });
    clock.advance(3_999);
    expect(c.stats().idle).toBe(1);
    clock.advance(1);
    expect(c.stats().idle).toBe(0);
    expect(m.conns[0].closed).toBe(true);
    // The next request dials again.
    expect(await (await c.request({ url: 'http://nas/' })).text()).toBe('ok');
    expect(m.conns.length).toBe(2);
  });
});
