// Chromium (Debian's, /usr/bin/chromium) driven by playwright-core, and the app served by Vite,
// for browser journeys and browser-side benchmarks. Headless, no network beyond loopback.
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.testkit.js';

export const CHROMIUM = process.env.TAILTAB_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** A Chromium profile on disk (not incognito): what installability checks need. */
export async function launchPersistentChromium(userDataDir: string): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}: run scripts/install.sh (apt-get install chromium)`);
  return chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: ARGS });
}

/** `extraArgs`: e.g. `--disable-features=WebRtcHideLocalIpsWithMdns` for WebRTC host candidates (e2e/rig/tun.ts). */
export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}: run scripts/install.sh (apt-get install chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...ARGS, ...extraArgs],
  });
}

export { freePort } from './ports.testkit.js';

export interface AppServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts `vite` (dev server) for the app on a free loopback port, with the given environment;
 * with `preview: <dir>`, `vite preview` of a production build in that folder instead.
 */
export async function startAppServer(
  env: Record<string, string> = {},
  o: { preview?: string } = {},
): Promise<AppServer> {
  const port = await freePort();
  const args = o.preview
    ? ['vite', 'preview', '--outDir', o.preview, '--port', String(port), '--strictPort', '--host', '127.0.0.1']
    : ['vite', '--port', String(port), '--strictPort', '--host', '127.0.0.1'];
  const proc: ChildProcess = spawn('npx', args, {
    env: { ...process.env, TAILTAB_NO_HMR: '1', ...env, TAILTAB_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`vite exited early:\n${out}`);
    try {
      const r = await fetch(url + '/');
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      process.kill(-proc.pid!, 'SIGKILL');
      throw new Error(`vite did not start in 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      try {
        process.kill(-proc.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (proc.exitCode === null) {
        try {
          process.kill(-proc.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    },
  };
}

export type RigApp = AppServer & { configPath: string };

/**
 * The app served by Vite against a rig's Headscale with a deployment config (TAILTAB_APP_CONFIG)
 * in the rig's folder: the server starts with an empty config, then `config(app.url)` is written
 * (a config may name the app's own URL, known only once it runs). configPath is the file, for a
 * journey that rewrites it.
 */
export async function startRigApp(
  rig: { dir: string; headscaleUrl: string },
  config: (appUrl: string) => object | Promise<object>,
  file = 'app-config.json',
): Promise<RigApp> {
  const configPath = join(rig.dir, file);
  writeFileSync(configPath, '{}');
  const app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl, TAILTAB_APP_CONFIG: configPath });
  try {
    writeFileSync(configPath, JSON.stringify(await config(app.url)));
  } catch (e) {
    await app.stop();
    throw e;
  }
  return { ...app, configPath };
}
