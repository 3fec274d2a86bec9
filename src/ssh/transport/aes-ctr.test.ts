import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../../platform/fuzz.testkit.js';
import { seededRandom } from '../../crypto/random.js';
import { aes128Ctr, aes192Ctr, aes256Ctr, MACS } from './aes-ctr.js';
import type { CipherSpec, PacketCipher } from './cipher.js';
import { PacketDecoder, PacketEncoder, SshProtocolError } from './packet.js';

const rnd = seededRandom(11);
const SPECS: CipherSpec[] = [aes128Ctr, aes192Ctr, aes256Ctr];
const PAIRS = SPECS.flatMap((c) => Object.values(MACS).map((m) => [c, m] as const));

function pair(c: CipherSpec, macName: string, seed = 1): [PacketCipher, PacketCipher] {
  const r = seededRandom(seed);
  const key = r(c.keyLength);
  const iv = r(16);
  const mac = { spec: MACS[macName], key: r(MACS[macName].keyLength) };
  return [c.create(key, iv, mac), c.create(key, iv, mac)];
}

function link(c: CipherSpec, macName: string) {
  const [a, b] = pair(c, macName);
  const enc = new PacketEncoder(rnd);
  const dec = new PacketDecoder();
  enc.cipher = a;
  dec.cipher = b;
  return { enc, dec };
}

describe('aes-ctr with HMAC (MAC-then-encrypt and encrypt-then-MAC)', () => {
  for (const [c, m] of PAIRS) {
    it(`${c.name} + ${m.name}: packets of any size arrive intact whatever the chunking`, () => {
      const { enc, dec } = link(c, m.name);
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
          fc.integer({ min: 1, max: 64 }),
          (payloads, chunk) => {
            const wire = payloads.map((p) => enc.encode(p));
            const all = new Uint8Array(wire.reduce((n, w) => n + w.length, 0));
            let off = 0;
            for (const w of wire) {
              // Alignment: whole packet (MtE) or everything after the length (EtM) is a multiple of 16.
              expect((w.length - m.tagLength - (m.etm ? 4 : 0)) % 16).toBe(0);
              all.set(w, off);
              off += w.length;
            }
            const got: Uint8Array[] = [];
            for (let i = 0; i < all.length; i += chunk) {
              dec.push(all.slice(i, i + chunk));
              let p;
              while ((p = dec.next())) got.push(p.slice());
            }
            expect(got).toEqual(payloads);
          },
        ),
        fuzz(40),
      );
    });
  }

  it('any flipped bit ends in an SshProtocolError (never a wrong payload, never another error)', () => {
    for (const [c, m] of PAIRS) {
      const [a] = pair(c, m.name, 3);
      const enc = new PacketEncoder(rnd);
      enc.cipher = a;
      const payload = new TextEncoder().encode('hello, forged world');
      const wire = enc.encode(payload);
      fc.assert(
        fc.property(fc.nat(wire.length * 8 - 1), (bit) => {
          const [, b] = pair(c, m.name, 3);
          const dec = new PacketDecoder();
          dec.cipher = b;
          const bad = wire.slice();
          bad[bit >> 3] ^= 1 << (bit & 7);
          dec.push(bad);
          // A flipped length bit may only make the decoder wait for bytes that never come.
          let out: Uint8Array | null = null;
          try {
            out = dec.next();
          } catch (e) {
            expect(e).toBeInstanceOf(SshProtocolError);
            return;
          }
          expect(out).toBeNull();
        }),
        fuzz(200),
      );
    }
  });

  it('a forged MAC says so; a packet with bad padding (valid MAC) is refused too', () => {
    for (const [c, m] of PAIRS) {
      const { enc, dec } = link(c, m.name);
      const wire = enc.encode(new Uint8Array(20));
      wire[wire.length - 1] ^= 0x80;
      dec.push(wire);
      expect(() => dec.next()).toThrow(/message authentication failed/);

      // padding_length 2 (< 4, RFC 4253 §6) under a correct MAC.
      const [a, b] = pair(c, m.name, 5);
      const raw = new Uint8Array(m.etm ? 4 + 16 : 32);
      const len = raw.length - 4;
      raw[3] = len;
      raw[4] = 2;
      const d = new PacketDecoder();
      d.cipher = b;
      d.push(a.seal(0, raw));
      expect(() => d.next()).toThrow(/bad padding length 2/);
    }
  });

  it('fuzz: random bytes under every pair give "need more" or SshProtocolError only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), fc.nat(PAIRS.length - 1), (bytes, i) => {
        const [c, m] = PAIRS[i];
        const dec = new PacketDecoder();
        dec.cipher = pair(c, m.name, 9)[1];
        dec.push(bytes);
        try {
          while (dec.next());
        } catch (e) {
          if (!(e instanceof SshProtocolError)) throw e;
        }
      }),
      fuzz(2000),
    );
  });
});
