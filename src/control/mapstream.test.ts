import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { encodeMapMessage, MapStreamDecoder, MapStreamError, readMapStream } from './mapstream.js';
import { utf8 } from '../crypto/bytes.js';
import type { MapResponse } from './tailcfg.js';

const msgArb = fc.record({
  KeepAlive: fc.boolean(),
  Domain: fc.string(),
  Health: fc.array(fc.string(), { maxLength: 3 }),
});

function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const pts = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of pts) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

describe('map stream framing (4-byte LE length + JSON)', () => {
  it('decodes any sequence of messages however the bytes are split', () => {
    fc.assert(
      fc.property(fc.array(msgArb, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (msgs, cuts) => {
        const all = new Uint8Array(msgs.reduce((n, m) => n + encodeMapMessage(m).length, 0));
        let o = 0;
        for (const m of msgs) {
          const e = encodeMapMessage(m);
          all.set(e, o);
          o += e.length;
        }
        const dec = new MapStreamDecoder();
        const got: MapResponse[] = [];
        for (const c of splitAt(all, cuts)) got.push(...dec.push(c));
        expect(got).toEqual(msgs);
        expect(dec.pending).toBe(0);
      }),
      fuzz(100),
    );
  });

  it('little-endian length: 0x05 0 0 0 then 5 bytes', () => {
    const dec = new MapStreamDecoder();
    expect(dec.push(Uint8Array.of(2, 0, 0, 0, 0x7b, 0x7d))).toEqual([{}]);
  });

  it('oversized length fails with a clear error, stays failed', () => {
    const dec = new MapStreamDecoder(1000);
    expect(() => dec.push(Uint8Array.of(0xe9, 0x03, 0, 0))).toThrow(/1001 bytes exceeds the 1000-byte limit/);
    expect(() => dec.push(encodeMapMessage({}))).toThrow(MapStreamError);
    expect(dec.stats.malformed).toBe(1);
  });

  it('default cap: a 16 MB map (10,000 peers) in 16 KiB chunks passes; a hostile 4 GiB header is refused at once, in words', () => {
    const big = {
      Domain: 'x',
      Health: [] as string[],
      DNSConfig: { Domains: Array.from({ length: 16 }, () => 'a'.repeat(1 << 20)) },
    } as MapResponse;
    const enc = encodeMapMessage(big);
    expect(enc.length).toBeGreaterThan(16 << 20);
    const dec = new MapStreamDecoder();
    const got: MapResponse[] = [];
    for (let o = 0; o < enc.length; o += 16384) got.push(...dec.push(enc.subarray(o, o + 16384)));
    expect(got).toHaveLength(1);
    expect((got[0] as { DNSConfig: { Domains: string[] } }).DNSConfig.Domains[15]).toHaveLength(1 << 20);
    expect(dec.pending).toBe(0);
    const hostile = new MapStreamDecoder();
    expect(() => hostile.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x7b))).toThrow(
      /4294967295 bytes exceeds the 134217728-byte limit/,
    );
    expect(hostile.pending).toBe(0);
  });

  it('a header split over chunks, and a message split inside a chunk, decode', () => {
    const a = encodeMapMessage({ Domain: 'one' }),
      b = encodeMapMessage({ Domain: 'two' });
    const all = new Uint8Array([...a, ...b]);
    const dec = new MapStreamDecoder();
    expect(dec.push(all.subarray(0, 1))).toEqual([]);
    expect(dec.push(all.subarray(1, 3))).toEqual([]);
    expect(dec.push(all.subarray(3, a.length + 2))).toEqual([{ Domain: 'one' }]);
    expect(dec.pending).toBe(2);
    expect(dec.push(all.subarray(a.length + 2))).toEqual([{ Domain: 'two' }]);
    expect(dec.pending).toBe(0);
  });

  it('non-JSON and non-object JSON fail with MapStreamError', () => {
    expect(() => new MapStreamDecoder().push(encodeMapMessage(utf8.encode('{nope')))).toThrow(/not valid JSON/);
    expect(() => new MapStreamDecoder().push(encodeMapMessage(utf8.encode('[1]')))).toThrow(/not a JSON object/);
    expect(() => new MapStreamDecoder().push(encodeMapMessage(utf8.encode('null')))).toThrow(/not a JSON object/);
  });

  it('random bytes: only MapStreamError or objects, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (junk) => {
        const dec = new MapStreamDecoder(200);
        try {
          for (const m of dec.push(junk)) expect(typeof m).toBe('object');
        } catch (e) {
          expect(e).toBeInstanceOf(MapStreamError);
        }
      }),
      fuzz(100),
    );
  });

  it('mutated valid streams: only MapStreamError or objects', () => {
    fc.assert(
      fc.property(
        fc.array(msgArb, { minLength: 1, maxLength: 3 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (msgs, pos, x) => {
          const parts = msgs.map((m) => encodeMapMessage(m));
          const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          let o = 0;
          for (const p of parts) {
            all.set(p, o);
            o += p.length;
          }
          all[pos % all.length] ^= x;
          const dec = new MapStreamDecoder(1 << 16);
          try {
            dec.push(all);
          } catch (e) {
            expect(e).toBeInstanceOf(MapStreamError);
          }
        },
      ),
      fuzz(100),
    );
  });

  it('readMapStream reports a truncated stream', async () => {
    const enc = encodeMapMessage({ Domain: 'x' });
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc);
        c.enqueue(enc.subarray(0, 5));
        c.close();
      },
    });
    const got: MapResponse[] = [];
    await expect(
      (async () => {
        for await (const m of readMapStream(body)) got.push(m);
      })(),
    ).rejects.toThrow(/ended inside a message/);
    expect(got).toEqual([{ Domain: 'x' }]);
  });
});
