// `npm run bench vnc`: full-screen VNC updates through the tailnet, tailtab in Chromium against a
// native client over tailscaled, same rig, same run. TigerVNC's Xvnc (1024×768, 32 bpp, security
// None) sits behind tailscaled peer1 (it forwards tailnet TCP to its loopback port); the client
// asks for the whole screen in Raw encoding (3 MiB an update), one request after each update, as
// a viewer does:
//   - native: bench/rfb-raw.ts in Node.js through peer2's tailscaled (SOCKS5) to peer1;
//   - tailtab: the same code in a Chromium page over TcpSocket and NodeApi.tcpDial, the node in
//     the app's SharedWorker — the Desktop view's byte path (noVNC's drawing is not timed).
// Both peers and the page use DERP only (a browser has no UDP), one derper, as bench/tailnet.
// Runs itself inside a loopback-only netns (scripts/in-netns.sh), like bench/tailnet.bench.ts.
// TAILTAB_VNC_FRAMES (default 16) updates are timed per side, after one untimed warm-up update.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRig } from '../e2e/rig/index.js';
import { socksConnect } from '../e2e/helpers/node-tailnet.testkit.js';
import { startXvnc } from '../e2e/helpers/xvnc.testkit.js';
import { chunkReader, rawUpdates } from './rfb-raw.js';
import type { BenchRow } from './run.js';
import { printRowsIfMain, runInNetns } from './in-netns.js';

const FRAMES = Math.max(1, Number(process.env.TAILTAB_VNC_FRAMES ?? 16) || 16);
const progress = (t: string) => process.stderr.write(`bench vnc: ${t}\n`);
const mbps = (bytes: number, ms: number) => bytes / (1 << 20) / (ms / 1000);

export async function measure(): Promise<BenchRow[]> {
  const rig = await startRig({
    peers: [
      { name: 'peer1', homeRegion: 900, derpOnly: true },
      { name: 'peer2', homeRegion: 900, derpOnly: true },
    ],
    derpers: 1,
    sshd: false,
  });
  const dir = mkdtempSync(join(tmpdir(), 'vnc-bench-'));
  const vnc = await startXvnc({ dir, name: 'bench', geometry: '1024x768' });
  vnc.x('xsetroot', ['-solid', '#3060a0']);
  const { launchChromium, startAppServer } = await import('../e2e/helpers/browser.testkit.js');
  let stopPage: (() => Promise<void>) | undefined;
  try {
    await rig.waitConverged();
    const [p1, p2] = [rig.peer('peer1'), rig.peer('peer2')];
    const rows: BenchRow[] = [];
    const row = (label: string, r: { bytes: number; ms: number }, native?: { bytes: number; ms: number }) => {
      const fps = (FRAMES * 1000) / r.ms;
      const nfps = native ? (FRAMES * 1000) / native.ms : undefined;
      rows.push({
        name: `full-screen raw updates (1024×768×32 bpp): ${label}`,
        value: fps,
        unit: 'updates/s',
        note: nfps ? `${(fps / nfps).toFixed(2)}× native` : 'ceiling',
      });
      rows.push({ name: `  the same as bytes: ${label}`, value: mbps(r.bytes, r.ms), unit: 'MB/s' });
    };

    progress("native: Node.js through peer2's tailscaled");
    const s = await socksConnect(p2, p1.ipv4, vnc.port);
    const conn = chunkReader(
      (b) => s.write(b),
      () => s.destroy(),
    );
    s.on('data', (d: Buffer) => conn.push(new Uint8Array(d.buffer, d.byteOffset, d.length)));
    s.on('close', () => conn.end());
    const native = await rawUpdates(conn, FRAMES, () => performance.now());
    s.destroy();
    row('native tailscaled ↔ tailscaled', native);

    progress("tailtab: Chromium, the app's node Worker, tcpDial + TcpSocket");
    const app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl });
    const browser = await launchChromium();
    stopPage = async () => {
      await browser.close().catch(() => {});
      await app.stop();
    };
    const page = await browser.newPage();
    page.on('pageerror', (e) => progress(`page error: ${e.message}`));
    await page.goto(app.url + '/bench/vnc.page.html');
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', undefined, {
      timeout: 60_000,
    });
    await page.evaluate(
      `window.__vnc.up({ controlUrl: location.origin, authKey: ${JSON.stringify(rig.authKey)}, hostname: 'tailtab-vnc-bench', ephemeral: true, profileId: '', allowInsecureDerp: true })`,
    );
    const ours = (await page.evaluate(`window.__vnc.raw(${JSON.stringify(p1.ipv4)}, ${vnc.port}, ${FRAMES})`)) as {
      bytes: number;
      ms: number;
      width: number;
      height: number;
    };
    if (ours.width !== 1024 || ours.height !== 768) throw new Error(`page saw a ${ours.width}×${ours.height} desktop`);
    row('tailtab in Chromium (Worker node) ↔ tailscaled', ours, native);
    return rows;
  } finally {
    await stopPage?.().catch(() => {});
    await vnc.stop();
    await rig.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function run(): Promise<BenchRow[]> {
  return runInNetns(import.meta.url, 'vnc', measure);
}

// `tsx bench/vnc.bench.ts` (what run() executes inside the netns): print the rows as JSON.
printRowsIfMain(import.meta.url, measure);
