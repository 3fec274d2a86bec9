// Everyday use, in Chromium against the rig (Headscale, derpers, tailscaled peers, OpenSSH):
// a reload with two terminals open keeps both sessions (same remote shell, the output from before
// the reload redrawn, new input echoed); a returning visit (new tab after the last one closed)
// reopens the last visit's terminals in one click, with the dialog preset to the user and port used
// last; another browser node in the tailnet gets no SSH/Files/Web; a machine with no SSH server is
// said to have none after the probe; axe-core finds no serious or critical violation on the
// connect page, the machines list, the SSH dialog and a terminal.
// Screenshots: test-results/everyday-*.png. Run inside a loopback-only netns:
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/everyday.test.ts
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, startAppServer, type AppServer } from './helpers/browser.testkit.js';
import { REPO_ROOT, startRig, type Rig } from './rig/index.js';

const SHOTS = join(REPO_ROOT, 'test-results');
mkdirSync(SHOTS, { recursive: true });
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** Text the visible xterm.js terminal shows. */
async function terminalText(page: Page): Promise<string> {
  return page
    .locator('tt-terminal:not([hidden]) .xterm-rows')
    .first()
    .innerText()
    .catch(() => '');
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/** axe-core over the whole page (open shadow roots included): the serious and critical findings, in words. */
async function axeSerious(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's CSP (script-src 'self') refuses a script tag.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(readFileSync(AXE, 'utf8'));
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: AxeViolation[] }> } }
    ).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} — ${v.nodes
          .slice(0, 3)
          .map((n) => JSON.stringify(n.target))
          .join(', ')}`,
    );
}

describe('everyday use in Chromium: reload, returning visit, only actions that can work', () => {
  let rig: Rig;
  let app: AppServer;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let other: BrowserContext | undefined;

  const watch = (p: Page) => {
    p.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
    return p;
  };

  beforeAll(async () => {
    rig = await startRig({
      peers: [
        { name: 'peer1', homeRegion: 900 },
        { name: 'peer2', homeRegion: 901, ssh: true },
      ],
    });
    const configPath = join(rig.dir, 'app-config.json');
    writeFileSync(configPath, '{}');
    app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl, TAILTAB_APP_CONFIG: configPath });
    // As the demo serves it: the page connects by itself with a pre-auth key.
    writeFileSync(
      configPath,
      JSON.stringify({
        controlUrl: app.url,
        authKey: rig.authKey,
        autoConnect: true,
        hostname: 'everyday',
        allowInsecureDerp: true,
      }),
    );
    browser = await launchChromium();
    ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = watch(await ctx.newPage());
  });

  afterEach(async ({ task }) => {
    if (task.result?.state !== 'fail' || !browser) return;
    let i = 0;
    for (const c of browser.contexts())
      for (const p of c.pages()) {
        await p
          .screenshot({
            path: join(SHOTS, `everyday-failed-${task.name.slice(0, 30).replace(/\W+/g, '-')}-${i++}.png`),
            fullPage: true,
          })
          .catch(() => {});
      }
  });

  afterAll(async () => {
    await other?.close().catch(() => {});
    await browser?.close().catch(() => {});
    await app?.stop();
    await rig?.stop();
  });

  it('the connect page a new visitor meets has no serious or critical accessibility violation', async () => {
    const fresh = await browser.newContext();
    const p = watch(await fresh.newPage());
    await p.goto(app.url + '/?fresh=1');
    await p.locator('#hostname').waitFor({ timeout: 30_000 });
    expect(await axeSerious(p)).toEqual([]);
    await fresh.close();
  });

  it('another browser node in the tailnet gets no SSH, Files or Web; the machines list passes axe', async () => {
    await page.goto(app.url + '/#machines');
    await expect.poll(() => page.locator('tt-machines tr[data-peer]').count(), { timeout: 60_000 }).toBe(2);
    // A second browser profile joins as a kiosk (ephemeral) node: another tailtab in the tailnet.
    other = await browser.newContext();
    const op = watch(await other.newPage());
    writeFileSync(
      join(rig.dir, 'app-config.json'),
      JSON.stringify({
        controlUrl: app.url,
        authKey: rig.authKey,
        autoConnect: true,
        hostname: 'everyday-other',
        allowInsecureDerp: true,
      }),
    );
    await op.goto(app.url + '/?ephemeral=1');
    await expect
      .poll(() => op.locator('tt-machines tr[data-peer]').count(), { timeout: 60_000 })
      .toBeGreaterThanOrEqual(3);
    writeFileSync(
      join(rig.dir, 'app-config.json'),
      JSON.stringify({
        controlUrl: app.url,
        authKey: rig.authKey,
        autoConnect: true,
        hostname: 'everyday',
        allowInsecureDerp: true,
      }),
    );
    const row = page.locator('tt-machines tr[data-peer="everyday-other"]');
    await row.waitFor({ timeout: 60_000 });
    expect(await row.getByRole('button').count()).toBe(0);
    expect(await row.locator('[data-browser-node]').innerText()).toBe('A browser node: nothing to open here.');
    // The rig's machines keep theirs.
    expect(
      await page.locator('tt-machines tr[data-peer="peer2"]').getByRole('button', { name: 'SSH to peer2' }).count(),
    ).toBe(1);
    expect(await axeSerious(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'everyday-1-machines.png'), fullPage: true });
  });

  it('a reload with two terminals open keeps both: same shells, the output from before redrawn, new input echoed', async () => {
    const sshd = rig.sshd!;
    // Terminal 1: peer2 over Tailscale SSH as root.
    await page.locator('tt-machines tr[data-peer="peer2"]').getByRole('button', { name: 'SSH to peer2' }).click();
    expect(await page.locator('#ssh-user').inputValue()).toBe('root');
    expect(await page.locator('#ssh-method').inputValue()).toBe('none');
    expect(await axeSerious(page)).toEqual([]); // the SSH dialog
    await page.getByRole('button', { name: 'Open terminal' }).click();
    await expect.poll(() => terminalText(page), { timeout: 60_000 }).toMatch(/root@\S*[#$]/);
    await page.keyboard.type('echo "one-before $((6*7)) pid=$$"\n');
    await expect.poll(() => terminalText(page), { timeout: 20_000 }).toMatch(/one-before 42 pid=\d+/);
    const pid1 = /one-before 42 pid=(\d+)/.exec(await terminalText(page))![1];
    // Terminal 2: peer1, whose port 22 has no SSH server: the dialog says so after its probe.
    await page.goto(app.url + '/#machines');
    await page.locator('tt-machines tr[data-peer="peer1"]').getByRole('button', { name: 'SSH to peer1' }).click();
    await expect
      .poll(
        () =>
          page
            .locator('#ssh-probe')
            .innerText()
            .catch(() => ''),
        { timeout: 30_000 },
      )
      .toBe(
        'Nothing answered on port 22 of peer1 (connection refused): no SSH server listens there. Try another port, or start an SSH server on that machine.',
      );
    await page.screenshot({ path: join(SHOTS, 'everyday-2-no-sshd.png'), fullPage: true });
    await page.locator('#ssh-user').fill(sshd.user);
    await page.locator('#ssh-port').fill(String(sshd.port));
    await page.locator('#ssh-method').selectOption('password');
    await page.locator('#ssh-password').fill(sshd.password);
    await page.getByRole('button', { name: 'Open terminal' }).click();
    const prompt = page.locator('tt-terminal:not([hidden]) .host-prompt');
    await prompt.waitFor({ timeout: 60_000 });
    await prompt.getByRole('button', { name: 'Trust and connect' }).click();
    await expect.poll(() => terminalText(page), { timeout: 30_000 }).toMatch(new RegExp(`${sshd.user}@\\S*\\$`));
    await page.keyboard.type('echo "two-before $((7*7)) pid=$$"\n');
    await expect.poll(() => terminalText(page), { timeout: 20_000 }).toMatch(/two-before 49 pid=\d+/);
    const pid2 = /two-before 49 pid=(\d+)/.exec(await terminalText(page))![1];
    // The machines list now says peer1 has nothing on port 22 (the probe's finding).
    expect(await axeSerious(page)).toEqual([]); // a terminal
    await page.screenshot({ path: join(SHOTS, 'everyday-3-two-terminals.png'), fullPage: true });

    await page.reload();
    const tabs = page.locator('tt-terminals [data-tab]');
    await expect.poll(() => tabs.allInnerTexts(), { timeout: 30_000 }).toEqual([`root@peer2`, `${sshd.user}@peer1`]);
    // The active tab (the second) shows what it printed before the reload, then takes new input.
    await expect.poll(() => terminalText(page), { timeout: 30_000 }).toMatch(/two-before 49 pid=\d+/);
    await page.locator('tt-terminal:not([hidden]) .xterm').click();
    await page.keyboard.type('echo "two-after $((8*8)) pid=$$"\n');
    await expect.poll(() => terminalText(page), { timeout: 20_000 }).toContain(`two-after 64 pid=${pid2}`);
    // And the first.
    await tabs.first().click();
    await expect.poll(() => terminalText(page), { timeout: 30_000 }).toMatch(/one-before 42 pid=\d+/);
    await page.locator('tt-terminal:not([hidden]) .xterm').click();
    await page.keyboard.type('echo "one-after $((9*9)) pid=$$"\n');
    await expect.poll(() => terminalText(page), { timeout: 20_000 }).toContain(`one-after 81 pid=${pid1}`);
    await page.screenshot({ path: join(SHOTS, 'everyday-4-after-reload.png'), fullPage: true });
  });

  it('with a dedicated Worker (the node ends with its page) a reload says the terminal ended and offers Reconnect', async () => {
    const dctx = await browser.newContext();
    try {
      const p = watch(await dctx.newPage());
      await p.goto(app.url + '/?worker=dedicated#machines');
      await p
        .locator('tt-machines tr[data-peer="peer2"]')
        .getByRole('button', { name: 'SSH to peer2' })
        .click({ timeout: 60_000 });
      await p.getByRole('button', { name: 'Open terminal' }).click();
      await expect.poll(() => terminalText(p), { timeout: 60_000 }).toMatch(/root@\S*[#$]/);
      await p.reload();
      const state = p.locator('tt-terminal:not([hidden]) .term-state');
      await expect
        .poll(() => state.innerText().catch(() => ''), { timeout: 30_000 })
        .toBe(
          'This terminal ended with the page reload: here the node runs in a dedicated Worker, which ends with its page. Press Reconnect for a new session.',
        );
      await p.locator('tt-terminal:not([hidden])').getByRole('button', { name: 'Reconnect' }).click();
      await expect.poll(() => terminalText(p), { timeout: 60_000 }).toMatch(/root@\S*[#$]/);
    } finally {
      await dctx.close();
    }
  });

  it("a returning visit reopens the last visit's terminals in one click; the dialog starts from the user and port used last", async () => {
    const sshd = rig.sshd!;
    // The last tab goes; a new one is a new visit (not a reload of the old tab).
    await page.close({ runBeforeUnload: true });
    page = watch(await ctx.newPage());
    await page.goto(app.url + '/#machines');
    const offer = page.locator('tt-machines [data-last-visit]');
    await expect
      .poll(() => offer.innerText().catch(() => ''), { timeout: 60_000 })
      .toBe(`Your last visit had 2 terminals open: root@peer2, ${sshd.user}@peer1.\nReopen them`);
    const recent = await page
      .locator('tt-machines [data-recent]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-recent')));
    expect(recent.sort()).toEqual(['root@peer2', `${sshd.user}@peer1`].sort());
    expect(await page.locator('tt-terminals [data-tab]').count()).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'everyday-5-returning.png'), fullPage: true });
    await offer.getByRole('button', { name: 'Reopen them' }).click();
    // The Tailscale SSH one opens at once; the password one asks for its password, the rest preset.
    await expect
      .poll(
        () =>
          page
            .locator('#ssh-user')
            .inputValue()
            .catch(() => ''),
        { timeout: 30_000 },
      )
      .toBe(sshd.user);
    expect(await page.locator('#ssh-port').inputValue()).toBe(String(sshd.port));
    expect(await page.locator('#ssh-method').inputValue()).toBe('password');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect
      .poll(() => page.locator('tt-terminals [data-tab]').allInnerTexts(), { timeout: 30_000 })
      .toEqual(['root@peer2']);
    await expect.poll(() => terminalText(page), { timeout: 60_000 }).toMatch(/root@\S*[#$]/);
    await page.locator('tt-terminal:not([hidden]) .xterm').click();
    await page.keyboard.type('echo "reopened $((5*5))"\n');
    await expect.poll(() => terminalText(page), { timeout: 20_000 }).toContain('reopened 25');
    await page.screenshot({ path: join(SHOTS, 'everyday-6-reopened.png'), fullPage: true });
  });
});
