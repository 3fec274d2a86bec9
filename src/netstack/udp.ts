// UDP header (RFC 768), with the IPv6 rule that a zero checksum is invalid (RFC 8200 §8.1).
import { finish, pseudoHeaderSum, sumWords } from './checksum.js';
import { fail, PROTO_UDP, type Result } from './ip.js';

export const UDP_HEADER_LEN = 8;

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

export function decodeUdp(buf: Uint8Array, src: Uint8Array, dst: Uint8Array): Result<UdpDatagram> {
  if (buf.length < UDP_HEADER_LEN) return fail('udpTruncated');
  const len = (buf[4] << 8) | buf[5];
  if (len < UDP_HEADER_LEN || len > buf.length) return fail('udpBadLength');
  const ck = (buf[6] << 8) | buf[7];
  if (ck === 0) {
    if (src.length === 16) return fail('udpZeroChecksumV6');
  } else if (finish(sumWords(buf, 0, len, pseudoHeaderSum(src, dst, PROTO_UDP, len))) !== 0) {
    return fail('udpBadChecksum');
  }
  return {
    ok: true,
    value: {
      srcPort: (buf[0] << 8) | buf[1],
      dstPort: (buf[2] << 8) | buf[3],
      payload: buf.subarray(UDP_HEADER_LEN, len),
    },
  };
}

/** Writes the UDP header at buf[off..] for a payload already placed after it; fills the checksum. */
export function encodeUdpHeader(
  buf: Uint8Array,
  off: number,
  srcPort: number,
  dstPort: number,
  payloadLength: number,
  src: Uint8Array,
  dst: Uint8Array,
): void {
  const len = UDP_HEADER_LEN + payloadLength;
  buf[off] = srcPort >> 8;
  buf[off + 1] = srcPort & 0xff;
  buf[off + 2] = dstPort >> 8;
  buf[off + 3] = dstPort & 0xff;
  buf[off + 4] = len >> 8;
  buf[off + 5] = len & 0xff;
  buf[off + 6] = 0;
  buf[off + 7] = 0;
  let c = finish(sumWords(buf, off, len, pseudoHeaderSum(src, dst, PROTO_UDP, len)));
  if (c === 0) c = 0xffff; // RFC 768: a computed zero is sent as all ones
  buf[off + 6] = c >> 8;
  buf[off + 7] = c & 0xff;
}
