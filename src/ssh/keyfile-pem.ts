// The person's own keys in the PEM formats OpenSSL and older ssh-keygen write (RFC 7468 armor):
// "PRIVATE KEY" (PKCS#8, RFC 5208/5958) holding RSA, EC or Ed25519 (RFC 8410); "ENCRYPTED PRIVATE
// KEY" (PKCS#8 with PBES2: PBKDF2-HMAC-SHA1/256/512 + AES-CBC, RFC 8018 — OpenSSL 3's default);
// "RSA PRIVATE KEY" (PKCS#1, RFC 8017 A.1.2) and "EC PRIVATE KEY" (SEC1, RFC 5915), either plain
// or with OpenSSL's legacy "Proc-Type: 4,ENCRYPTED" header (EVP_BytesToKey with MD5, AES-CBC: what
// `ssh-keygen` wrote for id_rsa before OpenSSH 7.8). parsePrivateKeyFile takes any supported file,
// OpenSSH or PEM. Keys are checked exactly as OpenSSH files are (readPrivateKeyFields); every
// failure is a KeyFileError sentence.
import { cbc } from '@noble/ciphers/aes.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { md5, sha1 } from '@noble/hashes/legacy.js';
import { pbkdf2 } from '@noble/hashes/pbkdf2.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { equalBytes, fromBase64, fromHex } from '../crypto/bytes.js';
import { DerError, DerReader } from './der.js';
import { ECDSA_CURVES, type EcdsaType } from './hostkey.js';
import {
  isEncryptedKeyFile,
  KeyFileError,
  parseOpenSshPrivateKey,
  readPrivateKeyFields,
  type ImportedKey,
} from './keyfile.js';
import { isEncryptedPpk, isPpkFile, parsePpkPrivateKey } from './keyfile-ppk.js';
import { privateKeyFields } from './keyfile-write.js';
import type { UserKey } from './keys.js';
import { bigintToBytes } from './wire.js';

const OID = {
  rsa: '1.2.840.113549.1.1.1',
  ec: '1.2.840.10045.2.1',
  ed25519: '1.3.101.112',
  dsa: '1.2.840.10040.4.1',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
} as const;
const CURVE_OIDS: Record<string, EcdsaType> = {
  '1.2.840.10045.3.1.7': 'ecdsa-sha2-nistp256',
  '1.3.132.0.34': 'ecdsa-sha2-nistp384',
  '1.3.132.0.35': 'ecdsa-sha2-nistp521',
};
type Hash = Parameters<typeof pbkdf2>[0];
const PRF: Record<string, Hash> = {
  '1.2.840.113549.2.7': sha1,
  '1.2.840.113549.2.9': sha256,
  '1.2.840.113549.2.11': sha512,
};
const AES_CBC_OIDS: Record<string, number> = {
  '2.16.840.1.101.3.4.1.2': 16,
  '2.16.840.1.101.3.4.1.22': 24,
  '2.16.840.1.101.3.4.1.42': 32,
};
const AES_CBC_NAMES: Record<string, number> = { 'AES-128-CBC': 16, 'AES-192-CBC': 24, 'AES-256-CBC': 32 };
/** PBKDF2 iterations beyond this would hold the Worker for many seconds; OpenSSL writes 2048. */
const MAX_ITERATIONS = 2_000_000;

const CONVERT =
  'convert a copy with `ssh-keygen -p -f <file>` (it asks the passphrase and rewrites the file in OpenSSH format) and import that';

interface Pem {
  label: string;
  headers: Map<string, string>;
  der: Uint8Array;
}

/** The first PEM block that is a private key (OpenSSL may put "EC PARAMETERS" before it). */
function unarmorPem(text: string): Pem | undefined {
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)(?:-----END \1-----|$)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const label = m[1];
    if (!/PRIVATE KEY$/.test(label)) continue;
    if (!m[0].includes('-----END '))
      throw new KeyFileError(
        `the key file is truncated (no "-----END ${label}-----" line); copy the whole file`,
        'malformed',
      );
    const headers = new Map<string, string>();
    const lines = m[2].split(/\r?\n/);
    let b64 = '';
    for (const line of lines) {
      const h = /^([A-Za-z-]+):\s*(.*)$/.exec(line.trim());
      if (h) headers.set(h[1].toLowerCase(), h[2].trim());
      else b64 += line.trim();
    }
    if (!/^[A-Za-z0-9+/=]*$/.test(b64))
      throw new KeyFileError('the key file is damaged (its base64 does not decode)', 'malformed');
    let der: Uint8Array;
    try {
      der = fromBase64(b64);
    } catch {
      throw new KeyFileError('the key file is damaged (its base64 does not decode)', 'malformed');
    }
    return { label, headers, der };
  }
  return undefined;
}

/** Is this a PEM private key file (so callers send it here rather than to the OpenSSH reader)? */
export function isPemPrivateKey(text: string): boolean {
  return /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text) && !text.includes('-----BEGIN OPENSSH PRIVATE KEY-----');
}

/** Does the file need a passphrase before it can be read? */
export function isEncryptedPrivateKeyFile(text: string): boolean {
  if (isPpkFile(text)) return isEncryptedPpk(text);
  if (!isPemPrivateKey(text)) return isEncryptedKeyFile(text);
  return /-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text) || /Proc-Type:\s*4,\s*ENCRYPTED/i.test(text);
}

/** Any private key file a person is likely to have: OpenSSH's own format, PEM (see above) or PuTTY's .ppk. */
export function parsePrivateKeyFile(text: string, passphrase?: string): ImportedKey {
  if (isPpkFile(text)) return parsePpkPrivateKey(text, passphrase);
  return isPemPrivateKey(text) ? parsePemPrivateKey(text, passphrase) : parseOpenSshPrivateKey(text, passphrase);
}

export function parsePemPrivateKey(text: string, passphrase?: string): ImportedKey {
  try {
    const pem = unarmorPem(text);
    if (!pem) throw new KeyFileError('not a private key file (expected "-----BEGIN … PRIVATE KEY-----")', 'malformed');
    return { key: fromPem(pem, passphrase), comment: '' };
  } catch (e) {
    if (e instanceof KeyFileError) throw e;
    if (e instanceof DerError)
      throw new KeyFileError(`the key file is truncated or damaged (${e.message})`, 'malformed');
    throw new KeyFileError(
      `the key file could not be read (${e instanceof Error ? e.message : String(e)})`,
      'malformed',
    );
  }
}

function needPassphrase(passphrase: string | undefined): string {
  if (passphrase === undefined || passphrase === '')
    throw new KeyFileError('this key is protected by a passphrase; enter it to import the key', 'passphrase-needed');
  return passphrase;
}

/** AES-CBC with PKCS#7 padding; a bad pad after decryption means the passphrase was wrong. */
function decryptCbc(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length === 0 || data.length % 16 !== 0)
    throw new KeyFileError('the key file is truncated or damaged (encrypted part is not whole blocks)', 'malformed');
  try {
    return cbc(key, iv).decrypt(data);
  } catch {
    throw new KeyFileError('wrong passphrase for this key', 'wrong-passphrase');
  }
}

function fromPem(pem: Pem, passphrase: string | undefined): UserKey {
  let der = pem.der;
  let decrypted = false;
  if (pem.headers.get('proc-type')?.replace(/\s/g, '').toUpperCase() === '4,ENCRYPTED') {
    // OpenSSL's traditional encryption: DEK-Info "<cipher>,<hex IV>", key = EVP_BytesToKey(MD5,
    // salt = IV's first 8 bytes, one iteration) — crypto/pem/pem_lib.c.
    const [cipher, ivHex] = (pem.headers.get('dek-info') ?? '').split(',').map((s) => s.trim());
    const keyLen = AES_CBC_NAMES[cipher?.toUpperCase() ?? ''];
    if (!keyLen)
      throw new KeyFileError(
        `the key is encrypted with ${JSON.stringify((cipher ?? '').slice(0, 30))}, which tailtab does not read; ${CONVERT}`,
        'unsupported',
      );
    if (!/^[0-9a-fA-F]{32}$/.test(ivHex ?? ''))
      throw new KeyFileError('the key file is damaged (bad DEK-Info IV)', 'malformed');
    const iv = fromHex(ivHex.toLowerCase());
    const pass = new TextEncoder().encode(needPassphrase(passphrase));
    const key = new Uint8Array(keyLen);
    let prev = new Uint8Array(0);
    for (let off = 0; off < keyLen; off += 16) {
      prev = md5(new Uint8Array([...prev, ...pass, ...iv.subarray(0, 8)]));
      key.set(prev.subarray(0, Math.min(16, keyLen - off)), off);
    }
    der = decryptCbc(key, iv, der);
    decrypted = true;
  }
  try {
    switch (pem.label) {
      case 'RSA PRIVATE KEY':
        return rsaFromPkcs1(new DerReader(der).sequence('RSAPrivateKey'));
      case 'EC PRIVATE KEY':
        return ecFromSec1(new DerReader(der).sequence('ECPrivateKey'), undefined);
      case 'PRIVATE KEY':
        return fromPkcs8(der);
      case 'ENCRYPTED PRIVATE KEY':
        ({ der } = decryptPkcs8(der, passphrase));
        decrypted = true;
        return fromPkcs8(der);
      case 'DSA PRIVATE KEY':
        throw new KeyFileError(
          'DSA keys are obsolete and refused by current servers; make a new key (ssh-keygen -t ed25519) and add it to the server',
          'unsupported',
        );
      default:
        throw new KeyFileError(`tailtab does not read "${pem.label.slice(0, 40)}" files; ${CONVERT}`, 'unsupported');
    }
  } catch (e) {
    // Decrypted with the wrong passphrase, the DER is noise (the padding check passes 1 in 256).
    if (decrypted && (e instanceof DerError || (e instanceof KeyFileError && e.code === 'malformed')))
      throw new KeyFileError('wrong passphrase for this key', 'wrong-passphrase');
    throw e;
  }
}

/** EncryptedPrivateKeyInfo with PBES2 (RFC 8018 §6.2, A.4): PBKDF2 then AES-CBC. */
function decryptPkcs8(der: Uint8Array, passphrase: string | undefined): { der: Uint8Array } {
  const epki = new DerReader(der).sequence('EncryptedPrivateKeyInfo');
  const alg = epki.sequence('AlgorithmIdentifier');
  const scheme = alg.oid();
  if (scheme !== OID.pbes2)
    throw new KeyFileError(
      `the key is encrypted with an old scheme (${scheme}) tailtab does not read; ${CONVERT}`,
      'unsupported',
    );
  const params = alg.sequence('PBES2-params');
  const kdf = params.sequence('keyDerivationFunc');
  if (kdf.oid() !== OID.pbkdf2)
    throw new KeyFileError(
      `the key's passphrase uses a key derivation tailtab does not read (only PBKDF2); ${CONVERT}`,
      'unsupported',
    );
  const kp = kdf.sequence('PBKDF2-params');
  const salt = kp.octets('salt');
  const iterations = kp.smallInteger('iterationCount');
  let keyLength: number | undefined;
  if (kp.peekTag() === 0x02) keyLength = kp.smallInteger('keyLength');
  let prf = PRF['1.2.840.113549.2.7'];
  if (!kp.done) {
    const prfAlg = kp.sequence('prf');
    const prfOid = prfAlg.oid();
    prf = PRF[prfOid];
    if (!prf)
      throw new KeyFileError(
        `the key's passphrase uses PBKDF2 with ${prfOid}, which tailtab does not read; ${CONVERT}`,
        'unsupported',
      );
  }
  const enc = params.sequence('encryptionScheme');
  const encOid = enc.oid();
  const keyLen = AES_CBC_OIDS[encOid];
  if (!keyLen)
    throw new KeyFileError(
      `the key is encrypted with ${encOid}, which tailtab does not read (AES-CBC only); ${CONVERT}`,
      'unsupported',
    );
  const iv = enc.octets('IV');
  if (iv.length !== 16 || (keyLength !== undefined && keyLength !== keyLen))
    throw new KeyFileError('the key file is damaged (bad PBES2 parameters)', 'malformed');
  if (iterations < 1 || iterations > MAX_ITERATIONS)
    throw new KeyFileError(
      `the key asks for ${iterations} PBKDF2 iterations, more than tailtab allows; ${CONVERT}`,
      'unsupported',
    );
  const data = epki.octets('encryptedData');
  const key = pbkdf2(prf, new TextEncoder().encode(needPassphrase(passphrase)), salt, { c: iterations, dkLen: keyLen });
  return { der: decryptCbc(key, iv, data) };
}

/** PrivateKeyInfo / OneAsymmetricKey (RFC 5958 §2). */
function fromPkcs8(der: Uint8Array): UserKey {
  const pki = new DerReader(der).sequence('PrivateKeyInfo');
  const version = pki.smallInteger('version');
  if (version > 1) throw new DerError('unknown PrivateKeyInfo version');
  const alg = pki.sequence('AlgorithmIdentifier');
  const oid = alg.oid();
  const inner = pki.octets('privateKey');
  if (oid === OID.rsa) return rsaFromPkcs1(new DerReader(inner).sequence('RSAPrivateKey'));
  if (oid === OID.ec) {
    const curve = CURVE_OIDS[alg.oid('namedCurve')] ?? unsupportedCurve();
    return ecFromSec1(new DerReader(inner).sequence('ECPrivateKey'), curve);
  }
  if (oid === OID.ed25519) {
    // RFC 8410 §7: CurvePrivateKey ::= OCTET STRING (the 32-byte seed).
    const seed = new DerReader(inner).octets('CurvePrivateKey');
    if (seed.length !== 32) throw new DerError('Ed25519 key of the wrong size');
    return check({ type: 'ssh-ed25519', privateKey: seed.slice(), publicKey: ed25519.getPublicKey(seed) });
  }
  if (oid === OID.dsa)
    throw new KeyFileError(
      'DSA keys are obsolete and refused by current servers; make a new key (ssh-keygen -t ed25519) and add it to the server',
      'unsupported',
    );
  throw new KeyFileError(
    `tailtab does not support this key type (${oid}); it reads ed25519, ecdsa and rsa`,
    'unsupported',
  );
}

function unsupportedCurve(): never {
  throw new KeyFileError(
    'this EC key is on a curve SSH does not use; SSH takes NIST P-256, P-384 or P-521 (or make an ed25519 key)',
    'unsupported',
  );
}

/** RSAPrivateKey (RFC 8017 A.1.2): version, n, e, d, p, q, dP, dQ, qInv (= iqmp). */
function rsaFromPkcs1(r: DerReader): UserKey {
  const version = r.smallInteger('version');
  if (version !== 0) throw new KeyFileError('this is a multi-prime RSA key, which SSH does not use', 'unsupported');
  const [n, e, d, p, q] = [r.integer(), r.integer(), r.integer(), r.integer(), r.integer()];
  r.integer();
  r.integer();
  const iqmp = r.integer();
  return check({ type: 'ssh-rsa', n, e, d, p, q, iqmp });
}

/** ECPrivateKey (RFC 5915 §3): version 1, privateKey, [0] curve (optional in PKCS#8), [1] public key. */
function ecFromSec1(r: DerReader, fromPkcs8: EcdsaType | undefined): UserKey {
  if (r.smallInteger('version') !== 1) throw new DerError('unknown ECPrivateKey version');
  const d = r.octets('privateKey');
  const params = r.optionalContext(0);
  const named = params ? (CURVE_OIDS[params.oid('namedCurve')] ?? unsupportedCurve()) : undefined;
  const type = named ?? fromPkcs8;
  if (!type) throw new KeyFileError('the key file is damaged (an EC key without its curve)', 'malformed');
  if (fromPkcs8 && named && fromPkcs8 !== named)
    throw new KeyFileError('the key file is damaged (two different curves)', 'malformed');
  const { curve, size } = ECDSA_CURVES[type];
  if (d.length === 0 || d.length > size + 1)
    throw new KeyFileError('the key file is damaged (EC private key of the wrong size)', 'malformed');
  let scalar = 0n;
  for (const x of d) scalar = (scalar << 8n) | BigInt(x);
  if (scalar <= 0n || scalar >= curve.Point.CURVE().n)
    throw new KeyFileError('the key file is damaged (ECDSA private scalar out of range)', 'malformed');
  const privateKey = bigintToBytes(scalar, size);
  const publicKey = curve.getPublicKey(privateKey, false);
  const pub = r.optionalContext(1);
  if (pub) {
    const given = pub.bitString('publicKey');
    if (!equalBytes(given, publicKey) && !equalBytes(given, curve.getPublicKey(privateKey, true))) {
      throw new KeyFileError('the key file is damaged (ECDSA private key does not give its public key)', 'malformed');
    }
  }
  return check({ type, privateKey, publicKey });
}

/** The checks every imported key gets (keyfile.ts readPrivateKeyFields): sizes, consistency, RSA ≥ 2048. */
function check(key: UserKey): UserKey {
  return readPrivateKeyFields(privateKeyFields(key));
}
