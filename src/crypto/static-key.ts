// Long-lived X25519 private keys (the node key and the machine key) behind one small interface,
// so the protocols never need the private bytes: a WebCrypto key whose private half is a
// non-extractable CryptoKey where the engine has X25519 in WebCrypto (W3C "Secure Curves in the
// Web Cryptography API"), else @noble over raw bytes (Node.js files, engines without it).
// WebCrypto's deriveBits is asynchronous, so dh() may return a promise: the handshakes await it,
// the per-packet data path never calls it.
import { fromHex, isAllZero, toHex } from './bytes.js';
import type { RandomSource } from './random.js';
import { generatePrivateKey, publicKeyOf, sharedSecret } from './x25519.js';

export interface StaticX25519Key {
  readonly kind: 'webcrypto' | 'raw';
  readonly publicKey: Uint8Array;
  /**
   * X25519(our private key, peerPublic) (RFC 7748 §5). Fails (throws or rejects) on an all-zero
   * result — a low-order peer point — as WireGuard and Noise implementations do (RFC 7748 §6.1,
   * wireguard-go device/noise-helpers.go).
   */
  dh(peerPublic: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** @noble over the raw 32-byte private key: synchronous. */
export class RawX25519Key implements StaticX25519Key {
  readonly kind = 'raw' as const;
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
  constructor(privateKey: Uint8Array) {
    if (privateKey.length !== 32) throw new Error('x25519: private key must be 32 bytes');
    this.privateKey = privateKey.slice();
    this.publicKey = publicKeyOf(this.privateKey);
  }
  dh(peerPublic: Uint8Array): Uint8Array {
    return sharedSecret(this.privateKey, peerPublic);
  }
}

const X25519 = { name: 'X25519' } as const;

function subtle(): SubtleCrypto | undefined {
  return (globalThis as { crypto?: Crypto }).crypto?.subtle;
}

/** WebCrypto X25519 with a private CryptoKey (non-extractable when we made or imported it). */
export class WebCryptoX25519Key implements StaticX25519Key {
  readonly kind = 'webcrypto' as const;
  constructor(
    readonly privateKey: CryptoKey,
    readonly publicKey: Uint8Array,
  ) {
    if (publicKey.length !== 32) throw new Error('x25519: public key must be 32 bytes');
  }
  async dh(peerPublic: Uint8Array): Promise<Uint8Array> {
    const s = subtle()!;
    if (peerPublic.length !== 32) throw new Error('x25519: invalid public key');
    let out: Uint8Array;
    try {
      const pub = await s.importKey('raw', bytes(peerPublic), X25519, true, []);
      out = new Uint8Array(
        await s.deriveBits({ name: 'X25519', public: pub } as EcdhKeyDeriveParams, this.privateKey, 256),
      );
    } catch {
      // Secure Curves §"X25519 derive bits" itself fails on an all-zero secret; say it our way.
      throw new Error('x25519: invalid or low-order public key');
    }
    if (isAllZero(out)) throw new Error('x25519: low-order public key');
    return out;
  }
}

/** A copy backed by its own ArrayBuffer (what WebCrypto's BufferSource typing wants). */
function bytes(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(b) as Uint8Array<ArrayBuffer>;
}

let detected: Promise<boolean> | undefined;

/**
 * Whether this engine does X25519 in WebCrypto with non-extractable keys: generate two key pairs
 * and agree on a secret both ways (a feature test, never a user-agent guess; cached).
 */
export function webCryptoX25519Available(): Promise<boolean> {
  detected ??= (async () => {
    const s = subtle();
    if (!s) return false;
    try {
      const a = (await s.generateKey(X25519, false, ['deriveBits'])) as CryptoKeyPair;
      const b = (await s.generateKey(X25519, false, ['deriveBits'])) as CryptoKeyPair;
      if (a.privateKey.extractable) return false;
      const ab = new Uint8Array(
        await s.deriveBits({ name: 'X25519', public: b.publicKey } as EcdhKeyDeriveParams, a.privateKey, 256),
      );
      const ba = new Uint8Array(
        await s.deriveBits({ name: 'X25519', public: a.publicKey } as EcdhKeyDeriveParams, b.privateKey, 256),
      );
      return ab.length === 32 && toHex(ab) === toHex(ba) && !isAllZero(ab);
    } catch {
      return false;
    }
  })();
  return detected;
}

/** A fresh non-extractable WebCrypto key (caller checked webCryptoX25519Available()). */
export async function generateWebCryptoX25519Key(): Promise<WebCryptoX25519Key> {
  const s = subtle()!;
  const pair = (await s.generateKey(X25519, false, ['deriveBits'])) as CryptoKeyPair;
  const pub = new Uint8Array(await s.exportKey('raw', pair.publicKey));
  return new WebCryptoX25519Key(pair.privateKey, pub);
}

// PKCS #8 PrivateKeyInfo header for an X25519 key (RFC 8410 §7: OID 1.3.101.110, then the
// 32-byte key as an OCTET STRING inside the privateKey OCTET STRING).
const PKCS8_X25519 = fromHex('302e020100300506032b656e04220420');

/**
 * Moves raw private bytes into a non-extractable CryptoKey (the migration of a profile that
 * held raw bytes): the public key, and so the node's identity at control, stays the same.
 */
export async function importWebCryptoX25519Key(privateKey: Uint8Array): Promise<WebCryptoX25519Key> {
  if (privateKey.length !== 32) throw new Error('x25519: private key must be 32 bytes');
  const der = new Uint8Array(PKCS8_X25519.length + 32);
  der.set(PKCS8_X25519);
  der.set(privateKey, PKCS8_X25519.length);
  try {
    const key = await subtle()!.importKey('pkcs8', der, X25519, false, ['deriveBits']);
    return new WebCryptoX25519Key(key, publicKeyOf(privateKey));
  } finally {
    der.fill(0);
  }
}

/**
 * Where a key may live: 'cryptokey' = a non-extractable CryptoKey when the engine has one (the
 * store can hold CryptoKey objects: IndexedDB, memory), else raw; 'raw' = bytes (a JSON file).
 */
export type KeyCustody = 'cryptokey' | 'raw';

export async function generateStaticX25519Key(custody: KeyCustody, random: RandomSource): Promise<StaticX25519Key> {
  if (custody === 'cryptokey' && (await webCryptoX25519Available())) return generateWebCryptoX25519Key();
  return new RawX25519Key(generatePrivateKey(random));
}

/** A key as a store keeps it: hex of the raw bytes, or the CryptoKey with its public half. */
export type StoredX25519Key = string | { kind: 'webcrypto-x25519'; privateKey: CryptoKey; publicKey: Uint8Array };

export function toStoredKey(k: StaticX25519Key): StoredX25519Key {
  if (k instanceof RawX25519Key) return toHex(k.privateKey);
  if (k instanceof WebCryptoX25519Key)
    return { kind: 'webcrypto-x25519', privateKey: k.privateKey, publicKey: k.publicKey.slice() };
  throw new Error('x25519: this key cannot be stored');
}

export function isStoredKey(v: unknown): v is StoredX25519Key {
  if (typeof v === 'string') return /^[0-9a-f]{64}$/i.test(v);
  const o = v as { kind?: unknown; privateKey?: unknown; publicKey?: unknown } | null;
  return (
    !!o &&
    o.kind === 'webcrypto-x25519' &&
    typeof o.privateKey === 'object' &&
    o.privateKey !== null &&
    o.publicKey instanceof Uint8Array &&
    o.publicKey.length === 32
  );
}

/**
 * The key a store held. With custody 'cryptokey' on an engine that has WebCrypto X25519, raw
 * bytes are imported into a non-extractable CryptoKey (`migrated`: the caller saves it, which
 * drops the bytes).
 */
export async function fromStoredKey(
  s: StoredX25519Key,
  custody: KeyCustody,
): Promise<{ key: StaticX25519Key; migrated: boolean }> {
  if (typeof s !== 'string') return { key: new WebCryptoX25519Key(s.privateKey, s.publicKey), migrated: false };
  const raw = fromHex(s);
  try {
    if (custody === 'cryptokey' && (await webCryptoX25519Available()))
      return { key: await importWebCryptoX25519Key(raw), migrated: true };
    return { key: new RawX25519Key(raw), migrated: false };
  } finally {
    raw.fill(0);
  }
}

/** The public half of a stored key, without touching a CryptoKey. */
export function storedPublicKey(s: StoredX25519Key): Uint8Array {
  if (typeof s !== 'string') return s.publicKey.slice();
  const raw = fromHex(s);
  try {
    return publicKeyOf(raw);
  } finally {
    raw.fill(0);
  }
}

/** Raw bytes (tests, Node.js callers) or a key object, as one interface. */
export function asStaticKey(k: Uint8Array | StaticX25519Key): StaticX25519Key {
  return k instanceof Uint8Array ? new RawX25519Key(k) : k;
}
