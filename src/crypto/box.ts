// NaCl crypto_box (Curve25519 + XSalsa20-Poly1305), as golang.org/x/crypto/nacl/box does it.
// DERP's ClientInfo/ServerInfo and disco messages are sealed this way.
// box key = HSalsa20(X25519(priv, pub), 0^16)  (crypto_box_beforenm).
import { hsalsa, xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import { x25519 } from '@noble/curves/ed25519.js';
import type { RandomSource } from './random.js';

export const BOX_NONCE_LENGTH = 24;
export const BOX_OVERHEAD = 16;

// "expand 32-byte k" as little-endian words.
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

function toWordsLE(b: Uint8Array): Uint32Array {
  const w = new Uint32Array(b.length / 4);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < w.length; i++) w[i] = dv.getUint32(4 * i, true);
  return w;
}

function fromWordsLE(w: Uint32Array): Uint8Array {
  const b = new Uint8Array(w.length * 4);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < w.length; i++) dv.setUint32(4 * i, w[i], true);
  return b;
}

/** The shared box key for (our private, their public); cache it per peer. */
export function boxBeforeNm(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return boxKeyFromShared(x25519.getSharedSecret(privateKey, publicKey));
}

/** The box key from an X25519 result computed elsewhere (a WebCrypto static key); wipes `shared`. */
export function boxKeyFromShared(shared: Uint8Array): Uint8Array {
  const out = new Uint32Array(8);
  hsalsa(SIGMA, toWordsLE(shared), new Uint32Array(4), out);
  shared.fill(0);
  return fromWordsLE(out);
}

export function boxSealAfterNm(sharedKey: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return xsalsa20poly1305(sharedKey, nonce).encrypt(plaintext);
}

/** Returns null when the box does not open (never throws on bad input). */
export function boxOpenAfterNm(sharedKey: Uint8Array, nonce: Uint8Array, box: Uint8Array): Uint8Array | null {
  if (nonce.length !== BOX_NONCE_LENGTH || box.length < BOX_OVERHEAD) return null;
  try {
    return xsalsa20poly1305(sharedKey, nonce).decrypt(box);
  } catch {
    return null;
  }
}

/** nonce(24) || box, the layout DERP and disco use on the wire. */
export function sealWithRandomNonce(sharedKey: Uint8Array, plaintext: Uint8Array, random: RandomSource): Uint8Array {
  const nonce = random(BOX_NONCE_LENGTH);
  const sealed = boxSealAfterNm(sharedKey, nonce, plaintext);
  const out = new Uint8Array(BOX_NONCE_LENGTH + sealed.length);
  out.set(nonce, 0);
  out.set(sealed, BOX_NONCE_LENGTH);
  return out;
}

export function openNonceAndBox(sharedKey: Uint8Array, nonceAndBox: Uint8Array): Uint8Array | null {
  if (nonceAndBox.length < BOX_NONCE_LENGTH + BOX_OVERHEAD) return null;
  return boxOpenAfterNm(sharedKey, nonceAndBox.subarray(0, BOX_NONCE_LENGTH), nonceAndBox.subarray(BOX_NONCE_LENGTH));
}
