// Everyday use, in Chromium against the rig (Headscale, derpers, tailscaled peers, OpenSSH):
// a reload with two terminals open keeps both sessions (same remote shell, the output from before
// the reload redrawn, new input echoed); a returning visit (new tab after the last one closed)
// reopens the last visit's terminals in one click, with the dialog preset to the user and port used
// last, and by itself with the setting on (its prompt shown once the tailnet lists the machine); another browser node in the tailnet gets no SSH/Files/Web; a machine with no SSH server is
// said to have none after the probe; axe-core finds no serious or critical violation on the
// connect page, the machines list, the SSH dialog and a terminal. A second tab of the profile lists
// the terminal the first runs and shows it too (tmux-like: both see its output, both type; closed in
// one, it goes on in the other). Every view (machines, terminals, web, status, settings, desktop,
// the SSH dialog, files) and the widget pass axe-core in the light and the dark theme, and are
// screenshot at desktop and phone width; Desktop on a machine with no VNC server says so (the
// check of 5900-5901). The whole journey by keyboard alone (connect → machine → SSH → terminal →
// back, Ctrl+] leaving the terminal), every control reached showing its focus ring, a bad machine
// name and a bad user name refused in words.
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

interface Focused {
  tag: string;
  id: string;
  label: string;
  outline: string;
  hash: string;
}

/** The element with the keyboard focus (through shadow roots), how it is named, and its focus ring. */
async function focused(page: Page): Promise<Focused | null> {
  return page.evaluate(() => {
    let a = document.activeElement;
    while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
    if (!a || a === document.body) return null;
    const cs = getComputedStyle(a);
    return {
      tag: a.tagName.toLowerCase(),
      id: a.id,
      label: (a.getAttribute('aria-label') ?? (a as HTMLElement).innerText ?? '').trim().slice(0, 60),
      outline: `${cs.outlineStyle} ${cs.outlineWidth}`,
      hash: location.hash,
    };
  });
}

/** Presses Tab (or Shift+Tab) until the focus is on what `want` accepts; every stop on the way must show a focus ring. */
async function tabTo(page: Page, want: (f: Focused) => boolean, o: { back?: boolean; max?: number } = {}) {
  const seen: string[] = [];
  for (let i = 0; i < (o.max ?? 80); i++) {
    await page.keyboard.press(o.back ? 'Shift+Tab' : 'Tab');
    const f = await focused(page);
    if (!f) continue;
    seen.push(f.label || f.tag);
    // Focus visible (WCAG 2.4.7): a control the keyboard reaches shows an outline (styles.ts: 3px solid).
    if (['button', 'a', 'input', 'select', 'summary'].includes(f.tag))
      expect(f.outline, `focus ring on ${f.tag} "${f.label}"`).toMatch(/^(solid|auto) [1-9]/);
    if (want(f)) return f;
  }
  throw new Error(`Tab never reached the control; it went through: ${seen.join(' | ')}`);
}

/** The view's screenshots at desktop and phone width (test-results/everyday-view-*.png). */
async function shoot(page: Page, name: string) {
  const size = page.viewportSize() ?? { width: 1280, height: 860 };
  await page.screenshot({ path: join(SHOTS, `everyday-view-${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(SHOTS, `everyday-view-${name}-phone.png`), fullPage: true });
  await page.setViewportSize(size);
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
    expect(await row.locator('[data-browser-node]').innerText()).toBe(
      'Another browser running tailtab: nothing to open here.',
    );
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
    // peer1 runs no Tailscale SSH (it published no SSH host keys) and this browser has no key yet: both say so.
    expect(
      await page
        .locator('#ssh-method option')
        .evaluateAll((os) =>
          os.map((o) => `${(o as HTMLOptionElement).disabled ? '(off) ' : ''}${o.textContent!.trim()}`),
        ),
    ).toEqual([
      '(off) Tailscale SSH (this machine does not run it)',
      'Password',
      '(off) SSH key kept in this browser (none yet: add one in Settings)',
    ]);
    expect(await page.locator('#ssh-method').inputValue()).toBe('password');
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
          "This terminal ended with the page reload: in this browser, tailtab's connection to the tailnet lives in the page and ends with it. Press Reconnect for a new session.",
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

  it('a second tab of the profile lists the terminal the first runs and shows it too: both see its output, both type into it', async () => {
    const second = watch(await ctx.newPage());
    try {
      await second.goto(app.url + '/#terminals');
      // The first tab's; the reload's two before it, detached when their tab closed, are listed too for a while (60 s).
      const running = second
        .locator('tt-terminals [data-running="root@peer2"]')
        .filter({ hasText: 'shown in 1 other tab' });
      await running.waitFor({ timeout: 60_000 });
      expect(await running.innerText()).toMatch(/root@peer2\s+shown in 1 other tab\s+Show here/);
      expect(await axeSerious(second)).toEqual([]);
      await running.getByRole('button', { name: 'Show here: root@peer2' }).click();
      // What it printed before (the Worker's scrollback), then live.
      await expect.poll(() => terminalText(second), { timeout: 30_000 }).toContain('reopened 25');
      await second.locator('tt-terminal:not([hidden]) .xterm').click();
      await second.keyboard.type('echo "from-second $((3*4)) pid=$$"\n');
      await expect.poll(() => terminalText(second), { timeout: 20_000 }).toMatch(/from-second 12 pid=\d+/);
      await expect.poll(() => terminalText(page), { timeout: 20_000 }).toMatch(/from-second 12 pid=\d+/);
      const pid = /from-second 12 pid=(\d+)/.exec(await terminalText(second))![1];
      await page.locator('tt-terminal:not([hidden]) .xterm').click();
      await page.keyboard.type('echo "from-first $((4*4)) pid=$$"\n');
      await expect.poll(() => terminalText(page), { timeout: 20_000 }).toContain(`from-first 16 pid=${pid}`);
      await expect.poll(() => terminalText(second), { timeout: 20_000 }).toContain(`from-first 16 pid=${pid}`);
      await second.screenshot({ path: join(SHOTS, 'everyday-7-second-tab.png'), fullPage: true });
      // Closed in the second tab, it goes on in the first.
      await second.getByRole('button', { name: 'Close root@peer2' }).click();
      await page.keyboard.type('echo "still-first $((5*6)) pid=$$"\n');
      await expect.poll(() => terminalText(page), { timeout: 20_000 }).toContain(`still-first 30 pid=${pid}`);
      // And the second tab lists it again, to show it once more.
      await second
        .locator('tt-terminals [data-running="root@peer2"]')
        .filter({ hasText: 'shown in 1 other tab' })
        .waitFor({ timeout: 30_000 });
    } finally {
      await second.close();
    }
  });

  it('with "reopen them by themselves" on, a returning visit reopens the last terminal unasked and shows its prompt', async () => {
    await page.goto(app.url + '/#settings');
    const auto = page.locator('#reopen-auto');
    await auto.check({ timeout: 60_000 });
    // Kept in this browser: a reload reads it back.
    await page.reload();
    await expect.poll(() => auto.isChecked().catch(() => false), { timeout: 60_000 }).toBe(true);
    // This visit's one terminal: the shell the second tab showed too and closed its view of above
    // (that close must not have made the remembered visit empty).
    await page.goto(app.url + '/#terminals');
    await expect
      .poll(() => page.locator('tt-terminals [data-tab]').allInnerTexts(), { timeout: 60_000 })
      .toEqual(['root@peer2']);
    // The last tab goes; a new one is a new visit: it waits for the tailnet's machines, then reopens.
    await page.close({ runBeforeUnload: true });
    page = watch(await ctx.newPage());
    await page.goto(app.url + '/#machines');
    await expect
      .poll(() => page.locator('tt-terminals [data-tab]').allInnerTexts(), { timeout: 60_000 })
      .toEqual(['root@peer2']);
    await expect.poll(() => terminalText(page), { timeout: 60_000 }).toMatch(/root@\S*[#$]/);
    expect(new URL(page.url()).hash).toBe('#terminals');
    await page.locator('tt-terminal:not([hidden]) .xterm').click();
    await page.keyboard.type('echo "by-itself $((6*6))"\n');
    await expect.poll(() => terminalText(page), { timeout: 20_000 }).toContain('by-itself 36');
    await page.screenshot({ path: join(SHOTS, 'everyday-8-reopened-by-itself.png'), fullPage: true });
    // Back to asking, as the rest of the file expects.
    await page.goto(app.url + '/#settings');
    await page.locator('#reopen-auto').uncheck({ timeout: 60_000 });
  });

  it('every view, light and dark, desktop and phone width: no serious or critical accessibility violation; Desktop says no VNC server answers', async () => {
    const views: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const route of ['machines', 'terminals', 'web', 'status', 'settings']) {
        await page.goto(app.url + `/#${route}`);
        await page.locator('tailtab-app nav[aria-label="Main"]').waitFor({ timeout: 60_000 });
        if (route === 'machines') await page.locator('tt-machines tr[data-peer="peer1"]').waitFor({ timeout: 60_000 });
        if (route === 'terminals') await expect.poll(() => terminalText(page), { timeout: 60_000 }).toMatch(/[#$]/);
        if (route === 'web' && scheme === 'light') {
          // An address the web view cannot open: refused in words where it was typed.
          await page.locator('tt-webview #address').fill('https://peer1/');
          await page.locator('tt-webview').getByRole('button', { name: 'Go' }).click();
          expect(await page.locator('tt-webview p.error[role="alert"]').innerText()).toBe(
            'The web view opens http:// addresses only (the tailnet already encrypts the traffic): write http:// and the port the app serves plain HTTP on.',
          );
        }
        expect(await axeSerious(page), `${route} (${scheme})`).toEqual([]);
        await shoot(page, `${route}-${scheme}`);
        views.push(`${route}-${scheme}`);
      }
      // Desktop on a machine with no VNC server: said in words (the check of 5900-5901), in the view and the list.
      await page.goto(app.url + '/#machines');
      const row = page.locator('tt-machines tr[data-peer="peer1"]');
      await row.getByRole('button', { name: 'Desktop of peer1 (VNC)' }).click({ timeout: 60_000 });
      await expect
        .poll(
          () =>
            page
              .locator('tt-desktop #vnc-probe')
              .innerText()
              .catch(() => ''),
          { timeout: 30_000 },
        )
        .toBe(
          'Nothing answered on ports 5900 and 5901 of peer1 (connection refused): no VNC server for display :0 or :1 there. Type the port your VNC server listens on, or start one on that machine.',
        );
      expect(await page.locator('tt-desktop #vnc-port').inputValue()).toBe('5900');
      expect(await axeSerious(page), `desktop (${scheme})`).toEqual([]);
      await shoot(page, `desktop-${scheme}`);
      await page.goto(app.url + '/#machines');
      expect(await row.locator('[data-no-vnc]').innerText()).toBe('No VNC server answered on ports 5900 and 5901.');
      // Files on peer2 (Tailscale SSH as root): the folder listed.
      await page.locator('tt-machines tr[data-peer="peer2"]').getByRole('button', { name: 'Files on peer2' }).click();
      expect(await axeSerious(page), `SSH dialog (${scheme})`).toEqual([]);
      await shoot(page, `ssh-dialog-${scheme}`);
      await page.getByRole('button', { name: 'Open files' }).click();
      await page.locator('tt-files table').waitFor({ timeout: 60_000 });
      expect(await axeSerious(page), `files (${scheme})`).toEqual([]);
      await shoot(page, `files-${scheme}`);
      views.push(`desktop-${scheme}`, `ssh-dialog-${scheme}`, `files-${scheme}`);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    expect(views).toHaveLength(16);
  });

  it('the widget on a vendor page, light and dark: a prompt, and no serious or critical accessibility violation', async () => {
    writeFileSync(
      join(rig.dir, 'app-config.json'),
      JSON.stringify({
        controlUrl: app.url,
        authKey: rig.authKey,
        allowInsecureDerp: true,
        widgetMode: 'ssh',
        widgetTarget: rig.peer('peer2').ipv4,
        widgetUser: 'root',
        widgetSshAuth: 'none',
      }),
    );
    const wctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    try {
      const w = watch(await wctx.newPage());
      await w.goto(app.url + '/widget-demo.html?autostart');
      await expect
        .poll(
          () =>
            w
              .locator('tailtab-connect .xterm-rows')
              .innerText()
              .catch(() => ''),
          { timeout: 90_000 },
        )
        .toMatch(/root@\S*[#$]/);
      for (const scheme of ['light', 'dark'] as const) {
        await w.emulateMedia({ colorScheme: scheme });
        expect(await axeSerious(w), `widget (${scheme})`).toEqual([]);
        await shoot(w, `widget-${scheme}`);
      }
    } finally {
      await wctx.close();
    }
  });

  it('by keyboard alone: connect, a machine, SSH (a bad user name refused in words), the terminal, and back', async () => {
    // A new visitor's profile, in the dark theme: the connect form is filled in from the keyboard.
    const kctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'dark' });
    try {
      const k = watch(await kctx.newPage());
      await k.goto(app.url + '/?fresh=1');
      await k.locator('#hostname').waitFor({ timeout: 30_000 });
      expect(await axeSerious(k)).toEqual([]);
      await shoot(k, 'connect-dark');
      // The control server is filled in; the key and a name are typed.
      await tabTo(k, (f) => f.id === 'auth-key');
      await k.keyboard.type(rig.authKey);
      await tabTo(k, (f) => f.id === 'hostname');
      // A name that cannot be a machine's: refused in words, nothing sent to control.
      await k.keyboard.type('my laptop');
      await k.keyboard.press('Enter');
      await expect
        .poll(() =>
          k
            .locator('tt-connect p.error[role="alert"]')
            .innerText()
            .catch(() => ''),
        )
        .toBe(
          "A machine name is letters, digits and '-' (not first or last), like laptop-browser; no spaces, dots or other signs.",
        );
      expect((await focused(k))?.id).toBe('hostname');
      await k.keyboard.press('Control+A');
      await k.keyboard.type('everyday-keys');
      await tabTo(k, (f) => f.id === 'ephemeral', { max: 1 });
      await k.keyboard.press('Space'); // kiosk mode: this profile leaves no node behind
      await tabTo(k, (f) => f.tag === 'button' && f.label === 'Connect');
      await k.keyboard.press('Enter');
      // The machines list; Tab to peer2's SSH button and press Enter.
      await k.locator('tt-machines tr[data-peer="peer2"]').waitFor({ timeout: 90_000 });
      await tabTo(k, (f) => f.label === 'SSH to peer2', { max: 120 });
      await k.keyboard.press('Enter');
      // The dialog takes the focus in the user field.
      await expect.poll(async () => (await focused(k))?.id).toBe('ssh-user');
      await k.keyboard.press('Control+A');
      await k.keyboard.type('uname -a; ls /');
      await k.keyboard.press('Enter');
      await expect
        .poll(() =>
          k
            .locator('#ssh-problem')
            .innerText()
            .catch(() => ''),
        )
        .toBe(
          "A user name is letters, digits, '.', '_' and '-' (not first), like alice or svc-backup; spaces and ;|&$ are not part of any.",
        );
      expect(await k.locator('tt-terminals [data-tab]').count()).toBe(0);
      expect((await focused(k))?.id).toBe('ssh-user'); // still where the person was typing
      await k.keyboard.press('Control+A');
      await k.keyboard.type('root');
      await k.keyboard.press('Enter');
      await expect.poll(() => terminalText(k), { timeout: 60_000 }).toMatch(/root@\S*[#$]/);
      // The terminal has the focus: typing goes to the shell.
      await k.keyboard.type('echo "keys-only $((6*6))"\n');
      await expect.poll(() => terminalText(k), { timeout: 20_000 }).toContain('keys-only 36');
      await shoot(k, 'terminal-dark');
      // Ctrl+] leaves the terminal (Tab is the shell's); back to Machines from the keyboard.
      await k.keyboard.press('Control+BracketRight');
      await expect.poll(async () => (await focused(k))?.label).toBe('root@peer2');
      await tabTo(k, (f) => f.tag === 'a' && f.label === 'Machines', { back: true });
      await k.keyboard.press('Enter');
      await expect.poll(() => k.evaluate(() => location.hash)).toBe('#machines');
      await k.locator('tt-machines tr[data-peer="peer2"]').waitFor();
    } finally {
      await kctx.close();
    }
  });
});
