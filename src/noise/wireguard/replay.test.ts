// Replay window edge cases, the sequence of the Linux kernel's/wireguard-go's replay test, with
// our window size (REPLAY_WINDOW = 8160) and a limit that JavaScript numbers hold exactly.
import fc from 'fast-check';
import { fuzz } from '../../platform/fuzz.testkit.js';
import { describe, expect, it } from 'vitest';
import { REPLAY_WINDOW, ReplayFilter } from './replay.js';

const LIMIT = 2 ** 50 - 2 ** 13 - 1;

describe('ReplayFilter (RFC 6479 sliding window)', () => {
  it('is at least 2048 packets wide', () => {
    expect(REPLAY_WINDOW).toBeGreaterThanOrEqual(2048);
  });

  it('follows the reference sequence', () => {
    const f = new ReplayFilter();
    const T_LIM = REPLAY_WINDOW + 1;
    const cases: [number, boolean][] = [
      [0, true],
      [1, true],
      [1, false],
      [9, true],
      [8, true],
      [7, true],
      [7, false],
      [T_LIM, true],
      [T_LIM - 1, true],
      [T_LIM - 1, false],
      [T_LIM - 2, true],
      [2, true],
      [2, false],
      [T_LIM + 16, true],
      [3, false],
      [T_LIM + 16, false],
      [T_LIM * 4, true],
      [T_LIM * 4 - (T_LIM - 1), true],
      [10, false],
      [T_LIM * 4 - T_LIM, false],
      [T_LIM * 4 - (T_LIM + 1), false],
      [T_LIM * 4 - (T_LIM - 2), true],
      [T_LIM * 4 + 1 - T_LIM, false],
      [0, false],
      [LIMIT, false],
      [LIMIT - 1, true],
      [LIMIT, false],
      [LIMIT - 1, false],
      [LIMIT - 2, true],
      [LIMIT + 1, false],
      [LIMIT + 2, false],
      [LIMIT - 2, false],
      [LIMIT - 3, true],
      [0, false],
    ];
    cases.forEach(([n, want], i) => expect([i + 1, n, f.validate(n, LIMIT)]).toEqual([i + 1, n, want]));
  });

  it('bulk: a full window forwards, then 0 still fits exactly', () => {
    const f = new ReplayFilter();
    for (let i = 1; i <= REPLAY_WINDOW; i++) expect(f.validate(i, LIMIT)).toBe(true);
    expect(f.validate(0, LIMIT)).toBe(true);
    expect(f.validate(0, LIMIT)).toBe(false);
  });

  it('bulk: one past a full window pushes 0 out', () => {
    const f = new ReplayFilter();
    for (let i = 2; i <= REPLAY_WINDOW + 1; i++) expect(f.validate(i, LIMIT)).toBe(true);
    expect(f.validate(1, LIMIT)).toBe(true);
    expect(f.validate(0, LIMIT)).toBe(false);
  });

  it('bulk: a full window backwards', () => {
    const f = new ReplayFilter();
    for (let i = REPLAY_WINDOW + 1; i > 0; i--) expect(f.validate(i, LIMIT)).toBe(true);
    const g = new ReplayFilter();
    for (let i = REPLAY_WINDOW + 2; i > 1; i--) expect(g.validate(i, LIMIT)).toBe(true);
    expect(g.validate(0, LIMIT)).toBe(false);
  });

  it('rejects NaN, Infinity and counters at the limit; reset forgets', () => {
    const f = new ReplayFilter();
    expect(f.validate(Number.NaN, LIMIT)).toBe(false);
    expect(f.validate(Number.POSITIVE_INFINITY, LIMIT)).toBe(false);
    expect(f.validate(5, LIMIT)).toBe(true);
    f.reset();
    expect(f.validate(5, LIMIT)).toBe(true);
  });

  it('property: accepts each counter at most once, and never one more than a window behind the highest seen', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40_000 }), { maxLength: 400 }), (counters) => {
        const f = new ReplayFilter();
        const accepted = new Set<number>();
        let highest = -1;
        for (const c of counters) {
          const pre = f.mayAccept(c, LIMIT);
          const ok = f.validate(c, LIMIT);
          if (ok) {
            expect(pre).toBe(true);
            expect(accepted.has(c)).toBe(false);
            expect(highest - c).toBeLessThanOrEqual(REPLAY_WINDOW);
            accepted.add(c);
          } else if (!accepted.has(c)) {
            // a never-seen counter is refused only when it is too old
            expect(highest - c).toBeGreaterThan(REPLAY_WINDOW);
          }
          highest = Math.max(highest, c);
        }
      }),
      fuzz(100),
    );
  });
});
