// Zstandard (RFC 8878) for map messages: tailscaled asks control for `Compress: "zstd"`
// (control/controlclient/direct.go) and Headscale then zstd-encodes each message's JSON
// (hscontrol/poll.go writeMap, util/zstdframe with single-segment frames: the content size is in
// every frame header). The decoding is fzstd's, pure JS (no WASM). What fzstd does not do is
// guard memory against a hostile server: it allocates what a frame header claims (content size,
// or window size: up to 2 GiB) before decoding a byte, and a frame without a content size can
// expand a few bytes into unbounded output. So every frame is walked here first (header fields,
// then block headers, §3.1.1), its output bounded from the header or its blocks, and the whole
// message refused in words before decoding when it could exceed the cap.
import { Decompress, decompress } from 'fzstd';

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

type WalkState = 'magic' | 'skippableSize' | 'fhd' | 'header' | 'blockHeader';

/**
 * The frame walk of zstdDecodedBound, fed piece by piece as a message arrives: every frame header
 * and block header is checked as soon as its bytes are here, before a decoder is given them (so
 * fzstd never sees a header that would make it allocate past the cap). Block contents are skipped,
 * not copied. `total` is the most the frames seen so far decode to.
 */
export class ZstdFrameWalker {
  private readonly acc = new Uint8Array(16);
  private accLen = 0;
  private need = 4;
  private state: WalkState = 'magic';
  /** Bytes to pass over (block contents, a checksum, a skippable frame), then `afterSkip`. */
  private skip = 0;
  private afterSkip: 'blockHeader' | 'checksum' | 'frameEnd' | 'magic' = 'magic';
  private single = 0;
  private checksum = 0;
  private dictBytes = 0;
  private fcsBytes = 0;
  private contentSize: number | undefined;
  private blockMax = BLOCK_MAX;
  private blocksOut = 0;
  total = 0;
  frames = 0;

  constructor(private readonly maxOut: number) {}

  push(data: Uint8Array): void {
    let at = 0;
    while (at < data.length) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, data.length - at);
        this.skip -= k;
        at += k;
        if (this.skip === 0) this.skipped();
        continue;
      }
      const k = Math.min(this.need - this.accLen, data.length - at);
      this.acc.set(data.subarray(at, at + k), this.accLen);
      this.accLen += k;
      at += k;
      if (this.accLen === this.need) {
        this.accLen = 0;
        this.step(this.acc.subarray(0, this.need));
      }
    }
  }

  /** The data ended: throws unless it ended after a whole frame (and held one). */
  end(): number {
    if (this.state !== 'magic' || this.accLen || this.skip) {
      const what =
        this.skip && this.afterSkip === 'magic'
          ? 'skippable frame'
          : this.skip && this.afterSkip === 'frameEnd'
            ? 'content checksum'
            : this.skip
              ? 'block'
              : this.state === 'magic'
                ? 'frame magic'
                : this.state === 'skippableSize'
                  ? 'skippable frame'
                  : this.state === 'blockHeader'
                    ? 'block header'
                    : 'frame header';
      throw new ZstdError(`truncated ${what}`);
    }
    if (!this.frames) throw new ZstdError('no zstd frame');
    return this.total;
  }

  private expect(state: WalkState, n: number): void {
    this.state = state;
    this.need = n;
  }

  private skipThen(n: number, next: ZstdFrameWalker['afterSkip']): void {
    this.afterSkip = next;
    this.skip = n;
    if (n === 0) this.skipped();
  }

  private skipped(): void {
    const next = this.afterSkip;
    if (next === 'blockHeader') this.expect('blockHeader', 3);
    else if (next === 'checksum') this.skipThen(4, 'frameEnd');
    else if (next === 'frameEnd') this.frameEnd();
    else this.expect('magic', 4);
  }

  private frameEnd(): void {
    this.total += this.contentSize ?? this.blocksOut;
    if (this.total > this.maxOut) throw new ZstdError(`message decodes to more than the ${this.maxOut}-byte limit`);
    this.frames++;
    this.expect('magic', 4);
  }

  private step(b: Uint8Array): void {
    switch (this.state) {
      case 'magic': {
        const magic = u32le(b, 0);
        if ((magic & 0xfffffff0) === 0x184d2a50) return this.expect('skippableSize', 4);
        if (magic !== FRAME_MAGIC) throw new ZstdError(`not a zstd frame (magic ${magic.toString(16)})`);
        return this.expect('fhd', 1);
      }
      case 'skippableSize':
        // Skippable frame (§3.1.2): magic, 4-byte size, that many bytes.
        return this.skipThen(u32le(b, 0), 'magic');
      case 'fhd': {
        const fhd = b[0]!;
        const fcsFlag = fhd >> 6;
        this.single = (fhd >> 5) & 1;
        if (fhd & 8) throw new ZstdError('reserved bit set in the frame header');
        this.checksum = (fhd >> 2) & 1;
        this.dictBytes = [0, 1, 2, 4][fhd & 3]!;
        this.fcsBytes = fcsFlag === 0 ? this.single : 1 << fcsFlag;
        const rest = (this.single ? 0 : 1) + this.dictBytes + this.fcsBytes;
        if (rest === 0) return this.header(b.subarray(0, 0));
        return this.expect('header', rest);
      }
      case 'header':
        return this.header(b);
      case 'blockHeader':
        return this.block(b[0]! | (b[1]! << 8) | (b[2]! << 16));
    }
  }

  /** Frame header fields after the descriptor (§3.1.1.1): window, dictionary id, content size. */
  private header(b: Uint8Array): void {
    let at = 0;
    let window = 0;
    if (!this.single) {
      const wd = b[at++]!;
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
    }
    if (this.dictBytes && uintLe(b, at, this.dictBytes) !== 0)
      throw new ZstdError('frame needs a dictionary (none is used by control)');
    at += this.dictBytes;
    this.contentSize = undefined;
    if (this.fcsBytes) this.contentSize = uintLe(b, at, this.fcsBytes) + (this.fcsBytes === 2 ? 256 : 0);
    if (this.single) window = this.contentSize!;
    // fzstd allocates the content size, or (when it is absent or 0) the window, up front.
    const maxOut = this.maxOut;
    if (this.contentSize !== undefined && this.contentSize > maxOut)
      throw new ZstdError(`frame claims ${this.contentSize} bytes of content, over the ${maxOut}-byte limit`);
    if (window > maxOut) throw new ZstdError(`frame claims a ${window}-byte window, over the ${maxOut}-byte limit`);
    this.blockMax = Math.min(window || BLOCK_MAX, BLOCK_MAX);
    this.blocksOut = 0;
    this.expect('blockHeader', 3);
  }

  /** A block header (§3.1.1.2): its contents are skipped; its output counted toward the cap. */
  private block(bh: number): void {
    const last = bh & 1;
    const type = (bh >> 1) & 3;
    const size = bh >>> 3;
    if (type === 3) throw new ZstdError('reserved block type');
    if (type !== 2 && size > this.blockMax)
      throw new ZstdError(`block of ${size} bytes exceeds the frame's ${this.blockMax}-byte maximum`);
    if (type === 2 && size > this.blockMax)
      throw new ZstdError(`compressed block of ${size} bytes exceeds the frame's ${this.blockMax}-byte maximum`);
    this.blocksOut += type === 2 ? this.blockMax : size;
    if (this.total + Math.min(this.blocksOut, this.contentSize ?? Infinity) > this.maxOut)
      throw new ZstdError(`message decodes to more than the ${this.maxOut}-byte limit`);
    this.skipThen(type === 1 ? 1 : size, last ? (this.checksum ? 'checksum' : 'frameEnd') : 'blockHeader');
  }
}

/**
 * The most bytes `data` (one or more frames) can decode to, from the frame headers (content size)
 * or, where a frame has none, from its blocks; throws ZstdError where the structure is broken or a
 * frame would need more than `maxOut` bytes of memory.
 */
export function zstdDecodedBound(data: Uint8Array, maxOut: number): number {
  const w = new ZstdFrameWalker(maxOut);
  w.push(data);
  return w.end();
}

/**
 * Decodes a message's zstd frames piece by piece as they arrive (fzstd's streaming Decompress behind
 * a ZstdFrameWalker), handing each decoded block to `onData`: a 16 MB map is decoded while the rest
 * of it is still on the way, not all at once after its last byte. Output past `maxOut` or past what
 * the frames allow is a ZstdError; so is anything fzstd refuses.
 */
export class ZstdStreamDecoder {
  private readonly walker: ZstdFrameWalker;
  private readonly inner: Decompress;
  private out = 0;

  constructor(
    private readonly maxOut: number,
    onData: (block: Uint8Array) => void,
  ) {
    this.walker = new ZstdFrameWalker(maxOut);
    this.inner = new Decompress((block) => {
      this.out += block.length;
      if (this.out > this.maxOut) throw new ZstdError(`message decodes to more than the ${this.maxOut}-byte limit`);
      if (block.length) onData(block);
    });
  }

  /** The next piece of the message; `final` on its last (then the frames must be complete). */
  push(piece: Uint8Array, final: boolean): void {
    this.walker.push(piece);
    if (final) this.walker.end();
    try {
      this.inner.push(piece, final);
    } catch (e) {
      if (e instanceof ZstdError) throw e;
      throw new ZstdError(`corrupt zstd data: ${(e as Error)?.message ?? String(e)}`);
    }
    if (final && this.out > this.walker.total)
      throw new ZstdError(`zstd data decoded to ${this.out} bytes, more than its frames allow (${this.walker.total})`);
  }
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
