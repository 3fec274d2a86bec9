// Our node in a real browser page (Debian's Chromium): TailnetNode over the browser-safe layers
// (src/node/layers.ts: the page's own WebSocket and fetch, IndexedDB state) against real Headscale,
// derpers and tailscaled. The page imports the sources through the Vite dev server; the app server
// forwards control (/key, /ts2021, /machine/) to Headscale so the page uses its own origin.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/node-browser.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { bytesSha256, startRig, type Rig, type RigPeer } from './rig/index.js';
import { socksConnect } from './helpers/node-tailnet.testkit.js';
import { launchChromium, startAppServer, type AppServer } from './helpers/browser.testkit.js';
import { toHex } from '../src/crypto/bytes.js';
import { keyToText } from '../src/crypto/keys.js';
import { secureRandom } from '../src/crypto/random.js';
import { generateKeyPair, publicKeyOf } from '../src/crypto/x25519.js';

let rig: Rig;
let app: AppServer;
let browser: Browser;
let page: Page;
let peer1: RigPeer;
let peer2: RigPeer;

beforeAll(async () => {
  rig = await startRig({
    peers: [
      { name: 'peer1', homeRegion: 900, derpOnly: true },
      { name: 'peer2', homeRegion: 901, derpOnly: true },
    ],
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
const inPage = <T>(body: string): Promise<T> =>
  page.evaluate(`(async () => { const node = window.__node; ${body} })()`) as Promise<T>;

interface PageStatus {
  state: string;
  self: { name: string; ips: string[] };
  peers: { nodeKey: string; ips: string[]; relayRegion?: number; handshakeAgeMs?: number }[];
  homeRegion: number;
  counters: Record<string, number>;
}

describe('tailtab node in Chromium', () => {
  // The profile starts as an older tailtab left it: raw private keys (hex) in IndexedDB. Coming up
  // moves them into non-extractable CryptoKeys (crypto/static-key.ts) under the same public keys.
  const rawMachine = generateKeyPair(secureRandom).privateKey;
  const rawNode = generateKeyPair(secureRandom).privateKey;

  it('comes up from a page with the pre-auth key and IndexedDB state, and lists both peers', async () => {
    const st = (await page.evaluate(`(async () => {
      const { TailnetNode } = await import('/src/node/node.ts');
      const { createLayers, defaultStore } = await import('/src/node/layers.ts');
      await defaultStore('node-browser-e2e').save({ machinePrivateKey: ${JSON.stringify(toHex(rawMachine))}, nodePrivateKey: ${JSON.stringify(toHex(rawNode))} });
      const node = new TailnetNode(createLayers());
      window.__node = node;
      window.__log = [];
      node.on('log', (t) => window.__log.push(t));
      await node.up({ controlUrl: location.origin, authKey: ${JSON.stringify(rig.authKey)}, hostname: 'tailtab-page',
        storage: defaultStore('node-browser-e2e'), allowInsecureDerp: true, wallClockMs: () => Date.now(), homeRegion: 900 });
      return JSON.parse(JSON.stringify(node.status()));
    })()`)) as PageStatus;
    expect(st.state).toBe('running');
    expect(st.self.name).toBe(`tailtab-page.${rig.baseDomain}.`);
    for (const p of [peer1, peer2]) expect(st.peers.find((x) => x.nodeKey === p.nodeKey)?.ips).toContain(p.ipv4);
    expect(
      await inPage<boolean>(`return !!(await indexedDB.databases()).find((d) => d.name === 'tailtab-control');`),
    ).toBe(true);
  });

  it('keeps its node and machine keys as non-extractable CryptoKeys, no raw private bytes left in IndexedDB, same identity', async () => {
    const stored = await inPage<{ forms: string[]; found: string[] }>(`
      const raw = ${JSON.stringify([toHex(rawMachine), toHex(rawNode)])};
      const db = await new Promise((res, rej) => { const r = indexedDB.open('tailtab-control'); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
      const values = await new Promise((res, rej) => { const r = db.transaction('state').objectStore('state').getAll(); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
      db.close();
      const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
      const found = [];
      const walk = (v) => {
        if (typeof v === 'string') { for (const k of raw) if (v.includes(k)) found.push('string'); }
        else if (v instanceof Uint8Array || v instanceof ArrayBuffer) { const h = hex(new Uint8Array(v)); for (const k of raw) if (h.includes(k)) found.push('bytes'); }
        else if (v && typeof v === 'object' && !(v instanceof CryptoKey)) for (const x of Object.values(v)) walk(x);
      };
      walk(values);
      const form = (k) => k && k.privateKey instanceof CryptoKey
        ? k.privateKey.algorithm.name + (k.privateKey.extractable ? ' extractable' : ' non-extractable') : typeof k;
      const st = values.find((v) => v && v.machinePrivateKey);
      return { forms: [form(st.machinePrivateKey), form(st.nodePrivateKey)], found };`);
    expect(stored.forms).toEqual(['X25519 non-extractable', 'X25519 non-extractable']);
    expect(stored.found).toEqual([]);
    // Same identity: the tailscaled peer knows the page by the public half of the node key it was
    // given; Headscale by that of the machine key.
    await expect
      .poll(
        async () =>
          Object.values((await peer1.status()).Peer ?? {}).find((x) => x.HostName === 'tailtab-page')?.PublicKey,
        { timeout: 30_000, interval: 500 },
      )
      .toBe(keyToText('nodekey', publicKeyOf(rawNode)));
    const nodes = JSON.parse(await rig.headscale(['nodes', 'list', '-o', 'json'])) as {
      given_name?: string;
      name?: string;
      machine_key?: string;
    }[];
    expect(nodes.find((n) => (n.given_name ?? n.name) === 'tailtab-page')?.machine_key).toBe(
      keyToText('mkey', publicKeyOf(rawMachine)),
    );
  });

  it('a tailscaled peer gets disco and TSMP pongs from the page over DERP, on both regions', async () => {
    const ip = (await inPage<PageStatus>('return JSON.parse(JSON.stringify(node.status()));')).self.ips.find((x) =>
      x.startsWith('100.'),
    )!;
    // Wait until Headscale has told both tailscaled peers about the page's node.
    for (const p of [peer1, peer2]) {
      await expect
        .poll(
          async () =>
            Object.values((await p.status()).Peer ?? {}).some((x) => x.HostName === 'tailtab-page' && x.Online),
          { timeout: 30_000, interval: 500 },
        )
        .toBe(true);
    }
    expect(await peer1.tailscale(['ping', '--c=2', '--until-direct=false', ip], { timeoutMs: 60_000 })).toMatch(
      /pong from tailtab-page \(100\.[\d.]+\) via DERP\(rig900\)/,
    );
    expect(await peer2.tailscale(['ping', '--tsmp', '--c=2', ip], { timeoutMs: 60_000 })).toMatch(
      /pong from tailtab-page/,
    );
    expect(await inPage<number>(`return node.discoPing('peer2');`)).toBeGreaterThanOrEqual(0);
    const st = await inPage<PageStatus>('return JSON.parse(JSON.stringify(node.status()));');
    expect(st.peers.find((p) => p.nodeKey === peer2.nodeKey)!.handshakeAgeMs).toBeGreaterThanOrEqual(0);
  });

  it('pings peers by MagicDNS name and IP (v4 and v6) and fetches a file over TCP with the right SHA-256', async () => {
    const pings = await inPage<{ ip: string }[]>(`
      return [await node.ping('peer1'), await node.ping(${JSON.stringify(peer1.ipv6)}), await node.ping(${JSON.stringify(peer2.fqdn)}, { preferV6: true })];`);
    expect(pings.map((p) => p.ip)).toEqual([peer1.ipv4, peer1.ipv6, peer2.ipv6]);
    const n = 2 << 20;
    const r = await inPage<{ head: string; length: number; sha256: string }>(`
      const conn = await node.dial('peer2', ${rig.httpPort});
      const w = conn.writable.getWriter();
      await w.write(new TextEncoder().encode('GET /bytes/${n} HTTP/1.0\\r\\nHost: peer2\\r\\n\\r\\n'));
      w.releaseLock();
      const parts = []; let total = 0;
      for await (const c of conn.readable) { parts.push(c); total += c.length; }
      const all = new Uint8Array(total); let o = 0; for (const p of parts) { all.set(p, o); o += p.length; }
      let sep = 0; while (!(all[sep] === 13 && all[sep + 1] === 10 && all[sep + 2] === 13 && all[sep + 3] === 10)) sep++;
      const body = all.subarray(sep + 4);
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', body));
      return { head: new TextDecoder().decode(all.subarray(0, sep)), length: body.length, sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join('') };`);
    expect(r.head).toMatch(/^HTTP\/1\.[01] 200/);
    expect(r.length).toBe(n);
    expect(r.sha256).toBe(bytesSha256(n));
  });

  it('a tailscaled peer reaches a port the page listens on', async () => {
    await inPage(`
      const l = node.listen(7001);
      window.__served = [];
      (async () => { for await (const c of l) {
        const r = c.readable.getReader(); let t = '';
        while (!t.includes('\\n')) { const { value, done } = await r.read(); if (done) break; t += new TextDecoder().decode(value); }
        r.releaseLock(); window.__served.push(t.trim());
        const w = c.writable.getWriter(); await w.write(new TextEncoder().encode('page says hi to ' + t)); await w.close();
      } })();`);
    const ip = (await inPage<PageStatus>('return JSON.parse(JSON.stringify(node.status()));')).self.ips.find((x) =>
      x.startsWith('100.'),
    )!;
    const s = await socksConnect(peer2, ip, 7001);
    s.write('peer2\n');
    const reply = await new Promise<string>((resolve, reject) => {
      let t = '';
      s.on('data', (d: Buffer) => {
        t += d.toString();
      });
      s.on('end', () => resolve(t));
      s.on('error', reject);
    });
    expect(reply).toBe('page says hi to peer2\n');
    expect(await inPage<string[]>('return window.__served;')).toEqual(['peer2']);
  });
});
