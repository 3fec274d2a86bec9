// Key exchange: KEXINIT and algorithm negotiation (RFC 4253 §7.1), curve25519-sha256 (RFC 8731)
// and the post-quantum hybrid mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex, OpenSSH
// 9.9+ and golang.org/x/crypto/ssh's default) with the exchange hash of RFC 5656 §4, key
// derivation (RFC 4253 §7.2), strict KEX
// (OpenSSH PROTOCOL "kex-strict-*-v00@openssh.com", the Terrapin countermeasure) and the
// ext-info-c indicator (RFC 8308 §2.1).
import { x25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import type { RandomSource } from '../crypto/random.js';
import { isAllZero } from '../crypto/bytes.js';
import { HOST_KEY_ALGORITHMS } from './hostkey.js';
import { SshProtocolError } from './transport/packet.js';
import { Reader, SshDecodeError, Writer } from './wire.js';
import { MSG } from './messages.js';

export const MLKEM768X25519 = 'mlkem768x25519-sha256';
/** Preference order: the PQ hybrid first (protects recorded traffic against a future quantum
 * computer), curve25519 as the fallback every OpenSSH since 7.4 speaks (Debian's 9.2 here). */
export const KEX_ALGORITHMS = [MLKEM768X25519, 'curve25519-sha256', 'curve25519-sha256@libssh.org'] as const;
export const CIPHER_ALGORITHMS = ['chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com', 'aes128-gcm@openssh.com'] as const;
export const STRICT_KEX_CLIENT = 'kex-strict-c-v00@openssh.com';
export const STRICT_KEX_SERVER = 'kex-strict-s-v00@openssh.com';
export const EXT_INFO_CLIENT = 'ext-info-c';

export interface KexInit {
  cookie: Uint8Array;
  kex: string[];
  hostKey: string[];
  cipherCtoS: string[];
  cipherStoC: string[];
  macCtoS: string[];
  macStoC: string[];
  compCtoS: string[];
  compStoC: string[];
  langCtoS: string[];
  langStoC: string[];
  firstKexFollows: boolean;
}

export function encodeKexInit(k: KexInit): Uint8Array {
  const w = new Writer(512).byte(MSG.KEXINIT).raw(k.cookie);
  for (const list of [k.kex, k.hostKey, k.cipherCtoS, k.cipherStoC, k.macCtoS, k.macStoC, k.compCtoS, k.compStoC, k.langCtoS, k.langStoC]) w.nameList(list);
  return w.bool(k.firstKexFollows).uint32(0).finish();
}

export function decodeKexInit(payload: Uint8Array): KexInit {
  const r = new Reader(payload);
  if (r.byte() !== MSG.KEXINIT) throw new SshDecodeError('not a KEXINIT');
  const cookie = r.raw(16);
  const lists = Array.from({ length: 10 }, () => r.nameList());
  const firstKexFollows = r.bool();
  r.uint32(); // reserved
  r.end('KEXINIT');
  const [kex, hostKey, cipherCtoS, cipherStoC, macCtoS, macStoC, compCtoS, compStoC, langCtoS, langStoC] = lists;
  return { cookie, kex, hostKey, cipherCtoS, cipherStoC, macCtoS, macStoC, compCtoS, compStoC, langCtoS, langStoC, firstKexFollows };
}

export interface KexOffer {
  /** Key exchange methods in preference order (default KEX_ALGORITHMS). */
  kex?: readonly string[];
  ciphers: readonly string[];
  hostKeyAlgorithms: readonly string[];
}

export function clientKexInit(random: RandomSource, offer: KexOffer, initial: boolean): KexInit {
  // Strict KEX and ext-info-c are only meaningful in the first KEXINIT (PROTOCOL, RFC 8308 §2.1).
  const kex = [...(offer.kex ?? KEX_ALGORITHMS), ...(initial ? [EXT_INFO_CLIENT, STRICT_KEX_CLIENT] : [])];
  const ciphers = [...offer.ciphers];
  return {
    cookie: random(16),
    kex,
    hostKey: [...offer.hostKeyAlgorithms],
    cipherCtoS: ciphers,
    cipherStoC: ciphers,
    // AEAD ciphers carry their own MAC; a MAC is still negotiated, list one we never use alone.
    macCtoS: ['hmac-sha2-256-etm@openssh.com'],
    macStoC: ['hmac-sha2-256-etm@openssh.com'],
    compCtoS: ['none'],
    compStoC: ['none'],
    langCtoS: [],
    langStoC: [],
    firstKexFollows: false,
  };
}

export const DEFAULT_OFFER: KexOffer = { ciphers: CIPHER_ALGORITHMS, hostKeyAlgorithms: HOST_KEY_ALGORITHMS };

export interface Negotiated {
  kex: string;
  hostKey: string;
  cipherCtoS: string;
  cipherStoC: string;
  strict: boolean;
  serverExtInfo: boolean;
}

function pick(what: string, client: string[], server: string[]): string {
  for (const c of client) if (server.includes(c)) return c;
  throw new SshProtocolError(`no common ${what} algorithm (we offer ${client.join(',')}; server offers ${server.join(',')})`, 3);
}

/** RFC 4253 §7.1: the first client algorithm the server also supports. */
export function negotiate(client: KexInit, server: KexInit): Negotiated {
  const kex = pick('key exchange', client.kex.filter((k) => k !== EXT_INFO_CLIENT && k !== STRICT_KEX_CLIENT), server.kex);
  const hostKey = pick('host key', client.hostKey, server.hostKey);
  const cipherCtoS = pick('client-to-server cipher', client.cipherCtoS, server.cipherCtoS);
  const cipherStoC = pick('server-to-client cipher', client.cipherStoC, server.cipherStoC);
  // With AEAD ciphers the MAC list is ignored (RFC 5647 §5.1 as OpenSSH implements it), but
  // compression must agree on "none".
  pick('client-to-server compression', client.compCtoS, server.compCtoS);
  pick('server-to-client compression', client.compStoC, server.compStoC);
  return {
    kex,
    hostKey,
    cipherCtoS,
    cipherStoC,
    strict: server.kex.includes(STRICT_KEX_SERVER),
    serverExtInfo: server.kex.includes('ext-info-s'),
  };
}

/** One run of a key exchange method: our public value Q_C, then K from the server's Q_S. */
export interface KexMethodState {
  readonly clientPublic: Uint8Array;
  /** K already encoded for the exchange hash and key derivation (mpint or string per method). */
  shared(serverPublic: Uint8Array): Uint8Array;
}

/** Raw X25519 with the RFC 8731 §3 checks (right length, valid point, non-zero result). */
function x25519Raw(privateKey: Uint8Array, serverPublic: Uint8Array): Uint8Array {
  if (serverPublic.length !== 32) throw new SshProtocolError('server curve25519 key is not 32 bytes', 3);
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(privateKey, serverPublic);
  } catch {
    throw new SshProtocolError('server sent an invalid curve25519 public key', 3);
  }
  if (isAllZero(shared)) throw new SshProtocolError('curve25519 shared secret is zero', 3);
  return shared;
}

/** curve25519-sha256 (RFC 8731): K is the X25519 output read as a big-endian mpint (§3.1). */
export function curve25519Start(random: RandomSource): KexMethodState {
  const privateKey = random(32);
  return {
    clientPublic: x25519.getPublicKey(privateKey),
    shared: (serverPublic) => new Writer(40).mpintBytes(x25519Raw(privateKey, serverPublic)).finish(),
  };
}

const MLKEM768_PUBLIC = 1184;
const MLKEM768_CIPHERTEXT = 1088;

/**
 * mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex §2.1–2.3): Q_C is the ML-KEM-768
 * encapsulation key followed by an X25519 public key; Q_S is the ML-KEM ciphertext followed by
 * the server's X25519 key; K = SHA-256(K_PQ || K_CL), encoded as a string (not an mpint).
 * Same message numbers as ECDH (30/31). Checked against golang.org/x/crypto/ssh mlkem.go.
 */
export function mlkem768x25519Start(random: RandomSource): KexMethodState {
  // FIPS 203 keygen from a 64-byte seed (d || z) so randomness stays injected.
  const kem = ml_kem768.keygen(random(64));
  const xPriv = random(32);
  const clientPublic = new Uint8Array(MLKEM768_PUBLIC + 32);
  clientPublic.set(kem.publicKey);
  clientPublic.set(x25519.getPublicKey(xPriv), MLKEM768_PUBLIC);
  return {
    clientPublic,
    shared(serverPublic) {
      if (serverPublic.length !== MLKEM768_CIPHERTEXT + 32) throw new SshProtocolError(`server mlkem768x25519 reply is ${serverPublic.length} bytes, not ${MLKEM768_CIPHERTEXT + 32}`, 3);
      // ML-KEM decapsulation never fails on a well-sized ciphertext (implicit rejection, FIPS 203 §6.3).
      const kPq = ml_kem768.decapsulate(serverPublic.subarray(0, MLKEM768_CIPHERTEXT), kem.secretKey);
      const kCl = x25519Raw(xPriv, serverPublic.subarray(MLKEM768_CIPHERTEXT));
      const both = new Uint8Array(64);
      both.set(kPq);
      both.set(kCl, 32);
      return new Writer(40).string(sha256(both)).finish();
    },
  };
}

/** The state for a negotiated key exchange method (only names from KEX_ALGORITHMS get here). */
export function startKexMethod(name: string, random: RandomSource): KexMethodState {
  if (name === MLKEM768X25519) return mlkem768x25519Start(random);
  if (name === 'curve25519-sha256' || name === 'curve25519-sha256@libssh.org') return curve25519Start(random);
  throw new SshProtocolError(`key exchange method ${name} is not implemented`, 3);
}

export function encodeEcdhInit(q: Uint8Array): Uint8Array {
  return new Writer(q.length + 16).byte(MSG.KEX_ECDH_INIT).string(q).finish();
}

export interface EcdhReply {
  hostKeyBlob: Uint8Array;
  serverPublic: Uint8Array;
  signature: Uint8Array;
}

/** KEX_ECDH_REPLY (RFC 5656 §4; the ML-KEM hybrid reuses it). Q_S length is checked by the method. */
export function decodeEcdhReply(payload: Uint8Array): EcdhReply {
  const r = new Reader(payload);
  if (r.byte() !== MSG.KEX_ECDH_REPLY) throw new SshDecodeError('not a KEX_ECDH_REPLY');
  const hostKeyBlob = r.string();
  const serverPublic = r.string();
  const signature = r.string();
  r.end('KEX_ECDH_REPLY');
  return { hostKeyBlob, serverPublic, signature };
}

export interface ExchangeHashInput {
  clientVersion: string;
  serverVersion: string;
  clientKexInit: Uint8Array;
  serverKexInit: Uint8Array;
  hostKeyBlob: Uint8Array;
  clientPublic: Uint8Array;
  serverPublic: Uint8Array;
  /** K, already encoded (mpint for curve25519, string for the ML-KEM hybrid). */
  sharedMpint: Uint8Array;
}

export function exchangeHash(x: ExchangeHashInput): Uint8Array {
  const w = new Writer(1024)
    .string(x.clientVersion)
    .string(x.serverVersion)
    .string(x.clientKexInit)
    .string(x.serverKexInit)
    .string(x.hostKeyBlob)
    .string(x.clientPublic)
    .string(x.serverPublic)
    .raw(x.sharedMpint);
  return sha256(w.finish());
}

/** RFC 4253 §7.2: HASH(K || H || letter || session_id), extended with HASH(K || H || K1 || ...). */
export function deriveKey(sharedMpint: Uint8Array, h: Uint8Array, letter: string, sessionId: Uint8Array, length: number): Uint8Array {
  const base = new Writer(128).raw(sharedMpint).raw(h);
  let out = sha256(new Writer(128).raw(sharedMpint).raw(h).byte(letter.charCodeAt(0)).raw(sessionId).finish());
  while (out.length < length) {
    const more = sha256(new Writer(256).raw(base.finish()).raw(out).finish());
    const next = new Uint8Array(out.length + more.length);
    next.set(out);
    next.set(more, out.length);
    out = next;
  }
  return out.slice(0, length);
}
