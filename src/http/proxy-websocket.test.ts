// WebSockets through serveHttpProxy, playing the Service Worker and the page's shim over real
// MessageChannels, against a `ws` server on loopback (the node's dialer is a net.Socket here).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { HttpClient } from './client.js';
import { netDialer } from './net-socket.testkit.js';
import { serveHttpProxy, type HttpProxyOptions } from './proxy-server.js';
import type { MessagePortLike } from '../platform/port.js';
import { CookieJar } from './cookies.js';

let server: Server;
let port = 0;
let wss: WebSocketServer;
const seen: { origin?: string; cookie?: string; url?: string }[] = [];

beforeAll(async () => {
  server = createServer((_req, res) => res.writeHead(404).end());
  wss = new WebSocketServer({ noServer: true, handleProtocols: (ps) => (ps.has('v2') ? 'v2' : false) });
  server.on('upgrade', (req, sock, head) => {
    seen.push({ origin: req.headers.origin, cookie: req.headers.cookie, url: req.url });
    wss.handleUpgrade(req, sock, head, (ws) => {
      ws.on('message', (d, bin) => {
        if (!bin && d.toString() === 'bye') ws.close(4000, 'as asked');
        else if (!bin && d.toString() === 'flood') {
          for (let i = 0; i < 64; i++) ws.send(new Uint8Array(65536).fill(i));
          ws.send('flood done');
        } else ws.send(d, { binary: bin });
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

type Msg = { type: string; [k: string]: unknown };

function setup(opts: Partial<HttpProxyOptions> = {}) {
  const cookies = new CookieJar();
  const dial = netDialer();
  const client = new HttpClient({ dial });
  const sw = new MessageChannel();
  const handle = serveHttpProxy(sw.port1 as unknown as MessagePortLike, client, { cookies, dial, ...opts });
  /** What the shim does: a port for the socket, sent along the Service Worker's node port. */
  const open = (path: string, protocols: string[] = []) => {
    const ch = new MessageChannel();
    const got: Msg[] = [];
    ch.port1.onmessage = (e) => got.push(e.data as Msg);
    sw.port2.postMessage({ type: 'websocket', id: 1, url: `http://127.0.0.1:${port}${path}`, protocols }, [ch.port2]);
    return { port: ch.port1, got };
  };
  return {
    handle,
    cookies,
    client,
    open,
    close: () => {
      handle.close();
      client.close();
      sw.port1.close();
      sw.port2.close();
    },
  };
}

describe('serveHttpProxy: WebSockets of proxied pages', () => {
  it("opens with the app's Origin and the node's cookies, echoes text and bytes, reports sent bytes, closes cleanly", async () => {
    const s = setup();
    // A login through the proxy left the session cookie in the node's jar.
    s.cookies.setFromResponse(new URL(`http://127.0.0.1:${port}/login`), ['session=s1; Path=/'], null);
    const ws = s.open('/live?x=1', ['v1', 'v2']);
    await expect
      .poll(() => ws.got.find((m) => m.type === 'open'))
      .toEqual({ type: 'open', protocol: 'v2', extensions: '' });
    expect(seen.at(-1)).toEqual({ origin: `http://127.0.0.1:${port}`, cookie: 'session=s1', url: '/live?x=1' });
    ws.port.postMessage({ type: 'send', data: 'über' });
    const bytes = new Uint8Array([9, 8, 7]).buffer;
    ws.port.postMessage({ type: 'send', data: bytes }, [bytes]);
    await expect.poll(() => ws.got.filter((m) => m.type === 'message').length).toBe(2);
    const msgs = ws.got.filter((m) => m.type === 'message').map((m) => m.data);
    expect(msgs[0]).toBe('über');
    expect(new Uint8Array(msgs[1] as ArrayBuffer)).toEqual(new Uint8Array([9, 8, 7]));
    await expect
      .poll(() => ws.got.filter((m) => m.type === 'sent').reduce((a, m) => a + (m.bytes as number), 0))
      .toBe(5 + 3);
    ws.port.postMessage({ type: 'close', code: 1000, reason: 'done' });
    await expect.poll(() => ws.got.at(-1)).toEqual({ type: 'close', code: 1000, reason: 'done', wasClean: true });
    expect(s.handle.stats.websockets).toBe(1);
    s.close();
  });

  it('flow control: a page that does not acknowledge holds the server back at the window; acks let the rest through', async () => {
    const s = setup({ windowBytes: 256 * 1024 });
    const ws = s.open('/flood');
    await expect.poll(() => ws.got.some((m) => m.type === 'open')).toBe(true);
    ws.port.postMessage({ type: 'send', data: 'flood' });
    const received = () =>
      ws.got
        .filter((m) => m.type === 'message' && m.data instanceof ArrayBuffer)
        .reduce((a, m) => a + (m.data as ArrayBuffer).byteLength, 0);
    await expect.poll(received).toBeGreaterThanOrEqual(256 * 1024);
    await new Promise((r) => setTimeout(r, 300));
    // Paused after the window (plus what one read of the socket held), far short of the 4 MiB sent.
    expect(received()).toBeLessThan(1024 * 1024);
    let acked = 0;
    const ackAll = () => {
      const n = received() - acked;
      if (n > 0) ws.port.postMessage({ type: 'ack', bytes: n });
      acked += n;
    };
    const pump = setInterval(ackAll, 5);
    await expect
      .poll(() => ws.got.some((m) => m.type === 'message' && m.data === 'flood done'), { timeout: 10_000 })
      .toBe(true);
    clearInterval(pump);
    expect(received()).toBe(64 * 65536);
    ws.port.postMessage({ type: 'close' });
    await expect.poll(() => ws.got.at(-1)?.type).toBe('close');
    s.close();
  });

  it('a close started by the server reaches the page with its code and reason', async () => {
    const s = setup();
    const ws = s.open('/x');
    await expect.poll(() => ws.got.some((m) => m.type === 'open')).toBe(true);
    ws.port.postMessage({ type: 'send', data: 'bye' });
    await expect.poll(() => ws.got.at(-1)).toEqual({ type: 'close', code: 4000, reason: 'as asked', wasClean: true });
    s.close();
  });

  it('refused targets, a missing dialer, a port nobody listens on and bad subprotocols end in close 1006', async () => {
    const refused = setup({ allowTarget: () => false });
    const a = refused.open('/x');
    await expect.poll(() => a.got).toEqual([{ type: 'close', code: 1006, reason: '', wasClean: false }]);
    refused.close();
    const noDial = setup({ dial: undefined });
    const b = noDial.open('/x');
    await expect.poll(() => b.got).toEqual([{ type: 'close', code: 1006, reason: '', wasClean: false }]);
    noDial.close();
    const s = setup();
    const c = s.open('/x', ['not a token']);
    await expect.poll(() => c.got).toEqual([{ type: 'close', code: 1006, reason: '', wasClean: false }]);
    s.close();
  });
});
