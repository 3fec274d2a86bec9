// SSH login as a person meets it, in Chromium through the app and the widget, against real servers
// behind a rig peer (tailscaled forwards its tailnet ports to these loopback servers):
//  - OpenSSH with a pre-login Banner (escape sequences in it) and PAM asking the password and then
//    a real TOTP "Verification code:" (libpam-google-authenticator, code computed here, RFC 6238):
//    the banner is shown in the terminal, the password typed in the dialog answers PAM's
//    "Password:" by itself, the code is asked in the page and typed by the test, the shell comes.
//  - OpenSSH with AuthenticationMethods publickey,password and password,publickey: logging in with
//    a key made in the browser, the page asks for the password when the server wants it.
//  - Dropbear with an RSA-1024 host key: refused with the sentence, connected after "Connect anyway
//    (legacy device)", remembered (no question the next time), listed in Settings and forgotten.
//  - The widget on a vendor page (ssh-auth="password", no password given): PAM's password and the
//    verification code are both asked in the widget's terminal.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/ssh-auth-ui.test.ts
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, startAppServer, type AppServer } from './helpers/browser.testkit.js';
import { startSshd, USER, type Sshd } from './helpers/ssh-sshd.testkit.js';
import { startDropbear, type Dropbear } from './helpers/dropbear.testkit.js';
import { totp, totpSetup } from './helpers/totp.testkit.js';
import { REPO_ROOT, startRig, type Rig } from './rig/index.js';

const SHOTS = join(REPO_ROOT, 'test-results');
mkdirSync(SHOTS, { recursive: true });

/** The rows the xterm.js DOM renderer shows. */
async function terminalText(page: Page, scope = 'tt-terminal:not([hidden])'): Promise<string> {
  return page
    .locator(`${scope} .xterm-rows`)
    .first()
    .innerText()
    .catch(() => '');
}

// 16 lines of 76 characters (over 1,200 with the escapes removed: the old limit was 1,000) with
// a colour, a window-title OSC and a clear-screen CSI that must not reach the terminal.
const BANNER =
  '\x1b]0;pwned-title\x07\x1b[31mAUTHORIZED USE ONLY\x1b[0m\x1b[2J\n' +
  Array.from({ length: 16 }, (_, i) => `banner line ${String(i).padStart(2, '0')} `.padEnd(76, '.')).join('\n') +
  '\nEND-OF-BANNER-7f3a\n';

describe('ssh login in the browser: banner, 2FA prompt, partial success, legacy device', () => {
  let rig: Rig;
  let app: AppServer;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let dir: string;
  let totpSshd: Sshd;
  let totpKey: Uint8Array;
  let configPath: string;
  const peerIp = () => rig.peer('peer1').ipv4;

  beforeAll(async () => {
    rig = await startRig({ peers: [{ name: 'peer1' }], sshd: false });
    dir = mkdtempSync(join(tmpdir(), 'ssh-auth-ui-'));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'banner'), BANNER);
    chmodSync(join(dir, 'banner'), 0o644);
    const t = totpSetup(dir, USER);
    totpKey = t.key;
    totpSshd = await startSshd({ pam: true, pamConfig: t.pamConfig, extraConfig: [`Banner ${join(dir, 'banner')}`] });
    configPath = join(rig.dir, 'app-config.json');
    writeFileSync(configPath, '{}');
    app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl, TAILTAB_APP_CONFIG: configPath });
    writeFileSync(configPath, JSON.stringify({ controlUrl: app.url, allowInsecureDerp: true }));
    browser = await launchChromium();
    ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await ctx.newPage();
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
    await page.goto(app.url + '/');
    await page.locator('#auth-key').fill(rig.authKey);
    await page.locator('#hostname').fill('ssh-auth-ui');
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.locator('tt-machines tr[data-peer="peer1"]').waitFor({ timeout: 90_000 });
  });

  afterEach(async ({ task }) => {
    if (task.result?.state !== 'fail' || !browser) return;
    let i = 0;
    for (const c of browser.contexts())
      for (const p of c.pages()) {
        await p
          .screenshot({
            path: join(SHOTS, `ssh-auth-failed-${task.name.slice(0, 40).replace(/\W+/g, '-')}-${i++}.png`),
            fullPage: true,
          })
          .catch(() => {});
      }
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await app?.stop();
    await totpSshd?.stop();
    await rig?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** From the machine list: SSH to peer1 at `port` as `USER`, logging in with `method`. */
  async function openTerminal(port: number, method: 'password' | 'key', password?: string) {
    await page.goto(app.url + '/#machines');
    await page.locator('tt-machines tr[data-peer="peer1"]').getByRole('button', { name: /^SSH/ }).click();
    await page.locator('#ssh-user').fill(USER);
    await page.locator('#ssh-port').fill(String(port));
    await page.locator('#ssh-method').selectOption(method);
    if (password !== undefined) await page.locator('#ssh-password').fill(password);
    await page.getByRole('button', { name: 'Open terminal' }).click();
  }

  const term = () => page.locator('tt-terminal:not([hidden])');

  async function trustHostKey() {
    const prompt = term().locator('.host-prompt:not(.auth-prompt):not(.legacy-prompt)');
    await prompt.waitFor({ timeout: 60_000 });
    await prompt.getByRole('button', { name: 'Trust and connect' }).click();
  }

  /** Runs `echo ok; exit 3` in the open terminal and sees both. */
  async function echoOkExit3() {
    await expect.poll(() => terminalText(page), { timeout: 30_000 }).toMatch(new RegExp(`${USER}@\\S*\\$`));
    await page.keyboard.type('echo o""k; exit 3\n');
    await expect.poll(() => terminalText(page), { timeout: 20_000 }).toMatch(/\nok\s/);
    await expect.poll(() => term().locator('.term-state').innerText(), { timeout: 20_000 }).toContain('exit status 3');
  }

  it('OpenSSH with a Banner and PAM password + TOTP: the banner is shown sanitized, the password answers itself, the code is asked and typed', async () => {
    await openTerminal(totpSshd.port, 'password', totpSshd.password);
    await trustHostKey();
    const ask = term().locator('form.auth-prompt');
    await ask.waitFor({ timeout: 60_000 });
    // Only the verification code is asked: PAM's "Password:" took the password from the dialog.
    await expect
      .poll(() =>
        ask
          .locator('label')
          .allInnerTexts()
          .then((a) => a.map((s) => s.trim())),
      )
      .toEqual(['Verification code:']);
    const input = ask.locator('input');
    expect(await input.getAttribute('type')).toBe('password'); // PAM asks it with echo off
    // The banner came before the question, all of it, without its escape sequences.
    const shown = await terminalText(page);
    expect(shown).toContain('AUTHORIZED USE ONLY');
    expect(shown).toContain('banner line 15');
    expect(shown).toContain('END-OF-BANNER-7f3a');
    expect(shown).not.toMatch(/\[31m|\]0;|pwned-title|\[2J/);
    await page.screenshot({ path: join(SHOTS, 'ssh-auth-1-totp-prompt.png'), fullPage: true });
    await input.fill(totp(totpKey));
    await ask.getByRole('button', { name: 'Continue' }).click();
    await echoOkExit3();
    await expect
      .poll(() => totpSshd.log.join(''), { timeout: 10_000 })
      .toMatch(new RegExp(`Accepted keyboard-interactive/pam for ${USER} `));
  });

  it('AuthenticationMethods publickey,password and password,publickey: with a browser key, the page asks the password when the server wants it', async () => {
    await page.goto(app.url + '/#settings');
    await page.locator('#key-name').fill('chain-key');
    await page.getByRole('button', { name: 'Create key' }).click();
    const pub = page.locator('tt-settings code.public-key').first();
    await expect
      .poll(() => pub.innerText().catch(() => ''), { timeout: 10_000 })
      .toMatch(/^ssh-ed25519 AAAA\S+ chain-key$/);
    const line = await pub.innerText();
    for (const chain of ['publickey,password', 'password,publickey']) {
      const s = await startSshd({ extraConfig: [`AuthenticationMethods ${chain}`] });
      try {
        s.addAuthorizedKey(line);
        await openTerminal(s.port, 'key');
        await trustHostKey();
        const ask = term().locator('form.auth-prompt');
        await ask.waitFor({ timeout: 60_000 });
        expect(
          await ask
            .locator('label')
            .allInnerTexts()
            .then((a) => a.map((s) => s.trim())),
        ).toEqual([`${USER}@[${peerIp()}]:${s.port}'s password:`]);
        await ask.locator('input').fill(s.password);
        await ask.getByRole('button', { name: 'Continue' }).click();
        await echoOkExit3();
        const [first, second] = chain.split(',');
        await expect
          .poll(() => s.log.join(''), { timeout: 10_000 })
          .toMatch(new RegExp(`Partial ${first} for ${USER}[\\s\\S]*Accepted ${second} for ${USER}`));
      } finally {
        await s.stop();
      }
    }
  });

  describe('Dropbear with an RSA-1024 host key (an old device)', () => {
    let db: Dropbear;
    beforeAll(async () => {
      db = await startDropbear({ hostKey: 'rsa-1024' });
    });
    afterAll(async () => {
      await db?.stop();
    });

    it('is refused with the sentence; "Connect anyway (legacy device)" connects; the next login does not ask; Settings lists and forgets it', async () => {
      const hostId = `[${peerIp()}]:${db.port}`;
      await openTerminal(db.port, 'password', db.password);
      const legacy = term().locator('.legacy-prompt');
      await legacy.waitFor({ timeout: 60_000 });
      expect(await legacy.locator('.reason').innerText()).toMatch(
        /RSA host key is only 1024 bits; tailtab requires at least 2048.*connect to it as a legacy device/s,
      );
      await page.screenshot({ path: join(SHOTS, 'ssh-auth-2-legacy.png'), fullPage: true });
      await legacy.getByRole('button', { name: 'Connect anyway (legacy device)' }).click();
      // Then ssh(1)'s first-contact question about that (short) key, then the shell.
      const hk = term().locator('.host-prompt:not(.auth-prompt):not(.legacy-prompt)');
      await hk.waitFor({ timeout: 60_000 });
      expect((await hk.locator('code').innerText()).trim()).toBe(db.hostKeyFingerprint);
      await hk.getByRole('button', { name: 'Trust and connect' }).click();
      await echoOkExit3();

      // Remembered with the known host: no question at all the next time.
      await openTerminal(db.port, 'password', db.password);
      await expect
        .poll(() => term().locator('.term-state').innerText(), { timeout: 60_000 })
        .toMatch(/Host key SHA256:\S+ matches/);
      expect(await term().locator('.legacy-prompt').count()).toBe(0);
      await echoOkExit3();

      // Settings lists it as a legacy device; "Stop allowing" forgets the choice (the key stays).
      await page.goto(app.url + '/#settings');
      const row = page.locator('tt-settings tr', { hasText: hostId });
      await expect
        .poll(() => row.innerText().catch(() => ''), { timeout: 20_000 })
        .toContain('Legacy device (SHA-1 allowed)');
      await page.screenshot({ path: join(SHOTS, 'ssh-auth-3-settings-legacy.png'), fullPage: true });
      await row.getByRole('button', { name: `Stop allowing SHA-1 for ${hostId}` }).click();
      await expect.poll(() => row.innerText(), { timeout: 20_000 }).not.toContain('Legacy device');
      // And so the next login asks again.
      await openTerminal(db.port, 'password', db.password);
      await term().locator('.legacy-prompt').waitFor({ timeout: 60_000 });
      await term().locator('.legacy-prompt').getByRole('button', { name: 'Cancel' }).click();
      await expect.poll(() => term().locator('.term-state').innerText(), { timeout: 20_000 }).toMatch(/1024 bits/);
    });
  });

  it('the widget (ssh-auth="password", no password given) asks PAM\'s password and the verification code in its terminal', async () => {
    writeFileSync(
      configPath,
      JSON.stringify({
        controlUrl: app.url,
        allowInsecureDerp: true,
        widgetAuthKey: await rig.createAuthKey({ ephemeral: true, reusable: true }),
        widgetTarget: rig.peer('peer1').fqdn,
        widgetPort: totpSshd.port,
        widgetMode: 'ssh',
        widgetUser: USER,
        widgetSshAuth: 'password',
      }),
    );
    const wctx = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    try {
      const w = await wctx.newPage();
      await w.goto(app.url + '/widget-demo.html?autostart');
      const wt = w.locator('tailtab-connect tt-terminal');
      const hk = wt.locator('.host-prompt:not(.auth-prompt):not(.legacy-prompt)');
      await hk.waitFor({ timeout: 90_000 });
      await hk.getByRole('button', { name: 'Trust and connect' }).click();
      const ask = wt.locator('form.auth-prompt');
      await expect
        .poll(
          () =>
            ask
              .locator('label')
              .allInnerTexts()
              .then((a) => a.map((s) => s.trim()))
              .catch(() => []),
          { timeout: 60_000 },
        )
        .toEqual(['Password:']);
      expect(await ask.locator('input').getAttribute('type')).toBe('password');
      await ask.locator('input').fill(totpSshd.password);
      await ask.getByRole('button', { name: 'Continue' }).click();
      await expect
        .poll(
          () =>
            ask
              .locator('label')
              .allInnerTexts()
              .then((a) => a.map((s) => s.trim()))
              .catch(() => []),
          { timeout: 30_000 },
        )
        .toEqual(['Verification code:']);
      expect(await terminalText(w, 'tailtab-connect tt-terminal')).toContain('END-OF-BANNER-7f3a');
      await ask.locator('input').fill(totp(totpKey));
      await w.screenshot({ path: join(SHOTS, 'ssh-auth-4-widget-totp.png'), fullPage: true });
      await ask.getByRole('button', { name: 'Continue' }).click();
      await expect
        .poll(() => terminalText(w, 'tailtab-connect tt-terminal'), { timeout: 30_000 })
        .toMatch(new RegExp(`${USER}@\\S*\\$`));
      await w.keyboard.type('echo "widget $((40+2))"\n');
      await expect
        .poll(() => terminalText(w, 'tailtab-connect tt-terminal'), { timeout: 20_000 })
        .toContain('widget 42');
    } finally {
      await wctx.close();
      writeFileSync(configPath, JSON.stringify({ controlUrl: app.url, allowInsecureDerp: true }));
    }
  });
});
