// ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305, synchronous, through @noble/ciphers.
// The fast batched WebCrypto path for the WireGuard data plane lives in noise/ and falls back here.
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';

export const TAG_LENGTH = 16;

/** 12-byte nonce: 4 zero bytes then the 64-bit counter LITTLE-endian (WireGuard transport). */
export function nonceLE(counter: bigint | number): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, BigInt(counter), true);
  return n;
}

/** 12-byte nonce: 4 zero bytes then the 64-bit counter BIG-endian (Tailscale controlbase). */
export function nonceBE(counter: bigint | number): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setBigUint64(4, BigInt(counter), false);
  return n;
}

export function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Uint8Array {
  return chacha20poly1305(key, nonce, ad).encrypt(plaintext);
}

/** Returns null when the tag does not verify (never throws on bad input). */
export function open(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad?: Uint8Array): Uint8Array | null {
  if (ciphertext.length < TAG_LENGTH) return null;
  try {
    return chacha20poly1305(key, nonce, ad).decrypt(ciphertext);
  } catch {
    return null;
  }
}

export function xseal(key: Uint8Array, nonce24: Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce24, ad).encrypt(plaintext);
}

export function xopen(
  key: Uint8Array,
  nonce24: Uint8Array,
  ciphertext: Uint8Array,
  ad?: Uint8Array,
): Uint8Array | null {
  if (ciphertext.length < TAG_LENGTH) return null;
  try {
    return xchacha20poly1305(key, nonce24, ad).decrypt(ciphertext);
  } catch {
    return null;
  }
}
