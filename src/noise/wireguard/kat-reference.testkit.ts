// Test support, Node-only: an independent from-spec recomputation of WireGuard's handshake
// primitives, built on node:crypto (OpenSSL's BLAKE2s-256, HMAC, X25519, ChaCha20-Poly1305) plus a
// small keyed BLAKE2s from RFC 7693 and HChaCha20 derived from OpenSSL's raw ChaCha20 keystream.
// Nothing here shares code with src/crypto (which uses @noble), so agreement is real evidence.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
} from 'node:crypto';

export const cat = (...parts: Uint8Array[]): Uint8Array =>
  new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))));
export const HASH = (...parts: Uint8Array[]): Uint8Array =>
  new Uint8Array(
    createHash('blake2s256')
      .update(cat(...parts))
      .digest(),
  );
export const HMAC = (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array =>
  new Uint8Array(
    createHmac('blake2s256', key)
      .update(cat(...parts))
      .digest(),
  );

/** Noise HKDF (WireGuard paper §5.4, KDF_n). */
export function KDF(ck: Uint8Array, input: Uint8Array, n: number): Uint8Array[] {
  const t0 = HMAC(ck, input);
  const out: Uint8Array[] = [];
  let prev: Uint8Array = new Uint8Array(0);
  for (let i = 1; i <= n; i++) {
    prev = HMAC(t0, prev, Uint8Array.of(i));
    out.push(prev);
  }
  return out;
}

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

export function X25519_PUB(priv: Uint8Array): Uint8Array {
  const k = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, priv]), format: 'der', type: 'pkcs8' });
  return new Uint8Array(createPublicKey(k).export({ format: 'der', type: 'spki' }).subarray(-32));
}

export function DH(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, priv]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey({ key: Buffer.concat([SPKI_X25519, pub]), format: 'der', type: 'spki' });
  return new Uint8Array(diffieHellman({ privateKey, publicKey }));
}

/** ChaCha20-Poly1305 with WireGuard's nonce: 4 zero bytes + LE u64 counter. */
export function AEAD(key: Uint8Array, counter: bigint, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(counter, 4);
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(ad, { plaintextLength: plaintext.length });
  return cat(c.update(plaintext), c.final(), c.getAuthTag());
}

export function AEAD_OPEN(key: Uint8Array, counter: bigint, sealed: Uint8Array, ad: Uint8Array): Uint8Array | null {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(counter, 4);
  try {
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    d.setAAD(ad, { plaintextLength: sealed.length - 16 });
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    return cat(d.update(sealed.subarray(0, sealed.length - 16)), d.final());
  } catch {
    return null;
  }
}

/** HChaCha20: the ChaCha20 block without the final addition, taken from OpenSSL's keystream. */
function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const ks = createCipheriv('chacha20', key, nonce16).update(Buffer.alloc(64));
  const state = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];
  const nonceWords = [0, 1, 2, 3].map((i) => Buffer.from(nonce16).readUInt32LE(4 * i));
  const out = Buffer.alloc(32);
  for (let i = 0; i < 4; i++) out.writeUInt32LE((ks.readUInt32LE(4 * i) - state[i]) >>> 0, 4 * i);
  for (let i = 0; i < 4; i++) out.writeUInt32LE((ks.readUInt32LE(48 + 4 * i) - nonceWords[i]) >>> 0, 16 + 4 * i);
  return new Uint8Array(out);
}

/** XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha): HChaCha20 subkey, then ChaCha20-Poly1305. */
export function XAEAD_OPEN(
  key: Uint8Array,
  nonce24: Uint8Array,
  sealed: Uint8Array,
  ad: Uint8Array,
): Uint8Array | null {
  const sub = hchacha20(key, nonce24.subarray(0, 16));
  const nonce = Buffer.concat([Buffer.alloc(4), Buffer.from(nonce24.subarray(16))]);
  try {
    const d = createDecipheriv('chacha20-poly1305', sub, nonce, { authTagLength: 16 });
    d.setAAD(ad, { plaintextLength: sealed.length - 16 });
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    return cat(d.update(sealed.subarray(0, sealed.length - 16)), d.final());
  } catch {
    return null;
  }
}

export function XAEAD(key: Uint8Array, nonce24: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  const sub = hchacha20(key, nonce24.subarray(0, 16));
  const nonce = Buffer.concat([Buffer.alloc(4), Buffer.from(nonce24.subarray(16))]);
  const c = createCipheriv('chacha20-poly1305', sub, nonce, { authTagLength: 16 });
  c.setAAD(ad, { plaintextLength: plaintext.length });
  return cat(c.update(plaintext), c.final(), c.getAuthTag());
}

// ---- keyed BLAKE2s, RFC 7693 §3 (OpenSSL's digest API has no key/length parameters) ----
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];
const rotr = (x: number, n: number) => ((x >>> n) | (x << (32 - n))) >>> 0;

function compress(h: number[], block: Uint8Array, t: number, last: boolean): void {
  const m = [...Array(16)].map((_, i) => Buffer.from(block).readUInt32LE(4 * i));
  const v = [...h, ...IV];
  v[12] = (v[12] ^ t) >>> 0; // t < 2^32 here
  if (last) v[14] = ~v[14] >>> 0;
  const G = (a: number, b: number, c: number, d: number, x: number, y: number) => {
    v[a] = (v[a] + v[b] + x) >>> 0;
    v[d] = rotr(v[d] ^ v[a], 16);
    v[c] = (v[c] + v[d]) >>> 0;
    v[b] = rotr(v[b] ^ v[c], 12);
    v[a] = (v[a] + v[b] + y) >>> 0;
    v[d] = rotr(v[d] ^ v[a], 8);
    v[c] = (v[c] + v[d]) >>> 0;
    v[b] = rotr(v[b] ^ v[c], 7);
  };
  for (let r = 0; r < 10; r++) {
    const s = SIGMA[r];
    G(0, 4, 8, 12, m[s[0]], m[s[1]]);
    G(1, 5, 9, 13, m[s[2]], m[s[3]]);
    G(2, 6, 10, 14, m[s[4]], m[s[5]]);
    G(3, 7, 11, 15, m[s[6]], m[s[7]]);
    G(0, 5, 10, 15, m[s[8]], m[s[9]]);
    G(1, 6, 11, 12, m[s[10]], m[s[11]]);
    G(2, 7, 8, 13, m[s[12]], m[s[13]]);
    G(3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
  for (let i = 0; i < 8; i++) h[i] = (h[i] ^ v[i] ^ v[i + 8]) >>> 0;
}

export function BLAKE2S(key: Uint8Array, data: Uint8Array, outLen: number): Uint8Array {
  const h = [...IV];
  h[0] = (h[0] ^ 0x01010000 ^ (key.length << 8) ^ outLen) >>> 0;
  const input =
    key.length > 0
      ? cat(
          new Uint8Array(64).fill(0).map((_, i) => key[i] ?? 0),
          data,
        )
      : data;
  const blocks = Math.max(1, Math.ceil(input.length / 64));
  for (let i = 0; i < blocks; i++) {
    const block = new Uint8Array(64);
    block.set(input.subarray(64 * i, 64 * i + 64));
    const last = i === blocks - 1;
    compress(h, block, last ? input.length : 64 * (i + 1), last);
  }
  const out = Buffer.alloc(32);
  h.forEach((w, i) => out.writeUInt32LE(w, 4 * i));
  return new Uint8Array(out.subarray(0, outLen));
}

/** MAC(key, input) = keyed BLAKE2s with a 16-byte output (WireGuard paper §5.4). */
export const MAC = (key: Uint8Array, input: Uint8Array) => BLAKE2S(key, input, 16);
