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
import {
  inTab,
  received,
  sendFromTab,
  serveOnce,
  tabPeer,
  tabStatus,
  upInTab,
  type Tab as Page,
} from './helpers/webrtc-tabs.testkit.js';

let rig: Rig;
let tun: Tun;
let app: AppServer;
let browser: Browser;
let a: Page;
let b: Page;
let firefox: PBrowser | undefined;

/** The 64 MiB. */
const SIZE = 64 << 20;

const up = (tab: Page, hostname: string, homeRegion: number) =>
  upInTab(tab, { appUrl: app.url, authKey: rig.authKey, hostname, homeRegion });
const inPage = inTab;
const status = tabStatus;
const peerOf = tabPeer;
const send = (tx: Page, host: string, port: number, size = SIZE) =>
  sendFromTab(tx, host, port, size).then(({ length, sha256 }) => ({ length, sha256 }));
const rxDone = (rx: Page) => received(rx).then(({ length, sha256 }) => ({ length, sha256 }));

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
    const got = await rxDone(a);
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
    const got = await rxDone(a);
    expect(got).toEqual(sent);
    const after = (await peerOf(b, 'rtc-a'))!;
    expect(after.derpTxPackets - before.derpTxPackets).toBeGreaterThan(0);
    expect((await status(b)).counters['webrtc.fallbacks']).toBeGreaterThanOrEqual(1);
  }, 120_000);
});

describe("WebRTC path of the app's node in a Worker", () => {
  // A dedicated Worker receives each data channel (transferred); a SharedWorker cannot (Chromium 156:
  // messageerror), so for one the page keeps the channel and relays its messages.
  it.each([
    ['dedicated', 'rtc-wd', 'hands the data channel to the Worker'],
    ['shared', 'rtc-ws', 'relays the data channel for the SharedWorker'],
  ] as const)(
    '%s Worker (%s): the page hosts the peer connection and %s; pings go over the path, not DERP',
    async (kind: string, host: string, _what: string) => {
      const w = (await (await browser.newContext()).newPage()) as unknown as Page;
      await w.goto(app.url + '/');
      // The app's own node client (ui/worker/node-worker.ts), this page as its RTC host (ui/rtc-host.ts).
      await w.evaluate(`(async () => {
      const { createNodeClient } = await import('/src/ui/node-client.ts');
      const api = createNodeClient({ name: 'rtc-worker-e2e-${kind}', dedicated: ${kind === 'dedicated'} });
      if (api.workerKind !== '${kind}') throw new Error('asked for a ${kind} Worker, got ' + api.workerKind);
      window.__api = api;
      await api.up({ controlUrl: location.origin, authKey: ${JSON.stringify(rig.authKey)}, hostname: '${host}',
        ephemeral: true, profileId: '', allowInsecureDerp: true });
    })()`);
      const workerPath = () =>
        w.evaluate(
          `window.__api.status().then((s) => (s.peers.find((p) => p.name === 'rtc-a') || {}).path)`,
        ) as Promise<string | undefined>;
      await expect.poll(async () => !!(await peerOf(a, host)), { timeout: 60_000, interval: 500 }).toBe(true);
      await inPage(a, `await node.ping('${host}', { timeoutMs: 20000 });`);
      await expect
        .poll(async () => (await peerOf(a, host))?.path?.kind, { timeout: 60_000, interval: 500 })
        .toBe('webrtc');
      await expect.poll(workerPath, { timeout: 60_000, interval: 500 }).toBe('webrtc');
      const before = (await peerOf(a, host))!;
      for (let i = 0; i < 10; i++) await inPage(a, `await node.ping('${host}', { timeoutMs: 5000 });`);
      const after = (await peerOf(a, host))!;
      expect(after.derpTxPackets - before.derpTxPackets).toBe(0);
      expect(after.derpRxPackets - before.derpRxPackets).toBe(0);
      expect(after.webrtc!.rxPackets - before.webrtc!.rxPackets).toBeGreaterThanOrEqual(10);
      await w.evaluate('window.__api.down()').catch(() => {});
    },
    120_000,
  );
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
    expect(await rxDone(a)).toEqual(sent);
    const after = (await peerOf(f, 'rtc-a'))!;
    expect(after.derpTxPackets - before.derpTxPackets).toBe(0);
    expect(after.derpRxPackets - before.derpRxPackets).toBe(0);
    expect(after.webrtc!.txPackets - before.webrtc!.txPackets).toBeGreaterThan((16 << 20) / 1400);
  }, 180_000);
});
