// The map stream framing of POST /machine/map with Stream:true: each message is a 4-byte
// LITTLE-endian length followed by that many bytes of JSON tailcfg.MapResponse
// (control/controlclient/direct.go sendMapRequest; headscale hscontrol/poll.go writes the same).
// With Compress:"zstd" (what tailscaled asks for) the length counts the zstd-encoded bytes and
// each message is one or more zstd frames of that JSON (hscontrol/poll.go writeMap; direct.go
// readMapResponseMessage/decodeMsg); with Compress:"" the bytes are plain JSON.
import { utf8 } from '../crypto/bytes.js';
import type { MapResponse } from './tailcfg.js';
import { zstdDecode } from './zstd.js';

/**
 * Bound on one message. A full map of 10,000 peers is ~16 MB of JSON (tailscaled asks for zstd and
 * has no cap); 128 MiB holds ~80,000 realistic peers. A length above it is refused at the header,
 * before anything is buffered, so a hostile server gets a worded error, not our memory.
 */
export const DEFAULT_MAX_MAP_MESSAGE = 128 << 20;
/**
 * Bound on one message's JSON after zstd decoding: a 100,000-peer map is ~160 MB of JSON (~1.6 KB
 * a peer); 256 MiB leaves room and stays under V8's largest string (2^29 − 24 characters), which
 * JSON.parse needs the text in. tailscaled's bound is 1 GiB (maxDecodedMapResponseSize).
 */
export const DEFAULT_MAX_DECODED_MAP_MESSAGE = 256 << 20;

export interface MapStreamOptions {
  /** Bound on one message as framed (compressed when zstd). */
  maxMessage?: number;
  /** The stream's messages are zstd (we asked Compress:"zstd"). */
  zstd?: boolean;
  /** Bound on one message's JSON after decoding. */
  maxDecoded?: number;
}

export class MapStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MapStreamError';
  }
}

export interface MapStreamStats {
  messages: number;
  /** Bytes as they came (compressed, with the length prefixes). */
  bytes: number;
  malformed: number;
  /** Messages that were zstd-decoded, and the JSON bytes they decoded to. */
  compressed: number;
  decodedBytes: number;
}

/**
 * Incremental decoder. push() returns the complete messages so far; after the first error it
 * stays failed (the stream must be closed and re-established: framing is lost). Chunks are kept
 * in a list and joined once per message: a 16 MB map arriving in 16 KiB DATA frames is copied
 * twice, not once per frame (which was ~8 GB of copying).
 */
export class MapStreamDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private failed: MapStreamError | null = null;
  readonly stats: MapStreamStats = { messages: 0, bytes: 0, malformed: 0, compressed: 0, decodedBytes: 0 };
  private readonly maxMessage: number;
  private readonly zstd: boolean;
  private readonly maxDecoded: number;
  constructor(o: MapStreamOptions | number = {}) {
    const opts = typeof o === 'number' ? { maxMessage: o } : o;
    this.maxMessage = opts.maxMessage ?? DEFAULT_MAX_MAP_MESSAGE;
    this.zstd = !!opts.zstd;
    this.maxDecoded = opts.maxDecoded ?? DEFAULT_MAX_DECODED_MAP_MESSAGE;
  }

  push(chunk: Uint8Array): MapResponse[] {
    if (this.failed) throw this.failed;
    this.stats.bytes += chunk.length;
    if (chunk.length) {
      // A copy: the caller may reuse its buffer.
      this.chunks.push(chunk.slice());
      this.buffered += chunk.length;
    }
    const out: MapResponse[] = [];
    while (this.buffered >= 4) {
      const head = this.peek(4);
      const len = (head[0]! | (head[1]! << 8) | (head[2]! << 16) | (head[3]! << 24)) >>> 0;
      if (len > this.maxMessage) {
        return this.fail(`map message of ${len} bytes exceeds the ${this.maxMessage}-byte limit`);
      }
      if (this.buffered - 4 < len) break;
      this.take(4);
      let body = this.take(len);
      if (this.zstd) {
        try {
          body = zstdDecode(body, this.maxDecoded);
        } catch (e) {
          return this.fail(`map message is not valid zstd (${len} bytes): ${(e as Error).message}`);
        }
        this.stats.compressed++;
      }
      this.stats.decodedBytes += body.length;
      let v: unknown;
      try {
        v = JSON.parse(utf8.decode(body));
      } catch {
        return this.fail(`map message is not valid JSON (${len} bytes)`);
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        return this.fail('map message is not a JSON object');
      }
      this.stats.messages++;
      out.push(v as MapResponse);
    }
    return out;
  }

  /** The first n buffered bytes (n <= buffered), without consuming them. */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    const out = new Uint8Array(n);
    let off = 0;
    for (const c of this.chunks) {
      const k = Math.min(c.length, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (off === n) break;
    }
    return out;
  }

  /** Consumes n buffered bytes (n <= buffered) into one array. */
  private take(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first && first.length === n) {
      this.chunks.shift();
      this.buffered -= n;
      return first;
    }
    if (first && first.length > n) {
      this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }

  /** Bytes of a partial message still buffered (non-zero at end of stream = truncated). */
  get pending(): number {
    return this.buffered;
  }

  private fail(msg: string): never {
    this.stats.malformed++;
    this.failed = new MapStreamError(msg);
    this.chunks = [];
    this.buffered = 0;
    throw this.failed;
  }
}

/** Encodes one message (tests and fakes). */
export function encodeMapMessage(msg: MapResponse | Uint8Array): Uint8Array {
  const body = msg instanceof Uint8Array ? msg : utf8.encode(JSON.stringify(msg));
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, 4);
  return out;
}

/** Reads map messages from a byte stream; throws MapStreamError on malformed input. */
export async function* readMapStream(
  body: ReadableStream<Uint8Array>,
  o: MapStreamOptions | number = {},
  stats?: (s: MapStreamStats) => void,
): AsyncGenerator<MapResponse> {
  const dec = new MapStreamDecoder(o);
  stats?.(dec.stats);
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (!value) continue;
      let msgs: MapResponse[];
      try {
        msgs = dec.push(value);
      } catch (e) {
        await reader.cancel(e).catch(() => {});
        throw e;
      }
      for (const m of msgs) yield m;
    }
  } finally {
    reader.releaseLock();
  }
  if (dec.pending) throw new MapStreamError(`map stream ended inside a message (${dec.pending} bytes buffered)`);
}
