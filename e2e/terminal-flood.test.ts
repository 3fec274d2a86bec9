// Back-pressure end to end, in Chromium against the rig: a terminal to the rig's OpenSSH (behind a
// tailscaled peer) floods (`yes | head -c 200M`), the person presses Ctrl-C, and the prompt comes
// back; all the while the Worker holds at most its bounded output queue (reported in Status) and
// the page's heap stays bounded, because xterm.js's write callback paces reading from the Worker,
// which paces reading the SSH channel, whose window paces the server.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/terminal-flood.test.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, startAppServer, type AppServer } from './helpers/browser.testkit.js';
import { REPO_ROOT, startRig, type Rig } from './rig/index.js';

const SHOTS = join(REPO_ROOT, 'test-results');
mkdirSync(SHOTS, { recursive: true });

/** Rows the xterm.js DOM renderer shows now. */
async function terminalText(page: Page): Promise<string> {
  return page
    .locator('tt-terminal:not([hidden]) .xterm-rows')
    .first()
    .innerText()
    .catch(() => '');
}

/** The page's JS heap (Chromium's performance.memory), in bytes. */
const pageHeap = (p: Page) =>
  p.evaluate(() => (performance as unknown as { memory: { usedJSHeapSize: number } }).memory.usedJSHeapSize);

describe('terminal flood: back-pressure from xterm.js to the SSH window (Chromium, rig OpenSSH)', () => {
  let rig: Rig;
  let app: AppServer;
  let browser: Browser;

  beforeAll(async () => {
    rig = await startRig({ peers: [{ name: 'peer1', homeRegion: 900 }] });
    const configPath = join(rig.dir, 'app-config.json');
    app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl, TAILTAB_APP_CONFIG: configPath });
    writeFileSync(configPath, JSON.stringify({ controlUrl: app.url, allowInsecureDerp: true }));
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await app?.stop();
    await rig?.stop();
  });

  it('yes | head -c 200M: Ctrl-C brings the prompt back, the Worker queue and the page heap stay bounded', async () => {
    const sshd = rig.sshd!;
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    const page = await ctx.newPage();
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/vite/.test(m.text())) console.log(`[page] ${m.text()}`);
    });
    await page.goto(app.url + '/');
    await page.locator('#auth-key').fill(rig.authKey);
    await page.locator('#hostname').fill('flood-browser');
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.locator('tt-machines tr[data-peer]').count(), { timeout: 60_000 }).toBe(1);

    await page.locator('tt-machines tr[data-peer="peer1"]').getByRole('button', { name: /^SSH/ }).click();
    await page.locator('#ssh-user').fill(sshd.user);
    await page.locator('#ssh-port').fill(String(sshd.port));
    await page.locator('#ssh-method').selectOption('password');
    await page.locator('#ssh-password').fill(sshd.password);
    await page.getByRole('button', { name: 'Open terminal' }).click();
    const prompt = page.locator('tt-terminal .host-prompt');
    await prompt.waitFor({ timeout: 60_000 });
    await prompt.getByRole('button', { name: 'Trust and connect' }).click();
    const promptLine = new RegExp(`${sshd.user}@\\S*\\$ ?$`);
    const lastLine = async () => (await terminalText(page)).trimEnd().split('\n').pop() ?? '';
    await expect.poll(lastLine, { timeout: 30_000 }).toMatch(promptLine);

    // A second window on the same node (SharedWorker) shows Status: the Worker's terminal queue.
    const statusPage = await ctx.newPage();
    await statusPage.goto(app.url + '/#status');
    const queue = statusPage.locator('tt-status [data-terminal-queue]');
    await queue.waitFor({ timeout: 30_000 });

    const heap0 = await pageHeap(page);
    // The shell would print the marker only if the pipeline ended by itself (Ctrl-C aborts the list).
    await page.keyboard.type('yes | head -c 200M; echo "flood-ended-$((20+22))"\n');
    // Flooding: screens full of y.
    await expect
      .poll(async () => ((await terminalText(page)).match(/^y$/gm) ?? []).length, { timeout: 60_000 })
      .toBeGreaterThan(10);
    // Let it run while sampling the page's heap: the flood keeps coming at the pace xterm.js parses.
    let heapMax = heap0;
    const floodStart = Date.now();
    await expect
      .poll(
        async () => {
          heapMax = Math.max(heapMax, await pageHeap(page));
          return Date.now() - floodStart;
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBeGreaterThan(3000);
    const before = await lastLine();
    expect(before).toBe('y'); // still flooding: 200 MB takes longer than this at xterm.js's pace
    const t0 = Date.now();
    await page.keyboard.press('Control+C');
    await expect
      .poll(
        async () => {
          heapMax = Math.max(heapMax, await pageHeap(page));
          return lastLine();
        },
        { timeout: 60_000, interval: 100 },
      )
      .toMatch(promptLine);
    const ctrlCMs = Date.now() - t0;
    expect(await terminalText(page)).not.toContain('flood-ended-42');
    // Still a working shell.
    await page.keyboard.type('echo "after flood $((6*7))"\n');
    await expect.poll(() => terminalText(page), { timeout: 20_000 }).toContain('after flood 42');
    await page.screenshot({ path: join(SHOTS, 'flood-terminal.png'), fullPage: true });

    // The Worker's queue for the page never held more than its bound (+ one 32 KiB SSH packet per
    // source: stdout and stderr), and it did fill: the flood outran xterm.js.
    await statusPage.reload();
    await queue.waitFor({ timeout: 30_000 });
    const peak = Number(await queue.getAttribute('data-terminal-queue'));
    console.log(
      `flood: Ctrl-C to prompt ${ctrlCMs} ms; Worker queue peak ${(peak / 1024).toFixed(0)} KiB; page heap ${(heap0 / 2 ** 20).toFixed(1)} → max ${(heapMax / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(256 * 1024 + 2 * 32 * 1024);
    // The page held the flood's bytes only in passing: without the brake, xterm.js's write buffer
    // grows towards its 50 MB limit and the heap by much more.
    expect(heapMax - heap0).toBeLessThan(64 * 2 ** 20);
    await ctx.close();
  });
});
