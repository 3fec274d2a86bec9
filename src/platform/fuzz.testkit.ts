// Test support: one place for how property tests (fast-check) are sized and seeded, so `npm run
// fuzz` can run every parser's and decoder's property test longer, and any run can be replayed.
//   FUZZ_SEED   the seed of every property (set for the whole run by scripts/fuzz/seed.setup.ts;
//               printed at the start of each unit run and by `npm run fuzz`)
//   FUZZ_SCALE  multiplies each property's own number of runs (the unit run: 1)
//   FUZZ_MIN_RUNS  at least this many runs per property (`npm run fuzz -- --long`: 1,000,000)
//   FUZZ_RUNS   exactly this many runs per property (overrides both)
//   FUZZ_TIME_MS   stop a property after this long, as passed (the time budget; not a failure)
//   FUZZ_REPORT    a file to append one JSON line per property to: its test, runs, seed
import fc from 'fast-check';
import { appendFileSync } from 'node:fs';
import { expect } from 'vitest';

const num = (v: string | undefined): number | undefined =>
  v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined;

/** The parameters of one property test that would run `numRuns` inputs in an ordinary unit run. */
export function fuzz<T = unknown>(numRuns: number): fc.Parameters<T> {
  const env = process.env;
  const exact = num(env.FUZZ_RUNS);
  const runs = exact ?? Math.max(Math.round(numRuns * (num(env.FUZZ_SCALE) ?? 1)), num(env.FUZZ_MIN_RUNS) ?? 0);
  const p: fc.Parameters<T> = { numRuns: runs };
  const time = num(env.FUZZ_TIME_MS);
  if (time) Object.assign(p, { interruptAfterTimeLimit: time, markInterruptAsFailure: false });
  const report = env.FUZZ_REPORT;
  if (report) {
    const test = expect.getState().currentTestName ?? '?';
    const write = (d: fc.RunDetails<T>) => {
      appendFileSync(
        report,
        JSON.stringify({
          test,
          runs: d.numRuns,
          asked: runs,
          interrupted: d.interrupted,
          failed: d.failed,
          seed: d.seed,
        }) + '\n',
      );
      // What the default reporter does: a failure throws, with the seed and path to replay it.
      if (d.failed) throw new Error(fc.defaultReportMessage(d) ?? 'property failed');
    };
    Object.assign(p, { reporter: write });
  }
  return p;
}

/** A test's own timeout, stretched in a fuzz run to outlast its properties' time budget. */
export function fuzzTestTimeout(ms: number): number {
  const time = num(process.env.FUZZ_TIME_MS);
  return time ? Math.max(ms, time * 4 + 60_000) : ms;
}
