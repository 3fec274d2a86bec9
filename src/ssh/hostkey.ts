// Server host key formats and signature verification: ssh-ed25519 (RFC 8709),
// ecdsa-sha2-nistp256/384/521 (RFC 5656 §3.1), rsa-sha2-256/512 (RFC 8332, RSASSA-PKCS1-v1_5 of RFC 8017 §8.2.2 computed
// with bigint). Fingerprints as OpenSSH prints them: "SHA256:" + unpadded base64 of SHA-256(blob).
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { equalBytes, toBase64 } from '../crypto/bytes.js';
import { bigintToBytes, modPow, Reader, SshDecodeError, Writer } from './wire.js';
import { LEGACY_DEVICE_HINT } from './legacy-device.js';

export const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
] as const;

export type EcdsaType = 'ecdsa-sha2-nistp256' | 'ecdsa-sha2-nistp384' | 'ecdsa-sha2-nistp521';
/** Curve, SSH curve name and field size per ECDSA key type (RFC 5656 §6.2.1: the hash follows the size). */
export const ECDSA_CURVES = {
  'ecdsa-sha2-nistp256': { curve: p256, id: 'nistp256', size: 32 },
  'ecdsa-sha2-nistp384': { curve: p384, id: 'nistp384', size: 48 },
  'ecdsa-sha2-nistp521': { curve: p521, id: 'nistp521', size: 66 },
} as const;
/** Smallest RSA modulus we accept (RFC 8332 §3 says 2048; OpenSSH refuses only < 1024). */
export const MIN_RSA_BITS = 2048;
/** With the legacy-device opt-in: OpenSSH's own floor. */
export const LEGACY_MIN_RSA_BITS = 1024;

export type HostKey =
  | { type: 'ssh-ed25519'; publicKey: Uint8Array; blob: Uint8Array }
  | { type: EcdsaType; point: Uint8Array; blob: Uint8Array }
  | { type: 'ssh-rsa'; e: bigint; n: bigint; bits: number; blob: Uint8Array };

export function fingerprint(blob: Uint8Array): string {
  return 'SHA256:' + toBase64(sha256(blob)).replace(/=+$/, '');
}

export function parseHostKey(blob: Uint8Array, minRsaBits = MIN_RSA_BITS): HostKey {
  const r = new Reader(blob);
  const type = r.text();
  if (type === 'ssh-ed25519') {
    const pk = r.string();
    r.end('ssh-ed25519 key');
    if (pk.length !== 32) throw new SshDecodeError('ssh-ed25519 key is not 32 bytes');
    return { type, publicKey: pk, blob };
  }
  if (type in ECDSA_CURVES) {
    const c = ECDSA_CURVES[type as EcdsaType];
    const curve = r.text();
    const q = r.string();
    r.end('ecdsa key');
    if (curve !== c.id || q.length !== 1 + 2 * c.size || q[0] !== 4) throw new SshDecodeError(`malformed ${c.id} key`);
    return { type: type as EcdsaType, point: q, blob };
  }
  if (type === 'ssh-rsa') {
    const e = r.mpint();
    const n = r.mpint();
    r.end('ssh-rsa key');
    const bits = n.toString(2).length;
    // RFC 8332 §3: keys under 2048 bits should be refused; OpenSSH refuses < 1024. We require 2048.
    if (bits < minRsaBits) {
      throw new SshDecodeError(
        `its RSA host key is only ${bits} bits; tailtab requires at least ${minRsaBits}. On the device, make a new one (ssh-keygen -t rsa -b 3072 -f /etc/ssh/ssh_host_rsa_key, or dropbearkey -t rsa -s 3072) or enable its Ed25519/ECDSA host key${minRsaBits > LEGACY_MIN_RSA_BITS && bits >= LEGACY_MIN_RSA_BITS ? ` — or, ${LEGACY_DEVICE_HINT}` : ''}`,
      );
    }
    if (bits > 16384) throw new SshDecodeError(`RSA host key of ${bits} bits refused (over 16384)`);
    if (e < 3n || e % 2n === 0n) throw new SshDecodeError('bad RSA public exponent');
    return { type, e, n, bits, blob };
  }
  throw new SshDecodeError(`unsupported host key type ${JSON.stringify(type.slice(0, 40))}`);
}

// DigestInfo DER prefixes, RFC 8017 §9.2 note 1.
const SHA256_PREFIX = Uint8Array.from([
  0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
]);
const SHA1_PREFIX = Uint8Array.from([
  0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
]);
const SHA512_PREFIX = Uint8Array.from([
  0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40,
]);

function rsaVerify(
  key: Extract<HostKey, { type: 'ssh-rsa' }>,
  hashName: 'sha1' | 'sha256' | 'sha512',
  sig: Uint8Array,
  data: Uint8Array,
): boolean {
  const k = Math.ceil(key.bits / 8);
  // RFC 8332 §3: the signature blob is exactly the modulus length (OpenSSH may send it shorter;
  // it left-pads, so we accept shorter too).
  if (sig.length > k || sig.length === 0) return false;
  let s = 0n;
  for (const b of sig) s = (s << 8n) | BigInt(b);
  if (s >= key.n) return false;
  const em = bigintToBytes(modPow(s, key.e, key.n), k);
  const digest = hashName === 'sha1' ? sha1(data) : hashName === 'sha256' ? sha256(data) : sha512(data);
  const prefix = hashName === 'sha1' ? SHA1_PREFIX : hashName === 'sha256' ? SHA256_PREFIX : SHA512_PREFIX;
  const tLen = prefix.length + digest.length;
  if (k < tLen + 11) return false;
  const expected = new Uint8Array(k);
  expected[0] = 0;
  expected[1] = 1;
  expected.fill(0xff, 2, k - tLen - 1);
  expected[k - tLen - 1] = 0;
  expected.set(prefix, k - tLen);
  expected.set(digest, k - digest.length);
  return equalBytes(em, expected);
}

/**
 * Verify a signature blob (string algorithm, string signature) over data with the host key.
 * `algorithm` is the negotiated host key algorithm; the blob must name it.
 */
export function verifySignature(
  key: HostKey,
  algorithm: string,
  signatureBlob: Uint8Array,
  data: Uint8Array,
  allowSha1 = false,
): boolean {
  const r = new Reader(signatureBlob);
  const sigAlg = r.text();
  const sig = r.string();
  r.end('signature');
  if (sigAlg !== algorithm) return false;
  switch (key.type) {
    case 'ssh-ed25519':
      if (algorithm !== 'ssh-ed25519' || sig.length !== 64) return false;
      try {
        return ed25519.verify(sig, data, key.publicKey);
      } catch {
        return false;
      }
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521': {
      if (algorithm !== key.type) return false;
      const { curve, size } = ECDSA_CURVES[key.type];
      const sr = new Reader(sig);
      const rr = sr.mpint();
      const ss = sr.mpint();
      sr.end('ecdsa signature');
      const n = curve.Point.CURVE().n;
      if (rr <= 0n || rr >= n || ss <= 0n || ss >= n) return false;
      const compact = new Uint8Array(2 * size);
      compact.set(bigintToBytes(rr, size), 0);
      compact.set(bigintToBytes(ss, size), size);
      try {
        // RFC 5656 §6.2.1: SHA-256/384/512 by curve size; noble's p256/p384/p521 prehash with exactly those.
        return curve.verify(compact, data, key.point, { lowS: false });
      } catch {
        return false;
      }
    }
    case 'ssh-rsa':
      if (algorithm === 'rsa-sha2-256') return rsaVerify(key, 'sha256', sig, data);
      if (algorithm === 'rsa-sha2-512') return rsaVerify(key, 'sha512', sig, data);
      // ssh-rsa (SHA-1) only with the legacy-device opt-in.
      if (algorithm === 'ssh-rsa' && allowSha1) return rsaVerify(key, 'sha1', sig, data);
      return false;
  }
}

/** Which host key algorithm names a key can sign with. */
export function algorithmsForKeyType(type: HostKey['type']): string[] {
  return type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256'] : [type];
}

export function encodeSignatureBlob(algorithm: string, sig: Uint8Array): Uint8Array {
  return new Writer().string(algorithm).string(sig).finish();
}
