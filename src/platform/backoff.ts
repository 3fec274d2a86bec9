// Reconnect backoff as tailscaled does it (tailscale util/backoff/backoff.go, Backoff.BackOff):
// after the n-th consecutive failure wait min(n²·10 ms, cap), scaled by a random factor in
// [0.5, 1.5) so that many nodes that lost the same server do not come back in step. "n² is a
// little smoother than the common 2^n" (their words): the first retries come fast (10, 40, 90 ms…),
// a long outage reaches the cap after ~22 failures. Users of the curve and their caps:
//   - a DERP region: 5 s (wgengine/magicsock/derp.go runDerpReader: NewBackoff("derp-N", …, 5*time.Second));
//   - the control map stream: 30 s (control/controlclient/auto.go mapRoutine: NewBackoff(…, 30*time.Second)).
// Time and randomness are injected: the schedule is a pure function of the failure count and the
// random bytes, so tests check it exactly.

/** Random bytes (crypto/random.ts RandomSource has this shape; platform imports no other folder). */
export type RandomBytes = (n: number) => Uint8Array;

export const BACKOFF_STEP_MS = 10;
export const DERP_BACKOFF_CAP_MS = 5_000;
export const CONTROL_BACKOFF_CAP_MS = 30_000;

/** The un-jittered delay after the n-th consecutive failure (n ≥ 1): min(n²·step, cap), step 10 ms. */
export function backoffBaseMs(n: number, capMs: number, stepMs = BACKOFF_STEP_MS): number {
  if (!(n >= 1)) return 0;
  // n is capped before squaring: a counter left running for days must not overflow into NaN/Infinity.
  const m = Math.min(n, 1e6);
  return Math.min(m * m * stepMs, capMs);
}

/** A factor in [0.5, 1.5) from 4 random bytes (Go: rand.Float64() + 0.5). */
export function jitterFactor(random: RandomBytes): number {
  const r = random(4);
  const u = ((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0;
  return 0.5 + u / 2 ** 32;
}

/** The delay after the n-th consecutive failure, jittered. */
export function backoffDelayMs(n: number, capMs: number, random: RandomBytes, stepMs = BACKOFF_STEP_MS): number {
  return Math.round(backoffBaseMs(n, capMs, stepMs) * jitterFactor(random));
}

/** Consecutive failures of one connection and the delay before the next try (util/backoff Backoff). */
export class Backoff {
  /** Consecutive failures so far (0 after a success). */
  failures = 0;

  constructor(
    readonly capMs: number,
    private readonly random: RandomBytes,
    /** The curve's unit (tailscaled: 10 ms); tests against real servers may stretch it. */
    readonly stepMs = BACKOFF_STEP_MS,
  ) {}

  /** Notes a failure; returns how long to wait before the next try (ms). */
  fail(): number {
    this.failures++;
    return backoffDelayMs(this.failures, this.capMs, this.random, this.stepMs);
  }

  /** A success: the next failure waits 10 ms again. */
  reset(): void {
    this.failures = 0;
  }
}
