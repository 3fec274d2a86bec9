import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex } from './bytes.js';
import { seededRandom } from './random.js';
import {
  asStaticKey,
  fromStoredKey,
  generateStaticX25519Key,
  generateWebCryptoX25519Key,
  importWebCryptoX25519Key,
  isStoredKey,
  RawX25519Key,
  toStoredKey,
  webCryptoX25519Available,
  WebCryptoX25519Key,
  type StaticX25519Key,
} from './static-key.js';
import { generateKeyPair, publicKeyOf } from './x25519.js';

// RFC 7748 §6.1 (Alice and Bob) and §5.2 (first scalar-multiplication vector).
const ALICE = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
const ALICE_PUB = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
const BOB = fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
const BOB_PUB = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
const SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
const V1_SCALAR = fromHex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4');
const V1_U = fromHex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c');
const V1_OUT = 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552';
const LOW_ORDER = fromHex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800');

const dh = async (k: StaticX25519Key, p: Uint8Array) => toHex(await k.dh(p));

describe('static X25519 keys', () => {
  it('this runtime has WebCrypto X25519 (Node 20+), so both implementations are under test', async () => {
    expect(await webCryptoX25519Available()).toBe(true);
  });

  it('both implementations give the RFC 7748 §6.1 public keys and shared secret', async () => {
    for (const make of [(k: Uint8Array) => new RawX25519Key(k), importWebCryptoX25519Key]) {
      const a = await make(ALICE);
      const b = await make(BOB);
      expect(toHex(a.publicKey)).toBe(ALICE_PUB);
      expect(toHex(b.publicKey)).toBe(BOB_PUB);
      expect(await dh(a, fromHex(BOB_PUB))).toBe(SHARED);
      expect(await dh(b, fromHex(ALICE_PUB))).toBe(SHARED);
    }
  });

  it('both give the RFC 7748 §5.2 vector for an unclamped scalar', async () => {
    expect(await dh(new RawX25519Key(V1_SCALAR), V1_U)).toBe(V1_OUT);
    expect(await dh(await importWebCryptoX25519Key(V1_SCALAR), V1_U)).toBe(V1_OUT);
  });

  it('WebCrypto and noble agree on random keys, in both directions', async () => {
    const rnd = seededRandom(11);
    await fc.assert(
      fc.asyncProperty(fc.integer(), async () => {
        const raw = generateKeyPair(rnd);
        const wc = await generateWebCryptoX25519Key();
        const viaNoble = await dh(new RawX25519Key(raw.privateKey), wc.publicKey);
        expect(await dh(wc, raw.publicKey)).toBe(viaNoble);
        // The same private key in both forms computes the same secret with a third party.
        const third = generateKeyPair(rnd).publicKey;
        const imported = await importWebCryptoX25519Key(raw.privateKey);
        expect(await dh(imported, third)).toBe(await dh(new RawX25519Key(raw.privateKey), third));
      }),
      { numRuns: 20 },
    );
  });

  it('both refuse a low-order peer point (an all-zero secret) and a wrong-length key', async () => {
    const raw = new RawX25519Key(ALICE);
    const wc = await importWebCryptoX25519Key(ALICE);
    const refused = /^x25519: (invalid|low-order)/;
    for (const bad of [LOW_ORDER, new Uint8Array(32), new Uint8Array(31)]) {
      expect(() => raw.dh(bad)).toThrow(refused);
      await expect(wc.dh(bad)).rejects.toThrow(refused);
    }
  });

  it('keys made or imported for custody are non-extractable CryptoKeys', async () => {
    const k = await generateStaticX25519Key('cryptokey', seededRandom(1));
    expect(k).toBeInstanceOf(WebCryptoX25519Key);
    const ck = (k as WebCryptoX25519Key).privateKey;
    expect(ck.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('pkcs8', ck)).rejects.toThrow();
    const imported = await importWebCryptoX25519Key(ALICE);
    expect(imported.privateKey.extractable).toBe(false);
    expect(await generateStaticX25519Key('raw', seededRandom(1))).toBeInstanceOf(RawX25519Key);
  });

  it('stored forms: raw is hex (as profiles always kept it), a CryptoKey stays itself', async () => {
    const raw = new RawX25519Key(ALICE);
    expect(toStoredKey(raw)).toBe(toHex(ALICE));
    const wc = await generateWebCryptoX25519Key();
    const stored = toStoredKey(wc);
    expect(isStoredKey(stored)).toBe(true);
    expect(isStoredKey(toHex(ALICE))).toBe(true);
    expect(isStoredKey('zz')).toBe(false);
    expect(isStoredKey({ kind: 'webcrypto-x25519', privateKey: null, publicKey: new Uint8Array(32) })).toBe(false);
    // Structured clone (what IndexedDB does) keeps a CryptoKey, and non-extractable stays so.
    const cloned = structuredClone(stored) as typeof stored;
    const back = await fromStoredKey(cloned, 'cryptokey');
    expect(back.migrated).toBe(false);
    expect((back.key as WebCryptoX25519Key).privateKey.extractable).toBe(false);
    const peer = generateKeyPair(seededRandom(3)).publicKey;
    expect(await dh(back.key, peer)).toBe(await dh(wc, peer));
  });

  it('migrates raw bytes into a non-extractable CryptoKey with the same public key; raw custody keeps bytes', async () => {
    const hex = toHex(ALICE);
    const m = await fromStoredKey(hex, 'cryptokey');
    expect(m.migrated).toBe(true);
    expect(m.key).toBeInstanceOf(WebCryptoX25519Key);
    expect(toHex(m.key.publicKey)).toBe(ALICE_PUB);
    expect(await dh(m.key, fromHex(BOB_PUB))).toBe(SHARED);
    const r = await fromStoredKey(hex, 'raw');
    expect(r.migrated).toBe(false);
    expect(r.key).toBeInstanceOf(RawX25519Key);
    expect(toHex(r.key.publicKey)).toBe(toHex(publicKeyOf(ALICE)));
  });

  it('asStaticKey wraps bytes and passes key objects through', async () => {
    const wc = await generateWebCryptoX25519Key();
    expect(asStaticKey(wc)).toBe(wc);
    expect(toHex(asStaticKey(ALICE).publicKey)).toBe(ALICE_PUB);
  });
});
