// Vitest setup file (unit project): every property test of this run uses the run's seed
// (seed.global.ts), so the whole run is replayed by giving that seed again.
import fc from 'fast-check';
import { inject } from 'vitest';

fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: inject('fuzzSeed') });
