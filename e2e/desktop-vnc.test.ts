// The desktop in the tab: Chromium opens a real VNC server's screen through the tailnet. TigerVNC's
// Xvnc (Debian) runs on a loopback port of this machine with a VNC password; a tailscaled rig peer
// forwards tailnet TCP to its loopback ports, so the page reaches the desktop at the peer's
// tailnet address, through NodeApi.tcpDial and noVNC, with nothing else in between. The X display
// is painted a known colour (xsetroot) and shows an xterm. What a person would notice is asserted:
// the refused password in words, the colour on the canvas, text typed in the page running in the
// remote shell (a file appears), keys from the toolbar, view-only keeping keys out, the clipboard
// both ways, the desktop's name in the tab's title, a resize rescaling the picture, and sentences
// for a closed port and a server that wants TLS. Screenshots in test-results/desktop-*.png.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/desktop-vnc.test.ts
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, launchChromium, startAppServer, type AppServer } from './helpers/browser.testkit.js';
import { startXvnc, type Xvnc } from './helpers/xvnc.testkit.js';
import { REPO_ROOT, startRig, type Rig } from './rig/index.js';

const SHOTS = join(REPO_ROOT, 'test-results');
mkdirSync(SHOTS, { recursive: true });
const PASSWORD = 'tt-vnc-7';
const DESKTOP = 'tailtab-e2e-desktop';

describe('desktop (VNC): TigerVNC Xvnc behind a tailscaled peer, in Chromium', () => {
  let rig: Rig;
  let vnc: Xvnc;
  let tlsOnly: Xvnc;
  let app: AppServer;
  let browser: Browser;
  let page: Page;
  const dir = mkdtempSync(join(tmpdir(), 'desktop-vnc-'));
  const proof = join(dir, 'vnc-proof');
  const keyProof = join(dir, 'key-proof');
  let configPath = '';

  const desktop = () => page.locator('tt-desktop');
  const alertText = () =>
    desktop()
      .locator('p.error[role="alert"]')
      .innerText()
      .catch(() => '');
  const canvas = () => desktop().locator('.screen canvas');

  /** The framebuffer pixel at (x, y) of noVNC's canvas, as [r, g, b]. */
  const pixel = (x: number, y: number) =>
    canvas().evaluate(
      (c: HTMLCanvasElement, [px, py]) => [...c.getContext('2d')!.getImageData(px!, py!, 1, 1).data.slice(0, 3)],
      [x, y],
    );

  /** Clicks the canvas at framebuffer (x, y), whatever the scaling (the pointer then rests there). */
  async function clickAt(x: number, y: number) {
    const box = (await canvas().boundingBox())!;
    const size = await canvas().evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
    await page.mouse.click(box.x + (x * box.width) / size[0]!, box.y + (y * box.height) / size[1]!);
  }

  beforeAll(async () => {
    rig = await startRig({ peers: [{ name: 'peer1' }], sshd: false });
    vnc = await startXvnc({ dir: rig.dir, name: DESKTOP, password: PASSWORD });
    vnc.x('xsetroot', ['-solid', '#ff0000']);
    // An xterm in the top-left corner, running a plain bash in the test's folder.
    vnc.spawn('xterm', '/usr/bin/xterm', [
      '-geometry',
      '80x10+0+0',
      '-fa',
      'DejaVu Sans Mono',
      '-fs',
      '11',
      '-e',
      'bash',
      '--norc',
      '-c',
      `cd ${dir} && exec bash --norc`,
    ]);
    // TLS only: VeNCrypt with anonymous TLS and a password (what a browser cannot do on raw TCP).
    tlsOnly = await startXvnc({ dir: rig.dir, name: 'tls-only', password: PASSWORD, securityTypes: 'TLSVnc' });
    configPath = join(rig.dir, 'desktop-config.json');
    writeFileSync(configPath, '{}');
    app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl, TAILTAB_APP_CONFIG: configPath });
    writeFileSync(
      configPath,
      JSON.stringify({
        controlUrl: '/',
        authKey: rig.authKey,
        hostname: 'desktop-browser',
        autoConnect: true,
        allowInsecureDerp: true,
      }),
    );
    browser = await launchChromium();
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });
    page = await ctx.newPage();
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  });

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') {
      await page
        ?.screenshot({
          path: join(SHOTS, `desktop-failed-${task.name.slice(0, 40).replace(/\W+/g, '-')}.png`),
          fullPage: true,
        })
        .catch(() => {});
      console.log(`Xvnc log:\n${vnc?.proc.log().slice(-3000)}`);
    }
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await app?.stop();
    await vnc?.stop();
    await tlsOnly?.stop();
    await rig?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function openDesktop(port: number) {
    await page
      .locator('tt-machines tr[data-peer="peer1"]')
      .getByRole('button', { name: /^Desktop/ })
      .click();
    await expect.poll(() => page.evaluate(() => location.hash)).toBe('#desktop');
    expect(await desktop().locator('#vnc-host').inputValue()).toBe(rig.peer('peer1').ipv4);
    expect(await desktop().locator('#vnc-port').inputValue()).toBe('5900');
    await desktop().locator('#vnc-port').fill(String(port));
    await desktop()
      .getByRole('button', { name: /^Connect/ })
      .click();
  }

  it('Desktop → the password is asked; a wrong one is refused in words', async () => {
    await page.goto(app.url + '/#machines');
    await expect.poll(() => page.locator('tt-machines tr[data-peer="peer1"]').count(), { timeout: 90_000 }).toBe(1);
    await openDesktop(vnc.port);
    const pw = desktop().locator('#vnc-password');
    await pw.waitFor({ timeout: 60_000 });
    expect(await desktop().locator('label[for="vnc-password"]').innerText()).toBe(`VNC password for peer1:${vnc.port}`);
    await pw.fill('not-it');
    await desktop().getByRole('button', { name: 'Unlock' }).click();
    await expect
      .poll(alertText, { timeout: 30_000 })
      .toBe(
        `The VNC server at peer1:${vnc.port} refused the password (it said: "Authentication failure"). Check it and connect again.`,
      );
    await page.screenshot({ path: join(SHOTS, 'desktop-1-wrong-password.png') });
  });

  it('the right password shows the remote desktop: the painted colour on the canvas, its name in the tab title', async () => {
    await desktop().getByRole('button', { name: 'Reconnect' }).click();
    await desktop().locator('#vnc-password').fill(PASSWORD);
    await desktop().getByRole('button', { name: 'Unlock' }).click();
    await expect
      .poll(
        () =>
          canvas()
            .evaluate((c: HTMLCanvasElement) => `${c.width}x${c.height}`)
            .catch(() => ''),
        { timeout: 30_000 },
      )
      .toBe('1024x768');
    // Bottom-right is the root window, painted #ff0000 by xsetroot before we connected.
    await expect.poll(() => pixel(1000, 740), { timeout: 30_000 }).toEqual([255, 0, 0]);
    expect(await pixel(600, 500)).toEqual([255, 0, 0]);
    expect(await page.title()).toBe(`${DESKTOP} — tailtab`);
    expect(await desktop().locator('.desktop-name').innerText()).toBe(DESKTOP);
    await page.screenshot({ path: join(SHOTS, 'desktop-2-connected.png') });
  });

  it('text typed in the page runs in the remote xterm; view only keeps keys out; a toolbar key reaches the server', async () => {
    // View only first: what is typed must not reach the shell.
    await desktop().getByRole('button', { name: 'View only' }).click();
    expect(await desktop().getByRole('button', { name: 'View only' }).getAttribute('aria-pressed')).toBe('true');
    await clickAt(40, 40);
    await page.keyboard.type(`echo leaked >> ${proof}`);
    await page.keyboard.press('Enter');
    await desktop().getByRole('button', { name: 'View only' }).click();
    await clickAt(40, 40); // the pointer over the xterm: X gives it the keyboard (no window manager)
    await page.keyboard.type(`echo tailtab >> ${proof}`);
    await page.keyboard.press('Enter');
    await expect
      .poll(() => (existsSync(proof) ? readFileSync(proof, 'utf8') : ''), { timeout: 30_000 })
      .toBe('tailtab\n');

    // Tab from the toolbar's "Send keys" (a key the browser keeps for focus).
    await clickAt(40, 40);
    await page.keyboard.type(`IFS= read -rsn1 k; printf %q "$k" > ${keyProof}`);
    await page.keyboard.press('Enter');
    await desktop().locator('select[aria-label="Send keys"]').selectOption('Tab');
    await expect
      .poll(() => (existsSync(keyProof) ? readFileSync(keyProof, 'utf8') : ''), { timeout: 30_000 })
      .toBe("$'\\t'");
    await page.screenshot({ path: join(SHOTS, 'desktop-3-typed.png') });
  });

  it("the clipboard both ways: copied on the desktop shows in the page, sent from the page is the desktop's", async () => {
    await desktop().getByRole('button', { name: 'Text and clipboard' }).click();
    const fromRemote = `from-the-desktop-${Date.now()}`;
    writeFileSync(join(dir, 'clip-in'), fromRemote);
    vnc.spawn('xclip', '/usr/bin/xclip', ['-quiet', '-selection', 'clipboard', '-i', join(dir, 'clip-in')]);
    await expect.poll(() => desktop().locator('.remote-clip').innerText(), { timeout: 30_000 }).toBe(fromRemote);
    // The page had clipboard-write: the person's own clipboard has it too.
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(fromRemote);

    const fromPage = `from-the-page-${Date.now()}`;
    await desktop().locator('#vnc-text').fill(fromPage);
    await desktop().getByRole('button', { name: 'Send to remote clipboard' }).click();
    await expect
      .poll(
        () => {
          try {
            return vnc.x('xclip', ['-o', '-selection', 'clipboard']);
          } catch {
            return '';
          }
        },
        { timeout: 30_000 },
      )
      .toBe(fromPage);
    await page.screenshot({ path: join(SHOTS, 'desktop-4-clipboard.png') });
  });

  it('fit to window rescales the picture when the window is resized; 1:1 shows it at its own size', async () => {
    const shown = () => canvas().evaluate((c: HTMLCanvasElement) => Math.round(c.getBoundingClientRect().width));
    const before = await shown();
    expect(before).toBeLessThanOrEqual(1280);
    await page.setViewportSize({ width: 390, height: 844 }); // a phone
    await expect.poll(shown, { timeout: 10_000 }).toBeLessThan(390);
    await page.screenshot({ path: join(SHOTS, 'desktop-5-phone.png') });
    await desktop().getByRole('button', { name: '1:1' }).click();
    await expect.poll(shown, { timeout: 10_000 }).toBe(1024);
    await desktop().getByRole('button', { name: 'Fit' }).click();
    await page.setViewportSize({ width: 1280, height: 900 });
    await expect.poll(shown, { timeout: 10_000 }).toBe(before);
    await desktop().getByRole('button', { name: 'Disconnect' }).click();
    await expect.poll(() => page.title()).not.toContain(DESKTOP);
  });

  it('a closed port and a TLS-only server each get their sentence', async () => {
    const closed = await freePort();
    await page.goto(app.url + '/#machines');
    await expect.poll(() => page.locator('tt-machines tr[data-peer="peer1"]').count(), { timeout: 90_000 }).toBe(1);
    await openDesktop(closed);
    await expect
      .poll(alertText, { timeout: 60_000 })
      .toBe(`Nothing is listening on ${rig.peer('peer1').ipv4}:${closed} (connection refused).`);
    await page.screenshot({ path: join(SHOTS, 'desktop-6-closed-port.png') });

    await desktop().locator('#vnc-port').fill(String(tlsOnly.port));
    await desktop()
      .getByRole('button', { name: /^Connect/ })
      .click();
    await expect
      .poll(alertText, { timeout: 60_000 })
      .toBe(
        `The VNC server at peer1:${tlsOnly.port} requires TLS (VeNCrypt TLSVnc), which a browser cannot do on a raw connection. ` +
          'Allow "VncAuth" on the server as well (TigerVNC: -SecurityTypes VncAuth,TLSVnc); the tailnet already encrypts the connection.',
      );
    await page.screenshot({ path: join(SHOTS, 'desktop-7-tls-only.png') });
  });

  it("the widget's mode=\"vnc\" on a vendor's page: the password asked in the widget, the desktop shown, the page's title left alone", async () => {
    writeFileSync(
      configPath,
      JSON.stringify({
        controlUrl: '/',
        authKey: rig.authKey,
        hostname: 'desktop-browser',
        autoConnect: true,
        allowInsecureDerp: true,
        widgetMode: 'vnc',
        widgetTarget: rig.peer('peer1').ipv4,
        widgetPort: vnc.port,
      }),
    );
    const w = await page.context().newPage();
    try {
      await w.goto(app.url + '/widget-demo.html?autostart');
      const title = await w.title();
      const pw = w.locator('tailtab-connect tt-desktop #vnc-password');
      await pw.waitFor({ timeout: 90_000 });
      await pw.fill(PASSWORD);
      await w.locator('tailtab-connect tt-desktop').getByRole('button', { name: 'Unlock' }).click();
      const wc = w.locator('tailtab-connect tt-desktop .screen canvas');
      await expect
        .poll(
          () =>
            wc
              .evaluate((c: HTMLCanvasElement) =>
                c.width === 1024 ? [...c.getContext('2d')!.getImageData(1000, 740, 1, 1).data.slice(0, 3)] : [],
              )
              .catch(() => []),
          { timeout: 60_000 },
        )
        .toEqual([255, 0, 0]);
      expect(await w.locator('tailtab-connect tt-desktop .desktop-name').innerText()).toBe(DESKTOP);
      expect(await w.title()).toBe(title);
      await w.screenshot({ path: join(SHOTS, 'desktop-8-widget.png') });
    } finally {
      await w.close();
    }
  });
});
