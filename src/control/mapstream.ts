// The map stream framing of POST /machine/map with Stream:true: each message is a 4-byte
// LITTLE-endian length followed by that many bytes of JSON tailcfg.MapResponse
// (control/controlclient/direct.go sendMapRequest; headscale hscontrol/poll.go writes the same).
// With Compress:"zstd" (what tailscaled asks for) the length counts the zstd-encoded bytes and
// each message is one or more zstd frames of that JSON (hscontrol/poll.go writeMap; direct.go
// readMapResponseMessage/decodeMsg); with Compress:"" the bytes are plain JSON.
import { utf8 } from '../crypto/bytes.js';
import type { MapResponse } from './tailcfg.js';
import { ZstdStreamDecoder } from './zstd.js';

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

/** The message being received: its length, how much of it is here, and its text so far. */
interface BodyInProgress {
  len: number;
  got: number;
  parts: string[];
  text: TextDecoder;
  zstd?: ZstdStreamDecoder;
}

/**
 * Incremental decoder. push() returns the complete messages so far; after the first error it
 * stays failed (the stream must be closed and re-established: framing is lost). A message is
 * decoded as it arrives, piece by piece: zstd-decoded (ZstdStreamDecoder) and UTF-8-decoded into
 * string parts, so that after its last byte only JSON.parse is left (a 10,000-peer map is 1.2 MB
 * of zstd in ~70 HTTP/2 DATA frames; decoding it all at the end took ~0.4 s). Nothing is
 * re-copied per chunk (once a copy per 16 KiB chunk was ~8 GB for a 16 MB map).
 */
export class MapStreamDecoder {
  private readonly head = new Uint8Array(4);
  private headLen = 0;
  private body: BodyInProgress | null = null;
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
    const out: MapResponse[] = [];
    let at = 0;
    while (at < chunk.length) {
      let body = this.body;
      if (!body) {
        const k = Math.min(4 - this.headLen, chunk.length - at);
        this.head.set(chunk.subarray(at, at + k), this.headLen);
        this.headLen += k;
        at += k;
        if (this.headLen < 4) break;
        this.headLen = 0;
        const h = this.head;
        const len = (h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0;
        if (len > this.maxMessage) {
          return this.fail(`map message of ${len} bytes exceeds the ${this.maxMessage}-byte limit`);
        }
        body = this.body = this.startBody(len);
      } else {
        const k = Math.min(body.len - body.got, chunk.length - at);
        body.got += k;
        this.feed(body, chunk.subarray(at, at + k), body.got === body.len);
        at += k;
      }
      if (body.got === body.len) {
        this.body = null;
        out.push(this.finish(body));
      }
    }
    return out;
  }

  private startBody(len: number): BodyInProgress {
    const body: BodyInProgress = { len, got: 0, parts: [], text: new TextDecoder() };
    if (this.zstd)
      body.zstd = new ZstdStreamDecoder(this.maxDecoded, (block) => {
        this.stats.decodedBytes += block.length;
        body.parts.push(body.text.decode(block, { stream: true }));
      });
    return body;
  }

  private feed(body: BodyInProgress, piece: Uint8Array, final: boolean): void {
    if (!body.zstd) {
      this.stats.decodedBytes += piece.length;
      body.parts.push(body.text.decode(piece, { stream: !final }));
      return;
    }
    try {
      // A copy: fzstd keeps a partial block until the rest arrives, and the caller may reuse its buffer.
      body.zstd.push(piece.slice(), final);
    } catch (e) {
      this.fail(`map message is not valid zstd (${body.len} bytes): ${(e as Error).message}`);
    }
  }

  private finish(body: BodyInProgress): MapResponse {
    if (body.len === 0) this.feed(body, new Uint8Array(0), true);
    if (body.zstd) {
      this.stats.compressed++;
      body.parts.push(body.text.decode());
    }
    let v: unknown;
    try {
      v = JSON.parse(body.parts.length === 1 ? body.parts[0]! : body.parts.join(''));
    } catch {
      return this.fail(`map message is not valid JSON (${body.len} bytes)`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) {
      return this.fail('map message is not a JSON object');
    }
    this.stats.messages++;
    return v as MapResponse;
  }

  /** Bytes of a partial message still buffered (non-zero at end of stream = truncated). */
  get pending(): number {
    return this.headLen + (this.body ? 4 + this.body.got : 0);
  }

  private fail(msg: string): never {
    this.stats.malformed++;
    this.failed = new MapStreamError(msg);
    this.body = null;
    this.headLen = 0;
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
