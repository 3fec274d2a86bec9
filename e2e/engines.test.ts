// The core journey in the three browser engines, each a real engine from Debian: Chromium
// (playwright-core), Firefox ESR (puppeteer-core over WebDriver BiDi) and WebKitGTK (Safari's
// engine; WebKitWebDriver driving MiniBrowser under Xvfb). Against the real rig (Headscale, two derpers, tailscaled peers,
// OpenSSH behind peer2), the app served by vite with control proxied to Headscale, as in
// e2e/ui.test.ts: a person opens the app, connects with a pre-auth key, sees the machines, opens
// an SSH terminal to OpenSSH (password, first-contact host-key prompt), runs a command and sees
// its output; moves a file over SFTP both ways (SHA-256 equal); then a web view of a peer's web
// server through the Service Worker. The first test records what the engine offers the app.
// Written once against e2e/helpers/engines.testkit.ts; an engine that is missing fails the test (never
// skips). Screenshots: test-results/engine-<engine>-*.png. Run inside a loopback-only netns:
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/engines.test.ts
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRigApp, type AppServer } from './helpers/browser.testkit.js';
import {
  ALL_ENGINES,
  deep,
  launchEngine,
  until,
  type EngineDriver,
  type EngineName,
} from './helpers/engines.testkit.js';
import { INDEX_TITLE, REPO_ROOT, startRig, type Rig } from './rig/index.js';

const SHOTS = join(REPO_ROOT, 'test-results');
mkdirSync(SHOTS, { recursive: true });

let rig: Rig;
let app: AppServer;

beforeAll(async () => {
  rig = await startRig({
    peers: [
      { name: 'peer1', homeRegion: 900 },
      { name: 'peer2', homeRegion: 901, ssh: true },
    ],
  });
  app = await startRigApp(rig, (url) => ({ controlUrl: url, allowInsecureDerp: true }));
}, 300_000);

afterAll(async () => {
  await app?.stop();
  await rig?.stop();
});

/** Page expression: which of the platform features the app uses this engine has ('yes' or why not). */
const FEATURES = `(async () => {
  const out = {};
  const check = async (name, f) => { try { const r = await f(); out[name] = r === false ? 'no' : 'yes'; } catch (e) { out[name] = String(e && e.message || e); } };
  const s = crypto.subtle;
  await check('secureContext', () => isSecureContext);
  await check('sharedWorker', () => typeof SharedWorker === 'function');
  await check('serviceWorker', () => 'serviceWorker' in navigator);
  // A browser reads only the dictionary members it knows: a getter tells whether it knows this one.
  await check('sharedWorkerExtendedLifetime', () => { let read = false; const w = new SharedWorker(URL.createObjectURL(new Blob([''], { type: 'text/javascript' })), { get extendedLifetime() { read = true; return false; }, name: 'probe' }); w.port.close(); return read; });
  await check('moduleWorker', () => new Promise((resolve, reject) => {
    const w = new Worker(URL.createObjectURL(new Blob(['postMessage(1)'], { type: 'text/javascript' })), { type: 'module' });
    w.onmessage = () => { w.terminate(); resolve(true); }; w.onerror = () => reject(new Error('module Worker failed')); setTimeout(() => reject(new Error('module Worker timed out')), 5000);
  }));
  await check('webcryptoX25519', () => s.generateKey({ name: 'X25519' }, true, ['deriveBits']));
  await check('webcryptoEd25519', () => s.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']));
  await check('webcryptoChaCha20Poly1305', () => s.generateKey({ name: 'ChaCha20-Poly1305', length: 256 }, true, ['encrypt']));
  await check('transferReadableStream', () => { const rs = new ReadableStream(); const c = new MessageChannel(); c.port1.postMessage(rs, [rs]); c.port1.close(); });
  return out;
})()`;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const TERMINAL = 'tt-terminal:not([hidden]) .xterm-rows';

// TAILTAB_ENGINES=webkit,firefox runs only those (while working on one engine); under CI the
// variable is ignored: every engine runs, and one that is missing fails.
const ENGINES_RUN = (
  process.env.CI ? ALL_ENGINES : (process.env.TAILTAB_ENGINES?.split(',') ?? ALL_ENGINES)
) as EngineName[];

for (const engine of ENGINES_RUN) {
  describe.sequential(`the app in ${engine}`, () => {
    // Started in the first test rather than a hook: a missing engine is then a failed test in red,
    // and every later test of it fails too (never reported as skipped).
    let b: EngineDriver;
    let startError: unknown;
    let streamsTransfer = false;
    let selfIp = '';
    const need = () => {
      if (!b) throw new Error(`${engine} did not start: ${String(startError)}`);
    };
    const shot = (name: string) => b.screenshot(join(SHOTS, `engine-${engine}-${name}.png`));

    afterEach(async ({ task }) => {
      if (task.result?.state === 'fail' && b)
        await shot(`failed-${task.name.slice(0, 30).replace(/\W+/g, '-')}`).catch(() => {});
    });
    afterAll(async () => {
      await b?.close();
    });

    it('starts, and records what the engine offers the app (SharedWorker, WebCrypto curves, stream transfer)', async () => {
      try {
        b = await launchEngine(engine, { viewport: { width: 1280, height: 860 } });
      } catch (e) {
        startError = e;
        throw e;
      }
      console.log(`[${engine}] ${b.version}`);
      await b.goto(app.url + '/?fresh=1');
      const features = await b.evaluate<Record<string, string>>(FEATURES);
      console.log(`[${engine}] ${JSON.stringify(features)}`);
      writeFileSync(
        join(SHOTS, `engine-${engine}-features.json`),
        JSON.stringify({ version: b.version, ...features }, null, 2) + '\n',
      );
      streamsTransfer = features.transferReadableStream === 'yes';
      // What the app cannot do without (the rest has fallbacks: noble crypto, streams as ports, a Blob download).
      expect(features.secureContext).toBe('yes');
      expect(features.moduleWorker).toBe('yes');
      expect(features.serviceWorker).toBe('yes');
    }, 120_000);

    it("connects with a pre-auth key and lists the rig's machines", async () => {
      need();
      await b.goto(app.url + '/');
      await until(
        'the embedded control URL',
        () => b.value('#control-url'),
        (v) => v === app.url,
        30_000,
      );
      await b.fill('#auth-key', rig.authKey);
      await b.fill('#hostname', `engine-${engine}`);
      await b.click('tt-connect >> form button.primary[type=submit]');
      // The rig's two peers (the other engine's node may be listed too, offline).
      await until(
        "the rig's machines",
        () => b.count('tt-machines >> tr[data-peer="peer1"], tr[data-peer="peer2"]'),
        (n) => n === 2,
        90_000,
      );
      const table = await b.text('tt-machines >> table');
      for (const p of rig.peers) {
        expect(table).toContain(p.name);
        expect(table).toContain(p.ipv4);
      }
      selfIp = (await b.text('header [role=status]')).split('·')[1]?.trim() ?? '';
      expect(selfIp).toMatch(/^100\.\d+\.\d+\.\d+$/);
      // The tailscaled peer sees this browser's node too.
      await until(
        'peer1 to see the node',
        async () => {
          const st = await rig.peer('peer1').status();
          return Object.values(st.Peer ?? {}).some((p) => p.TailscaleIPs?.includes(selfIp));
        },
        (v) => v,
        30_000,
      );
      await shot('machines');
    }, 150_000);

    it('opens an SSH terminal to OpenSSH, trusts the host key, runs a command and sees its output', async () => {
      need();
      const sshd = rig.sshd!;
      await b.click('tt-machines >> tr[data-peer="peer2"] >> button[aria-label^="SSH"]');
      await b.waitFor('#ssh-user', 10_000);
      await b.fill('#ssh-user', sshd.user);
      await b.fill('#ssh-port', String(sshd.port));
      await b.select('#ssh-method', 'password');
      await b.waitFor('#ssh-password', 10_000);
      await b.fill('#ssh-password', sshd.password);
      await b.click('tt-ssh-dialog >> form button.primary[type=submit]');
      await b.waitFor('tt-terminal .host-prompt', 60_000);
      const shown = (await b.text('tt-terminal .host-prompt code')).trim();
      expect(sshd.hostKeyFingerprints).toContain(shown);
      await b.click('tt-terminal .host-prompt button.primary');
      await until(
        'the shell prompt',
        () => b.text(TERMINAL),
        (t) => new RegExp(`${sshd.user}@\\S*\\$`).test(t),
        60_000,
      );
      const marker = randomBytes(4).toString('hex');
      await b.click('tt-terminal:not([hidden]) .xterm');
      await b.keys(`echo "engine-${engine}-$((6*7))-${marker}"; whoami\n`);
      const text = await until(
        'the command output',
        () => b.text(TERMINAL),
        (t) => t.includes(`engine-${engine}-42-${marker}`),
        30_000,
      );
      expect(text).toMatch(new RegExp(`engine-${engine}-42-${marker}\\s+${sshd.user}`));
      await shot('terminal');
    }, 150_000);

    it('moves files over SFTP: an upload lands byte for byte, and the download gives the same bytes back', async () => {
      need();
      const sshd = rig.sshd!;
      await b.goto(app.url + '/#machines');
      await b.waitFor('tt-machines >> tr[data-peer="peer2"]', 60_000);
      await b.click('tt-machines >> tr[data-peer="peer2"] >> button[aria-label^="Files on"]');
      await b.waitFor('#ssh-user', 10_000);
      await b.fill('#ssh-user', sshd.user);
      await b.fill('#ssh-port', String(sshd.port));
      await b.select('#ssh-method', 'password');
      await b.waitFor('#ssh-password', 10_000);
      await b.fill('#ssh-password', sshd.password);
      await b.click('tt-ssh-dialog >> form button.primary[type=submit]');
      // The host key trusted for the terminal is recognised here: no question.
      await until(
        'the known host key',
        () => b.text('tt-files >> .files-host'),
        (t) => /Host key SHA256:\S+ matches/.test(t),
        60_000,
      );
      const home = execFileSync('getent', ['passwd', sshd.user], { encoding: 'utf8' }).split(':')[5]!;
      await until(
        'the home listing',
        () => b.text('tt-files >> #files-title'),
        (t) => t.endsWith(`: ${home}`),
        30_000,
      );
      // Upload: the file is picked from disk (a real file chooser's result), streamed page → Worker.
      const bytes = randomBytes(200_003);
      const name = `engine-${engine}-${randomBytes(4).toString('hex')}.bin`;
      const local = mkdtempSync(join(tmpdir(), 'tailtab-upload-'));
      try {
        writeFileSync(join(local, name), bytes);
        await b.setFile('tt-files >> #files-upload', join(local, name));
        await until(
          'the upload',
          () => b.text('tt-files >> p[role=status][aria-live]'),
          (t) => t === `Uploaded ${name} (195 KB).`,
          60_000,
        );
      } finally {
        rmSync(local, { recursive: true, force: true });
      }
      expect(sha(readFileSync(join(home, name)))).toBe(sha(bytes));
      await b.waitFor(`tt-files >> tr[data-name="${name}"]`, 20_000);
      // Download, streamed Worker → page. Where streams transfer, the Service Worker hands it to the
      // browser's download manager (saved to disk); in WebKit the page gives the browser a Blob.
      await b.evaluate(
        `(() => { window.__blobs = []; const o = URL.createObjectURL; URL.createObjectURL = (x) => { if (x instanceof Blob) window.__blobs.push(x); return o.call(URL, x); }; return true; })()`,
      );
      await b.click(`tt-files >> tr[data-name="${name}"] >> button[aria-label="Download ${name}"]`);
      await until(
        'the download',
        () => b.text('tt-files >> p[role=status][aria-live]'),
        (t) => t === `Downloaded ${name} (195 KB).`,
        60_000,
      );
      if (streamsTransfer) {
        const file = join(b.downloadsDir!, name);
        const got = await until(
          'the saved file',
          async () => (existsSync(file) ? readFileSync(file) : Buffer.alloc(0)),
          (x) => x.length === bytes.length,
          30_000,
        );
        expect(sha(got)).toBe(sha(bytes));
      } else {
        const got = await b.evaluate<string>(`(async () => { const x = window.__blobs.at(-1); if (!x) return 'no blob';
          return [...new Uint8Array(await crypto.subtle.digest('SHA-256', await x.arrayBuffer()))].map((v) => v.toString(16).padStart(2, '0')).join(''); })()`);
        expect(got).toBe(sha(bytes));
      }
      await shot('files');
      rmSync(join(home, name), { force: true });
    }, 180_000);

    it("shows a peer's web server in the web view (Service Worker proxy)", async () => {
      need();
      const peer = rig.peer('peer1');
      await b.goto(app.url + '/#machines');
      await b.waitFor('tt-machines >> tr[data-peer="peer1"]', 60_000);
      await b.click('tt-machines >> tr[data-peer="peer1"] >> button[aria-label^="Open web view"]');
      await b.waitFor('tt-webview >> #address', 10_000);
      await b.fill('tt-webview >> #address', `http://${peer.ipv4}:${rig.httpPort}/`);
      await b.click('tt-webview >> form button.primary[type=submit]');
      // On 127.0.0.1 there is no separate origin: the person accepts the risk first (as in ui.test.ts).
      await until(
        'the same-origin warning',
        () => b.count('tt-webview >> button:not(.primary)'),
        (n) => n >= 1,
        60_000,
      );
      await b.click('tt-webview >> button:not(.primary)');
      const frameInfo = `(() => { const f = ${deep('tt-webview >> iframe')}[0]; const d = f && f.contentDocument;
        if (!d) return null; const img = d.querySelector('img');
        return { title: d.title, img: !!img && img.complete && img.naturalWidth > 0 }; })()`;
      const got = await until(
        'the proxied page',
        () => b.evaluate<{ title: string; img: boolean } | null>(frameInfo),
        (v) => !!v && v.title === INDEX_TITLE && v.img,
        90_000,
      );
      expect(got).toEqual({ title: INDEX_TITLE, img: true });
      await shot('webview');
    }, 150_000);

    it('reloads and is still connected as the same machine', async () => {
      need();
      await b.goto(app.url + '/#machines');
      await b.reload();
      await b.waitFor('tt-machines >> tr[data-peer="peer1"]', 60_000);
      expect(await b.text('header [role=status]')).toContain(selfIp);
      const dbs = await b.evaluate<string[]>(`indexedDB.databases().then((l) => l.map((d) => d.name))`);
      expect(dbs).toContain('tailtab');
    }, 120_000);
  });
}
