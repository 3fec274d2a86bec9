// First contact: how long after `up()` a fresh node's first TCP connection to a tailscaled peer
// opens (issue "Speed a person feels"). Each run starts a new ephemeral TailnetNode (new node key,
// so the peer hears of it from control only now), then connects to the peer's Tailscale SSH port
// (22) by IP; the time is `up()` resolved → connect() resolved. A connection needs our first
// WireGuard handshake, which the peer drops while control has not yet told it about us.
// Two modes, alternating run by run on the same rig:
//   plain  WireGuard's own retry (REKEY_TIMEOUT, 5 s): `wireguardTimers: { firstContactRetriesMs: [] }`
//   early  tailtab's first-contact retries (0.25 s, +0.5 s, +1 s, then REKEY_TIMEOUT)
// A measurement, not a pass/fail test: it prints every run (stderr) and per mode the max, median
// and the number of runs over 2 s. The rig needs a loopback-only netns: outside one
// (TAILTAB_IN_NETNS=1 unset), run() re-executes this file through scripts/in-netns.sh.
//   npm run bench -- startup
//   TAILTAB_STARTUP_RUNS=20 TAILTAB_STARTUP_MODES=early npm run bench -- startup
import { join } from 'node:path';
import { startRig } from '../e2e/rig/index.js';
import { MemoryStore } from '../src/control/storage.js';
import { createNodeLayers } from '../src/node/layers.node.js';
import { TailnetNode } from '../src/node/node.js';
import type { BenchRow } from './run.js';
import { printRowsIfMain, runInNetns } from './in-netns.js';

const RUNS = Math.max(1, Number(process.env.TAILTAB_STARTUP_RUNS ?? 10) || 10);
const MODES = (process.env.TAILTAB_STARTUP_MODES ?? 'plain,early')
  .split(',')
  .map((m) => m.trim())
  .filter((m): m is Mode => m === 'plain' || m === 'early');
type Mode = 'plain' | 'early';

const progress = (t: string) => process.stderr.write(`bench startup: ${t}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function measure(): Promise<BenchRow[]> {
  const rig = await startRig({ peers: [{ name: 'sshpeer', homeRegion: 901, derpOnly: true, ssh: true }], sshd: false });
  const peer = rig.peer('sshpeer');
  const results = new Map<Mode, { ms: number; inits: number }[]>(MODES.map((m) => [m, []]));
  try {
    for (let run = 1; run <= RUNS; run++) {
      for (const mode of MODES) {
        const node = new TailnetNode(createNodeLayers());
        const authKey = await rig.createAuthKey({ ephemeral: true });
        try {
          await node.up({
            controlUrl: rig.headscaleUrl,
            authKey,
            hostname: `startup-${mode}-${run}`,
            storage: new MemoryStore(),
            allowInsecureDerp: true,
            wallClockMs: () => Date.now(),
            homeRegion: 900,
            wireguardTimers: mode === 'plain' ? { firstContactRetriesMs: [] } : undefined,
          });
          const t0 = performance.now();
          const conn = await node.dial(peer.ipv4, 22, { timeoutMs: 30_000 });
          const ms = performance.now() - t0;
          conn.close();
          const inits = node.status().counters['wg.handshakeInitiationsSent'] ?? 0;
          results.get(mode)!.push({ ms, inits });
          progress(`run ${run} ${mode}: up → SSH port connected in ${ms.toFixed(0)} ms (${inits} initiations)`);
        } finally {
          await node.logout().catch(() => node.down().catch(() => {}));
        }
      }
    }
  } finally {
    await rig.stop();
  }
  const rows: BenchRow[] = [];
  for (const [mode, rs] of results) {
    const ms = rs.map((r) => r.ms);
    const list = ms.map((x) => x.toFixed(0)).join(' ');
    rows.push({
      name: `${mode}: up → first TCP connect, max of ${ms.length}`,
      value: Math.max(...ms),
      unit: 'ms',
      note: `runs: ${list}`,
    });
    rows.push({ name: `${mode}: up → first TCP connect, median`, value: median(ms), unit: 'ms' });
    rows.push({ name: `${mode}: runs over 2 s`, value: ms.filter((x) => x > 2000).length, unit: `of ${ms.length}` });
  }
  return rows;
}

export function run(): Promise<BenchRow[]> {
  return runInNetns(import.meta.url, 'startup', measure);
}

// `tsx bench/startup.bench.ts` (what run() executes inside the netns): print the rows as JSON.
printRowsIfMain(import.meta.url, measure);
