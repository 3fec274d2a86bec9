// Interop: our Http2Client against Node's built-in HTTP/2 server (nghttp2, h2c prior knowledge)
// on loopback. The server is an independent implementation; every assertion is what a caller sees.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { createHash } from 'node:crypto';
import { Http2Client, Http2Error } from './client.js';
import { socketToByteDuplex } from './socket.node.js';

let server: http2.Http2Server;
let port = 0;
const sessions = new Set<http2.ServerHttp2Session>();

function bigBuffer(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
const TEN_MB = bigBuffer(10 * 1024 * 1024, 7);

beforeAll(async () => {
  server = http2.createServer({
    maxSessionMemory: 100,
    settings: { maxConcurrentStreams: 200 },
    maxHeaderListPairs: 4000,
  });
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    const path = String(headers[':path']);
    const method = String(headers[':method']);
    stream.on('error', () => undefined);
    if (path === '/hello') {
      stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-method': method });
      stream.end(`hello ${method}`);
    } else if (path === '/echo') {
      const parts: Buffer[] = [];
      stream.on('data', (d: Buffer) => parts.push(d));
      stream.on('end', () => {
        const body = Buffer.concat(parts);
        stream.respond({
          ':status': 201,
          'x-sha256': createHash('sha256').update(body).digest('hex'),
          'x-len': String(body.length),
        });
        stream.end(body.subarray(0, 64));
      });
    } else if (path === '/big') {
      stream.respond({ ':status': 200 });
      stream.end(TEN_MB);
    } else if (path.startsWith('/slow-stream')) {
      // A long-lived response: one frame every few ms, like the Tailscale map stream.
      stream.respond({ ':status': 200 });
      let i = 0;
      const chunk = Buffer.alloc(32 * 1024, 0x61);
      const tick = () => {
        if (stream.destroyed || stream.closed) return;
        if (i >= 200) {
          stream.end();
          return;
        }
        i++;
        const ok = stream.write(chunk);
        if (ok) setImmediate(tick);
        else stream.once('drain', tick);
      };
      tick();
    } else if (path === '/bigheaders') {
      // ~60 KB of headers: nghttp2 must split them into HEADERS + CONTINUATION.
      const h: Record<string, string> = { ':status': '200' };
      for (let i = 0; i < 30; i++) h[`x-big-${i}`] = `${i}-`.padEnd(2000, String.fromCharCode(97 + (i % 26)));
      stream.respond(h);
      stream.end('ok');
    } else if (path === '/reqheaders') {
      let total = 0;
      for (const [k, v] of Object.entries(headers)) if (k.startsWith('x-req-')) total += String(v).length;
      stream.respond({ ':status': 200 });
      stream.end(String(total));
    } else if (path === '/rst') {
      stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    } else if (path === '/goaway') {
      stream.respond({ ':status': 200 });
      stream.end('bye', () =>
        stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id, Buffer.from('maintenance')),
      );
    } else if (path === '/hang') {
      // never answers; used to check GOAWAY refusal of later streams
    } else {
      stream.respond({ ':status': 404 });
      stream.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  for (const s of sessions) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

async function connect(
  o: ConstructorParameters<typeof Http2Client>[1] = {},
): Promise<{ c: Http2Client; sock: net.Socket }> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => {
    sock.once('connect', r);
    sock.once('error', j);
  });
  return { c: new Http2Client(socketToByteDuplex(sock), o), sock };
}

describe('Http2Client against node:http2 (nghttp2)', () => {
  it('GET and POST with bodies', async () => {
    const { c } = await connect();
    const r = await c.request({ method: 'GET', path: '/hello', authority: 'h' });
    expect(r.status).toBe(200);
    expect(r.headers).toContainEqual(['content-type', 'text/plain']);
    expect(await r.text()).toBe('hello GET');

    const body = bigBuffer(300_000, 3);
    const p = await c.request({
      method: 'POST',
      path: '/echo',
      body: new Uint8Array(body),
      headers: [['content-type', 'application/octet-stream']],
    });
    expect(p.status).toBe(201);
    expect(p.headers).toContainEqual(['x-sha256', createHash('sha256').update(body).digest('hex')]);
    expect(Buffer.from(await p.bytes()).equals(body.subarray(0, 64))).toBe(true);

    // Streamed request body in several chunks.
    const parts = [bigBuffer(70_000, 1), bigBuffer(1, 2), bigBuffer(100_000, 4)];
    const rs = new ReadableStream<Uint8Array>({
      start(ctl) {
        for (const x of parts) ctl.enqueue(new Uint8Array(x));
        ctl.close();
      },
    });
    const q = await c.request({ method: 'POST', path: '/echo', body: rs });
    expect(q.headers).toContainEqual(['x-len', '170001']);
    expect(q.headers).toContainEqual(['x-sha256', createHash('sha256').update(Buffer.concat(parts)).digest('hex')]);
    await q.bytes();
    c.close();
    await c.closed;
  });

  it('100 concurrent streams on one connection', async () => {
    const { c } = await connect();
    const rs = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        c
          .request({ method: 'POST', path: '/echo', body: new TextEncoder().encode(`req-${i}`) })
          .then(async (r) => ({ r, body: await r.text() })),
      ),
    );
    rs.forEach(({ r, body }, i) => {
      expect(r.status).toBe(201);
      expect(body).toBe(`req-${i}`);
    });
    expect(c.stats.streamsOpened).toBe(100);
    c.close();
  });

  it('a 10 MB response arrives intact through flow control', async () => {
    const { c } = await connect();
    const r = await c.request({ method: 'GET', path: '/big' });
    const b = await r.bytes();
    expect(b.length).toBe(TEN_MB.length);
    expect(createHash('sha256').update(b).digest('hex')).toBe(createHash('sha256').update(TEN_MB).digest('hex'));
    expect(c.stats.windowUpdatesSent).toBeGreaterThan(0);
    c.close();
  });

  it('a long streaming response read slowly keeps flowing, and other streams are not blocked', async () => {
    const { c } = await connect({ streamWindow: 128 * 1024 });
    const r = await c.request({ method: 'GET', path: '/slow-stream' });
    const rd = r.body.getReader();
    let got = 0;
    for (let i = 0; i < 20; i++) {
      const { value } = await rd.read();
      got += value!.length;
      await new Promise((res) => setTimeout(res, 5));
    }
    // While the slow reader holds data, the peer is held back by the stream window...
    await new Promise((res) => setTimeout(res, 50));
    expect(c.stats.dataBytesIn - got).toBeLessThanOrEqual(128 * 1024 + 32 * 1024);
    // ...and another request on the same connection still completes.
    const h = await c.request({ method: 'GET', path: '/hello' });
    expect(await h.text()).toBe('hello GET');
    for (;;) {
      const { done, value } = await rd.read();
      if (done) break;
      got += value.length;
    }
    expect(got).toBe(200 * 32 * 1024);
    c.close();
  });

  it('large response headers arrive via CONTINUATION, and large request headers are sent with it', async () => {
    const { c } = await connect();
    const r = await c.request({ method: 'GET', path: '/bigheaders' });
    expect(r.status).toBe(200);
    const big = r.headers.filter(([k]) => k.startsWith('x-big-'));
    expect(big.length).toBe(30);
    expect(big.find(([k]) => k === 'x-big-29')![1]).toBe('29-'.padEnd(2000, String.fromCharCode(97 + (29 % 26))));
    expect(await r.text()).toBe('ok');

    const headers: [string, string][] = [];
    for (let i = 0; i < 20; i++) headers.push([`x-req-${i}`, bigBuffer(1500, i).toString('hex')]);
    const q = await c.request({ method: 'GET', path: '/reqheaders', headers });
    expect(await q.text()).toBe(String(20 * 3000));
    c.close();
  });

  it('a server RST_STREAM fails only that request', async () => {
    const { c } = await connect();
    await expect(c.request({ method: 'GET', path: '/rst' })).rejects.toMatchObject({ name: 'Http2Error', code: 0xb });
    expect(c.stats.rstReceived).toBe(1);
    const r = await c.request({ method: 'GET', path: '/hello' });
    expect(await r.text()).toBe('hello GET');
    c.close();
  });

  it('server GOAWAY: reported, in-flight completes, new requests are refused, connection closes', async () => {
    let goaway: [number, number, string] | undefined;
    let closeErr: Error | undefined | 'none' = 'none';
    const { c } = await connect({ onGoAway: (l, code, d) => (goaway = [l, code, d]), onClose: (e) => (closeErr = e) });
    const r = await c.request({ method: 'GET', path: '/goaway' });
    expect(await r.text()).toBe('bye');
    await c.closed;
    expect(goaway).toEqual([1, 0, 'maintenance']);
    expect(closeErr).toBeUndefined();
    await expect(c.request({ method: 'GET', path: '/hello' })).rejects.toBeInstanceOf(Http2Error);
  });

  it('PING round trip and answering the server', async () => {
    const { c } = await connect();
    const rtt = await c.ping();
    expect(rtt).toBeGreaterThanOrEqual(0);
    const [session] = [...sessions].slice(-1);
    const serverRtt = await new Promise<number>((res, rej) => session!.ping((err, d) => (err ? rej(err) : res(d))));
    expect(serverRtt).toBeGreaterThanOrEqual(0);
    expect(c.stats.pingsAnswered).toBeGreaterThanOrEqual(1);
    c.close();
  });

  it('the transport closing fails pending requests with a clear error', async () => {
    const { c, sock } = await connect();
    const p = c.request({ method: 'GET', path: '/hang' });
    await c.ping();
    sock.destroy();
    await expect(p).rejects.toThrow(/closed/);
    await c.closed;
  });
});
