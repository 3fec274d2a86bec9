// The person's own keys as PuTTY writes them: .ppk files, versions 2 (PuTTY 0.52–0.74) and 3
// (0.75 on), from the PuTTY manual's Appendix C "PPK file format" (outer layer C.2, private key
// encodings C.3, key derivation C.4, version 2 in C.5). Key types: ssh-ed25519,
// ecdsa-sha2-nistp256/384/521, ssh-rsa. Encryption "none" or "aes256-cbc":
//   v3: Argon2id/i/d(passphrase, salt; no secret, no associated data) → 80 bytes = AES key (32),
//       CBC IV (16), HMAC-SHA-256 key (32); unencrypted files use an empty MAC key.
//   v2: AES key = first 32 bytes of SHA-1(uint32 0 ‖ passphrase) ‖ SHA-1(uint32 1 ‖ passphrase),
//       IV all zero; HMAC-SHA-1 keyed with SHA-1("putty-private-key-file-mac-key" ‖ passphrase)
//       (the passphrase empty for an unencrypted file).
// The MAC covers string(algorithm) string(encryption) string(comment) string(public blob)
// string(decrypted private blob), so a wrong passphrase and an edited file are both caught before
// any key material is used. The fields are rebuilt in openssh-key-v1 order and go through
// readPrivateKeyFields, so a PPK key gets exactly the checks an OpenSSH file gets. Argon2's cost
// comes from the file (an attacker's file can ask for anything): memory and passes are bounded.
import { cbc } from '@noble/ciphers/aes.js';
import { argon2d, argon2i, argon2id } from '@noble/hashes/argon2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, equalBytes, fromBase64, fromHex } from '../crypto/bytes.js';
import { ECDSA_CURVES } from './hostkey.js';
import { KeyFileError, readPrivateKeyFields, type ImportedKey } from './keyfile.js';
import { bigintToBytes, Reader, SshDecodeError, Writer } from './wire.js';

/** 1 GiB of Argon2 memory would take a tab down; PuTTYgen writes 8 MiB unless told otherwise. */
const MAX_ARGON2_MEMORY_KIB = 256 * 1024;
/** Memory × passes bounds the time (~8 µs per KiB-pass in a JIT here: 8 MiB × 512 passes ≈ 30 s). */
const MAX_ARGON2_WORK_KIB = 8192 * 512;
const MAX_ARGON2_PARALLELISM = 64;
/** A 16384-bit RSA key is ~40 base64 lines; anything far beyond is not a key. */
const MAX_LINES = 400;

const KDFS = { Argon2id: argon2id, Argon2i: argon2i, Argon2d: argon2d } as const;

const RESAVE = 'open it in PuTTYgen and save it again (Conversions → Export OpenSSH key also works), then import that';

/** Does this text look like a PuTTY key file (so parsePrivateKeyFile sends it here)? */
export function isPpkFile(text: string): boolean {
  return /^\s*PuTTY-User-Key-File-/.test(text);
}

/** Does this PuTTY key need a passphrase before it can be read? */
export function isEncryptedPpk(text: string): boolean {
  const m = /^Encryption:[ \t]*(\S*)/m.exec(text);
  return !!m && m[1] !== 'none';
}

interface PpkFields {
  version: 2 | 3;
  algorithm: string;
  encryption: string;
  comment: string;
  publicBlob: Uint8Array;
  privateBlob: Uint8Array;
  mac: Uint8Array;
  kdf?: { name: keyof typeof KDFS; memory: number; passes: number; parallelism: number; salt: Uint8Array };
}

/**
 * Parse a PuTTY .ppk private key. A missing or wrong passphrase, a MAC that does not match, a
 * truncated file, an unsupported version or key type, or an absurd Argon2 cost is a KeyFileError
 * sentence (codes as for OpenSSH files).
 */
export function parsePpkPrivateKey(text: string, passphrase?: string): ImportedKey {
  try {
    return open(readOuter(text), passphrase);
  } catch (e) {
    if (e instanceof KeyFileError) throw e;
    if (e instanceof SshDecodeError)
      throw new KeyFileError(`the PuTTY key file is truncated or damaged (${e.message})`, 'malformed');
    throw new KeyFileError(
      `the PuTTY key file could not be read (${e instanceof Error ? e.message : String(e)})`,
      'malformed',
    );
  }
}

const damaged = (what: string) => new KeyFileError(`the PuTTY key file is damaged (${what})`, 'malformed');

/** C.2: "Name: value" lines in a fixed order, base64 blocks after their line counts. */
function readOuter(text: string): PpkFields {
  const lines = text.trim().split(/\r\n|\r|\n/);
  let at = 0;
  const field = (name: string): string => {
    const line = lines[at];
    if (line === undefined)
      throw new KeyFileError(
        `the PuTTY key file is truncated (it ends before "${name}:"); copy the whole file`,
        'malformed',
      );
    const m = /^([A-Za-z0-9-]+): ?(.*)$/.exec(line);
    if (!m || m[1] !== name) throw damaged(`expected "${name}:" on line ${at + 1}`);
    at++;
    return m[2];
  };
  const number = (name: string, max: number): number => {
    const v = field(name).trim();
    if (!/^\d{1,10}$/.test(v) || Number(v) > max)
      throw damaged(`"${name}: ${v.slice(0, 20)}" is not a sensible number`);
    return Number(v);
  };
  const block = (name: string): Uint8Array => {
    const n = number(name, MAX_LINES);
    if (at + n > lines.length)
      throw new KeyFileError(
        'the PuTTY key file is truncated (fewer key lines than it says); copy the whole file',
        'malformed',
      );
    const b64 = lines.slice(at, at + n).join('');
    at += n;
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64))
      throw damaged(`the ${name.replace('-Lines', '').toLowerCase()} key is not base64`);
    try {
      return fromBase64(b64);
    } catch {
      throw damaged('its base64 does not decode');
    }
  };
  const head = /^PuTTY-User-Key-File-(\d+): ?(.*)$/.exec(lines[at++] ?? '');
  if (!head) throw damaged('no "PuTTY-User-Key-File-" first line');
  const version = Number(head[1]);
  if (version !== 2 && version !== 3)
    throw new KeyFileError(
      version < 2
        ? `this is a PuTTY key in the old format version ${version}; ${RESAVE}`
        : `this PuTTY key is in format version ${version}, newer than tailtab reads (2 and 3); save it from PuTTYgen as version 3, or export it as an OpenSSH key`,
      'unsupported',
    );
  const algorithm = head[2].trim();
  const encryption = field('Encryption').trim();
  if (encryption !== 'none' && encryption !== 'aes256-cbc')
    throw new KeyFileError(
      `the PuTTY key is encrypted with ${JSON.stringify(encryption.slice(0, 40))}, which tailtab does not read; ${RESAVE}`,
      'unsupported',
    );
  const comment = field('Comment');
  const publicBlob = block('Public-Lines');
  let kdf: PpkFields['kdf'];
  if (version === 3 && encryption !== 'none') {
    const name = field('Key-Derivation').trim();
    if (!(name in KDFS))
      throw new KeyFileError(
        `the PuTTY key uses key derivation ${JSON.stringify(name.slice(0, 40))}; tailtab reads Argon2id, Argon2i and Argon2d`,
        'unsupported',
      );
    const memory = number('Argon2-Memory', 2 ** 32 - 1);
    const passes = number('Argon2-Passes', 2 ** 32 - 1);
    const parallelism = number('Argon2-Parallelism', 2 ** 24 - 1);
    const saltHex = field('Argon2-Salt').trim();
    if (!/^([0-9a-fA-F]{2}){8,64}$/.test(saltHex)) throw damaged('bad Argon2 salt');
    kdf = { name: name as keyof typeof KDFS, memory, passes, parallelism, salt: fromHex(saltHex.toLowerCase()) };
  }
  const privateBlob = block('Private-Lines');
  const macHex = field('Private-MAC').trim();
  const macLength = version === 3 ? 32 : 20;
  if (!new RegExp(`^[0-9a-fA-F]{${macLength * 2}}$`).test(macHex)) throw damaged('bad Private-MAC line');
  return {
    version,
    algorithm,
    encryption,
    comment,
    publicBlob,
    privateBlob,
    mac: fromHex(macHex.toLowerCase()),
    kdf,
  };
}

function checkArgon2Cost(kdf: NonNullable<PpkFields['kdf']>): void {
  const { memory, passes, parallelism } = kdf;
  if (passes < 1 || parallelism < 1 || memory < 8 * parallelism) throw damaged('bad Argon2 parameters');
  if (memory > MAX_ARGON2_MEMORY_KIB || parallelism > MAX_ARGON2_PARALLELISM || memory * passes > MAX_ARGON2_WORK_KIB)
    throw new KeyFileError(
      `the PuTTY key asks Argon2 for ${memory} KiB × ${passes} passes (parallelism ${parallelism}); tailtab allows at most ${MAX_ARGON2_MEMORY_KIB} KiB and ${MAX_ARGON2_WORK_KIB} KiB × passes — in PuTTYgen set smaller "Key → Parameters for saving key files" (e.g. 8192 KiB, 100 ms) and save it again`,
      'unsupported',
    );
}

/** C.4 / C.5: cipher key, IV and MAC key for this file and passphrase. */
function keyMaterial(f: PpkFields, passphrase: Uint8Array): { key?: Uint8Array; iv?: Uint8Array; macKey: Uint8Array } {
  const encrypted = f.encryption !== 'none';
  if (f.version === 2) {
    const macKey = sha1(concatBytes(new TextEncoder().encode('putty-private-key-file-mac-key'), passphrase));
    if (!encrypted) return { macKey };
    const seq = (n: number) => sha1(concatBytes(new Uint8Array([0, 0, 0, n]), passphrase));
    return { key: concatBytes(seq(0), seq(1)).slice(0, 32), iv: new Uint8Array(16), macKey };
  }
  if (!encrypted || !f.kdf) return { macKey: new Uint8Array(0) };
  const { name, memory, passes, parallelism, salt } = f.kdf;
  const out = KDFS[name](passphrase, salt, { m: memory, t: passes, p: parallelism, dkLen: 80 });
  return { key: out.slice(0, 32), iv: out.slice(32, 48), macKey: out.slice(48, 80) };
}

function open(f: PpkFields, passphrase: string | undefined): ImportedKey {
  const encrypted = f.encryption !== 'none';
  if (f.kdf) checkArgon2Cost(f.kdf);
  if (encrypted && (passphrase === undefined || passphrase === ''))
    throw new KeyFileError('this key is protected by a passphrase; enter it to import the key', 'passphrase-needed');
  if (encrypted && (f.privateBlob.length === 0 || f.privateBlob.length % 16 !== 0))
    throw new KeyFileError(
      'the PuTTY key file is truncated or damaged (encrypted part is not whole blocks)',
      'malformed',
    );
  const pass = new TextEncoder().encode(encrypted ? passphrase : '');
  const { key, iv, macKey } = keyMaterial(f, pass);
  const priv = key && iv ? cbc(key, iv, { disablePadding: true }).decrypt(f.privateBlob) : f.privateBlob;
  const macData = new Writer(priv.length + f.publicBlob.length + 256)
    .string(f.algorithm)
    .string(f.encryption)
    .string(f.comment)
    .string(f.publicBlob)
    .string(priv)
    .finish();
  const mac = hmac(f.version === 3 ? sha256 : sha1, macKey, macData);
  if (!equalBytes(mac, f.mac)) {
    if (encrypted)
      throw new KeyFileError('wrong passphrase for this key (or the file was altered)', 'wrong-passphrase');
    throw damaged('its MAC does not match: the file was altered or cut');
  }
  return { key: readPrivateKeyFields(openSshFields(f.algorithm, f.publicBlob, priv)), comment: f.comment };
}

/** C.3: the public blob is SSH's wire form; the private blob per type. Rebuilt in openssh-key-v1 order. */
function openSshFields(algorithm: string, publicBlob: Uint8Array, priv: Uint8Array): Uint8Array {
  const pub = new Reader(publicBlob);
  const type = pub.text();
  if (type !== algorithm)
    throw damaged(`the header says ${algorithm.slice(0, 40)} but the public key is ${type.slice(0, 40)}`);
  const pr = new Reader(priv);
  const w = new Writer(2048).string(type);
  if (type === 'ssh-ed25519') {
    const a = pub.string();
    pub.end('public key');
    // PuTTY writes the 32-byte secret (RFC 8032's "k") as a string; OpenSSH keeps k ‖ A.
    const k = pr.string();
    w.string(a).string(concatBytes(k, a));
  } else if (type in ECDSA_CURVES) {
    const curve = pub.text();
    const q = pub.string();
    pub.end('public key');
    w.string(curve).string(q).mpintBytes(magnitude(pr.mpint()));
  } else if (type === 'ssh-rsa') {
    const e = pub.mpint();
    const n = pub.mpint();
    pub.end('public key');
    const d = pr.mpint();
    const p = pr.mpint();
    const q = pr.mpint();
    const iqmp = pr.mpint();
    for (const v of [n, e, d, iqmp, p, q]) w.mpintBytes(magnitude(v));
  } else {
    // Not ours to read: readPrivateKeyFields names DSA, FIDO and the rest in words.
    return new Writer(64).string(type).finish();
  }
  // Encrypted blobs are padded to the AES block (v2 with SHA-1 bytes, v3 with random ones).
  if (pr.rest().length >= 16) throw damaged('extra data after the private key');
  return w.finish();
}

function magnitude(v: bigint): Uint8Array {
  return bigintToBytes(v, Math.max(1, Math.ceil(v.toString(16).length / 2)));
}
