// The map stream framing of POST /machine/map with Stream:true: each message is a 4-byte
// LITTLE-endian length followed by that many bytes of JSON tailcfg.MapResponse
// (control/controlclient/direct.go sendMapRequest; headscale hscontrol/poll.go writes the same).
// We never ask for compression (Compress:""), so the bytes are plain JSON.
import { utf8 } from '../crypto/bytes.js';
import type { MapResponse } from './tailcfg.js';

/** Bound on one message; the Go client refuses frames above 4 MiB as bogus too. */
export const DEFAULT_MAX_MAP_MESSAGE = 4 << 20;

export class MapStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MapStreamError';
  }
}

export interface MapStreamStats {
  messages: number;
  bytes: number;
  malformed: number;
}

/**
 * Incremental decoder. push() returns the complete messages so far; after the first error it
 * stays failed (the stream must be closed and re-established: framing is lost).
 */
export class MapStreamDecoder {
  private buf: Uint8Array = new Uint8Array(0);
  private failed: MapStreamError | null = null;
  readonly stats: MapStreamStats = { messages: 0, bytes: 0, malformed: 0 };
  constructor(private readonly maxMessage = DEFAULT_MAX_MAP_MESSAGE) {}

  push(chunk: Uint8Array): MapResponse[] {
    if (this.failed) throw this.failed;
    this.stats.bytes += chunk.length;
    if (chunk.length) {
      const nb = new Uint8Array(this.buf.length + chunk.length);
      nb.set(this.buf);
      nb.set(chunk, this.buf.length);
      this.buf = nb;
    }
    const out: MapResponse[] = [];
    let off = 0;
    while (this.buf.length - off >= 4) {
      const len = new DataView(this.buf.buffer, this.buf.byteOffset + off, 4).getUint32(0, true);
      if (len > this.maxMessage) {
        return this.fail(`map message of ${len} bytes exceeds the ${this.maxMessage}-byte limit`);
      }
      if (this.buf.length - off - 4 < len) break;
      const body = this.buf.subarray(off + 4, off + 4 + len);
      off += 4 + len;
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
    this.buf = this.buf.slice(off);
    return out;
  }

  /** Bytes of a partial message still buffered (non-zero at end of stream = truncated). */
  get pending(): number {
    return this.buf.length;
  }

  private fail(msg: string): never {
    this.stats.malformed++;
    this.failed = new MapStreamError(msg);
    this.buf = new Uint8Array(0);
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
  maxMessage = DEFAULT_MAX_MAP_MESSAGE,
): AsyncGenerator<MapResponse> {
  const dec = new MapStreamDecoder(maxMessage);
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
