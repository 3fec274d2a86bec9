// ICMP (RFC 792) and ICMPv6 (RFC 4443): echo and destination-unreachable / packet-too-big messages.
// ICMPv6 checksums cover the IPv6 pseudo-header (RFC 4443 §2.3); ICMPv4 checksums do not.
import { finish, pseudoHeaderSum, sumWords } from './checksum.js';
import { fail, PROTO_ICMPV6, type Result } from './ip.js';

export const ICMP4_ECHO_REPLY = 0;
export const ICMP4_DEST_UNREACH = 3;
export const ICMP4_ECHO_REQUEST = 8;
export const ICMP4_TIME_EXCEEDED = 11;
export const ICMP6_DEST_UNREACH = 1;
export const ICMP6_PACKET_TOO_BIG = 2;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;

export interface IcmpMessage {
  type: number;
  code: number;
  /** Bytes 4..8 of the header ("rest of header"): echo id/seq, or MTU for too-big/frag-needed. */
  rest: number;
  body: Uint8Array;
}

export function decodeIcmp(buf: Uint8Array, v6: boolean, src: Uint8Array, dst: Uint8Array): Result<IcmpMessage> {
  if (buf.length < 8) return fail('icmpTruncated');
  const init = v6 ? pseudoHeaderSum(src, dst, PROTO_ICMPV6, buf.length) : 0;
  if (finish(sumWords(buf, 0, buf.length, init)) !== 0) return fail('icmpBadChecksum');
  return {
    ok: true,
    value: {
      type: buf[0],
      code: buf[1],
      rest: ((buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7]) >>> 0,
      body: buf.subarray(8),
    },
  };
}

/** Writes an ICMP header at buf[off..] for a body already placed after it; fills the checksum. */
export function encodeIcmpHeader(
  buf: Uint8Array,
  off: number,
  type: number,
  code: number,
  rest: number,
  bodyLength: number,
  v6: boolean,
  src: Uint8Array,
  dst: Uint8Array,
): void {
  buf[off] = type;
  buf[off + 1] = code;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  buf[off + 4] = (rest >>> 24) & 0xff;
  buf[off + 5] = (rest >>> 16) & 0xff;
  buf[off + 6] = (rest >>> 8) & 0xff;
  buf[off + 7] = rest & 0xff;
  const len = 8 + bodyLength;
  const init = v6 ? pseudoHeaderSum(src, dst, PROTO_ICMPV6, len) : 0;
  const c = finish(sumWords(buf, off, len, init));
  buf[off + 2] = c >> 8;
  buf[off + 3] = c & 0xff;
}

/** What an ICMP error quotes (RFC 792 / RFC 4443 §3): the offending packet's addresses, protocol and ports. */
export interface QuotedPacket {
  version: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  proto: number;
  srcPort: number;
  dstPort: number;
  /** For TCP: the quoted sequence number. */
  seq: number;
}

/** Parses the quoted header of an ICMP error body; at least the first 8 transport bytes must be there. */
export function decodeQuoted(body: Uint8Array): Result<QuotedPacket> {
  if (body.length < 1) return fail('icmpBadQuote');
  const v = body[0] >> 4;
  let off: number;
  let proto: number;
  let src: Uint8Array;
  let dst: Uint8Array;
  if (v === 4) {
    if (body.length < 20) return fail('icmpBadQuote');
    off = (body[0] & 0x0f) * 4;
    if (off < 20) return fail('icmpBadQuote');
    proto = body[9];
    src = body.subarray(12, 16);
    dst = body.subarray(16, 20);
  } else if (v === 6) {
    if (body.length < 40) return fail('icmpBadQuote');
    off = 40;
    proto = body[6];
    src = body.subarray(8, 24);
    dst = body.subarray(24, 40);
  } else return fail('icmpBadQuote');
  if (body.length < off + 8) return fail('icmpBadQuote');
  return {
    ok: true,
    value: {
      version: v as 4 | 6,
      src,
      dst,
      proto,
      srcPort: (body[off] << 8) | body[off + 1],
      dstPort: (body[off + 2] << 8) | body[off + 3],
      seq: ((body[off + 4] << 24) | (body[off + 5] << 16) | (body[off + 6] << 8) | body[off + 7]) >>> 0,
    },
  };
}
