// Self-hosting as people will do it: the production build behind Debian's nginx with the site of
// scripts/nginx-site.ts (the one deploy/nginx-tailtab.conf shows for a real domain), here on
// loopback names: tailtab.localhost for the app, *.proxy.tailtab.localhost for the web view's
// per-app origins, Headscale forwarded on the app's own origin. Chromium connects, opens an SSH
// terminal to OpenSSH behind a tailscaled peer, and shows the peer's web app on its own origin.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/nginx-deploy.test.ts
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nginxMain, nginxSite } from '../scripts/nginx-site.js';
import { freePort, launchChromium } from './helpers/browser.testkit.js';
import { INDEX_TITLE, REPO_ROOT, startRig, type Rig } from './rig/index.js';

const NGINX = '/usr/sbin/nginx';
let rig: Rig;
let nginx: ChildProcess | undefined;
let browser: Browser;
let page: Page;
let appUrl = '';
let port = 0;
const cspViolations: string[] = [];

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** One GET to nginx as a browser asks for that name (Host), on the loopback address. */
function ask(host: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    httpGet({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
    }).on('error', reject);
  });
}

beforeAll(async () => {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing: scripts/install.sh installs Debian's nginx`);
  rig = await startRig({ peers: [{ name: 'peer1', homeRegion: 900 }] });
  // nginx's workers run as an unprivileged user: its files live in a folder they can read.
  const base = join(rig.dir, 'nginx');
  const dist = join(base, 'dist');
  mkdirSync(base, { recursive: true });
  execFileSync(
    process.execPath,
    [
      join(REPO_ROOT, 'node_modules/vite/bin/vite.js'),
      'build',
      '--outDir',
      dist,
      '--emptyOutDir',
      '--logLevel',
      'warn',
    ],
    { cwd: REPO_ROOT, stdio: 'inherit' },
  );
  const configFile = join(base, 'tailtab-config.json');
  writeFileSync(configFile, JSON.stringify({ controlUrl: '/', allowInsecureDerp: true }));
  for (const d of [rig.dir, base]) chmodSync(d, 0o755);
  execFileSync('chmod', ['-R', 'a+rX', base]);
  port = await freePort();
  const prefix = join(base, 'run');
  mkdirSync(prefix, { recursive: true });
  const site = nginxSite({
    appHost: 'tailtab.localhost',
    proxyHost: 'proxy.tailtab.localhost',
    root: dist,
    headscale: rig.headscaleUrl,
    listen: `127.0.0.1:${port}`,
    scheme: 'http',
    configFile,
  });
  writeFileSync(join(prefix, 'nginx.conf'), nginxMain(site, prefix));
  execFileSync(NGINX, ['-t', '-q', '-c', join(prefix, 'nginx.conf'), '-p', prefix]);
  nginx = spawn(NGINX, ['-c', join(prefix, 'nginx.conf'), '-p', prefix], { stdio: ['ignore', 'inherit', 'inherit'] });
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (nginx.exitCode !== null) throw new Error(`nginx exited: ${readFileSync(join(prefix, 'error.log'), 'utf8')}`);
    if ((await ask('tailtab.localhost', '/').catch(() => ({ status: 0 }))).status === 200) break;
    if (Date.now() > deadline) throw new Error('nginx did not answer within 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  appUrl = `http://tailtab.localhost:${port}`;
  browser = await launchChromium();
  page = await (await browser.newContext()).newPage();
  page.on('console', (m) => {
    const from = m.location().url;
    if (/Content Security Policy/.test(m.text()) && (from.startsWith(appUrl) || from.includes('/proxy-host.html')))
      cspViolations.push(`${from}: ${m.text()}`);
  });
}, 300_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  if (nginx && nginx.exitCode === null) {
    const gone = new Promise((r) => nginx!.once('exit', r));
    nginx.kill('SIGQUIT');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
    if (nginx.exitCode === null) nginx.kill('SIGKILL');
  }
  await rig?.stop();
});

describe('the production build behind nginx (scripts/nginx-site.ts)', () => {
  it('sends the app and proxy policies, forwards control, and serves nothing of a proxied app itself', async () => {
    const app = await ask('tailtab.localhost', '/');
    expect(app.headers['content-security-policy']).toMatch(
      /script-src 'self';.*frame-src 'self' http:\/\/\*\.proxy\.tailtab\.localhost:\d+;.*frame-ancestors 'none'/,
    );
    const cfg = await ask('tailtab.localhost', '/tailtab-config.json');
    expect(cfg.status).toBe(200);
    expect(cfg.headers['cache-control']).toBe('no-store');
    expect(cfg.headers['content-security-policy']).toBe(app.headers['content-security-policy']);
    expect((await ask('tailtab.localhost', '/key?v=113')).status).toBe(200);
    const host = await ask('p80-peer1.proxy.tailtab.localhost', '/proxy-host.html');
    expect(host.status).toBe(200);
    expect(host.headers['content-security-policy']).toMatch(
      new RegExp(`frame-ancestors http://tailtab\\.localhost:${port}$`),
    );
    expect((await ask('p80-peer1.proxy.tailtab.localhost', '/index.html')).status).toBe(404);
    expect((await ask('tailtab.localhost', `/proxy/${rig.peer('peer1').ipv4}/80/`)).status).toBe(404);
  });

  it('a person connects, opens an SSH terminal and a web view, with no CSP violation', async () => {
    const sshd = rig.sshd!;
    await page.goto(appUrl + '/');
    await page.locator('#auth-key').fill(rig.authKey);
    await page.locator('#hostname').fill('nginx-browser');
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.locator('tt-machines tr[data-peer="peer1"]').count(), { timeout: 90_000 }).toBe(1);

    await page.locator('tt-machines tr[data-peer="peer1"]').getByRole('button', { name: /^SSH/ }).click();
    await page.locator('#ssh-user').fill(sshd.user);
    await page.locator('#ssh-port').fill(String(sshd.port));
    await page.locator('#ssh-method').selectOption('password');
    await page.locator('#ssh-password').fill(sshd.password);
    await page.getByRole('button', { name: 'Open terminal' }).click();
    const prompt = page.locator('tt-terminal .host-prompt');
    await prompt.waitFor({ timeout: 60_000 });
    expect(sshd.hostKeyFingerprints).toContain((await prompt.locator('code').innerText()).trim());
    await prompt.getByRole('button', { name: 'Trust and connect' }).click();
    const terminal = () =>
      page
        .locator('tt-terminal:not([hidden]) .xterm-rows')
        .first()
        .innerText()
        .catch(() => '');
    await expect.poll(terminal, { timeout: 30_000 }).toMatch(new RegExp(`${sshd.user}@\\S*\\$`));
    await page.keyboard.type('echo "behind nginx $((6*7))"\n');
    await expect.poll(terminal, { timeout: 20_000 }).toContain('behind nginx 42');

    await page.goto(appUrl + '/#web');
    await page.locator('tt-webview #address').fill(`http://${rig.peer('peer1').ipv4}:${rig.httpPort}/`);
    await page.locator('tt-webview').getByRole('button', { name: 'Go' }).click();
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
    const origin = await frame.locator('html').evaluate(() => location.origin);
    expect(origin).toBe(
      `http://p${rig.httpPort}-${rig.peer('peer1').ipv4.replace(/\./g, '-')}.proxy.tailtab.localhost:${port}`,
    );
    await page.screenshot({ path: join(REPO_ROOT, 'test-results', 'nginx-webview.png'), fullPage: true });
    expect(cspViolations).toEqual([]);
  });
});
