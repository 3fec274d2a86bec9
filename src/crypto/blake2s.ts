// BLAKE2s and the HMAC/HKDF constructions WireGuard and the control Noise use
// (WireGuard paper §5.4; wireguard-go device/noise-helpers.go; RFC 5869 with HMAC-BLAKE2s).
import { blake2s } from '@noble/hashes/blake2.js';
import { hmac } from '@noble/hashes/hmac.js';

export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = blake2s.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Keyed BLAKE2s with a 16-byte output: WireGuard's MAC (mac1/mac2). */
export function mac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = blake2s.create({ key, dkLen: 16 });
  for (const p of parts) h.update(p);
  return h.digest();
}

export function hmacBlake2s(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = hmac.create(blake2s, key);
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * Noise's HKDF with HMAC-BLAKE2s: returns n (1..3) 32-byte outputs.
 * t0 = HMAC(ck, input); t1 = HMAC(t0, 0x1); t2 = HMAC(t0, t1 || 0x2); t3 = HMAC(t0, t2 || 0x3).
 */
export function kdf(chainingKey: Uint8Array, input: Uint8Array, n: 1): [Uint8Array];
export function kdf(chainingKey: Uint8Array, input: Uint8Array, n: 2): [Uint8Array, Uint8Array];
export function kdf(chainingKey: Uint8Array, input: Uint8Array, n: 3): [Uint8Array, Uint8Array, Uint8Array];
export function kdf(chainingKey: Uint8Array, input: Uint8Array, n: 1 | 2 | 3): Uint8Array[] {
  const prk = hmacBlake2s(chainingKey, input);
  const out: Uint8Array[] = [];
  let prev: Uint8Array = new Uint8Array(0);
  for (let i = 1; i <= n; i++) {
    prev = hmacBlake2s(prk, prev, Uint8Array.of(i));
    out.push(prev);
  }
  prk.fill(0);
  return out;
}
