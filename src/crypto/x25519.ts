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
