import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { equalBytes, fromHex, toHex, fromBase64, toBase64 } from './bytes.js';
import { boxBeforeNm, boxSealAfterNm, boxOpenAfterNm, sealWithRandomNonce, openNonceAndBox } from './box.js';
import { hash, hmacBlake2s, kdf } from './blake2s.js';
import { seal, open, nonceLE, nonceBE } from './aead.js';
import { generateKeyPair, isLowOrderPoint, sharedSecret } from './x25519.js';
import { keyFromText, keyToText } from './keys.js';
import { seededRandom } from './random.js';

describe('hex', () => {
  it('property: fromHex equals the regex-and-parseInt reference on any string of hex-like characters', () => {
    const reference = (s: string): Uint8Array | 'invalid' => {
      if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) return 'invalid';
      return Uint8Array.from({ length: s.length / 2 }, (_, i) => parseInt(s.slice(2 * i, 2 * i + 2), 16));
    };
    const chars = fc.constantFrom(...'0123456789abcdefABCDEFgG:/@` xX\u00e9'.split(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: chars, maxLength: 70 }), fc.uint8Array().map(toHex)), (s) => {
        let got: Uint8Array | 'invalid';
        try {
          got = fromHex(s);
        } catch {
          got = 'invalid';
        }
        expect(got).toEqual(reference(s));
      }),
      fuzz(500),
    );
  });
});

describe('NaCl box', () => {
  // Vectors from the NaCl distribution's tests/box.c (Alice/Bob), which x/crypto/nacl/box matches.
  const aliceSk = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const bobPk = fromHex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const nonce = fromHex('69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37');
  it('derives the reference precomputed key', () => {
    expect(toHex(boxBeforeNm(aliceSk, bobPk))).toBe('1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389');
  });
  it('seals to the reference ciphertext tag and opens it', () => {
    const k = boxBeforeNm(aliceSk, bobPk);
    const m = fromHex(
      'be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffce5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb310e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f937763848645e0705',
    );
    const c = boxSealAfterNm(k, nonce, m);
    expect(toHex(c.subarray(0, 16))).toBe('f3ffc7703f9400e52a7dfb4b3d3305d9');
    expect(equalBytes(boxOpenAfterNm(k, nonce, c)!, m)).toBe(true);
    c[20] ^= 1;
    expect(boxOpenAfterNm(k, nonce, c)).toBeNull();
  });
  it('round-trips between two fresh key pairs and rejects garbage', () => {
    const rnd = seededRandom(7);
    const a = generateKeyPair(rnd);
    const b = generateKeyPair(rnd);
    const ab = boxBeforeNm(a.privateKey, b.publicKey);
    const ba = boxBeforeNm(b.privateKey, a.publicKey);
    expect(toHex(ab)).toBe(toHex(ba));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 80 }), (msg, junk) => {
        const sealed = sealWithRandomNonce(ab, msg, rnd);
        expect(equalBytes(openNonceAndBox(ba, sealed)!, msg)).toBe(true);
        expect(openNonceAndBox(ba, junk)).toBeNull();
      }),
      fuzz(100),
    );
  });
});

describe('BLAKE2s, HMAC and the Noise KDF', () => {
  it('hashes the RFC 7693 "abc" vector', () => {
    expect(toHex(hash(new TextEncoder().encode('abc')))).toBe(
      '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982',
    );
  });
  it('KDF outputs are HMAC chains (Noise spec §4.3)', () => {
    const ck = new Uint8Array(32).fill(1);
    const input = new Uint8Array(32).fill(2);
    const [t1, t2, t3] = kdf(ck, input, 3);
    const prk = hmacBlake2s(ck, input);
    expect(toHex(t1)).toBe(toHex(hmacBlake2s(prk, Uint8Array.of(1))));
    expect(toHex(t2)).toBe(toHex(hmacBlake2s(prk, t1, Uint8Array.of(2))));
    expect(toHex(t3)).toBe(toHex(hmacBlake2s(prk, t2, Uint8Array.of(3))));
  });
});

describe('ChaCha20-Poly1305', () => {
  it('matches RFC 8439 §2.8.2', () => {
    const key = fromHex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const nonce = fromHex('070000004041424344454647');
    const ad = fromHex('50515253c0c1c2c3c4c5c6c7');
    const pt = new TextEncoder().encode(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    const ct = seal(key, nonce, pt, ad);
    expect(toHex(ct.subarray(ct.length - 16))).toBe('1ae10b594f09e26a7e902ecbd0600691');
    expect(equalBytes(open(key, nonce, ct, ad)!, pt)).toBe(true);
    ct[0] ^= 0x80;
    expect(open(key, nonce, ct, ad)).toBeNull();
    expect(open(key, nonce, new Uint8Array(3), ad)).toBeNull();
  });
  it('lays out WireGuard (LE) and controlbase (BE) nonces', () => {
    expect(toHex(nonceLE(1))).toBe('000000000100000000000000');
    expect(toHex(nonceBE(1))).toBe('000000000000000000000001');
  });
});

describe('X25519 and key text', () => {
  it('matches RFC 7748 §6.1', () => {
    const a = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const B = fromHex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    expect(toHex(sharedSecret(a, B))).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
    expect(() => sharedSecret(a, new Uint8Array(32))).toThrow(/low-order|invalid/);
  });
  it('isLowOrderPoint finds exactly the keys whose X25519 is all-zero (checked against the DH)', () => {
    const a = generateKeyPair(seededRandom(5)).privateKey;
    const lowOrder = [
      '00',
      '01',
      'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
      '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
    ];
    for (const h of lowOrder) {
      const k = fromHex(h.padEnd(64, '0'));
      for (const key of [k, Uint8Array.from(k, (b, i) => (i === 31 ? b | 0x80 : b))]) {
        expect(isLowOrderPoint(key)).toBe(true);
        expect(() => sharedSecret(a, key)).toThrow();
      }
    }
    const r = seededRandom(6);
    for (let i = 0; i < 200; i++) {
      const k = r(32);
      expect(isLowOrderPoint(k)).toBe(false);
      expect(() => sharedSecret(a, k)).not.toThrow();
    }
  });
  it('round-trips nodekey text and base64, and rejects the wrong prefix', () => {
    const k = seededRandom(3)(32);
    expect(equalBytes(keyFromText('nodekey', keyToText('nodekey', k)), k)).toBe(true);
    expect(equalBytes(fromBase64(toBase64(k)), k)).toBe(true);
    expect(() => keyFromText('mkey', keyToText('nodekey', k))).toThrow(/mkey/);
  });
});
