import { describe, expect, it } from 'vitest';
import { mergeBounded, readAll } from './streams.js';
import { turnsUntil } from './virtual-time.testkit.js';

/** A source that makes a fresh 32 KiB chunk each time it is pulled, counting what it made. */
function flood() {
  let made = 0;
  const s = new ReadableStream<Uint8Array>(
    {
      pull: (c) => {
        made += 32 * 1024;
        c.enqueue(new Uint8Array(32 * 1024).fill(0x79));
      },
    },
    { highWaterMark: 0 },
  );
  return { s, made: () => made };
}

describe('mergeBounded', () => {
  it('a reader that stops stops a flooding source: at most the bound (+ a chunk) is taken from it', async () => {
    const src = flood();
    const m = mergeBounded([src.s], 256 * 1024);
    await turnsUntil(() => false, 200);
    expect(m.queued()).toBeGreaterThanOrEqual(256 * 1024);
    expect(m.queued()).toBeLessThanOrEqual(256 * 1024 + 32 * 1024);
    expect(src.made()).toBeLessThanOrEqual(256 * 1024 + 2 * 32 * 1024);
    // Reading resumes the source, and the queue stays bounded all along.
    const r = m.output.getReader();
    for (let i = 0; i < 100; i++) await r.read();
    await turnsUntil(() => false, 50);
    expect(src.made()).toBeGreaterThanOrEqual(100 * 32 * 1024);
    expect(m.peak()).toBeLessThanOrEqual(256 * 1024 + 32 * 1024);
    // Cancelling the output cancels the source: nothing more is made.
    await r.cancel();
    await turnsUntil(() => false, 20);
    const after = src.made();
    await turnsUntil(() => false, 50);
    expect(src.made()).toBe(after);
    expect(m.queued()).toBe(0);
  });

  it('interleaves two sources and ends when both have ended', async () => {
    const a = new ReadableStream<Uint8Array>({
      start: (c) => {
        c.enqueue(Uint8Array.of(1));
        c.enqueue(Uint8Array.of(2));
        c.close();
      },
    });
    const b = new ReadableStream<Uint8Array>({
      start: (c) => {
        c.enqueue(Uint8Array.of(9));
        c.close();
      },
    });
    const all = [...(await readAll(mergeBounded([a, b], 16).output))];
    expect([...all].sort()).toEqual([1, 2, 9]);
    expect(all.filter((x) => x !== 9)).toEqual([1, 2]);
  });
});
