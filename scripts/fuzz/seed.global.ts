// Vitest global setup (unit project): one fast-check seed for the whole run, fresh each time unless
// FUZZ_SEED gives it, printed so that a failure can be replayed (FUZZ_SEED=<seed> npx vitest run …).
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    fuzzSeed: number;
  }
}

export default function setup(project: TestProject): void {
  const given = process.env.FUZZ_SEED;
  const seed = given !== undefined && given !== '' ? Number(given) | 0 : (Math.random() * 0x7fffffff) | 0;
  project.provide('fuzzSeed', seed);
  if (!process.env.FUZZ_QUIET)
    console.log(
      `[fuzz] property tests use fast-check seed ${seed}${given ? ' (FUZZ_SEED)' : ''}; replay with FUZZ_SEED=${seed}`,
    );
}
