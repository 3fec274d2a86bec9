// Binary packet protocol (RFC 4253 §6): uint32 packet_length, byte padding_length, payload,
// random padding (>= 4 bytes), then the MAC/tag. The encoder pads and seals; the decoder takes a
// byte stream in arbitrary chunks and yields payloads, refusing oversized, misaligned or forged
// packets with a SshProtocolError (never anything else).
import type { RandomSource } from '../../crypto/random.js';
import { NoneCipher, type PacketCipher } from './cipher.js';

/** RFC 4253 §6.1: implementations must handle 35000-byte packets; OpenSSH allows 256 KiB. */
export const MAX_PACKET_LENGTH = 256 * 1024;

export class SshProtocolError extends Error {
  constructor(
    message: string,
    /** RFC 4253 §11.1 reason code for the DISCONNECT we send, if any. */
    readonly reason = 2,
  ) {
    super(message);
    this.name = 'SshProtocolError';
  }
}

export class PacketEncoder {
  cipher: PacketCipher = new NoneCipher();
  seq = 0;
  constructor(private readonly random: RandomSource) {}
  encode(payload: Uint8Array): Uint8Array {
    const bs = this.cipher.blockSize;
    // Alignment covers padding_length..padding; the length field is excluded for AEAD and EtM
    // modes, and for none and MAC-then-encrypt the whole packet must align (RFC 4253 §6).
    const counted = 1 + payload.length + (this.cipher.lengthAligned ? 4 : 0);
    let pad = bs - (counted % bs);
    if (pad < 4) pad += bs;
    const packet = new Uint8Array(4 + 1 + payload.length + pad);
    const len = 1 + payload.length + pad;
    packet[0] = len >>> 24;
    packet[1] = (len >>> 16) & 0xff;
    packet[2] = (len >>> 8) & 0xff;
    packet[3] = len & 0xff;
    packet[4] = pad;
    packet.set(payload, 5);
    packet.set(this.random(pad), 5 + payload.length);
    const wire = this.cipher.seal(this.seq, packet);
    this.seq = (this.seq + 1) >>> 0;
    return wire;
  }
}

export class PacketDecoder {
  cipher: PacketCipher = new NoneCipher();
  seq = 0;
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private pendingLength = -1;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** Concatenate the first n buffered bytes without consuming them. */
  private peek(n: number): Uint8Array {
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    const out = new Uint8Array(n);
    let off = 0;
    for (const c of this.chunks) {
      const take = Math.min(c.length, n - off);
      out.set(c.subarray(0, take), off);
      off += take;
      if (off === n) break;
    }
    // Merge so later peeks are cheap.
    const rest = this.take(n);
    this.chunks.unshift(rest);
    this.buffered += n;
    return out;
  }

  private take(n: number): Uint8Array {
    if (this.chunks[0].length === n) {
      this.buffered -= n;
      return this.chunks.shift()!;
    }
    if (this.chunks[0].length > n) {
      const out = this.chunks[0].subarray(0, n);
      this.chunks[0] = this.chunks[0].subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0];
      const need = n - off;
      if (c.length <= need) {
        out.set(c, off);
        off += c.length;
        this.chunks.shift();
      } else {
        out.set(c.subarray(0, need), off);
        this.chunks[0] = c.subarray(need);
        off += need;
      }
    }
    this.buffered -= n;
    return out;
  }

  /** Up to n buffered bytes as text, control characters dropped (for quoting a non-SSH peer). */
  peekText(n: number): string {
    const bytes = this.buffered > 0 ? this.peek(Math.min(this.buffered, n)) : new Uint8Array(0);
    return new TextDecoder()
      .decode(bytes)
      .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '')
      .replace(/\n/g, ' ')
      .trim();
  }

  /** Bytes of a line-oriented prefix (the identification string exchange, RFC 4253 §4.2). */
  takeLine(maxLength: number): string | null {
    const all = this.buffered > 0 ? this.peek(Math.min(this.buffered, maxLength)) : new Uint8Array(0);
    const nl = all.indexOf(0x0a);
    if (nl < 0) {
      if (this.buffered >= maxLength) throw new SshProtocolError('identification line too long');
      return null;
    }
    const line = this.take(nl + 1);
    let end = line.length - 1;
    if (end > 0 && line[end - 1] === 0x0d) end--;
    return new TextDecoder().decode(line.subarray(0, end));
  }

  /** The next payload, or null when more bytes are needed. */
  next(): Uint8Array | null {
    const c = this.cipher;
    if (this.pendingLength < 0) {
      if (this.buffered < 4) return null;
      const len = c.length(this.seq, this.peek(4));
      if (len < 5 || len > MAX_PACKET_LENGTH) throw new SshProtocolError(`bad packet length ${len}`);
      const aligned = c.lengthAligned ? len + 4 : len;
      if (aligned % c.blockSize !== 0)
        throw new SshProtocolError(`packet length ${len} not a multiple of the block size`);
      this.pendingLength = len;
    }
    const total = 4 + this.pendingLength + c.tagLength;
    if (this.buffered < total) return null;
    const wire = this.take(total);
    this.pendingLength = -1;
    const body = c.open(this.seq, wire);
    if (!body) throw new SshProtocolError('message authentication failed (corrupt or forged packet)', 6);
    this.seq = (this.seq + 1) >>> 0;
    const pad = body[0];
    if (pad < 4 || pad + 1 > body.length - 1) throw new SshProtocolError(`bad padding length ${pad}`);
    return body.subarray(1, body.length - pad);
  }
}
