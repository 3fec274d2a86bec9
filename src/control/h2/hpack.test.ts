// HPACK known answers from RFC 7541 Appendix C (with and without Huffman), and fuzzing.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../../platform/fuzz.testkit.js';
import {
  HpackDecoder,
  HpackEncoder,
  HpackError,
  decodeInteger,
  encodeInteger,
  huffmanDecode,
  huffmanEncode,
} from './hpack.js';

const hex = (s: string) =>
  Uint8Array.from(
    s
      .replace(/\s+/g, '')
      .match(/../g)!
      .map((h) => parseInt(h, 16)),
  );
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

const REQ1: [string, string][] = [
  [':method', 'GET'],
  [':scheme', 'http'],
  [':path', '/'],
  [':authority', 'www.example.com'],
];
const REQ2: [string, string][] = [...REQ1, ['cache-control', 'no-cache']];
const REQ3: [string, string][] = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':path', '/index.html'],
  [':authority', 'www.example.com'],
  ['custom-key', 'custom-value'],
];

// C.3 (plain literals) and C.4 (Huffman): the same three requests on one connection.
const C3 = [
  '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
  '8286 84be 5808 6e6f 2d63 6163 6865',
  '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
];
const C4 = [
  '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
  '8286 84be 5886 a8eb 1064 9cbf',
  '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
];

describe('RFC 7541 Appendix C', () => {
  it('C.1 integers', () => {
    const out: number[] = [];
    encodeInteger(out, 10, 5, 0);
    encodeInteger(out, 1337, 5, 0);
    encodeInteger(out, 42, 8, 0);
    expect(out).toEqual([0x0a, 0x1f, 0x9a, 0x0a, 0x2a]);
    expect(decodeInteger(Uint8Array.from([0x1f, 0x9a, 0x0a]), 0, 5)).toEqual([1337, 3]);
  });

  for (const [name, vectors, huffman] of [
    ['C.3 without Huffman', C3, false],
    ['C.4 with Huffman', C4, true],
  ] as const) {
    it(`${name}: decoder and encoder agree with the spec bytes`, () => {
      const d = new HpackDecoder();
      const e = new HpackEncoder({ huffman });
      [REQ1, REQ2, REQ3].forEach((req, i) => {
        expect(d.decode(hex(vectors[i]!))).toEqual(req);
        expect(toHex(e.encode(req))).toBe(vectors[i]!.replace(/\s+/g, ''));
      });
      expect(d.table.size).toBe(164);
      expect(e.table.size).toBe(164);
      expect(d.table.entries).toEqual([
        ['custom-key', 'custom-value'],
        ['cache-control', 'no-cache'],
        [':authority', 'www.example.com'],
      ]);
    });
  }

  it('C.5 responses without Huffman, 256-octet table with eviction', () => {
    const d = new HpackDecoder(256);
    const r1 = d.decode(
      hex(
        '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      ),
    );
    expect(r1).toEqual([
      [':status', '302'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
      ['location', 'https://www.example.com'],
    ]);
    expect(d.table.size).toBe(222);
    const r2 = d.decode(hex('4803 3330 37c1 c0bf'));
    expect(r2).toEqual([
      [':status', '307'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
      ['location', 'https://www.example.com'],
    ]);
    expect(d.table.size).toBe(222);
    const r3 = d.decode(
      hex(
        '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
      ),
    );
    expect(r3).toEqual([
      [':status', '200'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
      ['location', 'https://www.example.com'],
      ['content-encoding', 'gzip'],
      ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
    ]);
    expect(d.table.size).toBe(215);
  });

  it('C.6 responses with Huffman, 256-octet table with eviction', () => {
    const d = new HpackDecoder(256);
    const r1 = d.decode(
      hex(
        '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
      ),
    );
    expect(r1).toEqual([
      [':status', '302'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
      ['location', 'https://www.example.com'],
    ]);
    expect(d.table.size).toBe(222);
    expect(d.decode(hex('4883 640e ffc1 c0bf'))).toEqual([
      [':status', '307'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
      ['location', 'https://www.example.com'],
    ]);
    const r3 = d.decode(
      hex(
        '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
      ),
    );
    expect(r3).toEqual([
      [':status', '200'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
      ['location', 'https://www.example.com'],
      ['content-encoding', 'gzip'],
      ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
    ]);
    expect(d.table.size).toBe(215);
  });
});

describe('Huffman', () => {
  it('refuses bad padding and EOS', () => {
    const good = huffmanEncode(new TextEncoder().encode('www.example.com'));
    expect(toHex(good)).toBe('f1e3c2e5f23a6ba0ab90f4ff');
    const bad = good.slice();
    bad[bad.length - 1]! &= 0xfe;
    expect(huffmanDecode(bad)).toBeInstanceOf(HpackError);
    expect(huffmanDecode(Uint8Array.from([0xff, 0xff, 0xff, 0xff]))).toBeInstanceOf(HpackError);
    expect(huffmanDecode(Uint8Array.from([0xff]))).toBeInstanceOf(HpackError); // 8 bits of padding
  });
  it('round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        expect(huffmanDecode(huffmanEncode(b))).toEqual(b);
      }),
      fuzz(500),
    );
  });
});

describe('HPACK fuzz', () => {
  it('encoder/decoder round-trip random header lists across many blocks', () => {
    const field = fc.tuple(
      fc.stringMatching(/^[a-z0-9-]{1,20}$/),
      fc.string({ maxLength: 60, unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)) }),
    );
    fc.assert(
      fc.property(fc.array(fc.array(field, { maxLength: 12 }), { maxLength: 8 }), fc.boolean(), (blocks, huff) => {
        const e = new HpackEncoder({ huffman: huff ? true : 'auto' });
        const d = new HpackDecoder();
        for (const b of blocks) expect(d.decode(e.encode(b))).toEqual(b);
      }),
      fuzz(300),
    );
  });

  it('random and mutated blocks never throw: a list or an HpackError', () => {
    const valid = [...C3, ...C4].map(hex);
    const arb = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc
        .tuple(
          fc.constantFrom(...valid),
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
          fc.nat(60),
        )
        .map(([v, muts, cut]) => {
          const b = v.slice(0, Math.max(1, v.length - (cut % v.length)));
          for (const [i, x] of muts) b[i % b.length] = x;
          return b;
        }),
    );
    fc.assert(
      fc.property(fc.array(arb, { minLength: 1, maxLength: 4 }), (blocks) => {
        const d = new HpackDecoder();
        for (const b of blocks) {
          const r = d.decode(b);
          expect(Array.isArray(r) || r instanceof HpackError).toBe(true);
          expect(d.table.size).toBeLessThanOrEqual(d.table.maxSize);
        }
      }),
      fuzz(3000),
    );
  });

  it('refuses an oversized integer and a size update above our setting', () => {
    expect(new HpackDecoder().decode(hex('1fffffffffff0f'))).toBeInstanceOf(HpackError);
    expect(new HpackDecoder(4096).decode(hex('3fe21f'))).toBeInstanceOf(HpackError); // size update to 4097
    expect(new HpackDecoder(4096).decode(hex('3fe11f'))).toEqual([]); // 4096 is allowed
  });
});
