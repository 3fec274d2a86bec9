// The person's SSH keys held as non-extractable WebCrypto keys (W3C Web Cryptography API,
// "extractable" false: exportKey refuses, so no script — ours included — can read the private half
// back, and IndexedDB stores the CryptoKey, not bytes). One CryptoKey per signature algorithm,
// because WebCrypto binds the hash to an RSA key at import: ssh-ed25519 (Ed25519),
// ecdsa-sha2-nistp256/384/521 (ECDSA P-256/384/521 with SHA-256/384/512, RFC 5656 §6.2.1),
// rsa-sha2-256/512 (RSASSA-PKCS1-v1_5 with SHA-256/512, RFC 8332). Support is found by trying:
// import the key and make one signature, checked by our own verifier; an engine that lacks the
// algorithm (Ed25519 before Chromium 137, Firefox 129, Safari 17) or gets it wrong gives undefined
// and the caller keeps raw bytes instead. No user-agent sniffing.
import { toBase64 } from '../crypto/bytes.js';
import { ECDSA_CURVES, parseHostKey, verifySignature } from './hostkey.js';
import { signatureAlgorithms, type SshSigner, type UserKey } from './keys.js';
import { bigintToBytes, Writer } from './wire.js';

export type Subtle = Pick<SubtleCrypto, 'importKey' | 'sign' | 'generateKey' | 'exportKey'>;

/** CryptoKeys by SSH signature algorithm (e.g. { 'rsa-sha2-512': …, 'rsa-sha2-256': … }). */
export type SigningKeys = Record<string, CryptoKey>;

const CURVES = {
  'ecdsa-sha2-nistp256': { namedCurve: 'P-256', hash: 'SHA-256' },
  'ecdsa-sha2-nistp384': { namedCurve: 'P-384', hash: 'SHA-384' },
  'ecdsa-sha2-nistp521': { namedCurve: 'P-521', hash: 'SHA-512' },
} as const;

function importParams(algorithm: string): {
  importAlg: AlgorithmIdentifier | EcKeyImportParams | RsaHashedImportParams;
  signAlg: AlgorithmIdentifier | EcdsaParams;
} {
  if (algorithm === 'ssh-ed25519') return { importAlg: { name: 'Ed25519' }, signAlg: { name: 'Ed25519' } };
  if (algorithm === 'rsa-sha2-256' || algorithm === 'rsa-sha2-512') {
    const hash = algorithm === 'rsa-sha2-256' ? 'SHA-256' : 'SHA-512';
    return { importAlg: { name: 'RSASSA-PKCS1-v1_5', hash }, signAlg: { name: 'RSASSA-PKCS1-v1_5' } };
  }
  const c = CURVES[algorithm as keyof typeof CURVES];
  if (!c) throw new Error(`no WebCrypto algorithm for ${algorithm}`);
  return { importAlg: { name: 'ECDSA', namedCurve: c.namedCurve }, signAlg: { name: 'ECDSA', hash: c.hash } };
}

const b64u = (b: Uint8Array) => toBase64(b).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const big = (v: bigint) => b64u(bigintToBytes(v, Math.max(1, Math.ceil(v.toString(16).length / 2))));

/** The private key as a JWK (RFC 7517/7518; RFC 8037 for Ed25519), only to hand to importKey. */
function jwkOf(key: UserKey): JsonWebKey {
  if (key.type === 'ssh-ed25519')
    return { kty: 'OKP', crv: 'Ed25519', x: b64u(key.publicKey), d: b64u(key.privateKey) };
  if (key.type === 'ssh-rsa') {
    return {
      kty: 'RSA',
      n: big(key.n),
      e: big(key.e),
      d: big(key.d),
      p: big(key.p),
      q: big(key.q),
      dp: big(key.d % (key.p - 1n)),
      dq: big(key.d % (key.q - 1n)),
      qi: big(key.iqmp),
    };
  }
  const { size } = ECDSA_CURVES[key.type];
  const pub = key.publicKey;
  return {
    kty: 'EC',
    crv: CURVES[key.type].namedCurve,
    x: b64u(pub.subarray(1, 1 + size)),
    y: b64u(pub.subarray(1 + size)),
    d: b64u(key.privateKey),
  };
}

/** WebCrypto's signature bytes as SSH's signature blob. */
function sshSignature(type: UserKey['type'], algorithm: string, sig: Uint8Array): Uint8Array {
  if (type in ECDSA_CURVES) {
    // WebCrypto gives r || s (IEEE P1363); SSH wants string(mpint r, mpint s) (RFC 5656 §3.1.2).
    const size = sig.length / 2;
    const inner = new Writer(150).mpintBytes(sig.subarray(0, size)).mpintBytes(sig.subarray(size)).finish();
    return new Writer(200).string(algorithm).string(inner).finish();
  }
  return new Writer(sig.length + 40).string(algorithm).string(sig).finish();
}

export function cryptoKeySigner(
  subtle: Subtle,
  type: UserKey['type'],
  publicBlob: Uint8Array,
  keys: SigningKeys,
): SshSigner {
  return {
    type,
    publicBlob,
    async sign(algorithm, data) {
      const ck = keys[algorithm];
      if (!ck) throw new Error(`this ${type} key does not sign ${algorithm}`);
      const sig = new Uint8Array(await subtle.sign(importParams(algorithm).signAlg, ck, data as BufferSource));
      return sshSignature(type, algorithm, sig);
    },
  };
}

/** Does this signer produce a signature our verifier accepts? (The engine's support, tried.) */
async function selfTest(signer: SshSigner, algorithm: string): Promise<boolean> {
  const data = new TextEncoder().encode('tailtab key custody self-test');
  try {
    return verifySignature(parseHostKey(signer.publicBlob), algorithm, await signer.sign(algorithm, data), data);
  } catch {
    return false;
  }
}

/**
 * The key as non-extractable CryptoKeys, one per signature algorithm it can use; undefined when
 * the engine cannot hold it (the caller then keeps raw bytes and signs with noble).
 */
export async function toSigningKeys(
  subtle: Subtle | undefined,
  key: UserKey,
  publicBlob: Uint8Array,
): Promise<SigningKeys | undefined> {
  if (!subtle) return undefined;
  const jwk = jwkOf(key);
  const keys: SigningKeys = {};
  try {
    for (const algorithm of signatureAlgorithms(key)) {
      keys[algorithm] = await subtle.importKey('jwk', jwk, importParams(algorithm).importAlg, false, ['sign']);
    }
  } catch {
    return undefined; // NotSupportedError / DataError: this engine lacks the algorithm or curve.
  }
  const signer = cryptoKeySigner(subtle, key.type, publicBlob, keys);
  for (const algorithm of Object.keys(keys)) if (!(await selfTest(signer, algorithm))) return undefined;
  return keys;
}

/**
 * A new Ed25519 key made by the engine, non-extractable: its private half never exists as bytes
 * in this script. undefined where the engine has no Ed25519.
 */
export async function generateEd25519SigningKey(
  subtle: Subtle | undefined,
): Promise<{ keys: SigningKeys; publicKey: Uint8Array } | undefined> {
  if (!subtle) return undefined;
  try {
    const pair = (await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const publicKey = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
    if (publicKey.length !== 32) return undefined;
    const keys = { 'ssh-ed25519': pair.privateKey };
    const blob = new Writer(64).string('ssh-ed25519').string(publicKey).finish();
    if (!(await selfTest(cryptoKeySigner(subtle, 'ssh-ed25519', blob, keys), 'ssh-ed25519'))) return undefined;
    return { keys, publicKey };
  } catch {
    return undefined;
  }
}
