// The person's own keys: OpenSSH private key files ("-----BEGIN OPENSSH PRIVATE KEY-----", the
// openssh-key-v1 format of openssh-portable's PROTOCOL.key), as `ssh-keygen` writes them since
// OpenSSH 7.8. Unencrypted, or protected with a passphrase (kdf "bcrypt" = bcrypt_pbkdf, cipher
// aes256-ctr by default; aes128/192-ctr too). Key types: ssh-ed25519, ecdsa-sha2-nistp256/384/521,
// ssh-rsa (signing with rsa-sha2-256/512). Every failure is a KeyFileError whose message is a
// sentence for the person (wrong passphrase, truncated, unsupported and what to do about it).
import { ctr } from '@noble/ciphers/aes.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bcryptPbkdf } from './bcrypt-pbkdf.js';
import { ECDSA_CURVES, type EcdsaType } from './hostkey.js';
import { modPow } from './kex.js';
import { publicKeyBlob, type UserKey } from './keys.js';
import { bigintToBytes, Reader, SshDecodeError } from './wire.js';
import { equalBytes, fromBase64 } from '../crypto/bytes.js';

export class KeyFileError extends Error {
  constructor(
    message: string,
    /** 'passphrase-needed' and 'wrong-passphrase' let a UI ask (again); the rest are final. */
    readonly code: 'passphrase-needed' | 'wrong-passphrase' | 'malformed' | 'unsupported',
  ) {
    super(message);
    this.name = 'KeyFileError';
  }
}

export interface ImportedKey {
  key: UserKey;
  comment: string;
}

const MAGIC = new TextEncoder().encode('openssh-key-v1\0');
const CIPHERS: Record<string, { keyLength: number }> = {
  'aes256-ctr': { keyLength: 32 },
  'aes192-ctr': { keyLength: 24 },
  'aes128-ctr': { keyLength: 16 },
};
/** bcrypt rounds beyond this would freeze the page for minutes; ssh-keygen's default is 16. */
const MAX_ROUNDS = 10_000;

/** Is this text an encrypted OpenSSH key (so a UI knows to ask for the passphrase first)? */
export function isEncryptedKeyFile(text: string): boolean {
  try {
    return new Reader(unarmor(text).subarray(MAGIC.length)).text() !== 'none';
  } catch {
    return false;
  }
}

function unarmor(text: string): Uint8Array {
  const t = text.trim();
  if (/^-----BEGIN (RSA|EC|DSA) PRIVATE KEY-----/.test(t) || /^-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(t)) {
    throw new KeyFileError(
      'this is a PEM (PKCS#1/PKCS#8) private key, not the OpenSSH format; convert a copy with `ssh-keygen -p -f <file>` (it rewrites the file in OpenSSH format) and import that',
      'unsupported',
    );
  }
  if (/^(ssh-|ecdsa-)\S+ AAAA/.test(t))
    throw new KeyFileError(
      'this is a public key (.pub); import the private key file next to it (same name without .pub)',
      'unsupported',
    );
  if (t.startsWith('PuTTY-User-Key-File'))
    throw new KeyFileError(
      'this is a PuTTY key; export it from PuTTYgen as "OpenSSH key (new format)" and import that',
      'unsupported',
    );
  const m = /^-----BEGIN OPENSSH PRIVATE KEY-----\s*([A-Za-z0-9+/=\s]*?)\s*(-----END OPENSSH PRIVATE KEY-----)?$/.exec(
    t,
  );
  if (!m)
    throw new KeyFileError(
      'not an OpenSSH private key file (expected "-----BEGIN OPENSSH PRIVATE KEY-----")',
      'malformed',
    );
  if (!m[2])
    throw new KeyFileError(
      'the key file is truncated (no "-----END OPENSSH PRIVATE KEY-----" line); copy the whole file',
      'malformed',
    );
  const b64 = m[1].replace(/\s+/g, '');
  let bin: Uint8Array;
  try {
    bin = fromBase64(b64);
  } catch {
    throw new KeyFileError('the key file is damaged (its base64 does not decode)', 'malformed');
  }
  if (bin.length < MAGIC.length || !equalBytes(bin.subarray(0, MAGIC.length), MAGIC))
    throw new KeyFileError('the key file is damaged (no openssh-key-v1 header)', 'malformed');
  return bin;
}

/**
 * Parse an OpenSSH private key file. `passphrase` is needed only for an encrypted one; a missing
 * or wrong passphrase gives a KeyFileError with that code (checked by the file's check words).
 */
export function parseOpenSshPrivateKey(text: string, passphrase?: string): ImportedKey {
  try {
    return parse(unarmor(text), passphrase);
  } catch (e) {
    if (e instanceof KeyFileError) throw e;
    if (e instanceof SshDecodeError)
      throw new KeyFileError(`the key file is truncated or damaged (${e.message})`, 'malformed');
    throw new KeyFileError(
      `the key file could not be read (${e instanceof Error ? e.message : String(e)})`,
      'malformed',
    );
  }
}

function parse(bin: Uint8Array, passphrase: string | undefined): ImportedKey {
  const r = new Reader(bin.subarray(MAGIC.length));
  const cipherName = r.text();
  const kdfName = r.text();
  const kdfOptions = r.string();
  const nKeys = r.uint32();
  if (nKeys !== 1)
    throw new KeyFileError(`the key file holds ${nKeys} keys; tailtab imports files with exactly one`, 'unsupported');
  const publicBlob = r.string();
  const sealed = r.string();
  // Some writers leave trailing bytes (an AEAD tag for aes-gcm); we only read ctr and none.
  let plain: Uint8Array;
  if (cipherName === 'none') {
    if (kdfName !== 'none')
      throw new KeyFileError(`the key file names kdf ${JSON.stringify(kdfName)} without a cipher`, 'malformed');
    plain = sealed;
  } else {
    const cipher = CIPHERS[cipherName];
    if (!cipher) {
      throw new KeyFileError(
        `the key is encrypted with ${JSON.stringify(cipherName.slice(0, 40))}, which tailtab does not read; re-encrypt a copy with \`ssh-keygen -p -Z aes256-ctr -f <file>\``,
        'unsupported',
      );
    }
    if (kdfName !== 'bcrypt')
      throw new KeyFileError(
        `the key uses key derivation ${JSON.stringify(kdfName.slice(0, 40))}; tailtab reads bcrypt (what ssh-keygen writes)`,
        'unsupported',
      );
    const kr = new Reader(kdfOptions);
    const salt = kr.string();
    const rounds = kr.uint32();
    kr.end('bcrypt options');
    if (salt.length === 0 || salt.length > 1024 || rounds < 1)
      throw new KeyFileError('the key file is damaged (bad bcrypt parameters)', 'malformed');
    if (rounds > MAX_ROUNDS)
      throw new KeyFileError(
        `the key asks for ${rounds} bcrypt rounds; tailtab allows at most ${MAX_ROUNDS} (re-encrypt a copy with \`ssh-keygen -p -a 100 -f <file>\`)`,
        'unsupported',
      );
    if (passphrase === undefined || passphrase === '')
      throw new KeyFileError('this key is protected by a passphrase; enter it to import the key', 'passphrase-needed');
    if (sealed.length % 16 !== 0)
      throw new KeyFileError('the key file is truncated or damaged (encrypted part is not whole blocks)', 'malformed');
    const kiv = bcryptPbkdf(new TextEncoder().encode(passphrase), salt, rounds, cipher.keyLength + 16);
    plain = ctr(kiv.subarray(0, cipher.keyLength), kiv.subarray(cipher.keyLength)).decrypt(sealed);
  }
  const pr = new Reader(plain);
  const check1 = pr.uint32();
  const check2 = pr.uint32();
  if (check1 !== check2) {
    if (cipherName !== 'none') throw new KeyFileError('wrong passphrase for this key', 'wrong-passphrase');
    throw new KeyFileError('the key file is damaged (check words differ)', 'malformed');
  }
  const key = readPrivate(pr);
  const comment = pr.text();
  // Padding 1, 2, 3, ... up to the cipher block size.
  const pad = pr.rest();
  for (let i = 0; i < pad.length; i++)
    if (pad[i] !== i + 1) throw new KeyFileError('the key file is damaged (bad padding)', 'malformed');
  if (!equalBytes(publicKeyBlob(key), publicBlob))
    throw new KeyFileError('the key file is damaged (public and private halves do not match)', 'malformed');
  return { key, comment };
}

/**
 * One key's private fields in openssh-key-v1 order (type, then type-specific), as
 * privateKeyFields (keyfile-write.ts) writes them: checked for consistency (the private half gives
 * the public one, RSA's parts agree), so every way in — file, PEM, storage — gets the same checks.
 */
export function readPrivateKeyFields(fields: Uint8Array): UserKey {
  try {
    const r = new Reader(fields);
    const key = readPrivate(r);
    r.end('private key fields');
    return key;
  } catch (e) {
    if (e instanceof KeyFileError) throw e;
    throw new KeyFileError(`the key is damaged (${e instanceof Error ? e.message : String(e)})`, 'malformed');
  }
}

function readPrivate(r: Reader): UserKey {
  const type = r.text();
  if (type === 'ssh-ed25519') {
    const pub = r.string();
    const priv = r.string();
    if (pub.length !== 32 || priv.length !== 64)
      throw new KeyFileError('the key file is damaged (Ed25519 key of the wrong size)', 'malformed');
    const seed = priv.slice(0, 32);
    if (!equalBytes(ed25519.getPublicKey(seed), pub) || !equalBytes(priv.subarray(32), pub))
      throw new KeyFileError('the key file is damaged (Ed25519 private key does not give its public key)', 'malformed');
    return { type, privateKey: seed, publicKey: pub.slice() };
  }
  if (type in ECDSA_CURVES) {
    const { curve, id, size } = ECDSA_CURVES[type as EcdsaType];
    const curveName = r.text();
    const q = r.string();
    const d = r.mpint();
    if (curveName !== id)
      throw new KeyFileError(
        `the key file is damaged (${type} on curve ${JSON.stringify(curveName.slice(0, 20))})`,
        'malformed',
      );
    if (d <= 0n || d >= curve.Point.CURVE().n)
      throw new KeyFileError('the key file is damaged (ECDSA private scalar out of range)', 'malformed');
    const privateKey = bigintToBytes(d, size);
    if (!equalBytes(curve.getPublicKey(privateKey, false), q))
      throw new KeyFileError('the key file is damaged (ECDSA private key does not give its public key)', 'malformed');
    return { type: type as EcdsaType, privateKey, publicKey: q.slice() };
  }
  if (type === 'ssh-rsa') {
    const n = r.mpint();
    const e = r.mpint();
    const d = r.mpint();
    const iqmp = r.mpint();
    const p = r.mpint();
    const q = r.mpint();
    const bits = n.toString(2).length;
    if (bits < 2048)
      throw new KeyFileError(
        `this RSA key is only ${bits} bits; servers and tailtab want at least 2048 — make a new key (ssh-keygen -t ed25519) and add it to the server`,
        'unsupported',
      );
    if (bits > 16384 || p * q !== n || e < 3n || d <= 1n || (iqmp * q) % p !== 1n)
      throw new KeyFileError('the key file is damaged (inconsistent RSA parameters)', 'malformed');
    // One sign/verify round trip on a small value catches a wrong d before it reaches a server.
    if (modPow(modPow(2n, d, n), e, n) !== 2n)
      throw new KeyFileError('the key file is damaged (RSA private exponent does not match)', 'malformed');
    return { type, n, e, d, p, q, iqmp };
  }
  if (type === 'ssh-dss')
    throw new KeyFileError(
      'DSA keys are obsolete and refused by current servers; make a new key (ssh-keygen -t ed25519) and add it to the server',
      'unsupported',
    );
  if (type.startsWith('sk-'))
    throw new KeyFileError(
      'this is a security-key (FIDO) key: its private half lives on the hardware token, which a browser tab cannot use for SSH',
      'unsupported',
    );
  throw new KeyFileError(
    `tailtab does not support ${JSON.stringify(type.slice(0, 60))} keys (it reads ed25519, ecdsa and rsa)`,
    'unsupported',
  );
}
