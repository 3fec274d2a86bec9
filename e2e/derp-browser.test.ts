// The DERP pool in a real browser (Debian's Chromium) against two real derper processes: the page
// imports src/derp-client through the Vite dev server, measures each region's /derp/latency-check
// cross-origin (derper allows CORS there) with the default prober, homes on the best region over
// the browser's WebSocket, and exchanges packets with a DERP client running in Node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startRig, type Rig } from './rig/index.js';
import { launchChromium, startAppServer, type AppServer } from './helpers/browser.testkit.js';
import { DerpPool, type DerpMap } from '../src/derp-client/pool.js';
import { nodeWebSocketFactory } from '../src/derp-client/websocket.node.js';
import { generateKeyPair } from '../src/crypto/x25519.js';
import { secureRandom } from '../src/crypto/random.js';
import { fromHex, toHex } from '../src/crypto/bytes.js';
import { realClock } from '../src/platform/clock.js';

let rig: Rig;
let app: AppServer;
let browser: Browser;
let page: Page;
let map: DerpMap;
let nodePool: DerpPool | undefined;

beforeAll(async () => {
  rig = await startRig({ derpers: 2, peers: [], sshd: false });
  map = {
    regions: rig.derpRegions.map((r) => ({
      regionId: r.regionId,
      regionCode: r.regionCode,
      regionName: r.regionCode,
      nodes: [
        { name: `${r.regionId}a`, regionId: r.regionId, hostName: r.host, derpPort: r.port, insecureForTests: true },
      ],
    })),
  };
  app = await startAppServer();
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(app.url + '/', { waitUntil: 'domcontentloaded' });
  await warmImports(page, [
    '/src/derp-client/pool.ts',
    '/src/crypto/x25519.ts',
    '/src/crypto/random.ts',
    '/src/platform/clock.ts',
    '/src/crypto/bytes.ts',
  ]);
}, 300_000);

/**
 * Vite may discover a dependency (e.g. idb) only when a page first imports it, re-optimize, and
 * reload the page, which fails the import in flight. Import everything once, retrying after reloads.
 */
async function warmImports(p: Page, modules: string[]): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await p.evaluate(`Promise.all(${JSON.stringify(modules)}.map((m) => import(m)))`);
      return;
    } catch (e) {
      if (i >= 5) throw e;
      await new Promise((r) => setTimeout(r, 1000));
      await p.reload({ waitUntil: 'domcontentloaded' });
    }
  }
}
afterAll(async () => {
  nodePool?.close();
  await page?.evaluate('globalThis.__pool?.close()').catch(() => {});
  await browser?.close();
  await app?.stop();
  await rig?.stop();
});

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('DERP client in Chromium against real derper', () => {
  it('probes /derp/latency-check cross-origin, homes on a region, and exchanges packets with a Node client', async () => {
    // The page: a pool with the browser's WebSocket, no fetchLatency given (the default prober, i.e. fetch).
    const started = (await page.evaluate(`(async () => {
      const { DerpPool } = await import('/src/derp-client/pool.ts');
      const { generateKeyPair } = await import('/src/crypto/x25519.ts');
      const { secureRandom } = await import('/src/crypto/random.ts');
      const { realClock } = await import('/src/platform/clock.ts');
      const { toHex } = await import('/src/crypto/bytes.ts');
      const kp = generateKeyPair(secureRandom);
      const got = [];
      const pool = new DerpPool({
        privateKey: kp.privateKey, derpMap: ${JSON.stringify(map)}, clock: realClock, random: secureRandom,
        webSocketFactory: (url, protocols) => new WebSocket(url, protocols),
        onPacket: (src, pkt, region) => got.push({ src: toHex(src), text: new TextDecoder().decode(pkt), region }),
      });
      globalThis.__pool = pool; globalThis.__got = got;
      pool.start();
      const home = await pool.chooseHomeRegion();
      return { home, latencies: [...pool.latencies()], publicKey: toHex(kp.publicKey), origin: location.origin };
    })()`)) as { home: number; latencies: [number, number][]; publicKey: string; origin: string };
    const regionIds = map.regions.map((r) => r.regionId);
    expect(regionIds).toContain(started.home);
    // Both regions answered the page's cross-origin probe (a CORS failure would leave them out).
    expect(started.latencies.map(([id]) => id).sort()).toEqual([...regionIds].sort());
    for (const [, ms] of started.latencies) expect(ms).toBeGreaterThan(0);
    expect(started.origin).not.toBe(rig.derpRegions[0].url); // really cross-origin

    const pageStatus = () =>
      page.evaluate('globalThis.__pool.status()') as Promise<{ regionId: number; state: string; home: boolean }[]>;
    await until('the page connected to its home region', async () =>
      (await pageStatus()).some((s) => s.regionId === started.home && s.home && s.state === 'connected'),
    );

    // A Node client homed on the OTHER region: traffic crosses regions both ways.
    const other = regionIds.find((id) => id !== started.home)!;
    const kp = generateKeyPair(secureRandom);
    const nodeGot: { src: string; text: string; region: number }[] = [];
    nodePool = new DerpPool({
      privateKey: kp.privateKey,
      derpMap: map,
      homeRegion: other,
      webSocketFactory: nodeWebSocketFactory,
      clock: realClock,
      random: secureRandom,
      onPacket: (src, pkt, region) => nodeGot.push({ src: toHex(src), text: new TextDecoder().decode(pkt), region }),
    });
    nodePool.start();
    await until('node connected', () =>
      nodePool!.status().some((s) => s.regionId === other && s.state === 'connected'),
    );
    nodePool.send(started.home, fromHex(started.publicKey), new TextEncoder().encode('hello page'));
    await until('the page got it', async () => ((await page.evaluate('globalThis.__got.length')) as number) > 0);
    const got = (await page.evaluate('globalThis.__got[0]')) as { src: string; text: string; region: number };
    expect(got).toEqual({ src: toHex(kp.publicKey), text: 'hello page', region: started.home });
    await page.evaluate(`(async () => {
      const { fromHex } = await import('/src/crypto/bytes.ts');
      globalThis.__pool.send(${other}, fromHex(${JSON.stringify(toHex(kp.publicKey))}), new TextEncoder().encode('hello node'));
    })()`);
    await until('node got it', () => nodeGot.length > 0);
    expect(nodeGot[0]).toEqual({ src: started.publicKey, text: 'hello node', region: other });
    // The page now holds both regions: its home and the on-demand one.
    expect((await pageStatus()).map((s) => s.regionId).sort()).toEqual([...regionIds].sort());
  }, 120_000);
});
