// IPv4 (RFC 791) and IPv6 (RFC 8200) headers: pure decode/encode next to their types.
// Decoding never throws: a malformed packet yields { ok: false, reason } and the stack counts the reason.
import { checksum } from './checksum.js';

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;

export type Result<T> = { ok: true; value: T } | { ok: false; reason: string };
export const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

export interface IpPacket {
  version: 4 | 6;
  src: Uint8Array; // views into the packet
  dst: Uint8Array;
  /** Upper-layer protocol (after IPv6 extension headers). */
  proto: number;
  ttl: number;
  /** Upper-layer bytes (for a fragment: this fragment's bytes). */
  payload: Uint8Array;
  /** The whole IP packet as received (trimmed to its stated length). */
  packet: Uint8Array;
  headerLength: number;
  // IPv4 fragmentation fields (RFC 791 §3.1); IPv6 fragment header (RFC 8200 §4.5) fills them too.
  id: number;
  dontFragment: boolean;
  moreFragments: boolean;
  /** Fragment offset in bytes. */
  fragmentOffset: number;
  isFragment: boolean;
}

export const IPV4_HEADER_LEN = 20;
export const IPV6_HEADER_LEN = 40;

export function decodeIp(buf: Uint8Array): Result<IpPacket> {
  if (buf.length < 1) return fail('ipTruncated');
  const v = buf[0] >> 4;
  if (v === 4) return decodeIpv4(buf);
  if (v === 6) return decodeIpv6(buf);
  return fail('ipBadVersion');
}

export function decodeIpv4(buf: Uint8Array): Result<IpPacket> {
  if (buf.length < IPV4_HEADER_LEN) return fail('ipTruncated');
  if (buf[0] >> 4 !== 4) return fail('ipBadVersion');
  const ihl = (buf[0] & 0x0f) * 4;
  if (ihl < IPV4_HEADER_LEN || ihl > buf.length) return fail('ipBadHeaderLength');
  const total = (buf[2] << 8) | buf[3];
  if (total < ihl || total > buf.length) return fail('ipBadTotalLength');
  if (checksum(buf, 0, ihl) !== 0) return fail('ipBadChecksum');
  const flagsFrag = (buf[6] << 8) | buf[7];
  if (flagsFrag & 0x8000) return fail('ipReservedFlag'); // RFC 791: reserved bit must be zero
  const packet = buf.subarray(0, total);
  const moreFragments = (flagsFrag & 0x2000) !== 0;
  const fragmentOffset = (flagsFrag & 0x1fff) * 8;
  return {
    ok: true,
    value: {
      version: 4,
      src: buf.subarray(12, 16),
      dst: buf.subarray(16, 20),
      proto: buf[9],
      ttl: buf[8],
      payload: packet.subarray(ihl),
      packet,
      headerLength: ihl,
      id: (buf[4] << 8) | buf[5],
      dontFragment: (flagsFrag & 0x4000) !== 0,
      moreFragments,
      fragmentOffset,
      isFragment: moreFragments || fragmentOffset !== 0,
    },
  };
}

// Extension headers we walk past (RFC 8200 §4): hop-by-hop, routing, destination options; fragment handled.
const EXT_HOP = 0;
const EXT_ROUTING = 43;
const EXT_FRAGMENT = 44;
const EXT_DSTOPTS = 60;

export function decodeIpv6(buf: Uint8Array): Result<IpPacket> {
  if (buf.length < IPV6_HEADER_LEN) return fail('ipTruncated');
  if (buf[0] >> 4 !== 6) return fail('ipBadVersion');
  const payloadLen = (buf[4] << 8) | buf[5];
  if (IPV6_HEADER_LEN + payloadLen > buf.length) return fail('ipBadTotalLength');
  const packet = buf.subarray(0, IPV6_HEADER_LEN + payloadLen);
  let next = buf[6];
  let off = IPV6_HEADER_LEN;
  let id = 0;
  let moreFragments = false;
  let fragmentOffset = 0;
  let isFragment = false;
  for (let n = 0; n < 8; n++) {
    if (next === EXT_HOP || next === EXT_ROUTING || next === EXT_DSTOPTS) {
      if (off + 8 > packet.length) return fail('ipBadExtensionHeader');
      const len = (packet[off + 1] + 1) * 8;
      if (off + len > packet.length) return fail('ipBadExtensionHeader');
      next = packet[off];
      off += len;
      continue;
    }
    if (next === EXT_FRAGMENT) {
      if (off + 8 > packet.length || isFragment) return fail('ipBadExtensionHeader');
      const fo = (packet[off + 2] << 8) | packet[off + 3];
      fragmentOffset = fo & 0xfff8;
      moreFragments = (fo & 1) !== 0;
      id = ((packet[off + 4] << 24) | (packet[off + 5] << 16) | (packet[off + 6] << 8) | packet[off + 7]) >>> 0;
      // RFC 6946: an "atomic fragment" (offset 0, M=0) is processed as a whole packet.
      isFragment = moreFragments || fragmentOffset !== 0;
      next = packet[off];
      off += 8;
      continue;
    }
    break;
  }
  if (next === EXT_HOP || next === EXT_ROUTING || next === EXT_DSTOPTS || next === EXT_FRAGMENT)
    return fail('ipBadExtensionHeader');
  return {
    ok: true,
    value: {
      version: 6,
      src: buf.subarray(8, 24),
      dst: buf.subarray(24, 40),
      proto: next,
      ttl: buf[7],
      payload: packet.subarray(off),
      packet,
      headerLength: off,
      id,
      dontFragment: true,
      moreFragments,
      fragmentOffset,
      isFragment,
    },
  };
}

export interface IpHeaderFields {
  src: Uint8Array;
  dst: Uint8Array;
  proto: number;
  payloadLength: number;
  ttl?: number;
  id?: number;
  dontFragment?: boolean;
}

export function ipHeaderLength(version: 4 | 6): number {
  return version === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
}

/** Writes a 20-byte IPv4 header (with checksum) at buf[0..20). */
export function encodeIpv4Header(buf: Uint8Array, h: IpHeaderFields, moreFragments = false, fragmentOffset = 0): void {
  const total = IPV4_HEADER_LEN + h.payloadLength;
  buf[0] = 0x45;
  buf[1] = 0;
  buf[2] = total >> 8;
  buf[3] = total & 0xff;
  const id = h.id ?? 0;
  buf[4] = (id >> 8) & 0xff;
  buf[5] = id & 0xff;
  const ff = (h.dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0) | ((fragmentOffset >> 3) & 0x1fff);
  buf[6] = ff >> 8;
  buf[7] = ff & 0xff;
  buf[8] = h.ttl ?? 64;
  buf[9] = h.proto;
  buf[10] = 0;
  buf[11] = 0;
  buf.set(h.src, 12);
  buf.set(h.dst, 16);
  const c = checksum(buf, 0, IPV4_HEADER_LEN);
  buf[10] = c >> 8;
  buf[11] = c & 0xff;
}

/** Writes a 40-byte IPv6 header at buf[0..40). */
export function encodeIpv6Header(buf: Uint8Array, h: IpHeaderFields): void {
  buf[0] = 0x60;
  buf[1] = 0;
  buf[2] = 0;
  buf[3] = 0;
  buf[4] = h.payloadLength >> 8;
  buf[5] = h.payloadLength & 0xff;
  buf[6] = h.proto;
  buf[7] = h.ttl ?? 64;
  buf.set(h.src, 8);
  buf.set(h.dst, 24);
}

export function encodeIpHeader(buf: Uint8Array, h: IpHeaderFields): number {
  if (h.src.length === 4) {
    encodeIpv4Header(buf, h);
    return IPV4_HEADER_LEN;
  }
  encodeIpv6Header(buf, h);
  return IPV6_HEADER_LEN;
}
