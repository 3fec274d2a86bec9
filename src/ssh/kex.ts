// Key exchange: KEXINIT and algorithm negotiation (RFC 4253 §7.1), curve25519-sha256 (RFC 8731)
// with the exchange hash of RFC 5656 §4, key derivation (RFC 4253 §7.2), strict KEX
// (OpenSSH PROTOCOL "kex-strict-*-v00@openssh.com", the Terrapin countermeasure) and the
// ext-info-c indicator (RFC 8308 §2.1).
import { x25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { RandomSource } from '../crypto/random.js';
import { isAllZero } from '../crypto/bytes.js';
import { HOST_KEY_ALGORITHMS } from './hostkey.js';
import { SshProtocolError } from './transport/packet.js';
import { Reader, SshDecodeError, Writer } from './wire.js';
import { MSG } from './messages.js';

export const KEX_ALGORITHMS = ['curve25519-sha256', 'curve25519-sha256@libssh.org'] as const;
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
  ciphers: readonly string[];
  hostKeyAlgorithms: readonly string[];
}

export function clientKexInit(random: RandomSource, offer: KexOffer, initial: boolean): KexInit {
  // Strict KEX and ext-info-c are only meaningful in the first KEXINIT (PROTOCOL, RFC 8308 §2.1).
  const kex = [...KEX_ALGORITHMS, ...(initial ? [EXT_INFO_CLIENT, STRICT_KEX_CLIENT] : [])];
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

export interface EcdhState {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export function curve25519Start(random: RandomSource): EcdhState {
  const privateKey = random(32);
  return { privateKey, publicKey: x25519.getPublicKey(privateKey) };
}

export function encodeEcdhInit(q: Uint8Array): Uint8Array {
  return new Writer(48).byte(MSG.KEX_ECDH_INIT).string(q).finish();
}

export interface EcdhReply {
  hostKeyBlob: Uint8Array;
  serverPublic: Uint8Array;
  signature: Uint8Array;
}

export function decodeEcdhReply(payload: Uint8Array): EcdhReply {
  const r = new Reader(payload);
  if (r.byte() !== MSG.KEX_ECDH_REPLY) throw new SshDecodeError('not a KEX_ECDH_REPLY');
  const hostKeyBlob = r.string();
  const serverPublic = r.string();
  const signature = r.string();
  r.end('KEX_ECDH_REPLY');
  if (serverPublic.length !== 32) throw new SshDecodeError('server curve25519 key is not 32 bytes');
  return { hostKeyBlob, serverPublic, signature };
}

/** The shared secret K as the mpint encoding (RFC 8731 §3.1: X25519 output read as a big-endian integer). */
export function curve25519Shared(state: EcdhState, serverPublic: Uint8Array): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(state.privateKey, serverPublic);
  } catch {
    throw new SshProtocolError('server sent an invalid curve25519 public key', 3);
  }
  // RFC 8731 §3: an all-zero shared secret must abort.
  if (isAllZero(shared)) throw new SshProtocolError('curve25519 shared secret is zero', 3);
  return new Writer(40).mpintBytes(shared).finish();
}

export interface ExchangeHashInput {
  clientVersion: string;
  serverVersion: string;
  clientKexInit: Uint8Array;
  serverKexInit: Uint8Array;
  hostKeyBlob: Uint8Array;
  clientPublic: Uint8Array;
  serverPublic: Uint8Array;
  /** K, already encoded as mpint. */
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
