// Returning visit (issue "Speed a person feels": returning visitors): how long a node that is
// already registered takes from login() to its first network map, against the rig's Headscale.
// Each run is a new ControlClient (as a new tab's Worker is) on the same stored login:
//   register   the old way: /machine/register first (forceRegister), then the map request
//   resume     the stored login is used as is: the map request goes out at once (client.ts resume)
// Both include the ts2021 dial (WebSocket + Noise) and the first map, which is what a returning
// visit waits for before "connected". A measurement, not pass/fail: every run on stderr, median and
// max per mode. Runs inside a loopback-only netns (re-executes itself through scripts/in-netns.sh).
//   npm run bench -- returning
//   TAILTAB_RETURNING_RUNS=20 npm run bench -- returning
import { join } from 'node:path';
import { startRig } from '../e2e/rig/index.js';
import { makeControlClient, waitForMap } from '../e2e/helpers/control-client.testkit.js';
import { MemoryStore } from '../src/control/storage.js';
import type { BenchRow } from './run.js';
import { printRowsIfMain, runInNetns } from './in-netns.js';

const RUNS = Math.max(1, Number(process.env.TAILTAB_RETURNING_RUNS ?? 10) || 10);
type Mode = 'register' | 'resume';
const MODES: Mode[] = ['register', 'resume'];
const progress = (t: string) => process.stderr.write(`bench returning: ${t}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function measure(): Promise<BenchRow[]> {
  const rig = await startRig({ peers: [{ name: 'peer1', homeRegion: 900 }], derpers: 1, sshd: false });
  const results = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
  try {
    // One registered node, as a remembered profile holds it.
    const store = new MemoryStore();
    const authKey = await rig.createAuthKey({ ephemeral: true });
    const first = makeControlClient(rig.headscaleUrl, store);
    await first.login({ hostname: 'returning', authKey });
    first.start();
    await waitForMap(first, (nm) => !!nm.self, 'the first map');
    await first.close();
    for (let run = 1; run <= RUNS; run++) {
      for (const mode of MODES) {
        const c = makeControlClient(rig.headscaleUrl, store);
        const t0 = performance.now();
        await c.login({ hostname: 'returning', forceRegister: mode === 'register' });
        c.start();
        await waitForMap(c, (nm) => !!nm.self && nm.seq > 0, 'the returning map');
        const ms = performance.now() - t0;
        await c.close();
        if ((mode === 'resume') !== (c.resumedLogins === 1))
          throw new Error(`${mode}: resumedLogins ${c.resumedLogins}`);
        results.get(mode)!.push(ms);
        progress(`run ${run} ${mode}: login → first map in ${ms.toFixed(0)} ms`);
      }
    }
  } finally {
    await rig.stop();
  }
  const rows: BenchRow[] = [];
  const med = new Map<Mode, number>();
  for (const [mode, ms] of results) {
    med.set(mode, median(ms));
    rows.push({
      name: `${mode}: returning login → first map, median`,
      value: median(ms),
      unit: 'ms',
      note: `runs: ${ms.map((x) => x.toFixed(0)).join(' ')}`,
    });
    rows.push({
      name: `${mode}: returning login → first map, max of ${ms.length}`,
      value: Math.max(...ms),
      unit: 'ms',
    });
  }
  rows.push({ name: 'resume / register (median)', value: med.get('resume')! / med.get('register')!, unit: 'ratio' });
  return rows;
}

export function run(): Promise<BenchRow[]> {
  return runInNetns(import.meta.url, 'returning', measure);
}

// `tsx bench/returning.bench.ts` (what run() executes inside the netns): print the rows as JSON.
printRowsIfMain(import.meta.url, measure);
