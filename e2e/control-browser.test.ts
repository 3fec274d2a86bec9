// The control client in a real browser (Debian's Chromium) against real Headscale v0.29.2: the
// page imports src/control through the Vite dev server, talks ts2021 over the browser's own
// WebSocket and keeps its keys in IndexedDB (IdbStore). Proves: the CORS problem is reported in
// words; login through the app's same-origin proxy; a reload is the same machine without re-auth;
// a control key from configuration lets the page talk to Headscale directly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startRig, type Rig } from './rig/index.js';
import { launchChromium, startAppServer, type AppServer } from './helpers/browser.testkit.js';
import { fetchControlKey } from '../src/control/key.js';
import { CAPABILITY_VERSION } from '../src/control/tailcfg.js';
import { keyToText } from '../src/crypto/keys.js';

let rig: Rig;
let app: AppServer;
let browser: Browser;
let page: Page;
let controlKey = '';

beforeAll(async () => {
  rig = await startRig({ peers: [{ name: 'peer1', homeRegion: 900 }], derpers: 1, sshd: false });
  controlKey = keyToText('mkey', await fetchControlKey(rig.headscaleUrl, CAPABILITY_VERSION));
  // The app server forwards /key, /ts2021 and /machine/ to Headscale (vite.config.ts), so the page
  // can use its own origin as the control URL.
  app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl });
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(app.url + '/', { waitUntil: 'domcontentloaded' });
  await warmImports(page, [
    '/src/control/client.ts',
    '/src/control/storage.ts',
    '/src/control/key.ts',
    '/src/control/netmap.ts',
    '/src/platform/clock.ts',
    '/src/crypto/random.ts',
    '/src/crypto/keys.ts',
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
  await browser?.close();
  await app?.stop();
  await rig?.stop();
});

interface PageLogin {
  hadStoredState: boolean;
  machineKey: string;
  nodeKey: string;
  authorized: boolean;
  authUrl: string;
  selfName: string;
  peerName: string;
  peerAddresses: string[];
  peerHomeDerp: number;
  /** How each private key is kept: 'non-extractable CryptoKey', 'hex' or what else was found. */
  stored: { machinePrivateKey: string; nodePrivateKey: string; loggedIn: boolean };
}

/**
 * Logs in from the page and waits for a map listing peerKey. A string, not a function: the test
 * runner's transform would add helpers the page lacks.
 */
function pageLogin(o: {
  controlUrl: string;
  controlKey?: string;
  authKey?: string;
  profile: string;
  hostname: string;
  peerKey: string;
}): Promise<PageLogin> {
  return page.evaluate(`(async () => {
    const o = ${JSON.stringify(o)};
    const { ControlClient } = await import('/src/control/client.ts');
    const { IdbStore } = await import('/src/control/storage.ts');
    const { realClock } = await import('/src/platform/clock.ts');
    const { secureRandom } = await import('/src/crypto/random.ts');
    const { keyToText } = await import('/src/crypto/keys.ts');
    const { peerList } = await import('/src/control/netmap.ts');
    const store = new IdbStore(o.profile);
    const before = await store.load();
    const form = (k) => typeof k === 'string' ? (/^[0-9a-f]{64}$/.test(k) ? 'hex' : 'other string')
      : k && k.privateKey instanceof CryptoKey && k.privateKey.algorithm.name === 'X25519' && k.privateKey.extractable === false && k.privateKey.usages.join() === 'deriveBits'
        ? 'non-extractable CryptoKey' : 'other: ' + Object.prototype.toString.call(k && k.privateKey);
    const c = new ControlClient({
      controlUrl: o.controlUrl, controlKey: o.controlKey, store,
      webSocketFactory: (url, protocols) => new WebSocket(url, protocols),
      clock: realClock, random: secureRandom, discoPublicKey: secureRandom(32),
      wallTime: () => new Date().toISOString(), backoffBaseMs: 200, backoffMaxMs: 2000,
    });
    let authUrl = '';
    try {
      const rr = await c.login({ authKey: o.authKey, hostname: o.hostname, onAuthUrl: (u) => { authUrl = u; } });
      if (authUrl) throw new Error('control asked for an interactive login: ' + authUrl);
      c.start();
      const nm = await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no map with the peer; state ' + c.state + '; ' + c.stats.lastError)), 60000);
        const check = (m) => { if (peerList(m).some((p) => p.Key === o.peerKey)) { clearTimeout(t); resolve(m); } };
        check(c.netMap);
        c.onNetMap(check);
      });
      const peer = peerList(nm).find((p) => p.Key === o.peerKey);
      const after = await store.load();
      return {
        hadStoredState: !!before, machineKey: keyToText('mkey', c.machinePublicKey), nodeKey: keyToText('nodekey', c.nodePublicKey),
        authorized: !!rr.MachineAuthorized, authUrl, selfName: nm.self.Name, peerName: peer.Name, peerAddresses: peer.Addresses,
        peerHomeDerp: peer.HomeDERP,
        stored: { machinePrivateKey: form(after.machinePrivateKey), nodePrivateKey: form(after.nodePrivateKey), loggedIn: !!after.loggedIn },
      };
    } finally {
      await c.close();
    }
  })()`) as Promise<PageLogin>;
}

async function headscaleNodeNames(): Promise<string[]> {
  const nodes = (JSON.parse(await rig.headscale(['nodes', 'list', '-o', 'json'])) ?? []) as {
    name: string;
    given_name?: string;
  }[];
  return nodes.map((n) => n.given_name ?? n.name);
}

describe('control client in Chromium against Headscale v0.29.2', () => {
  it('reading /key across origins fails with words that say what to do, not a stack trace', async () => {
    const r = (await page.evaluate(`(async () => {
      const { fetchControlKey } = await import('/src/control/key.ts');
      try { await fetchControlKey(${JSON.stringify(rig.headscaleUrl)}, 113); return { ok: true }; }
      catch (e) { return { ok: false, name: e.name, message: e.message, probablyCors: e.probablyCors }; }
    })()`)) as { ok: boolean; name?: string; message?: string; probablyCors?: boolean };
    expect(r.ok).toBe(false);
    expect(r.name).toBe('ControlKeyError');
    expect(r.probablyCors).toBe(true);
    expect(r.message).toContain('no CORS header');
    expect(r.message).toContain('controlKey');
    expect(r.message).toContain(`${rig.headscaleUrl.replace(/\/$/, '')}/key?v=113`);
  });

  let first: PageLogin;
  it('logs in with a pre-auth key through the same-origin app server; the map lists the tailscaled peer', async () => {
    const p1 = rig.peer('peer1');
    first = await pageLogin({
      controlUrl: app.url,
      authKey: rig.authKey,
      profile: 'same-origin',
      hostname: 'tailtab-chromium',
      peerKey: p1.nodeKey,
    });
    expect(first.hadStoredState).toBe(false);
    expect(first.authorized).toBe(true);
    expect(first.selfName).toBe(`tailtab-chromium.${rig.baseDomain}.`);
    expect(first.peerName).toBe(`${p1.fqdn}.`);
    expect(first.peerAddresses).toEqual(expect.arrayContaining([`${p1.ipv4}/32`, `${p1.ipv6}/128`]));
    expect(first.peerHomeDerp).toBe(900);
    // Chromium has X25519 in WebCrypto: the keys are CryptoKeys the page cannot export (SECURITY.md).
    expect(first.stored).toEqual({
      machinePrivateKey: 'non-extractable CryptoKey',
      nodePrivateKey: 'non-extractable CryptoKey',
      loggedIn: true,
    });
    expect(await headscaleNodeNames()).toContain('tailtab-chromium');
  });

  it('after a page reload, IndexedDB makes it the same machine and node, logged in without a key or a link', async () => {
    await page.reload({ waitUntil: 'domcontentloaded' });
    const again = await pageLogin({
      controlUrl: app.url,
      profile: 'same-origin',
      hostname: 'tailtab-chromium',
      peerKey: rig.peer('peer1').nodeKey,
    });
    expect(again.hadStoredState).toBe(true);
    expect(again.authUrl).toBe('');
    expect(again.authorized).toBe(true);
    expect(again.machineKey).toBe(first.machineKey);
    expect(again.nodeKey).toBe(first.nodeKey);
    expect((await headscaleNodeNames()).filter((n) => n === 'tailtab-chromium').length).toBe(1);
  });

  it('with the control key in configuration, the page talks to Headscale directly (cross-origin WebSocket)', async () => {
    const r = await pageLogin({
      controlUrl: rig.headscaleUrl,
      controlKey,
      authKey: rig.authKey,
      profile: 'direct',
      hostname: 'tailtab-chromium-direct',
      peerKey: rig.peer('peer1').nodeKey,
    });
    expect(r.authorized).toBe(true);
    expect(r.machineKey).not.toBe(first.machineKey); // its own IndexedDB profile, its own machine
    expect(r.selfName).toBe(`tailtab-chromium-direct.${rig.baseDomain}.`);
  });
});
