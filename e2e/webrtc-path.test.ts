// The WebRTC path between two tailtab nodes (src/node/webrtc-path.ts, issue #20): two pages in two
// Chromium contexts, each a TailnetNode on real Headscale and derpers, find each other over DERP,
// signal over disco through DERP, and move their WireGuard packets onto a data channel. Proof: a
// transfer with SHA-256 equal while our per-path counters show no WireGuard packet over DERP for
// the pair; closing the data channel mid-transfer falls back to DERP and the transfer completes.
// The namespace gets a held TUN interface (e2e/rig/tun.ts) so Chromium gathers a host candidate;
// nothing leaves the machine.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/webrtc-path.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import puppeteer, { type Browser as PBrowser } from 'puppeteer-core';
import { startRig, type Rig } from './rig/index.js';
import { startTun, type Tun } from './rig/tun.js';
import { launchChromium, startAppServer, type AppServer } from './helpers/browser.testkit.js';
import { FIREFOX } from './helpers/engines.testkit.js';

/** A page of either driver (playwright's Chromium, puppeteer's Firefox): what the test needs of it. */
interface Page {
  evaluate(expression: string): Promise<unknown>;
  goto(url: string): Promise<unknown>;
}

let rig: Rig;
let tun: Tun;
let app: AppServer;
let browser: Browser;
let a: Page;
let b: Page;
let firefox: PBrowser | undefined;

/** The 64 MiB. */
const SIZE = 64 << 20;

interface PeerSt {
  name: string;
  ips: string[];
  path?: { kind: string; rttMs?: number };
  webrtc?: { state: string; txPackets: number; rxPackets: number };
  derpTxPackets: number;
  derpRxPackets: number;
}
interface St {
  self: { ips: string[] };
  peers: PeerSt[];
  counters: Record<string, number>;
  webrtcUnavailable?: string;
}

const inPage = <T>(page: Page, body: string): Promise<T> =>
  page.evaluate(`(async () => { const node = window.__node; ${body} })()`) as Promise<T>;
const status = (page: Page) => inPage<St>(page, 'return JSON.parse(JSON.stringify(node.status()));');
const peerOf = async (page: Page, name: string) =>
  (await status(page)).peers.find((p) => p.name.startsWith(name + '.'));

async function up(page: Page, hostname: string, homeRegion: number): Promise<void> {
  await page.goto(app.url + '/');
  await page.evaluate(`(async () => {
    const { TailnetNode } = await import('/src/node/node.ts');
    const { createLayers } = await import('/src/node/layers.ts');
    // The page's own RTCPeerConnection, with each data channel kept so the test can close it.
    window.__channels = [];
    const createPeerConnection = (config) => {
      const pc = new RTCPeerConnection(config);
      const create = pc.createDataChannel.bind(pc);
      pc.createDataChannel = (label, init) => { const dc = create(label, init); window.__channels.push(dc); return dc; };
      pc.addEventListener('datachannel', (e) => window.__channels.push(e.channel));
      return pc;
    };
    const node = new TailnetNode(createLayers());
    window.__node = node;
    window.__log = [];
    node.on('log', (t) => window.__log.push(t));
    await node.up({ controlUrl: location.origin, authKey: ${JSON.stringify(rig.authKey)}, hostname: ${JSON.stringify(hostname)},
      ephemeral: true, allowInsecureDerp: true, wallClockMs: () => Date.now(), homeRegion: ${homeRegion},
      webrtc: { createPeerConnection } });
  })()`);
}

/** Starts receiving one transfer on `port` in page `rx`; resolves its length and SHA-256 when the sender closes. */
function serveOnce(rx: Page, port: number): Promise<void> {
  return inPage(
    rx,
    `const l = node.listen(${port});
    window.__rx = { bytes: 0 };
    window.__rxDone = (async () => {
      const c = await l.accept(); l.close();
      const r = c.readable.getReader(); const parts = [];
      for (;;) { const { value, done } = await r.read(); if (done) break; parts.push(value); window.__rx.bytes += value.length; }
      const all = new Uint8Array(window.__rx.bytes); let o = 0; for (const p of parts) { all.set(p, o); o += p.length; }
      const d = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
      await c.close();
      return { length: all.length, sha256: [...d].map((x) => x.toString(16).padStart(2, '0')).join('') };
    })();`,
  );
}

/** Sends SIZE random bytes from page `tx` to host:port; returns their length and SHA-256. */
function send(tx: Page, host: string, port: number, size = SIZE): Promise<{ length: number; sha256: string }> {
  return inPage(
    tx,
    `const data = new Uint8Array(${size});
    for (let o = 0; o < data.length; o += 65536) crypto.getRandomValues(data.subarray(o, o + 65536));
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
    const c = await node.dial(${JSON.stringify(host)}, ${port}, { timeoutMs: 30000 });
    const w = c.writable.getWriter();
    for (let o = 0; o < data.length; o += 32768) await w.write(data.slice(o, o + 32768));
    await w.close();
    return { length: data.length, sha256: [...d].map((x) => x.toString(16).padStart(2, '0')).join('') };`,
  );
}

beforeAll(async () => {
  tun = await startTun();
  rig = await startRig({ peers: [], sshd: false });
  app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl });
  browser = await launchChromium(['--disable-features=WebRtcHideLocalIpsWithMdns']);
  const pa = await (await browser.newContext()).newPage();
  const pb = await (await browser.newContext()).newPage();
  for (const p of [pa, pb]) p.on('pageerror', (e) => console.error('page error:', e));
  a = pa as unknown as Page;
  b = pb as unknown as Page;
  await Promise.all([up(a, 'rtc-a', 900), up(b, 'rtc-b', 901)]);
}, 300_000);

afterAll(async () => {
  // The path's own log lines, for a failure's reader.
  for (const [n, p] of [
    ['a', a],
    ['b', b],
  ] as const) {
    const lines = await p?.evaluate('window.__log.filter((t) => t.startsWith("webrtc:")).slice(-20)').catch(() => []);
    if ((lines as string[] | undefined)?.length) console.log(`${n}:\n  ${(lines as string[]).join('\n  ')}`);
    const c = await p?.evaluate('window.__node.status().counters').catch(() => ({}));
    console.log(
      n,
      JSON.stringify(Object.fromEntries(Object.entries(c ?? {}).filter(([k]) => /webrtc|Signal|Direct/.test(k)))),
    );
  }
  for (const p of [a, b]) await p?.evaluate('window.__node && window.__node.down()').catch(() => {});
  await browser?.close();
  await firefox?.close();
  await app?.stop();
  await rig?.stop();
  await tun?.stop();
});

describe('WebRTC path between two tailtab nodes in Chromium', () => {
  it('comes up over disco signalling through DERP and shows in status as the peer path, with its RTT', async () => {
    await expect.poll(async () => !!(await peerOf(a, 'rtc-b')), { timeout: 60_000, interval: 500 }).toBe(true);
    await expect.poll(async () => !!(await peerOf(b, 'rtc-a')), { timeout: 60_000, interval: 500 }).toBe(true);
    // Traffic over DERP makes the side with data to send offer.
    await inPage(b, `await node.ping('rtc-a', { timeoutMs: 20000 });`);
    for (const [page, other] of [
      [a, 'rtc-b'],
      [b, 'rtc-a'],
    ] as const) {
      await expect
        .poll(async () => (await peerOf(page, other))?.path?.kind, { timeout: 60_000, interval: 500 })
        .toBe('webrtc');
    }
    const pa = (await peerOf(a, 'rtc-b'))!;
    expect(pa.path!.rttMs).toBeGreaterThanOrEqual(0);
    const ca = (await status(a)).counters;
    const cb = (await status(b)).counters;
    // One offer and one answer between them, carried as disco over DERP.
    expect((ca['webrtc.offersSent'] ?? 0) + (cb['webrtc.offersSent'] ?? 0)).toBeGreaterThanOrEqual(1);
    expect(ca['webrtc.pathsUp']).toBe(1);
    expect(cb['webrtc.pathsUp']).toBe(1);
    expect((await status(a)).webrtcUnavailable).toBeUndefined();
  });

  it(`a ${SIZE >> 20} MiB transfer arrives with its SHA-256 while no WireGuard packet of the pair goes over DERP`, async () => {
    const before = { a: (await peerOf(a, 'rtc-b'))!, b: (await peerOf(b, 'rtc-a'))! };
    await serveOnce(a, 7101);
    const sent = await send(b, 'rtc-a', 7101);
    const got = await inPage<{ length: number; sha256: string }>(a, 'return await window.__rxDone;');
    expect(got).toEqual(sent);
    const after = { a: (await peerOf(a, 'rtc-b'))!, b: (await peerOf(b, 'rtc-a'))! };
    // Per-path counters of both ends: nothing over DERP, thousands of packets over the data channel.
    expect(after.a.derpTxPackets - before.a.derpTxPackets).toBe(0);
    expect(after.a.derpRxPackets - before.a.derpRxPackets).toBe(0);
    expect(after.b.derpTxPackets - before.b.derpTxPackets).toBe(0);
    expect(after.b.derpRxPackets - before.b.derpRxPackets).toBe(0);
    expect(after.a.webrtc!.rxPackets - before.a.webrtc!.rxPackets).toBeGreaterThan(SIZE / 1400);
  }, 120_000);

  it('closing the data channel mid-transfer falls back to DERP and the transfer completes', async () => {
    const before = (await peerOf(b, 'rtc-a'))!;
    await serveOnce(a, 7102);
    const sending = send(b, 'rtc-a', 7102);
    await expect
      .poll(() => inPage<number>(a, 'return window.__rx.bytes;'), { timeout: 60_000, interval: 100 })
      .toBeGreaterThan(SIZE / 4);
    const closed = await inPage<number>(
      b,
      `const open = window.__channels.filter((c) => c.readyState === 'open'); open.forEach((c) => c.close()); return open.length;`,
    );
    expect(closed).toBe(1);
    const sent = await sending;
    const got = await inPage<{ length: number; sha256: string }>(a, 'return await window.__rxDone;');
    expect(got).toEqual(sent);
    const after = (await peerOf(b, 'rtc-a'))!;
    expect(after.derpTxPackets - before.derpTxPackets).toBeGreaterThan(0);
    expect((await status(b)).counters['webrtc.fallbacks']).toBeGreaterThanOrEqual(1);
  }, 120_000);
});

describe('WebRTC path between Chromium and Firefox', () => {
  it('a Firefox node and a Chromium node bring the path up and move 16 MiB over it, none of it over DERP', async () => {
    firefox = await puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX,
      headless: true,
      extraPrefsFirefox: {
        'network.captive-portal-service.enabled': false,
        'network.connectivity-service.enabled': false,
        // Firefox's counterpart of WebRtcHideLocalIpsWithMdns: host candidates by address, not mDNS name.
        'media.peerconnection.ice.obfuscate_host_addresses': false,
      },
    });
    const f = ((await firefox.pages())[0] ?? (await firefox.newPage())) as unknown as Page;
    await up(f, 'rtc-f', 900);
    await expect.poll(async () => !!(await peerOf(f, 'rtc-a')), { timeout: 60_000, interval: 500 }).toBe(true);
    await expect.poll(async () => !!(await peerOf(a, 'rtc-f')), { timeout: 60_000, interval: 500 }).toBe(true);
    await inPage(f, `await node.ping('rtc-a', { timeoutMs: 20000 });`);
    await expect
      .poll(async () => (await peerOf(f, 'rtc-a'))?.path?.kind, { timeout: 60_000, interval: 500 })
      .toBe('webrtc');
    await expect
      .poll(async () => (await peerOf(a, 'rtc-f'))?.path?.kind, { timeout: 60_000, interval: 500 })
      .toBe('webrtc');
    const before = (await peerOf(f, 'rtc-a'))!;
    await serveOnce(a, 7103);
    const sent = await send(f, 'rtc-a', 7103, 16 << 20);
    expect(await inPage(a, 'return await window.__rxDone;')).toEqual(sent);
    const after = (await peerOf(f, 'rtc-a'))!;
    expect(after.derpTxPackets - before.derpTxPackets).toBe(0);
    expect(after.derpRxPackets - before.derpRxPackets).toBe(0);
    expect(after.webrtc!.txPackets - before.webrtc!.txPackets).toBeGreaterThan((16 << 20) / 1400);
  }, 180_000);
});
