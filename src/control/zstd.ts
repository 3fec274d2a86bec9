// Zstandard (RFC 8878) for map messages: tailscaled asks control for `Compress: "zstd"`
// (control/controlclient/direct.go) and Headscale then zstd-encodes each message's JSON
// (hscontrol/poll.go writeMap, util/zstdframe with single-segment frames: the content size is in
// every frame header). The decoding is fzstd's, pure JS (no WASM). What fzstd does not do is
// guard memory against a hostile server: it allocates what a frame header claims (content size,
// or window size: up to 2 GiB) before decoding a byte, and a frame without a content size can
// expand a few bytes into unbounded output. So every frame is walked here first (header fields,
// then block headers, §3.1.1), its output bounded from the header or its blocks, and the whole
// message refused in words before decoding when it could exceed the cap.
import { decompress } from 'fzstd';

const FRAME_MAGIC = 0xfd2fb528;
/** Block_Maximum_Size's upper limit (RFC 8878 §3.1.1.2.4). */
const BLOCK_MAX = 128 * 1024;

export class ZstdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZstdError';
  }
}

const u32le = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

/** Little-endian unsigned of n ≤ 8 bytes, as a double (exact below 2^53; larger only grows). */
function uintLe(b: Uint8Array, o: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + b[o + i]!;
  return v;
}

/**
 * The most bytes `data` (one or more frames) can decode to, from the frame headers (content size)
 * or, where a frame has none, from its blocks; throws ZstdError where the structure is broken or a
 * frame would need more than `maxOut` bytes of memory.
 */
export function zstdDecodedBound(data: Uint8Array, maxOut: number): number {
  let at = 0;
  let total = 0;
  let frames = 0;
  while (at < data.length) {
    if (data.length - at < 4) throw new ZstdError('truncated frame magic');
    const magic = u32le(data, at);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      // Skippable frame (§3.1.2): magic, 4-byte size, that many bytes.
      if (data.length - at < 8) throw new ZstdError('truncated skippable frame');
      const n = u32le(data, at + 4);
      if (data.length - at - 8 < n) throw new ZstdError('truncated skippable frame');
      at += 8 + n;
      continue;
    }
    if (magic !== FRAME_MAGIC) throw new ZstdError(`not a zstd frame (magic ${magic.toString(16)})`);
    at += 4;
    if (at >= data.length) throw new ZstdError('truncated frame header');
    const fhd = data[at++]!;
    const fcsFlag = fhd >> 6;
    const single = (fhd >> 5) & 1;
    if (fhd & 8) throw new ZstdError('reserved bit set in the frame header');
    const checksum = (fhd >> 2) & 1;
    const dictBytes = [0, 1, 2, 4][fhd & 3]!;
    const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
    const headerRest = (single ? 0 : 1) + dictBytes + fcsBytes;
    if (data.length - at < headerRest) throw new ZstdError('truncated frame header');
    let window = 0;
    if (!single) {
      const wd = data[at++]!;
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
    }
    if (dictBytes && uintLe(data, at, dictBytes) !== 0)
      throw new ZstdError('frame needs a dictionary (none is used by control)');
    at += dictBytes;
    let contentSize: number | undefined;
    if (fcsBytes) {
      contentSize = uintLe(data, at, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
      at += fcsBytes;
    }
    if (single) window = contentSize!;
    // fzstd allocates the content size, or (when it is absent or 0) the window, up front.
    if (contentSize !== undefined && contentSize > maxOut)
      throw new ZstdError(`frame claims ${contentSize} bytes of content, over the ${maxOut}-byte limit`);
    if (window > maxOut) throw new ZstdError(`frame claims a ${window}-byte window, over the ${maxOut}-byte limit`);
    const blockMax = Math.min(window || BLOCK_MAX, BLOCK_MAX);
    let blocksOut = 0;
    for (let last = 0; !last;) {
      if (data.length - at < 3) throw new ZstdError('truncated block header');
      const bh = data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16);
      at += 3;
      last = bh & 1;
      const type = (bh >> 1) & 3;
      const size = bh >>> 3;
      if (type === 3) throw new ZstdError('reserved block type');
      if (type !== 2 && size > blockMax)
        throw new ZstdError(`block of ${size} bytes exceeds the frame's ${blockMax}-byte maximum`);
      const stored = type === 1 ? 1 : size;
      if (type === 2 && size > blockMax)
        throw new ZstdError(`compressed block of ${size} bytes exceeds the frame's ${blockMax}-byte maximum`);
      if (data.length - at < stored) throw new ZstdError('truncated block');
      at += stored;
      blocksOut += type === 2 ? blockMax : size;
    }
    if (checksum) {
      if (data.length - at < 4) throw new ZstdError('truncated content checksum');
      at += 4;
    }
    total += contentSize ?? blocksOut;
    if (total > maxOut) throw new ZstdError(`message decodes to more than the ${maxOut}-byte limit`);
    frames++;
  }
  if (!frames) throw new ZstdError('no zstd frame');
  return total;
}

/** Decodes `data` (zstd frames) to at most `maxOut` bytes; anything else is a ZstdError, never a throw of another kind. */
export function zstdDecode(data: Uint8Array, maxOut: number): Uint8Array {
  const bound = zstdDecodedBound(data, maxOut);
  let out: Uint8Array;
  try {
    out = decompress(data);
  } catch (e) {
    throw new ZstdError(`corrupt zstd data: ${(e as Error)?.message ?? String(e)}`);
  }
  if (out.length > bound)
    throw new ZstdError(`zstd data decoded to ${out.length} bytes, more than its frames allow (${bound})`);
  return out;
}
