// Curve25519 Diffie-Hellman (RFC 7748) through @noble/curves.
import { x25519 } from '@noble/curves/ed25519.js';
import { isAllZero } from './bytes.js';
import type { RandomSource } from './random.js';

export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/** A clamped Curve25519 private key from 32 random bytes (RFC 7748 §5). */
export function generatePrivateKey(random: RandomSource): Uint8Array {
  const k = random(32);
  k[0] &= 248;
  k[31] = (k[31] & 127) | 64;
  return k;
}

export function publicKeyOf(privateKey: Uint8Array): Uint8Array {
  return x25519.getPublicKey(privateKey);
}

export function generateKeyPair(random: RandomSource): KeyPair {
  const privateKey = generatePrivateKey(random);
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

/**
 * X25519(priv, pub). Throws on an all-zero result (a low-order peer point), which WireGuard and
 * Noise implementations reject (wireguard-go device/noise-helpers.go, RFC 7748 §6.1).
 */
export function sharedSecret(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  let out: Uint8Array;
  try {
    out = x25519.getSharedSecret(privateKey, publicKey);
  } catch {
    throw new Error('x25519: invalid public key');
  }
  if (isAllZero(out)) throw new Error('x25519: low-order public key');
  return out;
}

// The points of small order on Curve25519 (and their non-canonical encodings p and p+1), as
// little-endian u-coordinates with bit 255 masked (RFC 7748 §5 ignores it): every X25519 with
// one of them is all-zero. Listed by libsodium and in "May the Fourth Be With You" (Genkin et al.).
const LOW_ORDER_POINTS = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];

/**
 * Whether `publicKey` is a point of small order (X25519 with it is all-zero for every private
 * key), found by comparison instead of a scalar multiplication: a tailnet of 10,000 peers checks
 * each key it is given, and one X25519 per peer cost seconds.
 */
export function isLowOrderPoint(publicKey: Uint8Array): boolean {
  if (publicKey.length !== 32) return true;
  let text = '';
  for (let i = 0; i < 32; i++) text += (i === 31 ? publicKey[i]! & 0x7f : publicKey[i]!).toString(16).padStart(2, '0');
  return LOW_ORDER_POINTS.includes(text);
}
