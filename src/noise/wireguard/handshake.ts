// WireGuard's Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s handshake, as pure functions over explicit
// state. Spec: the WireGuard paper §5.4.2–§5.4.5; order of operations as in wireguard-go
// device/noise-protocol.go (CreateMessageInitiation, ConsumeMessageInitiation,
// CreateMessageResponse, ConsumeMessageResponse, BeginSymmetricSession). MACs are added by cookie.ts.
//
// Our static private key may be a WebCrypto CryptoKey whose X25519 is asynchronous
// (crypto/static-key.ts). So each step that needs it takes that DH result as an input and stays
// a pure synchronous function; the caller (device.ts) awaits the DH between steps and decides
// what the world looks like afterwards. The async wrappers at the end compose the steps.
import { utf8, wipe } from '../../crypto/bytes.js';
import { hash, kdf } from '../../crypto/blake2s.js';
import { open, seal } from '../../crypto/aead.js';
import type { StaticX25519Key } from '../../crypto/static-key.js';
import { publicKeyOf, sharedSecret } from '../../crypto/x25519.js';
import type { Initiation, Response } from './messages.js';

export const CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
export const IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
export const INITIAL_CHAIN_KEY = hash(utf8.encode(CONSTRUCTION));
export const INITIAL_HASH = hash(INITIAL_CHAIN_KEY, utf8.encode(IDENTIFIER));

const ZERO_NONCE = new Uint8Array(12);
const NO_PSK = new Uint8Array(32); // Tailscale configures no preshared key: Q = 0^32.
const ZERO16 = new Uint8Array(16);

/** What the initiator keeps between sending the initiation and receiving the response. */
export interface InitiatorState {
  hash: Uint8Array;
  chainKey: Uint8Array;
  ephemeralPrivate: Uint8Array;
  remoteStatic: Uint8Array;
  localIndex: number;
}

/** What the responder learns from a valid initiation. */
export interface ConsumedInitiation {
  hash: Uint8Array;
  chainKey: Uint8Array;
  remoteStatic: Uint8Array;
  remoteEphemeral: Uint8Array;
  remoteIndex: number;
  /** The decrypted 12-byte TAI64N timestamp (replay protection is the caller's job). */
  timestamp: Uint8Array;
}

export interface SessionKeys {
  sendKey: Uint8Array;
  receiveKey: Uint8Array;
}

const mixHash = (h: Uint8Array, data: Uint8Array) => hash(h, data);

/** TAI64N label for a wall-clock time in ms since the Unix epoch, whitened to 2^24 ns like wireguard-go's tai64n. */
export function tai64n(unixMs: number): Uint8Array {
  const out = new Uint8Array(12);
  const v = new DataView(out.buffer);
  const secs = Math.floor(unixMs / 1000);
  const nanos = Math.floor((unixMs - secs * 1000) * 1e6);
  v.setBigUint64(0, 0x400000000000000an + BigInt(secs));
  v.setUint32(8, (nanos & ~0xffffff) >>> 0);
  return out;
}

/** Byte-wise comparison of two TAI64N stamps: true when a is strictly later than b. */
export function timestampAfter(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 12; i++) {
    if (a[i] !== b[i]) return a[i] > b[i];
  }
  return false;
}

/**
 * Initiator, message 1 (paper §5.4.2). Returns the message with zero MACs and the state to keep.
 * `staticStatic` = DH(our static, their static), fixed per peer (wireguard-go keeps it as
 * precomputedStaticStatic). Throws only on a low-order remote static key (a configuration error).
 */
export function initiationMessage(p: {
  localPublic: Uint8Array;
  staticStatic: Uint8Array;
  remoteStatic: Uint8Array;
  ephemeralPrivate: Uint8Array;
  timestamp: Uint8Array;
  sender: number;
}): { message: Initiation; state: InitiatorState } {
  let h = mixHash(INITIAL_HASH, p.remoteStatic);
  let ck = INITIAL_CHAIN_KEY;
  const ephemeral = publicKeyOf(p.ephemeralPrivate);
  [ck] = kdf(ck, ephemeral, 1);
  h = mixHash(h, ephemeral);
  let key: Uint8Array;
  [ck, key] = kdf(ck, sharedSecret(p.ephemeralPrivate, p.remoteStatic), 2);
  const encryptedStatic = seal(key, ZERO_NONCE, p.localPublic, h);
  h = mixHash(h, encryptedStatic);
  [ck, key] = kdf(ck, p.staticStatic, 2);
  const encryptedTimestamp = seal(key, ZERO_NONCE, p.timestamp, h);
  h = mixHash(h, encryptedTimestamp);
  wipe(key);
  return {
    message: { sender: p.sender, ephemeral, encryptedStatic, encryptedTimestamp, mac1: ZERO16, mac2: ZERO16 },
    state: {
      hash: h,
      chainKey: ck,
      ephemeralPrivate: p.ephemeralPrivate,
      remoteStatic: p.remoteStatic,
      localIndex: p.sender,
    },
  };
}

/** The responder's state after decrypting the initiator's static key (the first half of message 1). */
export interface InitiationStatic {
  hash: Uint8Array;
  chainKey: Uint8Array;
  remoteStatic: Uint8Array;
}

/**
 * Responder, message 1, first half: `es` = DH(our static, msg.ephemeral). Null when the static
 * key does not decrypt. The caller looks up the peer by `remoteStatic` and gets its static-static.
 */
export function openInitiationStatic(
  localPublic: Uint8Array,
  msg: Initiation,
  es: Uint8Array,
): InitiationStatic | null {
  let h = mixHash(INITIAL_HASH, localPublic);
  h = mixHash(h, msg.ephemeral);
  let [ck] = kdf(INITIAL_CHAIN_KEY, msg.ephemeral, 1);
  let key: Uint8Array;
  [ck, key] = kdf(ck, es, 2);
  const remoteStatic = open(key, ZERO_NONCE, msg.encryptedStatic, h);
  wipe(key);
  if (!remoteStatic || remoteStatic.length !== 32) return null;
  return { hash: mixHash(h, msg.encryptedStatic), chainKey: ck, remoteStatic };
}

/** Responder, message 1, second half: `staticStatic` = DH(our static, half.remoteStatic). Null when the timestamp does not decrypt. */
export function openInitiationTimestamp(
  half: InitiationStatic,
  msg: Initiation,
  staticStatic: Uint8Array,
): ConsumedInitiation | null {
  const [ck, key] = kdf(half.chainKey, staticStatic, 2);
  const timestamp = open(key, ZERO_NONCE, msg.encryptedTimestamp, half.hash);
  wipe(key);
  if (!timestamp) return null;
  const h = mixHash(half.hash, msg.encryptedTimestamp);
  return {
    hash: h,
    chainKey: ck,
    remoteStatic: half.remoteStatic,
    remoteEphemeral: msg.ephemeral,
    remoteIndex: msg.sender,
    timestamp,
  };
}

/** Responder, message 2 (paper §5.4.3), and the transport keys it now holds (§5.4.5). */
export function createResponse(p: {
  consumed: ConsumedInitiation;
  ephemeralPrivate: Uint8Array;
  sender: number;
  presharedKey?: Uint8Array;
}): { message: Response; keys: SessionKeys } | null {
  try {
    const c = p.consumed;
    const ephemeral = publicKeyOf(p.ephemeralPrivate);
    let h = mixHash(c.hash, ephemeral);
    let [ck] = kdf(c.chainKey, ephemeral, 1);
    [ck] = kdf(ck, sharedSecret(p.ephemeralPrivate, c.remoteEphemeral), 1);
    [ck] = kdf(ck, sharedSecret(p.ephemeralPrivate, c.remoteStatic), 1);
    const [ck2, tau, key] = kdf(ck, p.presharedKey ?? NO_PSK, 3);
    h = mixHash(h, tau);
    const encryptedNothing = seal(key, ZERO_NONCE, new Uint8Array(0), h);
    // §5.4.5: responder receives with the first key, sends with the second.
    const [receiveKey, sendKey] = kdf(ck2, new Uint8Array(0), 2);
    wipe(key);
    wipe(p.ephemeralPrivate);
    return {
      message: { sender: p.sender, receiver: c.remoteIndex, ephemeral, encryptedNothing, mac1: ZERO16, mac2: ZERO16 },
      keys: { sendKey, receiveKey },
    };
  } catch {
    return null;
  }
}

/**
 * Initiator, message 2: authenticates the transcript and derives the transport keys. `se` =
 * DH(our static, msg.ephemeral); `state.ephemeralPrivate` must still be intact.
 */
export function openResponse(
  state: InitiatorState,
  msg: Response,
  se: Uint8Array,
  presharedKey?: Uint8Array,
): SessionKeys | null {
  try {
    let h = mixHash(state.hash, msg.ephemeral);
    let [ck] = kdf(state.chainKey, msg.ephemeral, 1);
    [ck] = kdf(ck, sharedSecret(state.ephemeralPrivate, msg.ephemeral), 1);
    [ck] = kdf(ck, se, 1);
    const [ck2, tau, key] = kdf(ck, presharedKey ?? NO_PSK, 3);
    h = mixHash(h, tau);
    const ok = open(key, ZERO_NONCE, msg.encryptedNothing, h);
    wipe(key);
    if (!ok) return null;
    const [sendKey, receiveKey] = kdf(ck2, new Uint8Array(0), 2);
    return { sendKey, receiveKey };
  } catch {
    return null;
  }
}

// ---- the steps composed, for callers with nothing to decide between them (tests, tools) ------

/** Initiator, message 1, with our static key object. */
export async function createInitiation(p: {
  local: StaticX25519Key;
  remoteStatic: Uint8Array;
  ephemeralPrivate: Uint8Array;
  timestamp: Uint8Array;
  sender: number;
}): Promise<{ message: Initiation; state: InitiatorState }> {
  const staticStatic = await p.local.dh(p.remoteStatic);
  try {
    return initiationMessage({ ...p, localPublic: p.local.publicKey, staticStatic });
  } finally {
    wipe(staticStatic);
  }
}

/** Responder, message 1. Null when it does not decrypt (or carries a low-order key). */
export async function consumeInitiation(local: StaticX25519Key, msg: Initiation): Promise<ConsumedInitiation | null> {
  try {
    const half = openInitiationStatic(local.publicKey, msg, await local.dh(msg.ephemeral));
    return half && openInitiationTimestamp(half, msg, await local.dh(half.remoteStatic));
  } catch {
    return null; // low-order ephemeral or static point
  }
}

/** Initiator, message 2, with our static key object. */
export async function consumeResponse(
  local: StaticX25519Key,
  state: InitiatorState,
  msg: Response,
  presharedKey?: Uint8Array,
): Promise<SessionKeys | null> {
  let se: Uint8Array;
  try {
    se = await local.dh(msg.ephemeral);
  } catch {
    return null;
  }
  return openResponse(state, msg, se, presharedKey);
}
