// Key exchange: KEXINIT and algorithm negotiation (RFC 4253 §7.1), curve25519-sha256 (RFC 8731)
// and the post-quantum hybrid mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex, OpenSSH
// 9.9+ and golang.org/x/crypto/ssh's default) with the exchange hash of RFC 5656 §4; for older or
// smaller servers ecdh-sha2-nistp256/384/521 (RFC 5656 §4), diffie-hellman-group14-sha256 and
// -group16-sha512 (RFC 8268, RFC 4253 §8) and diffie-hellman-group-exchange-sha256 (RFC 4419);
// key derivation (RFC 4253 §7.2), strict KEX
// (OpenSSH PROTOCOL "kex-strict-*-v00@openssh.com", the Terrapin countermeasure) and the
// ext-info-c indicator (RFC 8308 §2.1).
import { x25519 } from '@noble/curves/ed25519.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import type { RandomSource } from '../crypto/random.js';
import { isAllZero } from '../crypto/bytes.js';
import { HOST_KEY_ALGORITHMS } from './hostkey.js';
import { SshProtocolError } from './transport/packet.js';
import { bigintToBytes, bytesToBigint, modPow, Reader, SshDecodeError, Writer } from './wire.js';
import { modpGroup14, modpGroup16 } from './pi.js';
import { MSG } from './messages.js';
import { LEGACY_ADVICE, LEGACY_DEVICE_HINT } from './legacy-device.js';
// modPow lives with the other bigint helpers in wire.ts; exported here too, where it was first.
export { modPow } from './wire.js';

export const MLKEM768X25519 = 'mlkem768x25519-sha256';
/** Preference order: the PQ hybrid first (protects recorded traffic against a future quantum
 * computer), curve25519 as the fallback every OpenSSH since 7.4 speaks (Debian's 9.2 here), then
 * what older and embedded servers have: NIST ECDH, group exchange, the fixed MODP groups. */
export const KEX_ALGORITHMS = [
  MLKEM768X25519,
  'curve25519-sha256',
  'curve25519-sha256@libssh.org',
  'ecdh-sha2-nistp256',
  'ecdh-sha2-nistp384',
  'ecdh-sha2-nistp521',
  'diffie-hellman-group-exchange-sha256',
  'diffie-hellman-group16-sha512',
  'diffie-hellman-group14-sha256',
] as const;
/** AEAD modes first; AES-CTR with an HMAC for servers without them (Dropbear, older appliances). */
export const CIPHER_ALGORITHMS = [
  'chacha20-poly1305@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-gcm@openssh.com',
  'aes256-ctr',
  'aes192-ctr',
  'aes128-ctr',
] as const;
/** Encrypt-then-MAC first (the MAC covers the ciphertext, so nothing is decrypted unauthenticated). */
export const MAC_ALGORITHMS = [
  'hmac-sha2-256-etm@openssh.com',
  'hmac-sha2-512-etm@openssh.com',
  'hmac-sha2-256',
  'hmac-sha2-512',
] as const;
/**
 * Only with the per-host "legacy device" opt-in (`KexOffer.legacy`), appended after everything
 * else: SHA-1 key exchange, ssh-rsa (RSA/SHA-1) host key signatures, hmac-sha1. Old appliances
 * that cannot be updated speak nothing better; SHA-1 collisions are practical, so never by default.
 */
export const LEGACY_KEX = ['diffie-hellman-group14-sha1', 'diffie-hellman-group-exchange-sha1'] as const;
export const LEGACY_HOST_KEY = ['ssh-rsa'] as const;
export const LEGACY_MACS = ['hmac-sha1-etm@openssh.com', 'hmac-sha1'] as const;
/** Ciphers that authenticate themselves: the negotiated MAC is not used with them. */
export const AEAD_CIPHERS: ReadonlySet<string> = new Set([
  'chacha20-poly1305@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-gcm@openssh.com',
]);
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
  for (const list of [
    k.kex,
    k.hostKey,
    k.cipherCtoS,
    k.cipherStoC,
    k.macCtoS,
    k.macStoC,
    k.compCtoS,
    k.compStoC,
    k.langCtoS,
    k.langStoC,
  ])
    w.nameList(list);
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
  return {
    cookie,
    kex,
    hostKey,
    cipherCtoS,
    cipherStoC,
    macCtoS,
    macStoC,
    compCtoS,
    compStoC,
    langCtoS,
    langStoC,
    firstKexFollows,
  };
}

export interface KexOffer {
  /** Key exchange methods in preference order (default KEX_ALGORITHMS). */
  kex?: readonly string[];
  ciphers: readonly string[];
  /** MACs for the non-AEAD ciphers (default MAC_ALGORITHMS). */
  macs?: readonly string[];
  hostKeyAlgorithms: readonly string[];
  /** The "legacy device" opt-in: also offer LEGACY_KEX / LEGACY_HOST_KEY / LEGACY_MACS, last. */
  legacy?: boolean;
}

export function clientKexInit(random: RandomSource, offer: KexOffer, initial: boolean): KexInit {
  // Strict KEX and ext-info-c are only meaningful in the first KEXINIT (PROTOCOL, RFC 8308 §2.1).
  const legacy = offer.legacy === true;
  const kex = [
    ...(offer.kex ?? KEX_ALGORITHMS),
    ...(legacy ? LEGACY_KEX : []),
    ...(initial ? [EXT_INFO_CLIENT, STRICT_KEX_CLIENT] : []),
  ];
  const macs = [...(offer.macs ?? MAC_ALGORITHMS), ...(legacy ? LEGACY_MACS : [])];
  const ciphers = [...offer.ciphers];
  return {
    cookie: random(16),
    kex,
    hostKey: [...offer.hostKeyAlgorithms, ...(legacy ? LEGACY_HOST_KEY : [])],
    cipherCtoS: ciphers,
    cipherStoC: ciphers,
    // Only used with a non-AEAD cipher (AEAD ones carry their own tag).
    macCtoS: macs,
    macStoC: [...macs],
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
  /** undefined when the cipher in that direction is AEAD. */
  macCtoS: string | undefined;
  macStoC: string | undefined;
  strict: boolean;
  serverExtInfo: boolean;
}

const LEGACY_SET: ReadonlySet<string> = new Set([...LEGACY_KEX, ...LEGACY_HOST_KEY, ...LEGACY_MACS]);
const ALL_SUPPORTED: ReadonlySet<string> = new Set([
  ...KEX_ALGORITHMS,
  ...CIPHER_ALGORITHMS,
  ...MAC_ALGORITHMS,
  ...HOST_KEY_ALGORITHMS,
  'none',
]);

function pick(what: string, client: string[], server: string[]): string {
  for (const c of client) if (server.includes(c)) return c;
  // Advice only when the server has nothing we could speak at all (not when our offer was narrowed).
  const advice = server.some((a) => ALL_SUPPORTED.has(a)) ? undefined : LEGACY_ADVICE[what]?.(server);
  const optIn = client.some((a) => (LEGACY_SET as ReadonlySet<string>).has(a))
    ? ''
    : ` — or, ${LEGACY_DEVICE_HINT} (accepts SHA-1)`;
  if (advice)
    throw new SshProtocolError(`no common ${what} algorithm: ${advice}${optIn} (server offers ${server.join(',')})`, 3);
  throw new SshProtocolError(
    `no common ${what} algorithm (we offer ${client.join(',')}; server offers ${server.join(',')})`,
    3,
  );
}

/** RFC 4253 §7.1: the first client algorithm the server also supports. */
export function negotiate(client: KexInit, server: KexInit): Negotiated {
  const kex = pick(
    'key exchange',
    client.kex.filter((k) => k !== EXT_INFO_CLIENT && k !== STRICT_KEX_CLIENT),
    server.kex,
  );
  const hostKey = pick('host key', client.hostKey, server.hostKey);
  const cipherCtoS = pick('client-to-server cipher', client.cipherCtoS, server.cipherCtoS);
  const cipherStoC = pick('server-to-client cipher', client.cipherStoC, server.cipherStoC);
  // With AEAD ciphers the MAC list is ignored (RFC 5647 §5.1 as OpenSSH implements it: no MAC is
  // chosen at all); compression must agree on "none".
  const macCtoS = AEAD_CIPHERS.has(cipherCtoS)
    ? undefined
    : pick('client-to-server MAC', client.macCtoS, server.macCtoS);
  const macStoC = AEAD_CIPHERS.has(cipherStoC)
    ? undefined
    : pick('server-to-client MAC', client.macStoC, server.macStoC);
  pick('client-to-server compression', client.compCtoS, server.compCtoS);
  pick('server-to-client compression', client.compStoC, server.compStoC);
  return {
    kex,
    hostKey,
    cipherCtoS,
    cipherStoC,
    macCtoS,
    macStoC,
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
      if (serverPublic.length !== MLKEM768_CIPHERTEXT + 32)
        throw new SshProtocolError(
          `server mlkem768x25519 reply is ${serverPublic.length} bytes, not ${MLKEM768_CIPHERTEXT + 32}`,
          3,
        );
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

export type HashFn = (data: Uint8Array) => Uint8Array;

/** The hash each method uses for H and key derivation (RFC 5656 §6.2.1, RFC 8268 §3). */
export function kexHash(name: string): HashFn {
  if (name === 'ecdh-sha2-nistp384') return sha384;
  if (name === 'ecdh-sha2-nistp521' || name === 'diffie-hellman-group16-sha512') return sha512;
  if (name.endsWith('-sha1')) return sha1;
  return sha256;
}

const NIST = { 'ecdh-sha2-nistp256': p256, 'ecdh-sha2-nistp384': p384, 'ecdh-sha2-nistp521': p521 } as const;

/**
 * ecdh-sha2-nistp* (RFC 5656 §4, §7.1): Q_C and Q_S are uncompressed points (SEC1 2.3.3), the
 * server's is validated on the curve (§4: "MUST verify"), K is the x coordinate as an mpint.
 */
export function nistEcdhStart(name: keyof typeof NIST, random: RandomSource): KexMethodState {
  const curve = NIST[name];
  const len = curve.lengths.secretKey!;
  // A scalar in [1, n−1] from injected randomness: reduce 8 extra bytes to keep the bias negligible.
  const n = curve.Point.CURVE().n;
  const d = (bytesToBigint(random(len + 8)) % (n - 1n)) + 1n;
  const priv = bigintToBytes(d, len);
  const pointLen = curve.lengths.publicKeyUncompressed!;
  return {
    clientPublic: curve.getPublicKey(priv, false),
    shared(serverPublic) {
      if (serverPublic.length !== pointLen || serverPublic[0] !== 4)
        throw new SshProtocolError(`server ${name} public key is not an uncompressed point of ${pointLen} bytes`, 3);
      let x: Uint8Array;
      try {
        x = curve.getSharedSecret(priv, serverPublic, true).subarray(1);
      } catch {
        throw new SshProtocolError(`server sent an invalid ${name} public key (not on the curve)`, 3);
      }
      return new Writer(80).mpintBytes(x).finish();
    },
  };
}

function mpint(v: bigint): Uint8Array {
  const hex = v.toString(16);
  const bytes = bigintToBytes(v, Math.ceil(hex.length / 2));
  return new Writer(bytes.length + 8).mpintBytes(bytes).finish();
}

/** Finite-field DH over (p, g): x from 512 random bits (2× the 256-bit strength we aim at, as OpenSSH). */
function dhStart(p: bigint, g: bigint, random: RandomSource) {
  const x = bytesToBigint(random(64)) | 1n;
  const e = modPow(g, x, p);
  return {
    e,
    shared(f: bigint): Uint8Array {
      // RFC 4253 §8: values not in [1, p−1] must not be sent or accepted; 1 and p−1 give a
      // trivial K, so refuse those too (as OpenSSH dh_pub_is_valid does).
      if (f <= 1n || f >= p - 1n) throw new SshProtocolError('server Diffie-Hellman value is out of range', 3);
      return mpint(modPow(f, x, p));
    },
  };
}

/** Context every method needs for the exchange hash. */
export interface KexContext {
  clientVersion: string;
  serverVersion: string;
  clientKexInit: Uint8Array;
  serverKexInit: Uint8Array;
}

export interface KexResult {
  hostKeyBlob: Uint8Array;
  signature: Uint8Array;
  h: Uint8Array;
  /** K encoded for key derivation (mpint, or string for the ML-KEM hybrid). */
  k: Uint8Array;
  hash: HashFn;
}

/** One run of a negotiated method: the first message, then each server message (30..49) in turn. */
export interface KexRun {
  readonly first: Uint8Array;
  receive(payload: Uint8Array): { send: Uint8Array } | { result: KexResult };
}

export const MSG_KEXDH_INIT = 30;
export const MSG_KEXDH_REPLY = 31;
export const MSG_KEX_DH_GEX_GROUP = 31;
export const MSG_KEX_DH_GEX_INIT = 32;
export const MSG_KEX_DH_GEX_REPLY = 33;
export const MSG_KEX_DH_GEX_REQUEST = 34;
/** RFC 4419 §3 / RFC 8270: at least 2048 bits; we ask for 4096 and accept up to 8192. */
export const GEX_MIN = 2048;
export const GEX_PREFERRED = 4096;
export const GEX_MAX = 8192;

function expect(payload: Uint8Array, type: number, what: string): Reader {
  const r = new Reader(payload);
  const t = r.byte();
  if (t !== type) throw new SshProtocolError(`unexpected key exchange message ${t} (waiting for ${what})`);
  return r;
}

function ecdhLike(state: KexMethodState, hash: HashFn, ctx: KexContext): KexRun {
  return {
    first: encodeEcdhInit(state.clientPublic),
    receive(payload) {
      const reply = decodeEcdhReply(payload);
      const k = state.shared(reply.serverPublic);
      const h = exchangeHash(
        {
          ...ctx,
          hostKeyBlob: reply.hostKeyBlob,
          clientPublic: state.clientPublic,
          serverPublic: reply.serverPublic,
          sharedMpint: k,
        },
        hash,
      );
      return { result: { hostKeyBlob: reply.hostKeyBlob, signature: reply.signature, h, k, hash } };
    },
  };
}

function hashPrefix(ctx: KexContext, hostKeyBlob: Uint8Array): Writer {
  return new Writer(2048)
    .string(ctx.clientVersion)
    .string(ctx.serverVersion)
    .string(ctx.clientKexInit)
    .string(ctx.serverKexInit)
    .string(hostKeyBlob);
}

/** diffie-hellman-group14-sha256 / group16-sha512 (RFC 4253 §8 with RFC 8268's hashes). */
function fixedGroupDh(p: bigint, hash: HashFn, random: RandomSource, ctx: KexContext): KexRun {
  const dh = dhStart(p, 2n, random);
  return {
    first: new Writer(600).byte(MSG_KEXDH_INIT).raw(mpint(dh.e)).finish(),
    receive(payload) {
      const r = expect(payload, MSG_KEXDH_REPLY, 'KEXDH_REPLY');
      const hostKeyBlob = r.string();
      const f = r.mpint();
      const signature = r.string();
      r.end('KEXDH_REPLY');
      const k = dh.shared(f);
      const h = hash(hashPrefix(ctx, hostKeyBlob).raw(mpint(dh.e)).raw(mpint(f)).raw(k).finish());
      return { result: { hostKeyBlob, signature, h, k, hash } };
    },
  };
}

/** diffie-hellman-group-exchange-sha256 (RFC 4419): the server picks the group. */
function groupExchange(random: RandomSource, ctx: KexContext, hash: HashFn): KexRun {
  let group: { p: bigint; g: bigint; dh: ReturnType<typeof dhStart> } | undefined;
  return {
    first: new Writer(16).byte(MSG_KEX_DH_GEX_REQUEST).uint32(GEX_MIN).uint32(GEX_PREFERRED).uint32(GEX_MAX).finish(),
    receive(payload) {
      if (!group) {
        const r = expect(payload, MSG_KEX_DH_GEX_GROUP, 'KEX_DH_GEX_GROUP');
        const p = r.mpint();
        const g = r.mpint();
        r.end('KEX_DH_GEX_GROUP');
        const bits = p.toString(2).length;
        if (bits < GEX_MIN || bits > GEX_MAX)
          throw new SshProtocolError(
            `server offered a ${bits}-bit Diffie-Hellman group; tailtab needs ${GEX_MIN}–${GEX_MAX} bits`,
            3,
          );
        if ((p & 1n) === 0n || g <= 1n || g >= p - 1n)
          throw new SshProtocolError('server offered a malformed Diffie-Hellman group', 3);
        group = { p, g, dh: dhStart(p, g, random) };
        return { send: new Writer(1100).byte(MSG_KEX_DH_GEX_INIT).raw(mpint(group.dh.e)).finish() };
      }
      const r = expect(payload, MSG_KEX_DH_GEX_REPLY, 'KEX_DH_GEX_REPLY');
      const hostKeyBlob = r.string();
      const f = r.mpint();
      const signature = r.string();
      r.end('KEX_DH_GEX_REPLY');
      const k = group.dh.shared(f);
      const h = hash(
        hashPrefix(ctx, hostKeyBlob)
          .uint32(GEX_MIN)
          .uint32(GEX_PREFERRED)
          .uint32(GEX_MAX)
          .raw(mpint(group.p))
          .raw(mpint(group.g))
          .raw(mpint(group.dh.e))
          .raw(mpint(f))
          .raw(k)
          .finish(),
      );
      return { result: { hostKeyBlob, signature, h, k, hash } };
    },
  };
}

/** Start the negotiated method (only names from KEX_ALGORITHMS get here). */
export function startKex(name: string, random: RandomSource, ctx: KexContext): KexRun {
  const hash = kexHash(name);
  if (name === MLKEM768X25519) return ecdhLike(mlkem768x25519Start(random), hash, ctx);
  if (name === 'curve25519-sha256' || name === 'curve25519-sha256@libssh.org')
    return ecdhLike(curve25519Start(random), hash, ctx);
  if (name in NIST) return ecdhLike(nistEcdhStart(name as keyof typeof NIST, random), hash, ctx);
  if (name === 'diffie-hellman-group14-sha256') return fixedGroupDh(modpGroup14(), hash, random, ctx);
  if (name === 'diffie-hellman-group16-sha512') return fixedGroupDh(modpGroup16(), hash, random, ctx);
  if (name === 'diffie-hellman-group-exchange-sha256' || name === 'diffie-hellman-group-exchange-sha1')
    return groupExchange(random, ctx, hash);
  if (name === 'diffie-hellman-group14-sha1') return fixedGroupDh(modpGroup14(), hash, random, ctx);
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

/** H for the ECDH-shaped methods (RFC 5656 §4). */
export function exchangeHash(x: ExchangeHashInput, hash: HashFn = sha256): Uint8Array {
  const w = new Writer(1024)
    .string(x.clientVersion)
    .string(x.serverVersion)
    .string(x.clientKexInit)
    .string(x.serverKexInit)
    .string(x.hostKeyBlob)
    .string(x.clientPublic)
    .string(x.serverPublic)
    .raw(x.sharedMpint);
  return hash(w.finish());
}

/** RFC 4253 §7.2: HASH(K || H || letter || session_id), extended with HASH(K || H || K1 || ...). */
export function deriveKey(
  sharedMpint: Uint8Array,
  h: Uint8Array,
  letter: string,
  sessionId: Uint8Array,
  length: number,
  hash: HashFn = sha256,
): Uint8Array {
  let out = hash(new Writer(128).raw(sharedMpint).raw(h).byte(letter.charCodeAt(0)).raw(sessionId).finish());
  while (out.length < length) {
    const more = hash(new Writer(256).raw(sharedMpint).raw(h).raw(out).finish());
    const next = new Uint8Array(out.length + more.length);
    next.set(out);
    next.set(more, out.length);
    out = next;
  }
  return out.slice(0, length);
}
