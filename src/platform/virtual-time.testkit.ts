// Test support (imported by *.test.ts, other kits and bench only): driving a VirtualClock
// (clock.ts) while the code under test runs its promise chains, so a test of timers and timeouts
// takes no wall time and comes out the same on every run.
import type { VirtualClock } from './clock.js';

/** Lets every pending promise reaction and I/O callback run once (one turn of the event loop). */
export function nextTurn(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/**
 * Lets the event loop turn, no time passing, until done() holds or maxTurns have gone by; returns
 * done(). For in-memory peers whose work is all promise reactions: a test asserts on the state it
 * waited for, never on a guess at how many wall-clock milliseconds the work takes.
 */
export async function turnsUntil(done: () => boolean, maxTurns = 100): Promise<boolean> {
  for (let i = 0; i < maxTurns && !done(); i++) await nextTurn();
  return done();
}

/** Runs the virtual clock in steps, letting promises settle between steps, until done() or maxMs. */
export async function runUntil(clock: VirtualClock, done: () => boolean, maxMs: number, stepMs = 1): Promise<number> {
  const start = clock.now();
  while (!done()) {
    if (clock.now() - start > maxMs) throw new Error(`runUntil: not done after ${maxMs} virtual ms`);
    clock.advance(stepMs);
    await nextTurn();
  }
  return clock.now() - start;
}

/** Drives the virtual clock while awaiting p. */
export async function drive<T>(clock: VirtualClock, p: Promise<T>, maxMs = 600_000, stepMs = 1): Promise<T> {
  let settled = false;
  let value: T | undefined;
  let error: unknown;
  let failed = false;
  p.then(
    (v) => {
      settled = true;
      value = v;
    },
    (e) => {
      settled = true;
      failed = true;
      error = e;
    },
  );
  await runUntil(clock, () => settled, maxMs, stepMs);
  if (failed) throw error;
  return value as T;
}

/** Advances the clock by ms in steps of at most stepMs, awaiting after() after each step. */
export async function advanceInSteps(
  clock: VirtualClock,
  ms: number,
  stepMs: number,
  after: () => Promise<unknown>,
): Promise<void> {
  for (let t = 0; t < ms; t += stepMs) {
    clock.advance(Math.min(stepMs, ms - t));
    await after();
  }
}
