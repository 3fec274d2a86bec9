// Writing the person's key out as an OpenSSH private key file (openssh-key-v1, PROTOCOL.key in
// openssh-portable), the way `ssh-keygen` writes one: unencrypted (cipher and kdf "none", private
// section padded to 8 bytes) or passphrase-protected (kdf "bcrypt" with a 16-byte salt, cipher
// aes256-ctr, padded to its 16-byte block; key and IV are bcrypt_pbkdf's 48 bytes, as sshkey.c's
// sshkey_private_to_blob2 does). Only for the person's explicit export.
import { ctr } from '@noble/ciphers/aes.js';
import type { RandomSource } from '../crypto/random.js';
import { toBase64 } from '../crypto/bytes.js';
import { bcryptPbkdf } from './bcrypt-pbkdf.js';
import { ECDSA_CURVES } from './hostkey.js';
import { ed25519KeyFromSeed, publicKeyBlob, type UserKey } from './keys.js';
import { bigintToBytes, Writer } from './wire.js';

/** ssh-keygen's default bcrypt rounds (sshkey.c DEFAULT_ROUNDS; what Debian's OpenSSH 9.2 writes). */
export const DEFAULT_BCRYPT_ROUNDS = 16;

function mpint(v: bigint): Uint8Array {
  return bigintToBytes(v, Math.max(1, Math.ceil(v.toString(16).length / 2)));
}

/** The key's private fields in openssh-key-v1 order (readPrivateKeyFields in keyfile.ts reads them). */
export function privateKeyFields(key: UserKey): Uint8Array {
  const w = new Writer(key.type === 'ssh-rsa' ? 2048 : 256).string(key.type);
  if (key.type === 'ssh-ed25519') {
    w.string(key.publicKey).string(new Uint8Array([...key.privateKey, ...key.publicKey]));
  } else if (key.type === 'ssh-rsa') {
    // sshkey.c: n, e, d, iqmp, p, q.
    for (const v of [key.n, key.e, key.d, key.iqmp, key.p, key.q]) w.mpintBytes(mpint(v));
  } else {
    w.string(ECDSA_CURVES[key.type].id).string(key.publicKey).mpintBytes(key.privateKey);
  }
  return w.finish();
}

export interface WriteKeyOptions {
  /** Encrypt with bcrypt + aes256-ctr; without it the file is unencrypted, as `ssh-keygen -N ''`. */
  passphrase?: string;
  rounds?: number;
  random: RandomSource;
}

export function writeOpenSshPrivateKey(key: UserKey, comment: string, o: WriteKeyOptions): string {
  const encrypted = o.passphrase !== undefined && o.passphrase !== '';
  const block = encrypted ? 16 : 8;
  const check = o.random(4);
  const w = new Writer(2048)
    .raw(check)
    .raw(check)
    .raw(privateKeyFields(key))
    .string(comment.replace(/[\r\n]/g, ' '));
  let body: Uint8Array = w.finish();
  const pad = (block - (body.length % block)) % block;
  const padded = new Uint8Array(body.length + pad);
  padded.set(body);
  for (let i = 0; i < pad; i++) padded[body.length + i] = i + 1;
  body.fill(0);
  body = padded;
  let cipher = 'none';
  let kdf = 'none';
  let kdfOptions: Uint8Array = new Uint8Array(0);
  if (encrypted) {
    const rounds = o.rounds ?? DEFAULT_BCRYPT_ROUNDS;
    const salt = o.random(16);
    const kiv = bcryptPbkdf(new TextEncoder().encode(o.passphrase), salt, rounds, 48);
    const sealed = ctr(kiv.subarray(0, 32), kiv.subarray(32)).encrypt(body);
    kiv.fill(0);
    body.fill(0);
    body = sealed;
    cipher = 'aes256-ctr';
    kdf = 'bcrypt';
    kdfOptions = new Writer(32).string(salt).uint32(rounds).finish();
  }
  const blob = new Writer(body.length + 512)
    .raw(new TextEncoder().encode('openssh-key-v1\0'))
    .string(cipher)
    .string(kdf)
    .string(kdfOptions)
    .uint32(1)
    .string(publicKeyBlob(key))
    .string(body)
    .finish();
  // ssh-keygen wraps the base64 at 70 columns.
  const b64 = toBase64(blob).replace(/.{1,70}/g, '$&\n');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`;
}

/** An Ed25519 seed as an unencrypted OpenSSH private key file (the 'tailtab/ssh' API of old). */
export function openSshPrivateKey(seed: Uint8Array, comment: string, random: RandomSource): string {
  return writeOpenSshPrivateKey(ed25519KeyFromSeed(seed), comment, { random });
}
