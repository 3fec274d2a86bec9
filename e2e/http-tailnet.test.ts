// HttpClient and serveHttpProxy over the real tailnet, in Node: our TailnetNode (real layers) dials
// the rig's test web server behind an unmodified tailscaled v1.102.3 peer (userspace networking,
// DERP only), registered at Headscale v0.29.2, all on loopback inside a netns:
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/http-tailnet.test.ts
// The browser half (Service Worker, iframe) is e2e/http-proxy.test.ts; this proves the same
// HTTP client and proxy work over our WireGuard + netstack TCP to a real peer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { startRig, bytesSha256, type Rig, type RigPeer } from './rig/index.js';
import { testPng } from './rig/webserver.js';
import { TailnetNode } from '../src/node/node.js';
import { createNodeLayers } from '../src/node/layers.node.js';
import { MemoryStore } from '../src/control/storage.js';
import { HttpClient, HttpError, type Conn } from '../src/http/client.js';
import { serveHttpProxy } from '../src/http/proxy-server.js';
import type { MessagePortLike } from '../src/platform/port.js';
import { connectWebSocket, type WsCloseInfo } from '../src/http/websocket-client.js';

let rig: Rig;
let node: TailnetNode;
let peer: RigPeer;
let client: HttpClient;

beforeAll(async () => {
  rig = await startRig({ peers: [{ name: 'peer1', homeRegion: 900, derpOnly: true }], sshd: false });
  peer = rig.peer('peer1');
  node = new TailnetNode(createNodeLayers());
  await node.up({
    controlUrl: rig.headscaleUrl,
    authKey: rig.authKey,
    hostname: 'tailtab-http',
    storage: new MemoryStore(),
    allowInsecureDerp: true,
    wallClockMs: () => Date.now(),
    homeRegion: 900,
  });
  client = new HttpClient({ dial: (host, port) => node.dial(host, port) as Promise<Conn> });
}, 300_000);
afterAll(async () => {
  client?.close();
  await node?.down();
  await rig?.stop();
});

const base = () => `http://${peer.fqdn}:${rig.httpPort}`;

describe('HttpClient over our node to a tailscaled peer', () => {
  it('loads the test app (chunked HTML, gzip script, deflate CSS, PNG) on one keep-alive connection', async () => {
    const before = client.stats().opened;
    const html = await client.request({ url: `${base()}/app/` });
    expect(html.status).toBe(200);
    expect(html.headers.get('transfer-encoding')).toBe('chunked');
    const text = await html.text();
    expect(text).toContain('<script src="/app/app.js">');
    // The app built its absolute link from the Host we sent: the MagicDNS name and port.
    expect(text).toContain(`href="http://${peer.fqdn}:${rig.httpPort}/app/result`);
    const js = await client.request({ url: `${base()}/app/app.js` });
    expect(js.decoded).toBe(true);
    expect(await js.text()).toContain("textContent = 'script ran'");
    const css = await client.request({ url: `${base()}/app/style.css` });
    expect(css.decoded).toBe(true);
    expect(await css.text()).toContain('rgb(31, 111, 235)');
    const png = await (await client.request({ url: `${base()}/app/image.png` })).bytes();
    expect(Buffer.from(png).equals(testPng())).toBe(true);
    expect(client.stats().opened - before).toBe(1);
  });

  it('posts a form, sees the 303 (manual) and follows it (default) to the result page', async () => {
    const body = 'message=' + encodeURIComponent('over the tailnet');
    const manual = await client.request({
      method: 'POST',
      url: `${base()}/app/submit`,
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      redirect: 'manual',
    });
    expect(manual.status).toBe(303);
    expect(manual.headers.get('location')).toBe('/app/result?message=over%20the%20tailnet');
    expect(manual.headers.getAll('set-cookie')[0]).toMatch(/^last=over%20the%20tailnet;/);
    await manual.body.cancel();
    const followed = await client.request({
      method: 'POST',
      url: `${base()}/app/submit`,
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(followed.redirected).toBe(true);
    expect(await followed.text()).toContain('<p id="posted">over the tailnet</p>');
  });

  it('streams a 64 MiB download intact (SHA-256)', async () => {
    const n = 64 << 20;
    const t0 = performance.now();
    const r = await client.request({ url: `${base()}/bytes/${n}` });
    const h = createHash('sha256');
    let got = 0;
    const reader = r.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      h.update(value);
      got += value.length;
    }
    const s = (performance.now() - t0) / 1000;
    console.log(`64 MiB over the tailnet (DERP) through HttpClient: ${(64 / s).toFixed(1)} MiB/s`);
    expect(got).toBe(n);
    expect(h.digest('hex')).toBe(bytesSha256(n));
  });

  it('a port nobody listens on behind the peer is a clear HttpError', async () => {
    const e = await client.request({ url: `http://${peer.fqdn}:1/`, timeoutMs: 15_000 }).catch((x) => x);
    expect(e).toBeInstanceOf(HttpError);
    // tailscaled's userspace netstack may accept first and then close when its local dial fails,
    // so the refusal shows as a failed connect or as a connection closed before any response.
    expect(['connect', 'closed']).toContain(e.code);
    expect(e.message).toMatch(/:1\b/);
  });

  it('a server behind the peer that dribbles its response head a byte every 200 ms fails at the head deadline', async () => {
    // A real server process socket on the peer's side (tailscaled forwards to 127.0.0.1): it
    // accepts, then sends "HTTP/1.1 200 OK\r\nX-Slow: aaaa…" one byte per 200 ms, never ending the head.
    let sent = 0;
    const timers: ReturnType<typeof setInterval>[] = [];
    const socks: net.Socket[] = [];
    const server = net.createServer((sock) => {
      socks.push(sock);
      sock.on('error', () => {});
      const head = 'HTTP/1.1 200 OK\r\nX-Slow: ' + 'a'.repeat(10_000);
      let i = 0;
      const t = setInterval(() => {
        if (sock.destroyed || i >= head.length) return clearInterval(t);
        sock.write(head[i++]!);
        sent++;
      }, 200);
      timers.push(t);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const t0 = Date.now();
    const e = await client.request({ url: `http://${peer.fqdn}:${port}/`, timeoutMs: 4000 }).catch((x) => x);
    const ms = Date.now() - t0;
    for (const t of timers) clearInterval(t);
    for (const k of socks) k.destroy();
    await new Promise((r) => server.close(r));
    expect(e).toBeInstanceOf(HttpError);
    expect(e.code).toBe('timeout');
    // Bytes kept coming (each read would have restarted a per-read timer), yet the one deadline held.
    expect(e.message).toMatch(/no complete response head \((\d+) bytes of it came\) from the server within 4000 ms/);
    expect(Number(/\((\d+) bytes/.exec(e.message)![1])).toBeGreaterThan(3);
    console.log(`dribbling head: failed after ${ms} ms (deadline 4000 ms), ${sent} bytes dribbled`);
  });
});

describe('serveHttpProxy over our node to a tailscaled peer', () => {
  it('answers the Service Worker messages: page with rewritten headers and links, form POST with the cookie kept', async () => {
    const ch = new MessageChannel();
    const h = serveHttpProxy(ch.port1 as unknown as MessagePortLike, client, {
      allowTarget: (host) => host === peer.fqdn,
    });
    const sw = ch.port2;
    const ask = (msg: Record<string, unknown>) =>
      new Promise<{ status: number; headers: [string, string][]; body: string }>((resolve, reject) => {
        const id = Math.floor(Math.random() * 1e9);
        let head: { status: number; headers: [string, string][] } | undefined;
        const parts: Buffer[] = [];
        const on = (ev: MessageEvent) => {
          const m = ev.data;
          if (m.id !== id) return;
          if (m.type === 'response') head = m;
          else if (m.type === 'chunk') {
            parts.push(Buffer.from(m.data));
            sw.postMessage({ type: 'ack', id, bytes: m.data.byteLength });
          } else if (m.type === 'end') {
            sw.removeEventListener('message', on as never);
            resolve({ ...head!, body: Buffer.concat(parts).toString('utf8') });
          } else if (m.type === 'error') reject(new Error(m.message));
        };
        sw.addEventListener('message', on as never);
        sw.postMessage({ type: 'request', id, method: 'GET', headers: [], ...msg });
      });
    sw.start();
    const prefix = `/proxy/${peer.fqdn}/${rig.httpPort}`;
    const page = await ask({ url: `${base()}/app/` });
    expect(page.status).toBe(200);
    const names = page.headers.map(([k]) => k.toLowerCase());
    expect(names).not.toContain('x-frame-options');
    expect(page.headers.find(([k]) => k.toLowerCase() === 'content-security-policy')?.[1]).not.toMatch(
      /frame-ancestors/,
    );
    expect(page.body).toContain(`href="${prefix}/app/result?message=absolute%20link"`);
    const post = await ask({
      method: 'POST',
      url: `${base()}/app/submit`,
      referrer: `${prefix}/app/`,
      headers: [['content-type', 'application/x-www-form-urlencoded']],
      body: new TextEncoder().encode('message=kept').buffer,
    });
    expect(post.status).toBe(303);
    expect(post.headers.find(([k]) => k.toLowerCase() === 'location')?.[1]).toBe(`${prefix}/app/result?message=kept`);
    const result = await ask({ url: `${base()}/app/result?message=kept` });
    expect(result.body).toContain('<p id="cookie">kept</p>');
    await expect(ask({ url: `http://${peer.ipv4}:${rig.httpPort}/` })).rejects.toThrow(
      /is not a machine this web view may reach/,
    );
    h.close();
    ch.port1.close();
    ch.port2.close();
  });
});

describe('WebSocket client over our node to a tailscaled peer', () => {
  it("handshakes with the rig's `ws` echo server, echoes text and 8 MiB of binary intact, closes cleanly", async () => {
    const conn = (await node.dial(peer.fqdn, rig.httpPort)) as Conn;
    const ws = await connectWebSocket({
      conn,
      host: peer.fqdn,
      port: rig.httpPort,
      target: '/app/ws/echo',
      protocols: ['echo.v1'],
      headers: [['Origin', base()]],
    });
    expect(ws.protocol).toBe('echo.v1');
    const inbox: (string | Uint8Array)[] = [];
    let wake: (() => void) | null = null;
    ws.onmessage = (d) => {
      inbox.push(d);
      wake?.();
    };
    const closed = new Promise<WsCloseInfo>((r) => (ws.onclose = r));
    const next = async () => {
      while (!inbox.length) await new Promise<void>((r) => (wake = r));
      return inbox.shift()!;
    };
    // Round trips of a small text message (printed, not asserted).
    const rtts: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      void ws.send(`ping ${i} über`);
      expect(await next()).toBe(`ping ${i} über`);
      rtts.push(performance.now() - t);
    }
    // 8 MiB in 128 messages of 64 KiB, each echoed; the server's bytes hashed as they come back.
    const N = 128,
      SIZE = 65536;
    const sent = createHash('sha256'),
      got = createHash('sha256');
    const t0 = performance.now();
    const receiving = (async () => {
      for (let i = 0; i < N; i++) got.update((await next()) as Uint8Array);
    })();
    for (let i = 0; i < N; i++) {
      const b = new Uint8Array(SIZE).map((_, j) => (i * 31 + j * 7) & 0xff);
      sent.update(b);
      await ws.send(b);
    }
    await receiving;
    const ms = performance.now() - t0;
    expect(got.digest('hex')).toBe(sent.digest('hex'));
    rtts.sort((a, b) => a - b);
    console.log(
      `WebSocket over the tailnet: echo RTT median ${rtts[10].toFixed(1)} ms; 8 MiB echoed (16 MiB over the wire) in ${ms.toFixed(0)} ms (${(8 / (ms / 1000)).toFixed(1)} MiB/s each way)`,
    );
    ws.close(1000, 'bye');
    expect(await closed).toEqual({ code: 1000, reason: 'bye', wasClean: true });
  });
});
