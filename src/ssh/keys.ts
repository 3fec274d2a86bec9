// User keys: an Ed25519 key pair made on this device (RFC 8709 key and signature formats), or one
// of the person's own keys imported from an OpenSSH private key file (keyfile.ts: Ed25519, ECDSA
// nistp256/384/521 per RFC 5656, RSA signing rsa-sha2-256/512 per RFC 8332); the Ed25519 key's
// public half in OpenSSH authorized_keys form ("ssh-ed25519 <base64 blob> comment", sshd(8)
// AUTHORIZED_KEYS FILE FORMAT). The private key stays raw bytes here; storage is the caller's job
// (app/ssh-keys.ts keeps it as a non-extractable WebCrypto key, key-custody.ts), and so is the
// choice to write it out as an OpenSSH private key file (keyfile-write.ts).
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import type { RandomSource } from '../crypto/random.js';
import { toBase64 } from '../crypto/bytes.js';
import { ECDSA_CURVES, fingerprint, type EcdsaType } from './hostkey.js';
import { modPow } from './kex.js';
import { bigintToBytes, bytesToBigint, Writer } from './wire.js';

export interface Ed25519UserKey {
  type: 'ssh-ed25519';
  /** 32-byte seed (RFC 8032 private key). Secret. */
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export interface EcdsaUserKey {
  type: EcdsaType;
  /** Private scalar, big-endian, the curve's field size. Secret. */
  privateKey: Uint8Array;
  /** Uncompressed point. */
  publicKey: Uint8Array;
}

export interface RsaUserKey {
  type: 'ssh-rsa';
  n: bigint;
  e: bigint;
  /** Secret: d and the CRT parts. */
  d: bigint;
  p: bigint;
  q: bigint;
  iqmp: bigint;
}

export type UserKey = Ed25519UserKey | EcdsaUserKey | RsaUserKey;

/**
 * A user key as authentication uses it: the public blob and a way to sign — a non-extractable
 * WebCrypto key (key-custody.ts) or, where the engine lacks the algorithm, the raw key (rawSigner).
 */
export interface SshSigner {
  readonly type: UserKey['type'];
  readonly publicBlob: Uint8Array;
  /** Signature blob (string algorithm, string signature) over data. */
  sign(algorithm: string, data: Uint8Array): Promise<Uint8Array>;
}

export function rawSigner(key: UserKey): SshSigner {
  return {
    type: key.type,
    publicBlob: publicKeyBlob(key),
    sign: async (algorithm, data) => signUserKey(key, algorithm, data),
  };
}

export function asSigner(key: UserKey | SshSigner): SshSigner {
  return 'sign' in key ? key : rawSigner(key);
}

export function generateEd25519Key(random: RandomSource): Ed25519UserKey {
  const privateKey = random(32);
  return { type: 'ssh-ed25519', privateKey, publicKey: ed25519.getPublicKey(privateKey) };
}

export function ed25519KeyFromSeed(privateKey: Uint8Array): Ed25519UserKey {
  return { type: 'ssh-ed25519', privateKey, publicKey: ed25519.getPublicKey(privateKey) };
}

function mpintOf(v: bigint): Uint8Array {
  return bigintToBytes(v, Math.ceil(v.toString(16).length / 2));
}

export function publicKeyBlob(key: UserKey): Uint8Array {
  if (key.type === 'ssh-ed25519') return new Writer(64).string('ssh-ed25519').string(key.publicKey).finish();
  if (key.type === 'ssh-rsa')
    return new Writer(600).string('ssh-rsa').mpintBytes(mpintOf(key.e)).mpintBytes(mpintOf(key.n)).finish();
  return new Writer(200).string(key.type).string(ECDSA_CURVES[key.type].id).string(key.publicKey).finish();
}

/** The line to paste into ~/.ssh/authorized_keys. */
export function authorizedKeysLine(key: UserKey, comment = 'tailtab'): string {
  const safe = comment.replace(/[\r\n]/g, ' ').trim();
  return `${key.type} ${toBase64(publicKeyBlob(key))}${safe ? ' ' + safe : ''}`;
}

export function userKeyFingerprint(key: UserKey): string {
  return fingerprint(publicKeyBlob(key));
}

/**
 * Signature algorithms the key can use, best first. RSA: rsa-sha2-512/256 (RFC 8332), never
 * ssh-rsa (SHA-1); when the server listed server-sig-algs (RFC 8308), only those it accepts.
 */
export function signatureAlgorithms(key: Pick<UserKey, 'type'>, serverSigAlgs?: readonly string[]): string[] {
  if (key.type !== 'ssh-rsa') return [key.type];
  const mine = ['rsa-sha2-512', 'rsa-sha2-256'];
  if (!serverSigAlgs) return mine;
  return mine.filter((a) => serverSigAlgs.includes(a));
}

// DigestInfo DER prefixes, RFC 8017 §9.2 note 1.
const DIGEST_INFO = {
  'rsa-sha2-256': Uint8Array.from([
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
  ]),
  'rsa-sha2-512': Uint8Array.from([
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40,
  ]),
};

/** RSASSA-PKCS1-v1_5 (RFC 8017 §8.2.1) with the CRT, checked by re-verifying before it leaves. */
function rsaSign(key: RsaUserKey, algorithm: 'rsa-sha2-256' | 'rsa-sha2-512', data: Uint8Array): Uint8Array {
  const k = Math.ceil(key.n.toString(2).length / 8);
  const digest = algorithm === 'rsa-sha2-256' ? sha256(data) : sha512(data);
  const prefix = DIGEST_INFO[algorithm];
  const tLen = prefix.length + digest.length;
  const em = new Uint8Array(k);
  em[1] = 1;
  em.fill(0xff, 2, k - tLen - 1);
  em.set(prefix, k - tLen);
  em.set(digest, k - digest.length);
  const m = bytesToBigint(em);
  const m1 = modPow(m, key.d % (key.p - 1n), key.p);
  const m2 = modPow(m, key.d % (key.q - 1n), key.q);
  const h = (((((m1 - m2) % key.p) + key.p) % key.p) * key.iqmp) % key.p;
  const s = m2 + h * key.q;
  // A fault (or an inconsistent key file) must not leak a bad CRT signature (Boneh–DeMillo–Lipton).
  if (modPow(s, key.e, key.n) !== m) throw new Error('RSA signature self-check failed (inconsistent private key)');
  return bigintToBytes(s, k);
}

/** Signature blob (string algorithm, string signature) over data, for user authentication. */
export function signUserKey(key: UserKey, algorithm: string, data: Uint8Array): Uint8Array {
  if (key.type === 'ssh-ed25519') return signEd25519(key, data);
  if (key.type === 'ssh-rsa') {
    if (algorithm !== 'rsa-sha2-256' && algorithm !== 'rsa-sha2-512')
      throw new Error(`RSA keys sign with rsa-sha2-256/512, not ${algorithm}`);
    return new Writer(600)
      .string(algorithm)
      .string(rsaSign(key, algorithm, data))
      .finish();
  }
  const { curve, size } = ECDSA_CURVES[key.type];
  // RFC 5656 §3.1.2: string (mpint r, mpint s); noble hashes with the curve's SHA-2 (§6.2.1).
  const sig = curve.sign(data, key.privateKey, { lowS: false });
  const inner = new Writer(150)
    .mpintBytes(sig.subarray(0, size))
    .mpintBytes(sig.subarray(size, 2 * size))
    .finish();
  return new Writer(200).string(key.type).string(inner).finish();
}

/** Signature blob (string "ssh-ed25519", string sig) over data. */
export function signEd25519(key: Ed25519UserKey, data: Uint8Array): Uint8Array {
  return new Writer(96).string('ssh-ed25519').string(ed25519.sign(data, key.privateKey)).finish();
}
