// The Internet checksum (RFC 1071): one's-complement sum of 16-bit big-endian words.
// Used by IPv4 headers, ICMP, and (with a pseudo-header, RFC 9293 §3.1 / RFC 8200 §8.1) TCP, UDP, ICMPv6.

/** Adds the bytes of buf[off, off+len) as big-endian 16-bit words to sum (not folded). */
export function sumWords(buf: Uint8Array, off: number, len: number, sum = 0): number {
  const end = off + len;
  let i = off;
  // Unrolled by 8 bytes: the hot path for every TCP segment.
  for (; i + 8 <= end; i += 8) {
    sum +=
      ((buf[i] << 8) | buf[i + 1]) +
      ((buf[i + 2] << 8) | buf[i + 3]) +
      ((buf[i + 4] << 8) | buf[i + 5]) +
      ((buf[i + 6] << 8) | buf[i + 7]);
  }
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8; // an odd trailing byte is padded with zero
  // Fold often enough that the sum stays exact in a double (2^53).
  return sum;
}

/** Folds a running sum to 16 bits and complements it. */
export function finish(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** Checksum of a whole buffer region. */
export function checksum(buf: Uint8Array, off = 0, len = buf.length - off): number {
  return finish(sumWords(buf, off, len));
}

/**
 * Sum of the TCP/UDP/ICMPv6 pseudo-header: source and destination addresses, protocol (next
 * header) and upper-layer length (RFC 9293 §3.1 for IPv4, RFC 8200 §8.1 for IPv6).
 */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, proto: number, length: number): number {
  let s = sumWords(src, 0, src.length) + sumWords(dst, 0, dst.length);
  s += proto;
  s += (length >>> 16) + (length & 0xffff);
  return s;
}
