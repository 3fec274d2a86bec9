// Test support: a Zstandard encoder that stores its input in raw blocks (RFC 8878 §3.1.1.2.2,
// Block_Type 0) inside single-segment frames with the content size, as Go's zstdframe frames
// them. Valid zstd that any decoder reads; real compressed blocks come from the `zstd` program
// (src/control/testdata/*.zst) and from Headscale in the e2e tests.
import { utf8 } from '../crypto/bytes.js';
import type { MapResponse } from './tailcfg.js';

export function zstdStored(data: Uint8Array, o: { contentSize?: boolean; checksum?: boolean } = {}): Uint8Array {
  const withSize = o.contentSize ?? true;
  const parts: number[] = [0x28, 0xb5, 0x2f, 0xfd];
  if (withSize) {
    // FCS_Flag 3 (8 bytes), Single_Segment 1.
    parts.push(0xc0 | 0x20 | (o.checksum ? 4 : 0));
    let n = data.length;
    for (let i = 0; i < 8; i++) {
      parts.push(n % 256);
      n = Math.floor(n / 256);
    }
  } else {
    // No content size: a window descriptor of 128 KiB (exponent 7).
    parts.push(o.checksum ? 4 : 0, 7 << 3);
  }
  const head = Uint8Array.from(parts);
  const blocks: Uint8Array[] = [head];
  const B = 128 * 1024;
  for (let at = 0; at < data.length || at === 0; at += B) {
    const piece = data.subarray(at, Math.min(data.length, at + B));
    const last = at + B >= data.length ? 1 : 0;
    const bh = (piece.length << 3) | last; // Block_Type 0 (raw)
    blocks.push(Uint8Array.of(bh & 0xff, (bh >> 8) & 0xff, (bh >> 16) & 0xff), piece);
    if (data.length === 0) break;
  }
  if (o.checksum) blocks.push(new Uint8Array(4)); // fzstd does not check it; its presence is framing
  let len = 0;
  for (const b of blocks) len += b.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const b of blocks) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}

/** One map message as Headscale sends it with Compress:"zstd": LE length of the zstd bytes, then them. */
export function encodeZstdMapMessage(msg: MapResponse | Uint8Array): Uint8Array {
  const body = zstdStored(msg instanceof Uint8Array ? msg : utf8.encode(JSON.stringify(msg)));
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, 4);
  return out;
}
