// The app as a person meets it, in Chromium (Debian's, via playwright-core) against a real local
// tailnet: Headscale v0.29.2, two derpers and tailscaled peers (the rig), the app served by vite
// with the control paths proxied to Headscale (same origin: Headscale sends no CORS headers).
// Journeys: a new user pastes a pre-auth key and sees the machines; an SSH terminal to OpenSSH
// behind a peer (password login, host-key prompt); Files (SFTP upload/download, to OpenSSH and to
// Tailscale SSH); a web view of a peer's web server; a reload
// keeps the login (IndexedDB); an ephemeral session leaves nothing (IndexedDB empty, node gone
// from Headscale); the widget demo page connects by itself (Tailscale SSH); PWA and phone width.
// Screenshots: test-results/ui-*.png. Run inside a loopback-only netns:
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/ui.test.ts
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, launchPersistentChromium, startAppServer, type AppServer } from './helpers/browser.testkit.js';
import { INDEX_TITLE, REPO_ROOT, startRig, type Rig } from './rig/index.js';

const SHOTS = join(REPO_ROOT, 'test-results');
mkdirSync(SHOTS, { recursive: true });

interface HsNode {
  id: string | number;
  name?: string;
  given_name?: string;
  ip_addresses?: string[];
}

async function headscaleNodes(rig: Rig): Promise<HsNode[]> {
  return JSON.parse(await rig.headscale(['nodes', 'list', '-o', 'json'])) as HsNode[];
}
const named = (nodes: HsNode[], name: string) => nodes.filter((n) => n.given_name === name || n.name === name);

/** Text currently shown by the xterm.js terminal (its DOM renderer's rows). */
async function terminalText(page: Page, scope = 'tt-terminal:not([hidden])'): Promise<string> {
  return page
    .locator(`${scope} .xterm-rows`)
    .first()
    .innerText()
    .catch(() => '');
}

/** Every enabled interactive element (through shadow roots) that has no accessible name. */
async function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const walk = (root: Document | ShadowRoot) => {
      for (const el of root.querySelectorAll<HTMLElement>('button, input, select, textarea, a[href]')) {
        if ((el as HTMLInputElement).type === 'hidden' || el.closest('.xterm')) continue;
        const id = el.id;
        const label =
          el.getAttribute('aria-label') ||
          el.getAttribute('aria-labelledby') ||
          (id && (root as ParentNode).querySelector(`label[for="${id}"]`)?.textContent) ||
          el.closest('label')?.textContent ||
          (el.tagName !== 'INPUT' && el.tagName !== 'SELECT' ? el.textContent : '') ||
          el.getAttribute('title');
        if (!label || !label.trim()) out.push(el.outerHTML.slice(0, 120));
      }
      for (const host of root.querySelectorAll('*')) if (host.shadowRoot) walk(host.shadowRoot);
    };
    walk(document);
    return out;
  });
}

describe('ui: the app in Chromium against the rig', () => {
  let rig: Rig;
  let app: AppServer;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let configPath: string;
  let selfIp = '';
  const writeConfig = (c: object) => writeFileSync(configPath, JSON.stringify(c));

  beforeAll(async () => {
    rig = await startRig({
      peers: [
        { name: 'peer1', homeRegion: 900 },
        { name: 'peer2', homeRegion: 901, ssh: true },
      ],
    });
    configPath = join(rig.dir, 'app-config.json');
    writeConfig({});
    app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl, TAILTAB_APP_CONFIG: configPath });
    // What a first-time visitor of a self-hosted tailtab sees: the server filled in, no key.
    writeConfig({ controlUrl: app.url, allowInsecureDerp: true });
    browser = await launchChromium();
    ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await ctx.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' && !/vite|ERR_INTERNET_DISCONNECTED/.test(m.text())) console.log(`[page] ${m.text()}`);
    });
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  });

  afterEach(async ({ task }) => {
    // A failed journey leaves a picture of every open page behind.
    if (task.result?.state !== 'fail' || !browser) return;
    let i = 0;
    for (const c of browser.contexts())
      for (const p of c.pages()) {
        await p
          .screenshot({
            path: join(SHOTS, `ui-failed-${task.name.slice(0, 40).replace(/\W+/g, '-')}-${i++}.png`),
            fullPage: true,
          })
          .catch(() => {});
      }
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await app?.stop();
    await rig?.stop();
  });

  it('a tailnet of 10,000 machines: the list renders a bounded page, and search finds one by name', async () => {
    const p = await ctx.newPage();
    await p.goto(`${app.url}/e2e/machines.page.html`);
    await expect.poll(() => p.locator('#status').innerText(), { timeout: 30_000 }).toBe('ready');
    const rows = p.locator('tt-machines tr[data-peer]');
    expect(await rows.count()).toBe(100);
    await expect.poll(() => p.locator('tt-machines h2').innerText()).toContain('(10000)');
    expect(await p.locator('tt-machines [data-more]').innerText()).toMatch(/Showing 100 of 10000 machines/);
    const renderMs = await p.evaluate(() => (window as unknown as { renderMs: number }).renderMs);
    await p
      .locator('tt-machines')
      .getByRole('button', { name: /^Show 100 more/ })
      .click();
    await expect.poll(() => rows.count()).toBe(200);
    // A machine far down the list, by name: exactly it (host-9876, not host-98760: there is none).
    const t0 = Date.now();
    await p.locator('tt-machines input[type=search]').fill('host-9876');
    await expect.poll(() => rows.count()).toBe(1);
    const searchMs = Date.now() - t0;
    await expect.poll(() => p.locator('tt-machines tr[data-peer="host-9876"]').count()).toBe(1);
    expect(await p.locator('tt-machines [data-more]').count()).toBe(0);
    // A wider search is bounded again.
    await p.locator('tt-machines input[type=search]').fill('linux');
    await expect.poll(() => p.locator('tt-machines [data-more]').innerText()).toMatch(/Showing 100 of 2000 matches/);
    expect(await rows.count()).toBe(100);
    console.log(`machines list of 10,000: first render ${renderMs.toFixed(0)} ms, search to one row ${searchMs} ms`);
    await p.screenshot({ path: join(SHOTS, 'ui-machines-10000.png') });
    await p.close();
  });

  it("a new user opens the page, pastes a pre-auth key and sees the rig's machines", async () => {
    await page.goto(app.url + '/');
    await expect.poll(() => page.locator('#control-url').inputValue(), { timeout: 20_000 }).toBe(app.url);
    // A mistyped key first: refused in words, the form stays.
    await page.locator('#auth-key').fill('hskey-auth-' + 'x'.repeat(12) + '-' + 'y'.repeat(64));
    await page.locator('#hostname').fill('ui-browser');
    await page.getByRole('button', { name: 'Connect' }).click();
    const alert = page.locator('tt-connect [role=alert]');
    await expect.poll(() => alert.innerText().catch(() => ''), { timeout: 30_000 }).toMatch(/auth key was refused/i);
    expect(await alert.innerText()).not.toContain('y'.repeat(64));
    await page.screenshot({ path: join(SHOTS, 'ui-0-wrong-key.png'), fullPage: true });
    await page.locator('#auth-key').fill(rig.authKey);
    await page.locator('#hostname').fill('ui-browser');
    await page.screenshot({ path: join(SHOTS, 'ui-1-connect.png'), fullPage: true });
    await page.getByRole('button', { name: 'Connect' }).click();
    const rows = page.locator('tt-machines tr[data-peer]');
    await expect.poll(() => rows.count(), { timeout: 60_000 }).toBe(2);
    const text = await page.locator('tt-machines table').innerText();
    for (const p of rig.peers) {
      expect(text).toContain(p.name);
      expect(text).toContain(p.ipv4);
      expect(text).toContain(p.fqdn);
    }
    selfIp = (await page.locator('header [role=status]').innerText()).split('·')[1]?.trim() ?? '';
    expect(selfIp).toMatch(/^100\.\d+\.\d+\.\d+$/);
    expect(named(await headscaleNodes(rig), 'ui-browser')).toHaveLength(1);
    // The peers see us too: tailscaled lists our node in its status.
    await expect
      .poll(
        async () => {
          const st = await rig.peer('peer1').status();
          return Object.values(st.Peer ?? {}).some((p) => p.TailscaleIPs?.includes(selfIp));
        },
        { timeout: 30_000 },
      )
      .toBe(true);
    await page.screenshot({ path: join(SHOTS, 'ui-2-machines.png'), fullPage: true });
  });

  it('logs in interactively: the login link and its QR code are shown, and the page moves on once approved', async () => {
    const ictx = await browser.newContext();
    const p = await ictx.newPage();
    await p.goto(app.url + '/?fresh=1');
    await p.locator('#hostname').fill('ui-interactive');
    await p.getByRole('button', { name: 'Connect' }).click();
    const link = p.locator('tt-connect a[href*="/register/"]');
    await link.waitFor({ timeout: 30_000 });
    const url = (await link.getAttribute('href'))!;
    expect(url.startsWith(rig.headscaleUrl)).toBe(true);
    expect(await p.getByRole('img', { name: 'Login link as a QR code' }).count()).toBe(1);
    await p.screenshot({ path: join(SHOTS, 'ui-1b-interactive-login.png'), fullPage: true });
    await rig.headscale([
      'auth',
      'register',
      '--user',
      rig.user.name,
      '--auth-id',
      url.split('/').filter(Boolean).pop()!,
    ]);
    await expect
      .poll(() => p.locator('tt-machines tr[data-peer]').count(), { timeout: 60_000 })
      .toBeGreaterThanOrEqual(2);
    expect(named(await headscaleNodes(rig), 'ui-interactive')).toHaveLength(1);
    await ictx.close();
  });

  it('a control server on another origin: the CORS block on /key is explained; with its key given, the page connects directly', async () => {
    const cctx = await browser.newContext();
    const p = await cctx.newPage();
    await p.goto(app.url + '/?fresh=1');
    await p.locator('#control-url').fill(rig.headscaleUrl);
    await p.locator('#auth-key').fill(rig.authKey);
    await p.locator('#hostname').fill('ui-direct');
    await p.getByRole('button', { name: 'Connect' }).click();
    const alert = p.locator('tt-connect [role=alert]');
    await expect
      .poll(() => alert.innerText().catch(() => ''), { timeout: 30_000 })
      .toMatch(/blocked reading .*\/key.*CORS/s);
    await p.screenshot({ path: join(SHOTS, 'ui-1c-cors.png'), fullPage: true });
    // The key a person would get with curl; the WebSocket to /ts2021 needs no CORS.
    const { publicKey } = (await (await fetch(`${rig.headscaleUrl}/key?v=113`)).json()) as { publicKey: string };
    await p.locator('tt-connect summary').click();
    await p.locator('#control-key').fill(publicKey);
    await p.getByRole('button', { name: 'Connect' }).click();
    await expect
      .poll(() => p.locator('tt-machines tr[data-peer]').count(), { timeout: 60_000 })
      .toBeGreaterThanOrEqual(2);
    expect(named(await headscaleNodes(rig), 'ui-direct')).toHaveLength(1);
    await cctx.close();
  });

  it('opens an SSH terminal to OpenSSH on a peer, confirms the host key, runs a command and sees its output', async () => {
    const sshd = rig.sshd!;
    await page.locator('tt-machines tr[data-peer="peer2"]').getByRole('button', { name: /^SSH/ }).click();
    // Shell text in the user field is refused where it is typed, in words, and nothing is opened.
    await page.locator('#ssh-user').fill('uname -a; ls /');
    await page.getByRole('button', { name: 'Open terminal' }).click();
    expect(await page.locator('#ssh-problem').innerText()).toMatch(/A user name is letters, digits/);
    expect(await page.locator('tt-terminal').count()).toBe(0);
    await page.locator('#ssh-user').fill(sshd.user);
    await page.locator('#ssh-port').fill(String(sshd.port));
    await page.locator('#ssh-method').selectOption('password');
    await page.locator('#ssh-password').fill(sshd.password);
    await page.getByRole('button', { name: 'Open terminal' }).click();
    // First contact: the fingerprint is shown and must be one of the server's real host keys.
    const prompt = page.locator('tt-terminal .host-prompt');
    await prompt.waitFor({ timeout: 60_000 });
    const shown = await prompt.locator('code').innerText();
    expect(sshd.hostKeyFingerprints).toContain(shown.trim());
    await page.screenshot({ path: join(SHOTS, 'ui-3-host-key.png'), fullPage: true });
    await prompt.getByRole('button', { name: 'Trust and connect' }).click();
    await expect.poll(() => terminalText(page), { timeout: 30_000 }).toMatch(new RegExp(`${sshd.user}@\\S*\\$`));
    await page.keyboard.type('echo "tailtab says $((6*7))"; whoami\n');
    await expect.poll(() => terminalText(page), { timeout: 20_000 }).toMatch(/tailtab says 42\s+tailtab/);
    await page.screenshot({ path: join(SHOTS, 'ui-4-terminal.png'), fullPage: true });
    await page.keyboard.type('exit 3\n');
    await expect
      .poll(() => page.locator('tt-terminal .term-state').innerText(), { timeout: 20_000 })
      .toContain('exit status 3');
    // The key is remembered now: Settings lists it.
    await page.goto(app.url + '/#settings');
    await expect
      .poll(() => page.locator('tt-settings td.mono').allInnerTexts(), { timeout: 20_000 })
      .toContain(shown.trim());
  });

  it('makes an SSH key in the browser and logs in with it (host key already known: no prompt)', async () => {
    const sshd = rig.sshd!;
    await page.goto(app.url + '/#settings');
    await page.locator('#key-name').fill('ui-key');
    await page.getByRole('button', { name: 'Create key' }).click();
    const pub = page.locator('tt-settings code.public-key').first();
    await expect
      .poll(() => pub.innerText().catch(() => ''), { timeout: 10_000 })
      .toMatch(/^ssh-ed25519 AAAA\S+ ui-key$/);
    await sshd.addAuthorizedKey(await pub.innerText());
    await page.goto(app.url + '/#machines');
    await page.locator('tt-machines tr[data-peer="peer2"]').getByRole('button', { name: /^SSH/ }).click();
    await page.locator('#ssh-user').fill(sshd.user);
    await page.locator('#ssh-port').fill(String(sshd.port));
    await page.locator('#ssh-method').selectOption('key');
    await page.getByRole('button', { name: 'Open terminal' }).click();
    const state = page.locator('tt-terminal:not([hidden]) .term-state');
    await expect.poll(() => state.innerText(), { timeout: 30_000 }).toMatch(/Host key SHA256:\S+ matches/);
    await page.keyboard.type('echo "key login $((2*21))"\n');
    await expect.poll(() => terminalText(page), { timeout: 20_000 }).toContain('key login 42');
    await page.screenshot({ path: join(SHOTS, 'ui-4b-key-login.png'), fullPage: true });
  });

  it('moves files over SFTP: the home listing, an upload with progress, the download equal by SHA-256, a refused folder in words', async () => {
    const sshd = rig.sshd!;
    await page.goto(app.url + '/#machines');
    await page
      .locator('tt-machines tr[data-peer="peer2"]')
      .getByRole('button', { name: /^Files on/ })
      .click();
    await page.locator('#ssh-user').fill(sshd.user);
    await page.locator('#ssh-port').fill(String(sshd.port));
    await page.locator('#ssh-method').selectOption('password');
    await page.locator('#ssh-password').fill(sshd.password);
    await page.getByRole('button', { name: 'Open files' }).click();
    // The same host-key check as the terminal: the key trusted there is recognised here.
    await expect
      .poll(
        () =>
          page
            .locator('tt-files .files-host')
            .innerText()
            .catch(() => ''),
        { timeout: 60_000 },
      )
      .toMatch(/Host key SHA256:\S+ matches/);
    const title = page.locator('tt-files #files-title');
    await expect.poll(() => title.innerText(), { timeout: 20_000 }).toMatch(/: \/\S+$/);
    const home = (await title.innerText()).split(': ').pop()!.trim();
    expect(home).toBe(execFileSync('getent', ['passwd', sshd.user], { encoding: 'utf8' }).split(':')[5]);
    // Upload known random bytes (odd size: several SFTP writes and a short last one).
    const bytes = randomBytes(200_003);
    const name = `ui-upload-${randomBytes(4).toString('hex')}.bin`;
    await page
      .locator('tt-files #files-upload')
      .setInputFiles({ name, mimeType: 'application/octet-stream', buffer: bytes });
    await expect
      .poll(() => page.locator('tt-files [role=status]').last().innerText(), { timeout: 60_000 })
      .toBe(`Uploaded ${name} (195 KB).`);
    const row = page.locator(`tt-files tr[data-name="${name}"]`);
    await expect
      .poll(
        () =>
          row
            .locator('td.num')
            .getAttribute('title')
            .catch(() => ''),
        { timeout: 20_000 },
      )
      .toBe('200003 bytes');
    expect(await row.locator('td.num').innerText()).toBe('195 KB');
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    expect(sha(readFileSync(join(home, name)))).toBe(sha(bytes));
    // Download it back through the browser's own download.
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 60_000 }),
      row.getByRole('button', { name: `Download ${name}` }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(name);
    expect(sha(readFileSync((await download.path())!))).toBe(sha(bytes));
    // Streamed to disk by the Service Worker, not collected into a Blob in the page (a blob: URL):
    // the download came from the worker's one-time route, and asking for it again finds nothing.
    expect(download.url()).toMatch(new RegExp(`^${app.url}/__tailtab/download/[0-9a-f-]{36}/${name}$`));
    expect(await page.evaluate((u) => fetch(u).then((r) => r.status), download.url())).toBe(404);
    await expect
      .poll(() => page.locator('tt-files [role=status]').last().innerText(), { timeout: 20_000 })
      .toBe(`Downloaded ${name} (195 KB).`);
    await page.screenshot({ path: join(SHOTS, 'ui-4d-files.png'), fullPage: true });
    // The same name again: the person is asked first; saying no leaves the file as it was.
    const asked = new Promise<string>((resolve) =>
      page.once('dialog', (d) => {
        resolve(d.message());
        void d.dismiss();
      }),
    );
    await page
      .locator('tt-files #files-upload')
      .setInputFiles({ name, mimeType: 'application/octet-stream', buffer: randomBytes(10) });
    expect(await asked).toContain(`${name} is already in ${home}. Replace it?`);
    await expect
      .poll(() => page.locator('tt-files [role=status]').last().innerText(), { timeout: 20_000 })
      .toBe(`Kept the existing ${name}; nothing uploaded.`);
    expect(sha(readFileSync(join(home, name)))).toBe(sha(bytes));
    // Up one folder and back in by keyboard.
    await page
      .locator('tt-files')
      .getByRole('button', { name: `Up to ${dirname(home)}` })
      .click();
    await expect.poll(() => title.innerText(), { timeout: 20_000 }).toMatch(new RegExp(`: ${dirname(home)}$`));
    await page
      .locator('tt-files')
      .getByRole('button', { name: `Open folder ${basename(home)}` })
      .focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => title.innerText(), { timeout: 20_000 }).toMatch(new RegExp(`: ${home}$`));
    // A folder this user may not read: refused in words, the listing stays where it was.
    await page.locator('tt-files #files-path').fill('/root');
    await page.locator('tt-files').getByRole('button', { name: 'Go', exact: true }).click();
    await expect
      .poll(
        () =>
          page
            .locator('tt-files [role=alert]')
            .innerText()
            .catch(() => ''),
        { timeout: 20_000 },
      )
      .toMatch(/cannot list "\/root": permission denied/);
    expect(await title.innerText()).toMatch(new RegExp(`: ${home}$`));
    expect(await unlabelled(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'ui-4e-files-denied.png'), fullPage: true });
    rmSync(join(home, name), { force: true });
  });

  it("moves files over Tailscale SSH as root: the host key pinned by the tailnet, tailscaled's own SFTP server", async () => {
    // A folder on this machine (peer2's tailscaled runs here, as root) with a file to fetch.
    const dir = mkdtempSync('/tmp/tailtab-ui-files-');
    try {
      const bytes = randomBytes(150_001);
      writeFileSync(join(dir, 'from-peer.bin'), bytes);
      await page.goto(app.url + '/#machines');
      await page
        .locator('tt-machines tr[data-peer="peer2"]')
        .getByRole('button', { name: /^Files on/ })
        .click();
      await page.locator('#ssh-user').fill('root');
      // The dialog starts from the last login to peer2 (OpenSSH on its own port); port 22 is Tailscale SSH.
      await page.locator('#ssh-port').fill('22');
      expect(await page.locator('#ssh-method').inputValue()).toBe('none');
      await page.getByRole('button', { name: 'Open files' }).click();
      await expect
        .poll(
          () =>
            page
              .locator('tt-files .files-host')
              .innerText()
              .catch(() => ''),
          { timeout: 60_000 },
        )
        .toMatch(/Tailscale SSH: the host key SHA256:\S+ matches the one this machine published to the tailnet/);
      const title = page.locator('tt-files #files-title');
      await expect.poll(() => title.innerText(), { timeout: 20_000 }).toMatch(/^Files on root@peer2: \/root$/);
      await page.locator('tt-files #files-path').fill(dir);
      await page.locator('tt-files').getByRole('button', { name: 'Go', exact: true }).click();
      const row = page.locator('tt-files tr[data-name="from-peer.bin"]');
      await expect
        .poll(
          () =>
            row
              .locator('td.num')
              .getAttribute('title')
              .catch(() => ''),
          { timeout: 20_000 },
        )
        .toBe('150001 bytes');
      const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
      const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: 60_000 }),
        row.getByRole('button', { name: 'Download from-peer.bin' }).click(),
      ]);
      expect(sha(readFileSync((await download.path())!))).toBe(sha(bytes));
      expect(download.url()).toMatch(/\/__tailtab\/download\/[0-9a-f-]{36}\/from-peer\.bin$/);
      const up = randomBytes(70_000);
      await page
        .locator('tt-files #files-upload')
        .setInputFiles({ name: 'to-peer.bin', mimeType: 'application/octet-stream', buffer: up });
      await expect
        .poll(() => page.locator('tt-files [role=status]').last().innerText(), { timeout: 60_000 })
        .toBe('Uploaded to-peer.bin (68 KB).');
      expect(sha(readFileSync(join(dir, 'to-peer.bin')))).toBe(sha(up));
      await page.screenshot({ path: join(SHOTS, 'ui-4f-files-tailscale-ssh.png'), fullPage: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a window's file session ends when the window closes (its SSH connection to the host is gone)", async () => {
    const sshd = rig.sshd!;
    // Connections sshd has accepted and not yet closed (peer2's tailscaled forwards ours to it).
    const sshdConnections = () =>
      execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${sshd.port} )`], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean).length;
    const before = sshdConnections();
    const other = await ctx.newPage();
    try {
      await other.goto(app.url + '/#machines');
      await other
        .locator('tt-machines tr[data-peer="peer2"]')
        .getByRole('button', { name: /^Files on/ })
        .click();
      await other.locator('#ssh-user').fill(sshd.user);
      await other.locator('#ssh-port').fill(String(sshd.port));
      await other.locator('#ssh-method').selectOption('password');
      await other.locator('#ssh-password').fill(sshd.password);
      await other.getByRole('button', { name: 'Open files' }).click();
      await expect
        .poll(() => other.locator('tt-files #files-title').innerText(), { timeout: 60_000 })
        .toMatch(/: \/\S+$/);
      expect(sshdConnections()).toBe(before + 1);
    } finally {
      await other.close();
    }
    // pagehide → release: the Worker (shared with the first window, which stays) closes that session.
    await expect.poll(sshdConnections, { timeout: 20_000 }).toBe(before);
  });

  it('Status shows this node, the DERP regions with RTT, per-peer handshake and bytes, and a log without secrets', async () => {
    await page.goto(app.url + '/#status');
    const status = page.locator('tt-status');
    await expect
      .poll(() => status.locator('table').first().innerText(), { timeout: 20_000 })
      .toMatch(/Rig 90[01] \(home\)\s+connected\s+\d+(\.\d+)? ms/);
    // peer2 carried the SSH sessions: a recent handshake and bytes both ways.
    const row = status.locator('table').nth(1).locator('tr', { hasText: 'peer2' });
    await expect
      .poll(() => row.innerText(), { timeout: 20_000 })
      .toMatch(/peer2\s+\d+[smhd] ago\s+\d+(\.\d)? [KM]?B \/ \d+(\.\d)? [KM]?B/);
    expect(await row.innerText()).not.toMatch(/\b0 B \/|\/ 0 B/);
    const log = await status.getByRole('log').innerText();
    expect(log).toMatch(/connecting to .* as ui-browser/);
    expect(log).not.toContain(rig.authKey);
    expect(await status.innerText().catch(() => '')).not.toContain(rig.authKey);
    // The terminals stay alive but out of sight on other pages.
    expect(await page.locator('tt-terminals').isVisible()).toBe(false);
    await page.screenshot({ path: join(SHOTS, 'ui-4c-status.png'), fullPage: true });
  });

  it("opens a web view of a peer's web server through the Service Worker proxy", async () => {
    const peer = rig.peer('peer1');
    await page.goto(app.url + '/#machines');
    await page
      .locator('tt-machines tr[data-peer="peer1"]')
      .getByRole('button', { name: /^Open web view/ })
      .click();
    const address = page.locator('tt-webview #address');
    await address.fill(`http://${peer.ipv4}:${rig.httpPort}/`);
    await page.locator('tt-webview').getByRole('button', { name: 'Go' }).click();
    // On 127.0.0.1 there is no separate origin: nothing is shown until the person accepts the risk.
    const anyway = page.locator('tt-webview').getByRole('button', { name: 'Show it anyway for this session' });
    await expect.poll(() => anyway.count(), { timeout: 30_000 }).toBe(1);
    expect(await page.locator('tt-webview iframe').count()).toBe(0);
    expect(await page.locator('tt-webview').evaluate((e) => e.shadowRoot?.textContent ?? '')).toMatch(
      /would share tailtab's own origin/,
    );
    await anyway.click();
    const frame = page.frameLocator('tt-webview iframe');
    await expect
      .poll(
        () =>
          frame
            .locator('title')
            .textContent({ timeout: 2000 })
            .catch(() => ''),
        { timeout: 60_000 },
      )
      .toBe(INDEX_TITLE);
    // Subresources (the stylesheet, the image) come through the tailnet too.
    const imgOk = await frame
      .locator('img')
      .first()
      .evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)
      .catch(() => false);
    expect(imgOk).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'ui-5-webview.png'), fullPage: true });
  });

  it('reloads and is still logged in as the same machine (login kept in IndexedDB)', async () => {
    await page.goto(app.url + '/#machines');
    await page.reload();
    const rows = page.locator('tt-machines tr[data-peer]');
    await expect.poll(() => rows.count(), { timeout: 60_000 }).toBeGreaterThanOrEqual(2);
    expect(await page.locator('header [role=status]').innerText()).toContain(selfIp);
    expect(named(await headscaleNodes(rig), 'ui-browser')).toHaveLength(1);
    const dbs = await page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
    expect(dbs).toContain('tailtab');
    // The node and machine keys are kept as non-extractable CryptoKeys, no raw bytes beside them
    // (SECURITY.md). (So a copy of IndexedDB through script — Playwright's storageState — cannot
    // carry them to another context: that is the point.)
    const keys = await page.evaluate(`(async () => {
      const db = await new Promise((res, rej) => { const r = indexedDB.open('tailtab'); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
      const all = await new Promise((res, rej) => { const r = db.transaction('nodeState').objectStore('nodeState').getAll(); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
      db.close();
      const st = all.find((r) => r.key === 'control').value;
      const form = (k) => k && k.privateKey instanceof CryptoKey ? (k.privateKey.extractable ? 'extractable' : 'non-extractable') + ' ' + k.privateKey.algorithm.name : typeof k;
      return [form(st.machinePrivateKey), form(st.nodePrivateKey)];
    })()`);
    expect(keys).toEqual(['non-extractable X25519', 'non-extractable X25519']);
    // A reload may find the SharedWorker still alive; with its last window closed it is gone,
    // and a new one starts from the stored keys, as the same machine.
    // Terminals left open would keep this node up for a minute after its window (for a reload):
    // close them, so that closing the window takes the node down.
    await page.goto(app.url + '/#terminals');
    const closers = page.locator('tt-terminals button[aria-label^="Close "]');
    while (await closers.count()) await closers.first().click();
    await page.close({ runBeforeUnload: true });
    page = await ctx.newPage();
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
    await page.goto(app.url + '/#machines');
    await expect
      .poll(() => page.locator('tt-machines tr[data-peer]').count(), { timeout: 60_000 })
      .toBeGreaterThanOrEqual(2);
    expect(await page.locator('header [role=status]').innerText()).toContain(selfIp);
  });

  it('two windows share one node (SharedWorker) with their own terminals; a dedicated Worker works too', async () => {
    const second = await ctx.newPage();
    await second.goto(app.url + '/#machines');
    await expect
      .poll(() => second.locator('tt-machines tr[data-peer]').count(), { timeout: 20_000 })
      .toBeGreaterThanOrEqual(2);
    expect(await second.locator('header [role=status]').innerText()).toContain(selfIp);
    expect(named(await headscaleNodes(rig), 'ui-browser')).toHaveLength(1);
    // The second window opens a Tailscale SSH session of its own on the shared node.
    await second.locator('tt-machines tr[data-peer="peer2"]').getByRole('button', { name: /^SSH/ }).click();
    await second.locator('#ssh-user').fill('root');
    await second.locator('#ssh-port').fill('22'); // preset to the last login to peer2 (OpenSSH's port)
    // peer2 runs Tailscale SSH (its host keys are in the map), so the dialog offers it first.
    expect(await second.locator('#ssh-method').inputValue()).toBe('none');
    await second.getByRole('button', { name: 'Open terminal' }).click();
    // The host key is pinned by the keys peer2's tailscaled published in the map.
    await expect
      .poll(() => second.locator('tt-terminal .term-state').innerText(), { timeout: 30_000 })
      .toMatch(/Tailscale SSH: the host key SHA256:\S+ matches the one this machine published to the tailnet/);
    await second.locator('tt-terminal .xterm').click();
    await second.keyboard.type('echo "second window $((7*6))"\n');
    await expect.poll(() => terminalText(second), { timeout: 20_000 }).toContain('second window 42');
    await second.close({ runBeforeUnload: true });
    // The first window's node carries on.
    await page.goto(app.url + '/#status');
    await expect
      .poll(() => page.locator('tt-status').locator('text=running').count(), { timeout: 10_000 })
      .toBeGreaterThan(0);
    expect(await page.locator('header [role=status]').innerText()).toContain(selfIp);

    const dctx = await browser.newContext();
    const d = await dctx.newPage();
    await d.goto(app.url + '/?worker=dedicated');
    await d.locator('#auth-key').fill(rig.authKey);
    await d.locator('#hostname').fill('ui-dedicated');
    await d.getByRole('button', { name: 'Connect' }).click();
    await expect
      .poll(() => d.locator('tt-machines tr[data-peer]').count(), { timeout: 60_000 })
      .toBeGreaterThanOrEqual(2);
    expect(named(await headscaleNodes(rig), 'ui-dedicated')).toHaveLength(1);
    await dctx.close();
  });

  it('an ephemeral session leaves nothing behind: IndexedDB empty and the node gone from Headscale', async () => {
    const storedRecords = (p: Page) =>
      p.evaluate(async () => {
        const out: Record<string, number> = {};
        for (const d of await indexedDB.databases()) {
          const db = await new Promise<IDBDatabase>((res, rej) => {
            const r = indexedDB.open(d.name!);
            r.onsuccess = () => res(r.result);
            r.onerror = () => rej(r.error);
          });
          let n = 0;
          for (const s of Array.from(db.objectStoreNames)) {
            n += await new Promise<number>((res) => {
              const q = db.transaction(s).objectStore(s).count();
              q.onsuccess = () => res(q.result);
            });
          }
          db.close();
          out[d.name!] = n;
        }
        return out;
      });
    const kioskSession = async (name: string) => {
      const kctx = await browser.newContext({ viewport: { width: 1024, height: 768 } });
      const kiosk = await kctx.newPage();
      await kiosk.goto(app.url + '/?ephemeral=1');
      await expect.poll(() => kiosk.locator('#ephemeral').isChecked(), { timeout: 20_000 }).toBe(true);
      await kiosk.locator('#auth-key').fill(await rig.createAuthKey({ ephemeral: true }));
      await kiosk.locator('#hostname').fill(name);
      await kiosk.getByRole('button', { name: 'Connect' }).click();
      await expect
        .poll(() => kiosk.locator('tt-machines tr[data-peer]').count(), { timeout: 60_000 })
        .toBeGreaterThanOrEqual(2);
      expect(named(await headscaleNodes(rig), name)).toHaveLength(1);
      return { kctx, kiosk };
    };
    // 1. The tab is simply closed. Its pagehide hands the node Worker a release, and the Worker
    //    (a SharedWorker with extendedLifetime) lives on long enough to log the node out, so
    //    Headscale deletes it well before its 2 min inactivity timeout (e2e/kiosk-close.test.ts).
    //    Nothing was ever written to IndexedDB.
    const closed = await kioskSession('ui-kiosk-closed');
    await closed.kiosk.screenshot({ path: join(SHOTS, 'ui-6-kiosk.png'), fullPage: true });
    await closed.kiosk.close({ runBeforeUnload: true });
    const closedAt = Date.now();
    const after = await closed.kctx.newPage();
    await after.goto(app.url + '/?ephemeral=1');
    expect(await storedRecords(after)).toEqual({});
    // 2. "End session": logged out at control at once, and Headscale deletes the node right away.
    const ended = await kioskSession('ui-kiosk-ended');
    await ended.kiosk.getByRole('button', { name: 'End session' }).click();
    await expect
      .poll(async () => named(await headscaleNodes(rig), 'ui-kiosk-ended').length, { timeout: 10_000, interval: 250 })
      .toBe(0);
    await expect.poll(() => ended.kiosk.locator('#control-url').isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await storedRecords(ended.kiosk)).toEqual({});
    await expect
      .poll(async () => named(await headscaleNodes(rig), 'ui-kiosk-closed').length, {
        timeout: Math.max(1000, 20_000 - (Date.now() - closedAt)),
        interval: 250,
      })
      .toBe(0);
    await closed.kctx.close();
    await ended.kctx.close();
  }, 300_000);

  it('the widget demo page connects to a device on its own (Tailscale SSH)', async () => {
    const target = rig.peer('peer2');
    writeConfig({
      controlUrl: app.url,
      allowInsecureDerp: true,
      widgetAuthKey: await rig.createAuthKey({ ephemeral: true, reusable: true }),
      widgetTarget: target.fqdn,
      widgetMode: 'ssh',
      widgetUser: 'root',
      widgetSshAuth: 'none',
    });
    const wctx = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    const w = await wctx.newPage();
    await w.goto(app.url + '/widget-demo.html?autostart');
    const term = 'tailtab-connect tt-terminal';
    await expect
      .poll(
        () =>
          w
            .locator(`${term} .term-state`)
            .innerText()
            .catch(() => ''),
        { timeout: 90_000 },
      )
      .toMatch(/Tailscale SSH/);
    await w.locator(`${term} .xterm`).click();
    await w.keyboard.type('echo "widget $((40+2))"\n');
    await expect.poll(() => terminalText(w, term), { timeout: 20_000 }).toContain('widget 42');
    expect(await w.locator('tailtab-connect [role=status]').first().innerText()).toMatch(/ready as 100\./);
    await w.screenshot({ path: join(SHOTS, 'ui-7-widget.png'), fullPage: true });
    await wctx.close();
  });

  it('the production build works: the built app connects, and the widget bundle runs on a plain vendor page', async () => {
    const out = join(rig.dir, 'dist');
    execFileSync(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/vite/bin/vite.js'),
        'build',
        '--outDir',
        out,
        '--emptyOutDir',
        '--logLevel',
        'warn',
      ],
      { cwd: REPO_ROOT, stdio: 'inherit' },
    );
    const widgetKey = await rig.createAuthKey({ ephemeral: true, reusable: true });
    const target = rig.peer('peer2');
    const prod = await startAppServer(
      { TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl, TAILTAB_APP_CONFIG: configPath },
      { preview: out },
    );
    try {
      // A vendor's page: one script tag and one element, nothing else of tailtab.
      writeFileSync(
        join(out, 'vendor.html'),
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Vendor</title>
        <script type="module" src="/widget/tailtab-widget.js"></script></head><body><h1>Vendor</h1>
        <tailtab-connect control-url="${prod.url}" auth-key="${widgetKey}" target="${target.fqdn}" mode="ssh" username="root" ssh-auth="none" insecure-derp autostart></tailtab-connect>
        </body></html>`,
      );
      writeConfig({ controlUrl: prod.url, allowInsecureDerp: true });
      const pctx = await browser.newContext();
      const p = await pctx.newPage();
      await p.goto(prod.url + '/');
      await p.locator('#auth-key').fill(rig.authKey);
      await p.locator('#hostname').fill('ui-prod');
      await p.getByRole('button', { name: 'Connect' }).click();
      await expect
        .poll(() => p.locator('tt-machines tr[data-peer]').count(), { timeout: 60_000 })
        .toBeGreaterThanOrEqual(2);
      await p.screenshot({ path: join(SHOTS, 'ui-11-production-app.png'), fullPage: true });
      const v = await pctx.newPage();
      await v.goto(prod.url + '/vendor.html');
      const term = 'tailtab-connect tt-terminal';
      await expect
        .poll(
          () =>
            v
              .locator(`${term} .term-state`)
              .innerText()
              .catch(() => ''),
          { timeout: 90_000 },
        )
        .toMatch(/Tailscale SSH/);
      await v.locator(`${term} .xterm`).click();
      await v.keyboard.type('echo "bundle $((40+2))"\n');
      await expect.poll(() => terminalText(v, term), { timeout: 20_000 }).toContain('bundle 42');
      await v.screenshot({ path: join(SHOTS, 'ui-12-production-widget.png'), fullPage: true });
      await pctx.close();
    } finally {
      writeConfig({ controlUrl: app.url, allowInsecureDerp: true });
      await prod.stop();
    }
  });

  it('is an installable PWA: manifest fields, icons, a Service Worker controlling the page, an offline shell', async () => {
    const manifest = await page.evaluate(async () => {
      const href = document.querySelector('link[rel=manifest]')!.getAttribute('href')!;
      return (await fetch(href)).json();
    });
    expect(manifest).toMatchObject({ name: 'tailtab', short_name: 'tailtab', start_url: '/', display: 'standalone' });
    const sizes = (manifest.icons as { src: string; sizes: string; type: string }[]).map((i) => i.sizes);
    expect(sizes).toEqual(expect.arrayContaining(['192x192', '512x512']));
    for (const icon of manifest.icons as { src: string; sizes: string }[]) {
      const dims = await page.evaluate(async (src) => {
        const bmp = await createImageBitmap(await (await fetch(src)).blob());
        return `${bmp.width}x${bmp.height}`;
      }, icon.src);
      expect(dims).toBe(icon.sizes);
    }
    await page.goto(app.url + '/#machines');
    await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller), { timeout: 20_000 }).toBe(true);
    // Chromium's own verdict (what makes it offer "Install"), in a profile on disk: test contexts
    // are incognito, where nothing is installable.
    const profile = join(rig.dir, 'chromium-profile');
    const pctx = await launchPersistentChromium(profile);
    try {
      const p = pctx.pages()[0] ?? (await pctx.newPage());
      await p.goto(app.url + '/?fresh=1');
      await expect
        .poll(() => p.evaluate(() => navigator.serviceWorker.ready.then(() => true)), { timeout: 20_000 })
        .toBe(true);
      const cdp = await pctx.newCDPSession(p);
      const parsed = (await cdp.send('Page.getAppManifest')) as { errors: { message: string }[] };
      expect(parsed.errors).toEqual([]);
      const inst = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: { errorId: string }[] };
      expect(inst.installabilityErrors.map((e) => e.errorId)).toEqual([]);
    } finally {
      await pctx.close();
    }
    // Offline: the app shell still loads from the Service Worker's cache (filled by a visit the
    // worker controlled, as a second visit would).
    await page.reload();
    await page.locator('tailtab-app header h1').waitFor();
    await ctx.setOffline(true);
    try {
      await page.reload();
      await expect
        .poll(
          () =>
            page
              .locator('tailtab-app header h1')
              .innerText()
              .catch(() => ''),
          { timeout: 20_000 },
        )
        .toBe('tailtab');
      await page.screenshot({ path: join(SHOTS, 'ui-8-offline.png'), fullPage: true });
    } finally {
      await ctx.setOffline(false);
    }
  });

  it('on a touch phone the terminal has a key bar: Ctrl then c interrupts, the up arrow recalls history', async () => {
    const tctx = await browser.newContext({ viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true });
    const phone = await tctx.newPage();
    await phone.goto(app.url + '/');
    await phone.locator('#auth-key').fill(rig.authKey);
    await phone.locator('#hostname').fill('ui-phone');
    await phone.getByRole('button', { name: 'Connect' }).tap();
    await expect
      .poll(() => phone.locator('tt-machines tr[data-peer]').count(), { timeout: 60_000 })
      .toBeGreaterThanOrEqual(2);
    await phone.locator('tt-machines tr[data-peer="peer2"]').getByRole('button', { name: /^SSH/ }).tap();
    await phone.locator('#ssh-user').fill('root');
    await phone.locator('#ssh-method').selectOption('none');
    await phone.getByRole('button', { name: 'Open terminal' }).tap();
    await expect
      .poll(() => phone.locator('tt-terminal .term-state').innerText(), { timeout: 30_000 })
      .toMatch(/Tailscale SSH/);
    const bar = phone.getByRole('toolbar', { name: 'Terminal keys' });
    await bar.waitFor();
    await phone.keyboard.type('sleep 300\n');
    await bar.getByRole('button', { name: 'Ctrl' }).tap();
    await phone.keyboard.type('c');
    await phone.keyboard.type('echo "phone $((40+2))"\n');
    await expect.poll(() => terminalText(phone), { timeout: 20_000 }).toMatch(/\^C[\s\S]*phone 42/);
    await bar.getByRole('button', { name: 'Up arrow' }).tap();
    await phone.keyboard.press('Enter');
    await expect
      .poll(async () => (await terminalText(phone)).match(/^phone 42/gm)?.length ?? 0, { timeout: 20_000 })
      .toBe(2);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await phone.screenshot({ path: join(SHOTS, 'ui-13-phone-terminal.png'), fullPage: true });
    await tctx.close();
  });

  it("works at a phone's width with labelled controls and a sensible keyboard order", async () => {
    const pctx = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
    const phone = await pctx.newPage();
    await phone.goto(app.url + '/?fresh=1');
    await phone.locator('#control-url').waitFor();
    expect(await unlabelled(phone)).toEqual([]);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    // Tab order follows the form: server, key, name, kiosk box.
    const order: string[] = [];
    await phone.locator('#control-url').focus();
    for (let i = 0; i < 4; i++) {
      order.push(
        await phone.evaluate(() => {
          let a: Element | null = document.activeElement;
          while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
          return a?.id ?? '';
        }),
      );
      await phone.keyboard.press('Tab');
    }
    expect(order).toEqual(['control-url', 'auth-key', 'hostname', 'ephemeral']);
    await phone.screenshot({ path: join(SHOTS, 'ui-9-phone-connect.png'), fullPage: true });
    // The connected app at phone width: the machine list fits, the terminal has its key bar.
    await page.setViewportSize({ width: 375, height: 740 });
    await page.goto(app.url + '/#machines');
    await expect
      .poll(() => page.locator('tt-machines tr[data-peer]').count(), { timeout: 30_000 })
      .toBeGreaterThanOrEqual(2);
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    expect(await unlabelled(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'ui-10-phone-machines.png'), fullPage: true });
    await pctx.close();
  });
  it('"Wipe everything" signs out and leaves no key, profile or login in IndexedDB, nor an offline copy of the app', async () => {
    await page.setViewportSize({ width: 1280, height: 860 });
    await page.goto(app.url + '/#settings');
    // The browser was asked to keep the remembered login's storage, and its answer is shown.
    await expect
      .poll(() => page.locator('#storage-state').innerText(), { timeout: 20_000 })
      .toMatch(/^Storage: this browser (keeps|may clear) your keys and logins/);
    await page.locator('#key-name').fill('wipe-me');
    await page.getByRole('button', { name: 'Create key' }).click();
    await expect
      .poll(() => page.locator('tt-settings code.public-key').allInnerTexts(), { timeout: 20_000 })
      .toContainEqual(expect.stringMatching(/ wipe-me$/));
    // The offline shell holds the app, never the embedded config (it may carry an auth key).
    const cachedBefore = await page.evaluate(async () => ({
      config: !!(await caches.match('/tailtab-config.json')),
      shell: !!(await caches.match('/')),
    }));
    expect(cachedBefore).toEqual({ config: false, shell: true });
    page.once('dialog', (d) => void d.accept());
    // The app reloads itself once everything is wiped; the form may show a moment before that.
    const reloaded = page.waitForEvent('load', { timeout: 30_000 });
    await page.getByRole('button', { name: 'Wipe everything' }).click();
    await reloaded;
    await page.locator('#control-url').waitFor({ timeout: 30_000 });
    const counts = await page.evaluate(async () => {
      let n = 0;
      for (const d of await indexedDB.databases()) {
        const db = await new Promise<IDBDatabase>((res, rej) => {
          const r = indexedDB.open(d.name!);
          r.onsuccess = () => res(r.result);
          r.onerror = () => rej(r.error);
        });
        for (const s of Array.from(db.objectStoreNames)) {
          n += await new Promise<number>((res) => {
            const q = db.transaction(s).objectStore(s).count();
            q.onsuccess = () => res(q.result);
          });
        }
        db.close();
      }
      return n;
    });
    expect(counts).toBe(0);
    expect(await page.evaluate(async () => !!(await caches.match('/')))).toBe(false);
    expect(await page.locator('tt-connect').getByRole('group', { name: 'Remembered profiles' }).count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'ui-14-wiped.png'), fullPage: true });
  });
});
