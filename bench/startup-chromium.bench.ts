// Startup as a person sees it (issue "Speed a person feels"), in Chromium against the rig, the app's
// production build (vite build, served by vite preview): navigation → connected → first prompt of a
// Tailscale SSH session to a tailscaled peer (DERP only), timed in the page (performance.now() is
// counted from the navigation's start).
//   fresh      the widget demo page (`widget-demo.html?autostart`) in a new browser context each
//              run: a new ephemeral node registers, gets its map and opens the SSH session;
//              "connected" is the widget's "ready as 100.x" status.
//   returning  a new tab in one browser context whose IndexedDB holds a registered login and whose
//              last visit had one terminal open, with "reopen the last visit's terminals" on: the
//              stored login resumes and the terminal reopens by itself; "connected" is the header's
//              "name · 100.x". The node runs in a dedicated Worker (`?worker=dedicated`), so every
//              visit starts it cold, as after a browser restart (a SharedWorker could outlive the
//              previous tab).
// A measurement, not a pass/fail test: each run on stderr, median and max per mode. The issue's
// targets: no first prompt more than 1 s after connected; returning median navigation → prompt
// ≤ 1.5 s. Runs inside a loopback-only netns (re-executes itself through scripts/in-netns.sh).
//   npm run bench -- startup-chromium            (or `startup`: this and the Node.js first-contact bench)
//   TAILTAB_STARTUP_RUNS=5 TAILTAB_STARTUP_CHROMIUM_MODES=returning npm run bench -- startup-chromium
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { REPO_ROOT, startRig } from '../e2e/rig/index.js';
import type { BenchRow } from './run.js';
import { printRowsIfMain, runInNetns } from './in-netns.js';

const RUNS = Math.max(1, Number(process.env.TAILTAB_STARTUP_RUNS ?? 10) || 10);
type Mode = 'fresh' | 'returning';
const MODES = (process.env.TAILTAB_STARTUP_CHROMIUM_MODES ?? 'fresh,returning')
  .split(',')
  .map((m) => m.trim())
  .filter((m): m is Mode => m === 'fresh' || m === 'returning');
const DEADLINE_MS = 90_000;
const PROMPT = String(/root@\S*[#$]/.source);

const progress = (t: string) => process.stderr.write(`bench startup-chromium: ${t}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/**
 * Runs in the page right after navigation: polls (every 10 ms, through open shadow roots) for the
 * "connected" text and the shell prompt, and returns both times since the navigation started.
 */
const WATCH = `async ({ connectedSel, connectedRe, promptRe, deadlineMs }) => {
  const all = (root, sel, out) => {
    for (const e of root.querySelectorAll(sel)) out.push(e);
    for (const el of root.querySelectorAll('*')) if (el.shadowRoot) all(el.shadowRoot, sel, out);
    return out;
  };
  const text = (sel) => all(document, sel, []).map((e) => e.innerText || e.textContent || '').join('\\n');
  const c = new RegExp(connectedRe), p = new RegExp(promptRe);
  let connected;
  for (;;) {
    const now = performance.now();
    if (connected === undefined && c.test(text(connectedSel))) connected = now;
    if (p.test(text('.xterm-rows'))) return { connected: connected ?? now, prompt: now };
    if (now > deadlineMs) throw new Error('no prompt within ' + deadlineMs + ' ms; page says: ' + text('[role=status]') + ' / ' + text('[data-last-visit]'));
    await new Promise((r) => setTimeout(r, 10));
  }
}`;

async function watch(page: Page, url: string, connectedSel: string, connectedRe: string) {
  await page.goto(url, { waitUntil: 'commit' });
  return (await page.evaluate(
    `(${WATCH})(${JSON.stringify({ connectedSel, connectedRe, promptRe: PROMPT, deadlineMs: DEADLINE_MS })})`,
  )) as { connected: number; prompt: number };
}

async function measure(): Promise<BenchRow[]> {
  const { launchChromium, startAppServer } = await import('../e2e/helpers/browser.testkit.js');
  const rig = await startRig({ peers: [{ name: 'sshpeer', homeRegion: 900, derpOnly: true, ssh: true }], sshd: false });
  const peer = rig.peer('sshpeer');
  const out = join(rig.dir, 'dist');
  progress('building the app (vite build)');
  execFileSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'],
    { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const configPath = join(rig.dir, 'app-config.json');
  writeFileSync(configPath, '{}');
  const app = await startAppServer(
    { TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl, TAILTAB_APP_CONFIG: configPath },
    { preview: out },
  );
  const browser = await launchChromium();
  const results = new Map<Mode, { connected: number; prompt: number }[]>(MODES.map((m) => [m, []]));
  try {
    if (MODES.includes('fresh')) {
      writeFileSync(
        configPath,
        JSON.stringify({
          controlUrl: app.url,
          allowInsecureDerp: true,
          widgetAuthKey: await rig.createAuthKey({ ephemeral: true, reusable: true }),
          widgetTarget: peer.fqdn,
          widgetMode: 'ssh',
          widgetUser: 'root',
          widgetSshAuth: 'none',
        }),
      );
      for (let run = 1; run <= RUNS; run++) {
        const ctx = await browser.newContext();
        try {
          const t = await watch(
            await ctx.newPage(),
            app.url + '/widget-demo.html?autostart',
            '[role=status]',
            'ready as 100\\.',
          );
          results.get('fresh')!.push(t);
          progress(`run ${run} fresh: connected ${t.connected.toFixed(0)} ms, prompt ${t.prompt.toFixed(0)} ms`);
        } finally {
          await ctx.close();
        }
      }
    }
    if (MODES.includes('returning')) {
      writeFileSync(
        configPath,
        JSON.stringify({
          controlUrl: app.url,
          authKey: rig.authKey,
          autoConnect: true,
          hostname: 'startup-returning',
          allowInsecureDerp: true,
        }),
      );
      const ctx = await browser.newContext();
      try {
        // The first visit: registers, opens one Tailscale SSH terminal, turns on "reopen by themselves".
        const first = await ctx.newPage();
        await first.goto(app.url + '/?worker=dedicated#machines');
        await first
          .locator(`tt-machines tr[data-peer="${peer.name}"]`)
          .getByRole('button', { name: `SSH to ${peer.name}` })
          .click({ timeout: DEADLINE_MS });
        await first.getByRole('button', { name: 'Open terminal' }).click();
        await first.locator('tt-terminal .xterm-rows').getByText(/root@/).first().waitFor({ timeout: DEADLINE_MS });
        await first.evaluate(() => (location.hash = '#settings'));
        await first.locator('#reopen-auto').check({ timeout: DEADLINE_MS });
        await first.close({ runBeforeUnload: true });
        for (let run = 1; run <= RUNS; run++) {
          const page = await ctx.newPage();
          try {
            const t = await watch(page, app.url + '/?worker=dedicated', 'header [role=status]', '· 100\\.');
            results.get('returning')!.push(t);
            progress(`run ${run} returning: connected ${t.connected.toFixed(0)} ms, prompt ${t.prompt.toFixed(0)} ms`);
          } finally {
            await page.close({ runBeforeUnload: true });
          }
        }
      } finally {
        await ctx.close();
      }
    }
  } finally {
    await browser.close().catch(() => {});
    await app.stop();
    await rig.stop();
  }
  const rows: BenchRow[] = [];
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
  for (const [mode, rs] of results) {
    if (!rs.length) continue;
    const conn = rs.map((r) => r.connected);
    const prompt = rs.map((r) => r.prompt);
    const after = rs.map((r) => r.prompt - r.connected);
    rows.push({
      name: `${mode}: navigation → connected, median`,
      value: median(conn),
      unit: 'ms',
      note: `runs: ${list(conn)}`,
    });
    rows.push({ name: `${mode}: navigation → connected, max of ${rs.length}`, value: Math.max(...conn), unit: 'ms' });
    rows.push({
      name: `${mode}: navigation → first prompt, median`,
      value: median(prompt),
      unit: 'ms',
      note: `runs: ${list(prompt)}`,
    });
    rows.push({
      name: `${mode}: navigation → first prompt, max of ${rs.length}`,
      value: Math.max(...prompt),
      unit: 'ms',
    });
    rows.push({
      name: `${mode}: connected → first prompt, median`,
      value: median(after),
      unit: 'ms',
      note: `runs: ${list(after)}`,
    });
    rows.push({
      name: `${mode}: connected → first prompt, max of ${rs.length}`,
      value: Math.max(...after),
      unit: 'ms',
    });
  }
  return rows;
}

export function run(): Promise<BenchRow[]> {
  return runInNetns(import.meta.url, 'startup-chromium', measure);
}

// `tsx bench/startup-chromium.bench.ts` (what run() executes inside the netns): print the rows as JSON.
printRowsIfMain(import.meta.url, measure);
