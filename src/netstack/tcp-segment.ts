// TCP segment header and options (RFC 9293 §3.1; MSS RFC 9293 §3.7.1, window scale and timestamps
// RFC 7323, SACK and SACK-permitted RFC 2018). Pure decode/encode; decode never throws.
import { finish, pseudoHeaderSum, sumWords } from './checksum.js';
import { fail, PROTO_TCP, type Result } from './ip.js';

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;
export const ECE = 0x40;
export const CWR = 0x80;

export const TCP_HEADER_LEN = 20;
export const MAX_SACK_BLOCKS = 4;

export interface TcpOptions {
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  /** SACK blocks as [left, right) uint32 sequence numbers. */
  sack?: [number, number][];
  /** Timestamps option: [TSval, TSecr]. */
  timestamps?: [number, number];
}

export interface TcpSegment extends TcpOptions {
  srcPort: number;
  dstPort: number;
  seq: number; // uint32
  ack: number; // uint32
  flags: number;
  window: number; // unscaled 16-bit field
  urgent: number;
  payload: Uint8Array;
}

/** Decodes a TCP segment; verifies the checksum over the pseudo-header of src/dst. */
export function decodeTcp(buf: Uint8Array, src: Uint8Array, dst: Uint8Array): Result<TcpSegment> {
  if (buf.length < TCP_HEADER_LEN) return fail('tcpTruncated');
  const dataOff = (buf[12] >> 4) * 4;
  if (dataOff < TCP_HEADER_LEN || dataOff > buf.length) return fail('tcpBadDataOffset');
  const sum = sumWords(buf, 0, buf.length, pseudoHeaderSum(src, dst, PROTO_TCP, buf.length));
  if (finish(sum) !== 0) return fail('tcpBadChecksum');
  const seg: TcpSegment = {
    srcPort: (buf[0] << 8) | buf[1],
    dstPort: (buf[2] << 8) | buf[3],
    seq: ((buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7]) >>> 0,
    ack: ((buf[8] << 24) | (buf[9] << 16) | (buf[10] << 8) | buf[11]) >>> 0,
    flags: buf[13],
    window: (buf[14] << 8) | buf[15],
    urgent: (buf[18] << 8) | buf[19],
    payload: buf.subarray(dataOff),
  };
  if (!decodeOptions(buf, TCP_HEADER_LEN, dataOff, seg)) return fail('tcpBadOptions');
  return { ok: true, value: seg };
}

const u32 = (b: Uint8Array, i: number) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

/** Parses options in buf[off, end) into o. Returns false if malformed (RFC 9293 §3.1 option format). */
export function decodeOptions(buf: Uint8Array, off: number, end: number, o: TcpOptions): boolean {
  let i = off;
  while (i < end) {
    const kind = buf[i];
    if (kind === 0) break; // End of Option List
    if (kind === 1) {
      i++;
      continue;
    }
    if (i + 1 >= end) return false;
    const len = buf[i + 1];
    if (len < 2 || i + len > end) return false;
    switch (kind) {
      case 2:
        if (len !== 4) return false;
        o.mss = (buf[i + 2] << 8) | buf[i + 3];
        break;
      case 3:
        if (len !== 3) return false;
        // RFC 7323 §2.3: a shift above 14 is treated as 14.
        o.windowScale = Math.min(14, buf[i + 2]);
        break;
      case 4:
        if (len !== 2) return false;
        o.sackPermitted = true;
        break;
      case 5: {
        if ((len - 2) % 8 !== 0 || len === 2) return false;
        const blocks: [number, number][] = [];
        for (let j = i + 2; j < i + len; j += 8) blocks.push([u32(buf, j), u32(buf, j + 4)]);
        o.sack = blocks;
        break;
      }
      case 8:
        if (len !== 10) return false;
        o.timestamps = [u32(buf, i + 2), u32(buf, i + 6)];
        break;
      default:
        break; // unknown options are skipped by their length (RFC 9293 §3.1)
    }
    i += len;
  }
  return true;
}

/** Length in bytes of the encoded options (padded to 4). */
export function optionsLength(o: TcpOptions): number {
  let n = 0;
  if (o.mss !== undefined) n += 4;
  if (o.sackPermitted && o.timestamps)
    n += 12; // SACK-permitted + TS share 12 bytes
  else {
    if (o.sackPermitted) n += 4; // NOP NOP SACKOK
    if (o.timestamps) n += 12; // NOP NOP TS
  }
  if (o.windowScale !== undefined) n += 4; // NOP WS
  if (o.sack && o.sack.length > 0) n += 4 + 8 * o.sack.length; // NOP NOP SACK
  return n;
}

function putU32(b: Uint8Array, i: number, v: number): void {
  b[i] = (v >>> 24) & 0xff;
  b[i + 1] = (v >>> 16) & 0xff;
  b[i + 2] = (v >>> 8) & 0xff;
  b[i + 3] = v & 0xff;
}

/** Writes options at buf[off..]; returns the end offset. The layout mirrors common stacks (Linux). */
export function encodeOptions(buf: Uint8Array, off: number, o: TcpOptions): number {
  let i = off;
  if (o.mss !== undefined) {
    buf[i++] = 2;
    buf[i++] = 4;
    buf[i++] = o.mss >> 8;
    buf[i++] = o.mss & 0xff;
  }
  if (o.sackPermitted && o.timestamps) {
    buf[i++] = 4;
    buf[i++] = 2;
    buf[i++] = 8;
    buf[i++] = 10;
    putU32(buf, i, o.timestamps[0]);
    putU32(buf, i + 4, o.timestamps[1]);
    i += 8;
  } else {
    if (o.sackPermitted) {
      buf[i++] = 1;
      buf[i++] = 1;
      buf[i++] = 4;
      buf[i++] = 2;
    }
    if (o.timestamps) {
      buf[i++] = 1;
      buf[i++] = 1;
      buf[i++] = 8;
      buf[i++] = 10;
      putU32(buf, i, o.timestamps[0]);
      putU32(buf, i + 4, o.timestamps[1]);
      i += 8;
    }
  }
  if (o.windowScale !== undefined) {
    buf[i++] = 1;
    buf[i++] = 3;
    buf[i++] = 3;
    buf[i++] = o.windowScale;
  }
  if (o.sack && o.sack.length > 0) {
    buf[i++] = 1;
    buf[i++] = 1;
    buf[i++] = 5;
    buf[i++] = 2 + 8 * o.sack.length;
    for (const [l, r] of o.sack) {
      putU32(buf, i, l);
      putU32(buf, i + 4, r);
      i += 8;
    }
  }
  return i;
}

/**
 * Writes the TCP header (and options) at buf[off..] for a segment whose payload already sits right
 * after the header, then the checksum over pseudo-header + header + payload. Returns header length.
 */
export function encodeTcpHeader(
  buf: Uint8Array,
  off: number,
  seg: Omit<TcpSegment, 'payload'> & { payloadLength: number },
  src: Uint8Array,
  dst: Uint8Array,
): number {
  const optEnd = encodeOptions(buf, off + TCP_HEADER_LEN, seg);
  const hlen = optEnd - off;
  buf[off] = seg.srcPort >> 8;
  buf[off + 1] = seg.srcPort & 0xff;
  buf[off + 2] = seg.dstPort >> 8;
  buf[off + 3] = seg.dstPort & 0xff;
  putU32(buf, off + 4, seg.seq);
  putU32(buf, off + 8, seg.ack);
  buf[off + 12] = (hlen / 4) << 4;
  buf[off + 13] = seg.flags;
  buf[off + 14] = (seg.window >> 8) & 0xff;
  buf[off + 15] = seg.window & 0xff;
  buf[off + 16] = 0;
  buf[off + 17] = 0;
  buf[off + 18] = seg.urgent >> 8;
  buf[off + 19] = seg.urgent & 0xff;
  const total = hlen + seg.payloadLength;
  const c = finish(sumWords(buf, off, total, pseudoHeaderSum(src, dst, PROTO_TCP, total)));
  buf[off + 16] = c >> 8;
  buf[off + 17] = c & 0xff;
  return hlen;
}
