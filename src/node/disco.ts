// Tailscale disco messages (reference: tailscale disco/disco.go, wgengine/magicsock).
// Wire: magic "TS💬" (54 53 f0 9f 92 ac) | sender disco pub (32) | nonce (24) | NaCl box.
// Plaintext: type (1) | version (1, 0) | payload.
//   Ping 0x01: TxID (12) | sender node key (32, absent in very old senders) | padding
//   Pong 0x02: TxID (12) | source IP (16, v4-mapped) | BE u16 port
//   CallMeMaybe 0x03: N x (IP16 | BE u16 port)
// Anything on DERP without the magic prefix is a WireGuard message.

import { boxBeforeNm, openNonceAndBox, sealWithRandomNonce } from '../crypto/box.js';
import { concatBytes, equalBytes } from '../crypto/bytes.js';
import type { RandomSource } from '../crypto/random.js';
import { decodeSignalPayload, encodeSignalPlaintext, WEBRTC_DISCO_TYPES, type WebRtcSignal } from './webrtc-signal.js';

export const DISCO_MAGIC = new Uint8Array([0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac]);
const KEY_LEN = 32;
const NONCE_LEN = 24;
const HEADER_LEN = DISCO_MAGIC.length + KEY_LEN;
const TXID_LEN = 12;
const EP_LEN = 18;

export const DiscoType = { Ping: 0x01, Pong: 0x02, CallMeMaybe: 0x03 } as const;
// WebRTC signalling types (0x0A-0x0C) live with their payloads in webrtc-signal.ts.
const KNOWN_DISCO_TYPES: ReadonlySet<number> = new Set([...Object.values(DiscoType), ...WEBRTC_DISCO_TYPES]);

/** The address tailscaled puts in a pong for a DERP-sourced ping: 127.3.3.40:<regionId> (tailcfg.DerpMagicIP). */
export const DERP_MAGIC_IP = '127.3.3.40';

export interface IpPort {
  ip: string;
  port: number;
}

export type DiscoMessage =
  | { type: 'ping'; txId: Uint8Array; nodeKey?: Uint8Array; padding: number }
  | { type: 'pong'; txId: Uint8Array; src: IpPort }
  | { type: 'callMeMaybe'; endpoints: IpPort[] }
  | WebRtcSignal;

export function looksLikeDisco(packet: Uint8Array): boolean {
  if (packet.length < HEADER_LEN + NONCE_LEN) return false;
  for (let i = 0; i < DISCO_MAGIC.length; i++) if (packet[i] !== DISCO_MAGIC[i]) return false;
  return true;
}

/** Sender disco public key of a packet that looksLikeDisco. */
export function discoSender(packet: Uint8Array): Uint8Array {
  return packet.slice(DISCO_MAGIC.length, HEADER_LEN);
}

// ---- IP address <-> 16 bytes (v4-mapped) ----

export function ipToBytes16(ip: string): Uint8Array {
  const out = new Uint8Array(16);
  if (ip.includes('.') && !ip.includes(':')) {
    const p = ip.split('.').map(Number);
    out[10] = 0xff;
    out[11] = 0xff;
    for (let i = 0; i < 4; i++) out[12 + i] = p[i]! & 0xff;
    return out;
  }
  const parsed = parseIPv6(ip);
  if (!parsed) throw new Error(`bad IP ${ip}`);
  return parsed;
}

export function parseIPv6(ip: string): Uint8Array | null {
  let s = ip;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const out = new Uint8Array(16);
  // Embedded IPv4 tail.
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    const v4 = s
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    if (v4.length !== 4 || v4.some((n) => !(n >= 0 && n <= 255))) return null;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    s = s.slice(0, lastColon + 1) + '0:0';
    tail.length = 2;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parseGroups = (x: string): number[] | null => {
    if (x === '') return [];
    const g = x.split(':');
    const r: number[] = [];
    for (const h of g) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(h)) return null;
      r.push(parseInt(h, 16));
    }
    return r;
  };
  const a = parseGroups(halves[0]!);
  const b = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!a || !b) return null;
  let groups: number[];
  if (halves.length === 2) {
    if (a.length + b.length > 7) return null;
    groups = [...a, ...new Array(8 - a.length - b.length).fill(0), ...b];
  } else {
    if (a.length !== 8) return null;
    groups = a;
  }
  if (tail.length) {
    groups[6] = tail[0]!;
    groups[7] = tail[1]!;
  }
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >> 8;
    out[2 * i + 1] = groups[i]! & 0xff;
  }
  return out;
}

export function bytes16ToIp(b: Uint8Array): string {
  let mapped = true;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) mapped = false;
  if (mapped && b[10] === 0xff && b[11] === 0xff) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const g: string[] = [];
  for (let i = 0; i < 8; i++) g.push(((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16));
  // RFC 5952: compress the longest run (>= 2) of zero groups.
  let bestStart = -1,
    bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return g.join(':');
  return g.slice(0, bestStart).join(':') + '::' + g.slice(bestStart + bestLen).join(':');
}

// ---- plaintext codec ----

function encodeIpPort(ep: IpPort): Uint8Array {
  const out = new Uint8Array(EP_LEN);
  out.set(ipToBytes16(ep.ip), 0);
  out[16] = (ep.port >> 8) & 0xff;
  out[17] = ep.port & 0xff;
  return out;
}

function decodeIpPort(b: Uint8Array, off: number): IpPort {
  return { ip: bytes16ToIp(b.subarray(off, off + 16)), port: (b[off + 16]! << 8) | b[off + 17]! };
}

export function encodeDiscoPlaintext(m: DiscoMessage): Uint8Array {
  switch (m.type) {
    case 'ping': {
      const body = new Uint8Array(2 + TXID_LEN + (m.nodeKey ? KEY_LEN : 0) + m.padding);
      body[0] = DiscoType.Ping;
      body.set(m.txId, 2);
      if (m.nodeKey) body.set(m.nodeKey, 2 + TXID_LEN);
      return body;
    }
    case 'pong':
      return concatBytes(new Uint8Array([DiscoType.Pong, 0]), m.txId, encodeIpPort(m.src));
    case 'callMeMaybe':
      return concatBytes(new Uint8Array([DiscoType.CallMeMaybe, 0]), ...m.endpoints.map(encodeIpPort));
    default:
      return encodeSignalPlaintext(m);
  }
}

/** Parses a decrypted disco payload; null for unknown types or short payloads (caller counts). */
export function decodeDiscoPlaintext(p: Uint8Array): DiscoMessage | null {
  if (p.length < 2) return null;
  const body = p.subarray(2);
  switch (p[0]) {
    case DiscoType.Ping: {
      if (body.length < TXID_LEN) return null;
      const txId = body.slice(0, TXID_LEN);
      if (body.length >= TXID_LEN + KEY_LEN) {
        return {
          type: 'ping',
          txId,
          nodeKey: body.slice(TXID_LEN, TXID_LEN + KEY_LEN),
          padding: body.length - TXID_LEN - KEY_LEN,
        };
      }
      return { type: 'ping', txId, padding: 0 };
    }
    case DiscoType.Pong:
      if (body.length < TXID_LEN + EP_LEN) return null;
      return { type: 'pong', txId: body.slice(0, TXID_LEN), src: decodeIpPort(body, TXID_LEN) };
    case DiscoType.CallMeMaybe: {
      if (body.length % EP_LEN !== 0) return null;
      const endpoints: IpPort[] = [];
      for (let o = 0; o < body.length; o += EP_LEN) endpoints.push(decodeIpPort(body, o));
      return { type: 'callMeMaybe', endpoints };
    }
    default:
      return decodeSignalPayload(p[0]!, body);
  }
}

// ---- sealed packets ----

export interface DiscoStats {
  received: number;
  sent: number;
  badBox: number;
  badPayload: number;
  unknownPeer: number;
  pingsAnswered: number;
  pongsReceived: number;
  callMeMaybeReceived: number;
}

/** Our disco identity: seals/opens disco packets to/from peers, caching box keys per peer. */
export class DiscoCodec {
  readonly publicKey: Uint8Array;
  private readonly shared = new Map<string, Uint8Array>();

  constructor(
    private readonly privateKey: Uint8Array,
    publicKey: Uint8Array,
    private readonly random: RandomSource,
  ) {
    this.publicKey = publicKey;
  }

  private sharedKey(peer: Uint8Array): Uint8Array {
    const id = Array.from(peer, (x) => x.toString(16).padStart(2, '0')).join('');
    let k = this.shared.get(id);
    if (!k) {
      k = boxBeforeNm(this.privateKey, peer);
      if (this.shared.size > 4096) this.shared.clear();
      this.shared.set(id, k);
    }
    return k;
  }

  seal(peerDiscoPub: Uint8Array, m: DiscoMessage): Uint8Array {
    const box = sealWithRandomNonce(this.sharedKey(peerDiscoPub), encodeDiscoPlaintext(m), this.random);
    return concatBytes(DISCO_MAGIC, this.publicKey, box);
  }

  /** Opens a packet; returns the sender and message, or a reason string on failure (never throws). */
  open(
    packet: Uint8Array,
  ): { sender: Uint8Array; message: DiscoMessage } | 'notDisco' | 'badBox' | 'badPayload' | 'unknownType' {
    if (!looksLikeDisco(packet)) return 'notDisco';
    const sender = discoSender(packet);
    if (equalBytes(sender, this.publicKey)) return 'badBox';
    let plain: Uint8Array | null;
    try {
      plain = openNonceAndBox(this.sharedKey(sender), packet.subarray(HEADER_LEN));
    } catch {
      plain = null;
    }
    if (!plain) return 'badBox';
    const message = decodeDiscoPlaintext(plain);
    // A type we do not speak (disco.go has more: peer-relay messages, and newer peers may add
    // others) is a peer's forward step, not its fault: told apart from a malformed one of ours.
    if (!message) return plain.length >= 2 && !KNOWN_DISCO_TYPES.has(plain[0]!) ? 'unknownType' : 'badPayload';
    return { sender, message };
  }
}
