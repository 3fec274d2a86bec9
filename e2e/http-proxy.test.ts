// The web-view proxy in Chromium (Debian's, via playwright-core): the Service Worker (src/ui/sw/) + serveHttpProxy +
// HttpClient render the rig's /app/ test web app (e2e/rig/webserver.ts) in an iframe.
//
// A component test of src/http and the Service Worker: the page e2e/http-proxy.page.html hands
// ports like the app does, and a dedicated Worker (e2e/http-proxy.worker.ts) plays the node
// Worker (HttpClient + serveHttpProxy). Its dialer reaches the web server through a loopback
// WebSocket→TCP bridge started here, standing in for the node's tailnet TCP (the node is not the
// subject here; e2e/http-tailnet.test.ts runs the same client and proxy over our node to a
// tailscaled peer, and the app's full journey lives in e2e/ui.test.ts).
// The bridge knows one host name, "web-peer", so a request that escaped the proxy mapping would fail.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/http-proxy.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Frame, Page } from 'playwright-core';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { WebSocketServer } from 'ws';
import { launchChromium, startAppServer, type AppServer } from './helpers/browser.testkit.js';
import { startWebServer, bytesSha256, APP_TITLE, type WebServer } from './rig/webserver.js';

const HOST = 'web-peer';
const BIG = 20 * 1024 * 1024;

let web: WebServer;
let wss: WebSocketServer;
let bridgePort = 0;
let bridgeConnections = 0;
let app: AppServer;
let browser: Browser;
let page: Page;

function startBridge(): Promise<void> {
  // Unknown hosts are refused at the handshake, so the page's dialer fails like a failed dial.
  wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (info: { req: { url?: string } }) =>
      new URL(info.req.url ?? '/', 'http://x').searchParams.get('host') === HOST,
  });
  wss.on('connection', (ws, req) => {
    const u = new URL(req.url ?? '/', 'http://x');
    bridgeConnections++;
    const sock = net.connect(Number(u.searchParams.get('port')), '127.0.0.1');
    sock.on('data', (d) => {
      ws.send(d, () => {
        if (sock.isPaused() && ws.bufferedAmount < 1 << 20) sock.resume();
      });
      if (ws.bufferedAmount > 4 << 20) sock.pause();
    });
    ws.on('message', (data: Buffer) => {
      if (!sock.write(data)) {
        ws.pause();
        sock.once('drain', () => ws.resume());
      }
    });
    sock.on('end', () => ws.close());
    sock.on('error', () => ws.terminate());
    ws.on('close', () => sock.end());
    ws.on('error', () => sock.destroy());
  });
  return new Promise((r) => wss.on('listening', () => ((bridgePort = (wss.address() as net.AddressInfo).port), r())));
}

beforeAll(async () => {
  web = await startWebServer();
  await startBridge();
  app = await startAppServer();
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('pageerror', (e) => console.log('page error:', e.message));
  await page.goto(`${app.url}/e2e/http-proxy.page.html?bridge=ws://127.0.0.1:${bridgePort}`);
  await page.waitForFunction(() => (window as unknown as { proxyReady?: boolean }).proxyReady === true, undefined, {
    timeout: 60_000,
  });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  await new Promise((r) => (wss ? wss.close(r) : r(undefined)));
  await web?.close();
});

const proxied = (path: string) => `/proxy/${HOST}/${web.port}${path}`;

let views = 0;
/** Loads `path` of the web app in the frame and waits for that very document (a fresh query each time). */
async function view(path: string): Promise<Frame> {
  const src = proxied(path) + (path.includes('?') ? '&' : '?') + `view=${++views}`;
  const frame = (await (await page.$('#view'))!.contentFrame())!;
  const n = views;
  await Promise.all([
    // The frame script turns /proxy/<host>/<port>/app/?view=n into /app/?view=n before load.
    frame.waitForURL((u) => u.searchParams.get('view') === String(n), { waitUntil: 'load', timeout: 30_000 }),
    page.evaluate((s) => {
      (document.getElementById('view') as HTMLIFrameElement).src = s;
    }, src),
  ]);
  return frame;
}

describe('web-view proxy in Chromium', () => {
  it('renders the test app: HTML despite X-Frame-Options/CSP, its absolute-path script (gzip) ran, API call, CSS (deflate), image', async () => {
    const before = bridgeConnections;
    const frame = await view('/app/');
    expect(await frame.title()).toBe(APP_TITLE);
    await frame.waitForFunction(
      () => document.getElementById('script-status')?.textContent === 'script ran',
      undefined,
      { timeout: 20_000 },
    );
    await frame.waitForFunction(
      () => document.getElementById('api-status')?.textContent?.startsWith('api says'),
      undefined,
      { timeout: 20_000 },
    );
    expect(await frame.textContent('#api-status')).toBe('api says hello from the api');
    await frame.waitForFunction(() => (document.getElementById('img') as HTMLImageElement).complete, undefined, {
      timeout: 20_000,
    });
    const img = await frame.evaluate(() => {
      const i = document.getElementById('img') as HTMLImageElement;
      return { w: i.naturalWidth, h: i.naturalHeight };
    });
    expect(img).toEqual({ w: 16, h: 16 });
    expect(await frame.evaluate(() => getComputedStyle(document.querySelector('h1')!).color)).toBe('rgb(31, 111, 235)');
    // The frame shows the app its own path (the frame script), and keep-alive kept the connection count low.
    expect(frame.url()).toBe(`${app.url}/app/?view=${views}`);
    expect(await frame.textContent('#path')).toBe('/app/');
    const used = bridgeConnections - before;
    console.log(`page load used ${used} tailnet connection(s) for 6 requests`);
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThanOrEqual(6);
  });

  it('a form POST goes to the app, its 303 is followed inside the proxy, and the session cookie comes back', async () => {
    const frame = await view('/app/');
    const message = 'hello tailnet & <friends> ✓';
    await frame.fill('#message', message);
    await Promise.all([frame.waitForURL(/\/app\/result\?/, { timeout: 20_000 }), frame.click('#send')]);
    expect(frame.url()).toContain(`${app.url}/app/result?message=`);
    expect(await frame.textContent('#posted')).toBe(message);
    // Set on the 303 by the app, kept by the node's cookie jar, sent with the GET that followed.
    expect(await frame.textContent('#cookie')).toBe(message);
  });

  it("an absolute http:// link to the app's own origin (built from Host) stays inside the proxy", async () => {
    const frame = await view('/app/');
    expect(await frame.getAttribute('#abs-link', 'href')).toBe(proxied('/app/result?message=absolute%20link'));
    await Promise.all([frame.waitForURL(/\/app\/result\?/, { timeout: 20_000 }), frame.click('#abs-link')]);
    expect(await frame.textContent('#posted')).toBe('absolute link');
  });

  it('a single-page app: a client-side route and its API call, then a reload of that route, stay with the app', async () => {
    const frame = await view('/app/');
    await frame.click('#spa-nav');
    await frame.waitForFunction(() => document.getElementById('spa-status')?.textContent !== '', undefined, {
      timeout: 20_000,
    });
    expect(await frame.textContent('#spa-status')).toBe('/app/spa/page2 hello from the api');
    await frame.evaluate(() => {
      (window as unknown as { beforeReload: boolean }).beforeReload = true;
      location.reload();
    });
    // A new document (no marker) on the same client-side route, fully loaded.
    await frame.waitForFunction(
      () => !(window as unknown as { beforeReload?: boolean }).beforeReload && document.readyState === 'complete',
      undefined,
      { timeout: 20_000 },
    );
    expect(frame.url()).toBe(`${app.url}/app/spa/page2`);
    expect(await frame.title()).toBe(APP_TITLE);
    await frame.waitForFunction(
      () => document.getElementById('script-status')?.textContent === 'script ran',
      undefined,
      { timeout: 20_000 },
    );
  });

  it('a 20 MiB download through the proxy arrives intact (SHA-256), fetched by the app and as a link download', async () => {
    const frame = await view('/app/');
    const t0 = Date.now();
    const got = await frame.evaluate(async (n) => {
      const r = await fetch('/bytes/' + n);
      const b = await r.arrayBuffer();
      const d = new Uint8Array(await crypto.subtle.digest('SHA-256', b));
      return {
        status: r.status,
        len: b.byteLength,
        sha: Array.from(d, (x) => x.toString(16).padStart(2, '0')).join(''),
      };
    }, BIG);
    const ms = Date.now() - t0;
    console.log(
      `20 MiB through HttpClient + serveHttpProxy + sw.js in ${ms} ms (${(BIG / 1048576 / (ms / 1000)).toFixed(1)} MiB/s)`,
    );
    expect(got).toEqual({ status: 200, len: BIG, sha: bytesSha256(BIG) });

    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 60_000 }),
      frame.click('#download'),
    ]);
    const path = await download.path();
    const h = createHash('sha256');
    await new Promise<void>((res, rej) =>
      createReadStream(path)
        .on('data', (c) => h.update(c))
        .on('end', () => res())
        .on('error', rej),
    );
    expect(h.digest('hex')).toBe(bytesSha256(BIG));
  });

  it('after the Service Worker is stopped, the next request asks the page for a new port and still works', async () => {
    const handed = await page.evaluate(() => (window as unknown as { portsHanded: number }).portsHanded);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
    const frame = await view('/app/');
    await frame.waitForFunction(
      () => document.getElementById('script-status')?.textContent === 'script ran',
      undefined,
      { timeout: 20_000 },
    );
    expect(await page.evaluate(() => (window as unknown as { portsHanded: number }).portsHanded)).toBeGreaterThan(
      handed,
    );
  });

  it('a node that stopped answering is detected (ping without pong), said in the frame, and a new port recovers', async () => {
    await page.evaluate(() => (window as unknown as { stopNode: () => void }).stopNode());
    const handed = await page.evaluate(() => (window as unknown as { portsHanded: number }).portsHanded);
    await page.evaluate((src) => {
      (document.getElementById('view') as HTMLIFrameElement).src = src;
    }, proxied('/app/?after-stop'));
    const frame = (await (await page.$('#view'))!.contentFrame())!;
    await frame.waitForFunction(() => document.body?.textContent?.includes('tailtab web view'), undefined, {
      timeout: 40_000,
    });
    expect(await frame.textContent('body')).toContain('the tailtab node stopped answering');
    // The Service Worker dropped the dead port: the next request asks the page for a new one.
    const again = await view('/app/');
    await again.waitForFunction(
      () => document.getElementById('script-status')?.textContent === 'script ran',
      undefined,
      { timeout: 20_000 },
    );
    expect(await page.evaluate(() => (window as unknown as { portsHanded: number }).portsHanded)).toBeGreaterThan(
      handed,
    );
  }, 90_000);

  it('a host the node cannot reach shows a clear error page in the frame', async () => {
    await page.evaluate(() => {
      (document.getElementById('view') as HTMLIFrameElement).src = '/proxy/nowhere/80/';
    });
    const frame = (await (await page.$('#view'))!.contentFrame())!;
    await frame.waitForFunction(() => document.body?.textContent?.includes('tailtab web view'), undefined, {
      timeout: 30_000,
    });
    expect(await frame.textContent('body')).toMatch(/could not connect to nowhere:80/);
  });
});
