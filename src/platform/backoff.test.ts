import { describe, expect, it } from 'vitest';
import {
  Backoff,
  backoffBaseMs,
  backoffDelayMs,
  CONTROL_BACKOFF_CAP_MS,
  DERP_BACKOFF_CAP_MS,
  jitterFactor,
} from './backoff.js';

/** Random bytes that make every jitter factor the same u/2^32 fraction. */
const fixed = (u: number) => () => {
  const v = Math.floor(u * 2 ** 32) >>> 0;
  return new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
};

describe('backoff (tailscale util/backoff)', () => {
  it('waits n²·10 ms after the n-th failure, capped at 5 s for DERP', () => {
    const schedule = Array.from({ length: 25 }, (_, i) => backoffBaseMs(i + 1, DERP_BACKOFF_CAP_MS));
    expect(schedule.slice(0, 6)).toEqual([10, 40, 90, 160, 250, 360]);
    expect(schedule[21]).toBe(4840); // 22² · 10
    expect(schedule[22]).toBe(5000); // 23² · 10 = 5290, capped
    expect(schedule.slice(22).every((d) => d === 5000)).toBe(true);
    // A 30 s relay outage: reconnect attempts every ≤5 s by then, the first ones within a second.
    let t = 0,
      n = 0;
    while (t < 30_000) t += backoffBaseMs(++n, DERP_BACKOFF_CAP_MS);
    expect(n).toBeLessThan(30);
  });

  it('uses the same curve for control with a 30 s cap', () => {
    expect(backoffBaseMs(1, CONTROL_BACKOFF_CAP_MS)).toBe(10);
    expect(backoffBaseMs(54, CONTROL_BACKOFF_CAP_MS)).toBe(29_160);
    expect(backoffBaseMs(55, CONTROL_BACKOFF_CAP_MS)).toBe(30_000);
    expect(backoffBaseMs(1e12, CONTROL_BACKOFF_CAP_MS)).toBe(30_000);
    expect(backoffBaseMs(0, CONTROL_BACKOFF_CAP_MS)).toBe(0);
  });

  it('jitters each delay by a factor in [0.5, 1.5)', () => {
    expect(jitterFactor(fixed(0))).toBe(0.5);
    expect(jitterFactor(fixed(0.5))).toBeCloseTo(1, 9);
    expect(jitterFactor(fixed(0.999999))).toBeLessThan(1.5);
    expect(backoffDelayMs(3, DERP_BACKOFF_CAP_MS, fixed(0))).toBe(45);
    expect(backoffDelayMs(30, DERP_BACKOFF_CAP_MS, fixed(0.999999))).toBe(7500);
    let seed = 1;
    const lcg = (n: number) =>
      Uint8Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff);
    for (let i = 0; i < 1000; i++) {
      const d = backoffDelayMs(10, DERP_BACKOFF_CAP_MS, lcg);
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1500);
    }
  });

  it('counts consecutive failures and starts over after a success', () => {
    const b = new Backoff(DERP_BACKOFF_CAP_MS, fixed(0.5));
    expect([b.fail(), b.fail(), b.fail()]).toEqual([10, 40, 90]);
    expect(b.failures).toBe(3);
    b.reset();
    expect(b.fail()).toBe(10);
  });
});
