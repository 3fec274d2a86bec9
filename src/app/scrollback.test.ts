import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Scrollback } from './scrollback.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('Scrollback', () => {
  it('keeps what was written, in order', () => {
    const s = new Scrollback({ maxBytes: 1000, maxLines: 100 });
    s.push(enc.encode('$ echo hi\r\n'));
    s.push(enc.encode('hi\r\n$ '));
    expect(dec.decode(s.snapshot())).toBe('$ echo hi\r\nhi\r\n$ ');
    expect(s.lines).toBe(2);
    expect(s.dropped).toBe(0);
  });

  it('drops the oldest output past the byte limit, keeping the newest', () => {
    const s = new Scrollback({ maxBytes: 10, maxLines: 100 });
    for (const t of ['aaaa', 'bbbb', 'cccc', 'dddd']) s.push(enc.encode(t));
    expect(dec.decode(s.snapshot())).toBe('bbccccdddd');
    expect(s.dropped).toBe(6);
    // A single chunk larger than the budget keeps only its tail.
    s.push(enc.encode('0123456789ABCDEF'));
    expect(dec.decode(s.snapshot())).toBe('6789ABCDEF');
  });

  it('drops the oldest lines past the line limit, also inside one chunk', () => {
    const s = new Scrollback({ maxBytes: 10_000, maxLines: 3 });
    s.push(enc.encode('1\n2\n3\n4\n5\n'));
    expect(dec.decode(s.snapshot())).toBe('3\n4\n5\n');
    s.push(enc.encode('6\n'));
    expect(dec.decode(s.snapshot())).toBe('4\n5\n6\n');
    expect(s.lines).toBe(3);
  });

  it('a flood of random output never holds more than its limits, and its tail is always the newest bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 1, max: 50 }),
        (chunks, maxBytes, maxLines) => {
          const s = new Scrollback({ maxBytes, maxLines });
          const all: number[] = [];
          for (const c of chunks) {
            s.push(c);
            all.push(...c);
          }
          const snap = s.snapshot();
          expect(snap.length).toBe(s.bytes);
          expect(snap.length).toBeLessThanOrEqual(maxBytes);
          expect(snap.filter((b) => b === 0x0a).length).toBe(s.lines);
          expect(s.lines).toBeLessThanOrEqual(maxLines);
          expect([...snap]).toEqual(all.slice(all.length - snap.length));
          expect(s.dropped + snap.length).toBe(all.length);
        },
      ),
    );
  });
});
