import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { readFileSync } from 'node:fs';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from '../crypto/bytes.js';
import { ZstdError, zstdDecode, zstdDecodedBound } from './zstd.js';
import { zstdStored } from './zstd.testkit.js';
import { MapStreamDecoder, MapStreamError, encodeMapMessage } from './mapstream.js';
import { encodeZstdMapMessage } from './zstd.testkit.js';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`./testdata/${name}`, import.meta.url)));
/** SHA-256 of the JSON the fixtures were made from (zstd -3 --no-check, and zstd -19 --check). */
const MAP300_SHA = '9b3409d8f989ab680afc844e369b29e04bdaff5acbfc61a6a4b2d41bd611a849';
const cat = (...p: Uint8Array[]) => {
  const o = new Uint8Array(p.reduce((a, x) => a + x.length, 0));
  let at = 0;
  for (const x of p) {
    o.set(x, at);
    at += x.length;
  }
  return o;
};

describe('zstd (fzstd behind our frame checks)', () => {
  it('decodes what the zstd program compressed (with and without a checksum) to the same bytes', () => {
    for (const f of ['map-300-peers.json.zst', 'map-300-peers.checksum.json.zst']) {
      const z = fixture(f);
      const out = zstdDecode(z, 1 << 20);
      expect(toHex(sha256(out))).toBe(MAP300_SHA);
      expect((JSON.parse(utf8.decode(out)) as { Peers: unknown[] }).Peers).toHaveLength(300);
      expect(z.length * 10).toBeLessThan(out.length); // really compressed blocks, not stored ones
    }
  });

  it('stored frames, several frames, skippable frames, no content size: all decode', () => {
    const a = utf8.encode('{"KeepAlive":true}');
    const b = new Uint8Array(300_000).map((_, i) => i & 0x7f);
    expect(zstdDecode(zstdStored(a), 1000)).toEqual(a);
    expect(zstdDecode(zstdStored(b, { contentSize: false, checksum: true }), 1 << 20)).toEqual(b);
    const skippable = Uint8Array.of(0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9);
    expect(zstdDecode(cat(zstdStored(a), skippable, zstdStored(a)), 1000)).toEqual(cat(a, a));
    expect(zstdDecode(zstdStored(new Uint8Array(0)), 10)).toEqual(new Uint8Array(0));
  });

  it('refuses before decoding: a claimed content size or window over the cap, output over the cap, broken structure', () => {
    // 8-byte content size of 2^40: fzstd would allocate it.
    const huge = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0);
    expect(() => zstdDecode(huge, 256 << 20)).toThrow(
      /claims 1099511627776 bytes of content, over the 268435456-byte limit/,
    );
    // A 2 GiB window without a content size.
    expect(() => zstdDecode(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa8, 1, 0, 0), 256 << 20)).toThrow(/window/);
    // No content size, 1000 RLE blocks of 100 KiB each (~4 KB of input, 100 MB of output).
    const rle = (last: number) => {
      const bh = ((100 * 1024) << 3) | (1 << 1) | last;
      return Uint8Array.of(bh & 255, (bh >> 8) & 255, bh >> 16, 0x41);
    };
    const bomb = cat(
      Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3),
      ...Array.from({ length: 1000 }, (_, i) => rle(i === 999 ? 1 : 0)),
    );
    expect(bomb.length).toBeLessThan(5000);
    expect(() => zstdDecode(bomb, 16 << 20)).toThrow(/more than the 16777216-byte limit/);
    expect(zstdDecodedBound(bomb, 200 << 20)).toBe(1000 * 100 * 1024);
    // A 1 GiB window is refused whatever the content size says (fzstd allocates the window when that is 0).
    expect(() => zstdDecode(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x40, 0xa0, 0, 0, 1, 0, 0), 256 << 20)).toThrow(
      /1073741824-byte window/,
    );
    // A content size smaller than what the blocks hold: an error, not a write past the buffer.
    const lying = zstdStored(new Uint8Array(5000));
    lying[5] = 10; // content size 10 (little-endian, low byte), 5,000 bytes of blocks
    lying[6] = 0;
    expect(() => zstdDecode(lying, 1 << 20)).toThrow(ZstdError);
    expect(() => zstdDecode(Uint8Array.of(1, 2, 3, 4, 5), 100)).toThrow(/not a zstd frame/);
    expect(() => zstdDecode(zstdStored(utf8.encode('abc')).subarray(0, 15), 100)).toThrow(/truncated/);
    expect(() => zstdDecode(new Uint8Array(0), 100)).toThrow(/no zstd frame/);
  });

  it('fuzz: random and mutated frames only ever fail with ZstdError, never past the cap', () => {
    const good = [zstdStored(utf8.encode('{"Peers":[]}')), fixture('map-300-peers.json.zst').subarray(0, 4000)];
    const check = (z: Uint8Array) => {
      try {
        expect(zstdDecode(z, 1 << 20).length).toBeLessThanOrEqual(1 << 20);
      } catch (e) {
        expect(e).toBeInstanceOf(ZstdError);
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => check(cat(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd), junk))),
      fuzz(100),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...good),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        (z, edits) => {
          const m = z.slice();
          for (const [at, v] of edits) m[at % m.length] = v;
          check(m);
        },
      ),
      fuzz(100),
    );
  });
});

describe('map stream with Compress:"zstd"', () => {
  it('decodes zstd messages however split, counting compressed messages and decoded bytes', () => {
    const wire = cat(encodeZstdMapMessage({ KeepAlive: true }), encodeZstdMapMessage({ Domain: 'example.ts.net' }));
    const dec = new MapStreamDecoder({ zstd: true });
    const got = [];
    for (let i = 0; i < wire.length; i += 7) got.push(...dec.push(wire.subarray(i, i + 7)));
    expect(got).toEqual([{ KeepAlive: true }, { Domain: 'example.ts.net' }]);
    expect(dec.stats).toMatchObject({ messages: 2, compressed: 2, malformed: 0 });
    expect(dec.stats.decodedBytes).toBe('{"KeepAlive":true}'.length + '{"Domain":"example.ts.net"}'.length);
    // Real compressed bytes, framed as Headscale frames them.
    const z = fixture('map-300-peers.json.zst');
    const framed = cat(Uint8Array.of(z.length & 255, (z.length >> 8) & 255, 0, 0), z);
    expect((new MapStreamDecoder({ zstd: true }).push(framed)[0] as { Peers: unknown[] }).Peers).toHaveLength(300);
  });

  it('property: split anywhere, real and mutated zstd messages decode as in one piece, or fail in words', () => {
    const z = fixture('map-300-peers.checksum.json.zst');
    const good = [
      z,
      fixture('map-300-peers.json.zst'),
      zstdStored(utf8.encode('{"Domain":"x"}'), { contentSize: false }),
    ];
    const framed = (b: Uint8Array) => cat(Uint8Array.of(b.length & 255, (b.length >> 8) & 255, b.length >> 16, 0), b);
    /** Decoded in one piece by fzstd's one-shot decompress (the reference), or the error kind. */
    const whole = (b: Uint8Array): string => {
      try {
        return utf8.decode(zstdDecode(b, 1 << 20));
      } catch {
        return 'error';
      }
    };
    fc.assert(
      fc.property(
        fc.constantFrom(...good),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 }),
        (g, edits, cuts) => {
          const m = g.slice();
          for (const [at, v] of edits) m[at % m.length] = v;
          const wire = framed(m);
          const dec = new MapStreamDecoder({ zstd: true, maxDecoded: 1 << 20 });
          const got: unknown[] = [];
          let failed = false;
          try {
            for (let at = 0, i = 0; at < wire.length; at += cuts[i++ % cuts.length]!)
              got.push(...dec.push(wire.subarray(at, at + cuts[i % cuts.length]!)));
          } catch (e) {
            expect(e).toBeInstanceOf(MapStreamError);
            failed = true;
          }
          const ref = whole(m);
          let refJson: unknown = 'error';
          try {
            refJson = ref === 'error' ? 'error' : JSON.parse(ref);
          } catch {
            /* not JSON after the edit */
          }
          if (refJson !== 'error' && refJson !== null && typeof refJson === 'object' && !Array.isArray(refJson))
            expect(got).toEqual([refJson]);
          else expect(failed || got.length === 0).toBe(true);
        },
      ),
      fuzz(60),
    );
  });

  it('plain JSON where zstd was asked for, or JSON decoding past the cap, is a worded MapStreamError', () => {
    expect(() => new MapStreamDecoder({ zstd: true }).push(encodeMapMessage({ KeepAlive: true }))).toThrow(
      /map message is not valid zstd \(18 bytes\): not a zstd frame/,
    );
    const big = encodeZstdMapMessage({ Domain: 'x'.repeat(5000) });
    expect(() => new MapStreamDecoder({ zstd: true, maxDecoded: 4096 }).push(big)).toThrow(MapStreamError);
  });
});
