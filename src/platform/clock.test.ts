import { expect, it } from 'vitest';
import { VirtualClock } from './clock.js';

it('fires virtual timers in deadline order, including timers set by timers', () => {
  const c = new VirtualClock(1000);
  const seen: string[] = [];
  c.setTimeout(() => seen.push(`b@${c.now()}`), 20);
  const h = c.setTimeout(() => seen.push('cancelled'), 5);
  c.setTimeout(() => {
    seen.push(`a@${c.now()}`);
    c.setTimeout(() => seen.push(`c@${c.now()}`), 15);
  }, 10);
  c.clearTimeout(h);
  c.advance(30);
  expect(seen).toEqual(['a@1010', 'b@1020', 'c@1025']);
  expect(c.now()).toBe(1030);
  expect(c.pending).toBe(0);
});
