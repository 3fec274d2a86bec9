// User keys: an Ed25519 key pair made on this device (RFC 8709 key and signature formats), its
// public half in OpenSSH authorized_keys form ("ssh-ed25519 <base64 blob> comment", sshd(8)
// AUTHORIZED_KEYS FILE FORMAT). The private key stays raw bytes; storage is the caller's job.
import { ed25519 } from '@noble/curves/ed25519.js';
import type { RandomSource } from '../crypto/random.js';
import { toBase64 } from '../crypto/bytes.js';
import { fingerprint } from './hostkey.js';
import { Writer } from './wire.js';

export interface Ed25519UserKey {
  type: 'ssh-ed25519';
  /** 32-byte seed (RFC 8032 private key). Secret. */
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export function generateEd25519Key(random: RandomSource): Ed25519UserKey {
  const privateKey = random(32);
  return { type: 'ssh-ed25519', privateKey, publicKey: ed25519.getPublicKey(privateKey) };
}

export function ed25519KeyFromSeed(privateKey: Uint8Array): Ed25519UserKey {
  return { type: 'ssh-ed25519', privateKey, publicKey: ed25519.getPublicKey(privateKey) };
}

export function publicKeyBlob(key: Ed25519UserKey): Uint8Array {
  return new Writer(64).string('ssh-ed25519').string(key.publicKey).finish();
}

/** The line to paste into ~/.ssh/authorized_keys. */
export function authorizedKeysLine(key: Ed25519UserKey, comment = 'tailtab'): string {
  const safe = comment.replace(/[\r\n]/g, ' ').trim();
  return `ssh-ed25519 ${toBase64(publicKeyBlob(key))}${safe ? ' ' + safe : ''}`;
}

export function userKeyFingerprint(key: Ed25519UserKey): string {
  return fingerprint(publicKeyBlob(key));
}

/** Signature blob (string "ssh-ed25519", string sig) over data. */
export function signEd25519(key: Ed25519UserKey, data: Uint8Array): Uint8Array {
  return new Writer(96).string('ssh-ed25519').string(ed25519.sign(data, key.privateKey)).finish();
}
