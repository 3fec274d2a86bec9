// Our node in a real browser page (Debian's Chromium): TailnetNode over the browser-safe layers
// (src/node/layers.ts: the page's own WebSocket and fetch, IndexedDB state) against real Headscale,
// derpers and tailscaled. The page imports the sources through the Vite dev server; the app server
// forwards control (/key, /ts2021, /machine/) to Headscale so the page uses its own origin.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/node-browser.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startRig, type Rig, type RigPeer } from './rig/index.js';
import { launchChromium, startAppServer, type AppServer } from './helpers/browser.js';

let rig: Rig;
let app: AppServer;
let browser: Browser;
let page: Page;
let peer1: RigPeer;
let peer2: RigPeer;

beforeAll(async () => {
  rig = await startRig({
    peers: [{ name: 'peer1', homeRegion: 900, derpOnly: true }, { name: 'peer2', homeRegion: 901, derpOnly: true }],
    sshd: false,
  });
  peer1 = rig.peer('peer1');
  peer2 = rig.peer('peer2');
  app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl });
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(app.url + '/', { waitUntil: 'domcontentloaded' });
}, 300_000);
afterAll(async () => {
  await page?.evaluate('window.__node && window.__node.down()').catch(() => {});
  await browser?.close();
  await app?.stop();
  await rig?.stop();
});

// Strings, not functions: the test runner's transform would add helpers the page lacks.
const inPage = <T>(body: string): Promise<T> => page.evaluate(`(async () => { const node = window.__node; ${body} })()`) as Promise<T>;

interface PageStatus { state: string; self: { name: string; ips: string[] }; peers: { nodeKey: string; ips: string[]; relayRegion?: number; handshakeAgeMs?: number }[]; homeRegion: number; counters: Record<string, number> }

describe('tailtab node in Chromium', () => {
  it('comes up from a page with the pre-auth key and IndexedDB state, and lists both peers', async () => {
    const st = await page.evaluate(`(async () => {
      const { TailnetNode } = await import('/src/node/node.ts');
      const { createLayers, defaultStore } = await import('/src/node/layers.ts');
      const node = new TailnetNode(createLayers());
      window.__node = node;
      window.__log = [];
      node.on('log', (t) => window.__log.push(t));
      await node.up({ controlUrl: location.origin, authKey: ${JSON.stringify(rig.authKey)}, hostname: 'tailtab-page',
        storage: defaultStore('node-browser-e2e'), allowInsecureDerp: true, wallClockMs: () => Date.now(), homeRegion: 900 });
      return JSON.parse(JSON.stringify(node.status()));
    })()`) as PageStatus;
    expect(st.state).toBe('running');
    expect(st.self.name).toBe(`tailtab-page.${rig.baseDomain}.`);
    for (const p of [peer1, peer2]) expect(st.peers.find((x) => x.nodeKey === p.nodeKey)?.ips).toContain(p.ipv4);
    expect(await inPage<boolean>(`return !!(await indexedDB.databases()).find((d) => d.name === 'tailtab-control');`)).toBe(true);
  });

  it('a tailscaled peer gets disco and TSMP pongs from the page over DERP, on both regions', async () => {
    const ip = (await inPage<PageStatus>('return JSON.parse(JSON.stringify(node.status()));')).self.ips.find((x) => x.startsWith('100.'))!;
    expect(await peer1.tailscale(['ping', '--c=2', '--until-direct=false', ip], { timeoutMs: 60_000 }))
      .toMatch(/pong from tailtab-page \(100\.[\d.]+\) via DERP\(rig900\)/);
    expect(await peer2.tailscale(['ping', '--tsmp', '--c=2', ip], { timeoutMs: 60_000 })).toMatch(/pong from tailtab-page/);
    expect(await inPage<number>(`return node.discoPing('peer2');`)).toBeGreaterThanOrEqual(0);
    const st = await inPage<PageStatus>('return JSON.parse(JSON.stringify(node.status()));');
    expect(st.peers.find((p) => p.nodeKey === peer2.nodeKey)!.handshakeAgeMs).toBeGreaterThanOrEqual(0);
  });
});
