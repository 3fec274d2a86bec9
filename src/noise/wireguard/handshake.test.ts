// Known-answer tests: our handshake (src/noise/wireguard, on @noble) against an independent
// from-spec recomputation on node:crypto (kat-reference.testkit.ts), for fixed keys, ephemerals,
// timestamp and indices.
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../crypto/bytes.js';
import { hash, mac } from '../../crypto/blake2s.js';
import { xseal } from '../../crypto/aead.js';
import { VirtualClock } from '../../platform/clock.js';
import { CookieChecker, CookieGenerator, mac1Key } from './cookie.js';
import {
  consumeInitiation,
  consumeResponse,
  createInitiation,
  createResponse,
  INITIAL_CHAIN_KEY,
  INITIAL_HASH,
  tai64n,
  timestampAfter,
} from './handshake.js';
import {
  decodeCookieReply,
  decodeInitiation,
  decodeResponse,
  encodeCookieReply,
  encodeInitiation,
  encodeResponse,
} from './messages.js';
import {
  AEAD,
  AEAD_OPEN,
  BLAKE2S,
  cat,
  DH,
  HASH,
  KDF,
  MAC,
  X25519_PUB,
  XAEAD,
  XAEAD_OPEN,
} from './kat-reference.testkit.js';
import { nobleEngine } from './aead-batch.js';
import { importWebCryptoX25519Key, RawX25519Key, type StaticX25519Key } from '../../crypto/static-key.js';

const clamp = (k: Uint8Array) => {
  k[0] &= 248;
  k[31] = (k[31] & 127) | 64;
  return k;
};
const fixed = (seed: number) => clamp(new Uint8Array(32).map((_, i) => (seed * 31 + i * 7) & 0xff));
const le32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};

const initiatorStatic = fixed(1);
const responderStatic = fixed(2);
const initiatorEphemeral = fixed(3);
const responderEphemeral = fixed(4);
const initiatorPub = X25519_PUB(initiatorStatic);
const responderPub = X25519_PUB(responderStatic);
const WALL_MS = 1_700_000_000_123;
const SENDER_I = 0x11223344;
const SENDER_R = 0xa1b2c3d4;

/** The paper's §5.4.2/§5.4.3 computation, step by step, on node:crypto. */
function referenceHandshake() {
  const Q = new Uint8Array(32);
  let C = HASH(utf8.encode('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s'));
  let H = HASH(C, utf8.encode('WireGuard v1 zx2c4 Jason@zx2c4.com'));
  const initialC = C;
  const initialH = H;
  H = HASH(H, responderPub);
  const Epub_i = X25519_PUB(initiatorEphemeral);
  [C] = KDF(C, Epub_i, 1);
  H = HASH(H, Epub_i);
  let k: Uint8Array;
  [C, k] = KDF(C, DH(initiatorEphemeral, responderPub), 2);
  const encStatic = AEAD(k, 0n, initiatorPub, H);
  H = HASH(H, encStatic);
  [C, k] = KDF(C, DH(initiatorStatic, responderPub), 2);
  // TAI64N: 2^62 + 10 + seconds, then nanoseconds with the low 24 bits cleared (wireguard-go tai64n).
  const ts = new Uint8Array(12);
  const dv = new DataView(ts.buffer);
  dv.setBigUint64(0, (1n << 62n) + 10n + BigInt(Math.floor(WALL_MS / 1000)));
  dv.setUint32(8, ((WALL_MS % 1000) * 1_000_000) & 0xff000000);
  const encTs = AEAD(k, 0n, ts, H);
  H = HASH(H, encTs);
  const initBody = cat(Uint8Array.of(1, 0, 0, 0), le32(SENDER_I), Epub_i, encStatic, encTs);
  const initiation = cat(initBody, MAC(HASH(utf8.encode('mac1----'), responderPub), initBody), new Uint8Array(16));

  const Epub_r = X25519_PUB(responderEphemeral);
  [C] = KDF(C, Epub_r, 1);
  H = HASH(H, Epub_r);
  [C] = KDF(C, DH(responderEphemeral, Epub_i), 1);
  [C] = KDF(C, DH(responderEphemeral, initiatorPub), 1);
  let tau: Uint8Array;
  [C, tau, k] = KDF(C, Q, 3);
  H = HASH(H, tau);
  const encEmpty = AEAD(k, 0n, new Uint8Array(0), H);
  const respBody = cat(Uint8Array.of(2, 0, 0, 0), le32(SENDER_R), le32(SENDER_I), Epub_r, encEmpty);
  const response = cat(respBody, MAC(HASH(utf8.encode('mac1----'), initiatorPub), respBody), new Uint8Array(16));
  const [initiatorSend, initiatorRecv] = KDF(C, new Uint8Array(0), 2);
  return { initialC, initialH, ts, initiation, response, initiatorSend, initiatorRecv };
}

describe('WireGuard handshake known answers (vs. an independent node:crypto recomputation)', () => {
  const ref = referenceHandshake();
  const clock = new VirtualClock();

  it('the reference primitives agree with published vectors (so they can judge ours)', () => {
    // RFC 7693 Appendix B: BLAKE2s-256("abc").
    expect(toHex(BLAKE2S(new Uint8Array(0), utf8.encode('abc'), 32))).toBe(
      '508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982',
    );
    expect(toHex(BLAKE2S(new Uint8Array(0), utf8.encode('abc'), 32))).toBe(toHex(HASH(utf8.encode('abc'))));
    // RFC 7748 §6.1 X25519 test vector (Alice's public key).
    expect(toHex(X25519_PUB(fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')))).toBe(
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    );
    // XChaCha20-Poly1305 round trip through the HChaCha20 derivation agrees with @noble's xchacha.
    const key = fixed(9);
    const nonce = new Uint8Array(24).map((_, i) => i + 1);
    const sealed = XAEAD(key, nonce, utf8.encode('cookie!'), utf8.encode('ad'));
    expect(toHex(XAEAD_OPEN(key, nonce, sealed, utf8.encode('ad'))!)).toBe(toHex(utf8.encode('cookie!')));
    expect(toHex(sealed)).toBe(toHex(xseal(key, nonce, utf8.encode('cookie!'), utf8.encode('ad'))));
  });

  it('initial chaining key and hash', () => {
    expect(toHex(INITIAL_CHAIN_KEY)).toBe(toHex(ref.initialC));
    expect(toHex(INITIAL_HASH)).toBe(toHex(ref.initialH));
    // The well-known value of HASH("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s") quoted by WireGuard implementations.
    expect(toHex(INITIAL_CHAIN_KEY)).toBe('60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36');
  });

  it('TAI64N timestamps', () => {
    expect(toHex(tai64n(WALL_MS))).toBe(toHex(ref.ts));
    expect(toHex(tai64n(0))).toBe('400000000000000a00000000');
    expect(timestampAfter(tai64n(WALL_MS + 17), tai64n(WALL_MS))).toBe(true); // whitened to ~16.8 ms steps
    expect(timestampAfter(tai64n(WALL_MS), tai64n(WALL_MS))).toBe(false);
    expect(timestampAfter(tai64n(WALL_MS - 1000), tai64n(WALL_MS))).toBe(false);
  });
});

// The same known answers whichever implementation holds our static key: @noble over raw bytes
// (synchronous) or a non-extractable WebCrypto CryptoKey (asynchronous deriveBits).
const KEYS: [string, (k: Uint8Array) => Promise<StaticX25519Key>][] = [
  ['noble (raw bytes)', async (k) => new RawX25519Key(k)],
  ['WebCrypto (non-extractable CryptoKey)', importWebCryptoX25519Key],
];
describe.each(KEYS)('handshake messages vs. the reference, static key by %s', (_name, mk) => {
  const ref = referenceHandshake();
  const clock = new VirtualClock();
  it('initiation bytes (incl. mac1) equal the reference, and the responder consumes them', async () => {
    const { message, state } = await createInitiation({
      local: await mk(initiatorStatic),
      remoteStatic: responderPub,
      ephemeralPrivate: initiatorEphemeral.slice(),
      timestamp: tai64n(WALL_MS),
      sender: SENDER_I,
    });
    const bytes = encodeInitiation(message);
    new CookieGenerator(responderPub, clock).addMacs(bytes);
    expect(toHex(bytes)).toBe(toHex(ref.initiation));
    expect(state.localIndex).toBe(SENDER_I);

    const consumed = await consumeInitiation(await mk(responderStatic), decodeInitiation(ref.initiation)!);
    expect(consumed).not.toBeNull();
    expect(toHex(consumed!.remoteStatic)).toBe(toHex(initiatorPub));
    expect(toHex(consumed!.timestamp)).toBe(toHex(ref.ts));
    expect(consumed!.remoteIndex).toBe(SENDER_I);
  });

  it('response bytes and transport keys equal the reference on both sides', async () => {
    const responder = await mk(responderStatic);
    const consumed = (await consumeInitiation(responder, decodeInitiation(ref.initiation)!))!;
    const r = createResponse({ consumed, ephemeralPrivate: responderEphemeral.slice(), sender: SENDER_R })!;
    const bytes = encodeResponse(r.message);
    new CookieGenerator(initiatorPub, clock).addMacs(bytes);
    expect(toHex(bytes)).toBe(toHex(ref.response));
    expect(toHex(r.keys.receiveKey)).toBe(toHex(ref.initiatorSend));
    expect(toHex(r.keys.sendKey)).toBe(toHex(ref.initiatorRecv));

    const { state } = await createInitiation({
      local: await mk(initiatorStatic),
      remoteStatic: responderPub,
      ephemeralPrivate: initiatorEphemeral.slice(),
      timestamp: tai64n(WALL_MS),
      sender: SENDER_I,
    });
    const keys = (await consumeResponse(await mk(initiatorStatic), state, decodeResponse(ref.response)!))!;
    expect(toHex(keys.sendKey)).toBe(toHex(ref.initiatorSend));
    expect(toHex(keys.receiveKey)).toBe(toHex(ref.initiatorRecv));

    // First transport packet (counter 0) sealed by our data path equals the reference AEAD.
    const payload = utf8.encode('first packet');
    const sealed = await nobleEngine.cipher(keys.sendKey).seal(0, payload);
    expect(toHex(sealed)).toBe(toHex(AEAD(ref.initiatorSend, 0n, payload, new Uint8Array(0))));
    const big = 2 ** 40 + 5;
    const sealedBig = await nobleEngine.cipher(keys.sendKey).seal(big, payload);
    expect(toHex(AEAD_OPEN(ref.initiatorSend, BigInt(big), sealedBig, new Uint8Array(0))!)).toBe(toHex(payload));
  });

  it('a tampered response or initiation is rejected', async () => {
    const responder = await mk(responderStatic);
    for (const offset of [8, 40, 88, 100]) {
      const bad = ref.initiation.slice();
      bad[offset] ^= 1;
      expect(await consumeInitiation(responder, decodeInitiation(bad)!)).toBeNull();
    }
    const { state } = await createInitiation({
      local: await mk(initiatorStatic),
      remoteStatic: responderPub,
      ephemeralPrivate: initiatorEphemeral.slice(),
      timestamp: tai64n(WALL_MS),
      sender: SENDER_I,
    });
    for (const offset of [12, 44, 59]) {
      const bad = ref.response.slice();
      bad[offset] ^= 0x80;
      expect(await consumeResponse(await mk(initiatorStatic), state, decodeResponse(bad)!)).toBeNull();
    }
  });
});

describe('MAC1, MAC2 and cookie replies (vs. the reference)', () => {
  it('mac1 key and value', () => {
    expect(toHex(mac1Key(responderPub))).toBe(toHex(HASH(utf8.encode('mac1----'), responderPub)));
    const msg = new Uint8Array(116).map((_, i) => i);
    expect(toHex(mac(mac1Key(responderPub), msg))).toBe(toHex(MAC(HASH(utf8.encode('mac1----'), responderPub), msg)));
    expect(toHex(hash(msg))).toBe(toHex(HASH(msg)));
  });

  it('cookie reply: encrypted under HASH("cookie--" || responder key) with mac1 as AD; mac2 then verifies', () => {
    const clock = new VirtualClock();
    let counter = 0;
    const random = (n: number) => new Uint8Array(n).map(() => (counter++ * 13) & 0xff);
    const checker = new CookieChecker(responderPub, clock, random);
    const gen = new CookieGenerator(responderPub, clock);
    const msg = new Uint8Array(148).map((_, i) => (i * 3) & 0xff);
    gen.addMacs(msg);
    expect(checker.checkMac1(msg)).toBe(true);
    const source = utf8.encode('127.0.0.1:51820');
    expect(checker.checkMac2(msg, source)).toBe(false); // no cookie yet
    const reply = encodeCookieReply(checker.createReply(msg, 0x01020304, source));
    // Independent decryption of the reply recovers a 16-byte cookie.
    const decoded = decodeCookieReply(reply)!;
    const cookie = XAEAD_OPEN(
      HASH(utf8.encode('cookie--'), responderPub),
      decoded.nonce,
      decoded.encryptedCookie,
      msg.subarray(116, 132),
    );
    expect(cookie).not.toBeNull();
    expect(cookie!.length).toBe(16);
    expect(gen.consumeReply(decoded)).toBe(true);
    const msg2 = new Uint8Array(148).map((_, i) => (i * 5) & 0xff);
    gen.addMacs(msg2);
    expect(toHex(msg2.subarray(132))).toBe(toHex(MAC(cookie!, msg2.subarray(0, 132))));
    expect(checker.checkMac2(msg2, source)).toBe(true);
    expect(checker.checkMac2(msg2, utf8.encode('127.0.0.1:51821'))).toBe(false); // cookie is per source
    // After COOKIE_REFRESH_TIME the generator stops using the cookie and the checker's secret rotates.
    clock.advance(120_001);
    const msg3 = new Uint8Array(148);
    gen.addMacs(msg3);
    expect(toHex(msg3.subarray(132))).toBe('00000000000000000000000000000000');
    expect(checker.checkMac2(msg2, source)).toBe(false);
    // A reply that does not match our last mac1 is refused.
    const forged = checker.createReply(msg, 1, source);
    expect(gen.consumeReply(forged)).toBe(false);
  });
});
