// User keys: an Ed25519 key pair made on this device (RFC 8709 key and signature formats), its
// public half in OpenSSH authorized_keys form ("ssh-ed25519 <base64 blob> comment", sshd(8)
// AUTHORIZED_KEYS FILE FORMAT). The private key stays raw bytes; storage is the caller's job, and
// so is the choice to write it out as an OpenSSH private key file (openSshPrivateKey).
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

/**
 * The key as an OpenSSH private key file (PROTOCOL.key in openssh-portable: "openssh-key-v1",
 * unencrypted, one key). Only for the person's explicit export; `random` fills the check bytes.
 */
export function openSshPrivateKey(seed: Uint8Array, comment: string, random: RandomSource): string {
  const key = ed25519KeyFromSeed(seed);
  const check = random(4);
  const priv = new Writer(256)
    .raw(check).raw(check)
    .string('ssh-ed25519').string(key.publicKey)
    .string(new Uint8Array([...seed, ...key.publicKey]))
    .string(comment);
  let body = priv.finish();
  const pad = (8 - (body.length % 8)) % 8;
  body = new Uint8Array([...body, ...Array.from({ length: pad }, (_, i) => i + 1)]);
  const blob = new Writer(512)
    .raw(new TextEncoder().encode('openssh-key-v1\0'))
    .string('none').string('none').string(new Uint8Array(0))
    .uint32(1)
    .string(publicKeyBlob(key))
    .string(body)
    .finish();
  const b64 = toBase64(blob).replace(/.{1,70}/g, '$&\n');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`;
}
