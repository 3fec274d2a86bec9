// Tab ↔ tab over the WebRTC path vs over DERP, same run (issue #20): two tailtab nodes in two
// Chromium pages (the node in the page: a Worker has no RTCPeerConnection, node/README.md), one
// derper (region 900, both homed there), the namespace's held TUN (e2e/rig/tun.ts) for ICE. First
// with the path up, then with it turned off on both nodes (node.setWebRtcEnabled(false)): 64 MiB
// one way (dial to last byte received, no hashing in the timing) and ICMP RTT (median of 10).
// Runs with `npm run bench tailnet` (its name starts so) inside a fresh namespace.
import { startRig } from '../e2e/rig/index.js';
import { startTun } from '../e2e/rig/tun.js';
import { launchChromium, startAppServer } from '../e2e/helpers/browser.testkit.js';
import {
  inTab,
  received,
  sendFromTab,
  serveOnce,
  tabPeer,
  upInTab,
  type Tab,
} from '../e2e/helpers/webrtc-tabs.testkit.js';
import type { BenchRow } from './run.js';
import { printRowsIfMain, runInNetns } from './in-netns.js';

const SIZE = 64 << 20;
const progress = (t: string) => process.stderr.write(`bench tailnet-webrtc: ${t}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function waitFor(what: string, f: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function measure(): Promise<BenchRow[]> {
  const tun = await startTun();
  const rig = await startRig({ peers: [], derpers: 1, sshd: false });
  const app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl });
  const browser = await launchChromium(['--disable-features=WebRtcHideLocalIpsWithMdns']);
  try {
    const a = (await (await browser.newContext()).newPage()) as unknown as Tab;
    const b = (await (await browser.newContext()).newPage()) as unknown as Tab;
    const cfg = { appUrl: app.url, authKey: rig.authKey, homeRegion: 900 };
    await Promise.all([upInTab(a, { ...cfg, hostname: 'bench-a' }), upInTab(b, { ...cfg, hostname: 'bench-b' })]);
    await waitFor('peers in each map', async () => !!(await tabPeer(a, 'bench-b')) && !!(await tabPeer(b, 'bench-a')));
    await inTab(b, `await node.ping('bench-a', { timeoutMs: 20000 });`);
    const rows: BenchRow[] = [];
    let port = 7200;
    for (const path of ['webrtc', 'derp'] as const) {
      if (path === 'derp') for (const t of [a, b]) await inTab(t, 'node.setWebRtcEnabled(false);');
      await waitFor(`${path} path both ways`, async () => {
        const [pa, pb] = [await tabPeer(a, 'bench-b'), await tabPeer(b, 'bench-a')];
        return pa?.path?.kind === path && pb?.path?.kind === path;
      });
      const label = path === 'webrtc' ? 'WebRTC data channel' : 'DERP (one derper)';
      progress(`${label}: 64 MiB…`);
      await serveOnce(a, ++port, { hash: false });
      const sent = await sendFromTab(b, 'bench-a', port, SIZE);
      const got = await received(a);
      if (got.length !== SIZE) throw new Error(`received ${got.length} of ${SIZE} bytes`);
      rows.push({
        name: `64 MiB tab → tab (Chromium pages): ${label}`,
        value: SIZE / (1 << 20) / ((got.doneAt - sent.startedAt) / 1000),
        unit: 'MB/s',
      });
      progress(`${label}: ICMP RTT…`);
      const rtts: number[] = [];
      for (let i = 0; i < 10; i++) rtts.push(await inTab<number>(b, `return (await node.ping('bench-a')).ms;`));
      rows.push({ name: `ICMP RTT tab → tab (median of 10): ${label}`, value: median(rtts), unit: 'ms' });
    }
    return rows;
  } finally {
    await browser.close().catch(() => {});
    await app.stop();
    await rig.stop();
    await tun.stop();
  }
}

export function run(): Promise<BenchRow[]> {
  return runInNetns(import.meta.url, 'tailnet-webrtc', measure);
}

printRowsIfMain(import.meta.url, measure);
