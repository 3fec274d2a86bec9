// HTTP/2 frames (RFC 9113 §4 and §6): pure encode/decode of every frame type.
// decodeFrame never throws; a malformed frame is returned as a FrameError carrying the
// RFC 9113 §7 error code and whether it is a connection or a stream error (§5.4).

export const FRAME_HEADER_LENGTH = 9;
export const CONNECTION_PREFACE = new TextEncoder().encode('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
export const DEFAULT_MAX_FRAME_SIZE = 16384;
export const MAX_ALLOWED_FRAME_SIZE = 16777215;
export const DEFAULT_WINDOW = 65535;
export const MAX_WINDOW = 0x7fffffff;

export const enum FrameType {
  DATA = 0x0,
  HEADERS = 0x1,
  PRIORITY = 0x2,
  RST_STREAM = 0x3,
  SETTINGS = 0x4,
  PUSH_PROMISE = 0x5,
  PING = 0x6,
  GOAWAY = 0x7,
  WINDOW_UPDATE = 0x8,
  CONTINUATION = 0x9,
}

export const Flags = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

// §7 error codes.
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

// §6.5.2 settings identifiers.
export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export type Frame =
  | { type: FrameType.DATA; streamId: number; endStream: boolean; data: Uint8Array; flowLength: number }
  | {
      type: FrameType.HEADERS;
      streamId: number;
      endStream: boolean;
      endHeaders: boolean;
      block: Uint8Array;
      priority?: { exclusive: boolean; dependency: number; weight: number };
    }
  | { type: FrameType.PRIORITY; streamId: number; exclusive: boolean; dependency: number; weight: number }
  | { type: FrameType.RST_STREAM; streamId: number; code: number }
  | { type: FrameType.SETTINGS; ack: boolean; settings: [number, number][] }
  | { type: FrameType.PUSH_PROMISE; streamId: number; promisedId: number; endHeaders: boolean; block: Uint8Array }
  | { type: FrameType.PING; ack: boolean; data: Uint8Array }
  | { type: FrameType.GOAWAY; lastStreamId: number; code: number; debug: Uint8Array }
  | { type: FrameType.WINDOW_UPDATE; streamId: number; increment: number }
  | { type: FrameType.CONTINUATION; streamId: number; endHeaders: boolean; block: Uint8Array }
  | { type: 'unknown'; frameType: number; streamId: number; flags: number; length: number };

export class FrameError {
  constructor(
    readonly code: number,
    readonly message: string,
    /** 0 = connection error; otherwise the stream to reset (§5.4.2). */
    readonly streamId = 0,
  ) {}
}

export interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

export function decodeFrameHeader(b: Uint8Array, off = 0): FrameHeader {
  return {
    length: (b[off]! << 16) | (b[off + 1]! << 8) | b[off + 2]!,
    type: b[off + 3]!,
    flags: b[off + 4]!,
    streamId: readU31(b, off + 5),
  };
}

function readU31(b: Uint8Array, o: number): number {
  return (b[o]! & 0x7f) * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}
function readU32(b: Uint8Array, o: number): number {
  return b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}
function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Strip §6.1 padding. */
function unpad(h: FrameHeader, p: Uint8Array): Uint8Array | FrameError {
  if (!(h.flags & Flags.PADDED)) return p;
  if (p.length < 1) return new FrameError(ErrorCode.FRAME_SIZE_ERROR, 'padded frame without pad length');
  const pad = p[0]!;
  if (pad >= p.length) return new FrameError(ErrorCode.PROTOCOL_ERROR, 'padding exceeds payload');
  return p.subarray(1, p.length - pad);
}

/** Decode a frame whose header is already parsed and whose payload is complete. */
export function decodeFrame(h: FrameHeader, p: Uint8Array): Frame | FrameError {
  const sid = h.streamId;
  const needStream = () => new FrameError(ErrorCode.PROTOCOL_ERROR, `frame type ${h.type} on stream 0`);
  const needConn = () => new FrameError(ErrorCode.PROTOCOL_ERROR, `frame type ${h.type} on stream ${sid}`);
  switch (h.type) {
    case FrameType.DATA: {
      if (sid === 0) return needStream();
      const d = unpad(h, p);
      if (d instanceof FrameError) return d;
      return {
        type: FrameType.DATA,
        streamId: sid,
        endStream: !!(h.flags & Flags.END_STREAM),
        data: d,
        flowLength: p.length,
      };
    }
    case FrameType.HEADERS: {
      if (sid === 0) return needStream();
      let d = unpad(h, p);
      if (d instanceof FrameError) return d;
      let priority;
      if (h.flags & Flags.PRIORITY) {
        if (d.length < 5) return new FrameError(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS priority truncated');
        priority = { exclusive: !!(d[0]! & 0x80), dependency: readU31(d, 0), weight: d[4]! + 1 };
        d = d.subarray(5);
      }
      return {
        type: FrameType.HEADERS,
        streamId: sid,
        endStream: !!(h.flags & Flags.END_STREAM),
        endHeaders: !!(h.flags & Flags.END_HEADERS),
        block: d,
        priority,
      };
    }
    case FrameType.PRIORITY:
      if (sid === 0) return needStream();
      if (p.length !== 5) return new FrameError(ErrorCode.FRAME_SIZE_ERROR, 'PRIORITY length', sid);
      return {
        type: FrameType.PRIORITY,
        streamId: sid,
        exclusive: !!(p[0]! & 0x80),
        dependency: readU31(p, 0),
        weight: p[4]! + 1,
      };
    case FrameType.RST_STREAM:
      if (sid === 0) return needStream();
      if (p.length !== 4) return new FrameError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM length');
      return { type: FrameType.RST_STREAM, streamId: sid, code: readU32(p, 0) };
    case FrameType.SETTINGS: {
      if (sid !== 0) return needConn();
      const ack = !!(h.flags & Flags.ACK);
      if (ack && p.length) return new FrameError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with payload');
      if (p.length % 6) return new FrameError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length');
      const settings: [number, number][] = [];
      for (let o = 0; o < p.length; o += 6) {
        const id = (p[o]! << 8) | p[o + 1]!;
        const v = readU32(p, o + 2);
        // §6.5.2 value checks.
        if (id === Setting.ENABLE_PUSH && v > 1) return new FrameError(ErrorCode.PROTOCOL_ERROR, 'ENABLE_PUSH');
        if (id === Setting.INITIAL_WINDOW_SIZE && v > MAX_WINDOW)
          return new FrameError(ErrorCode.FLOW_CONTROL_ERROR, 'INITIAL_WINDOW_SIZE');
        if (id === Setting.MAX_FRAME_SIZE && (v < DEFAULT_MAX_FRAME_SIZE || v > MAX_ALLOWED_FRAME_SIZE))
          return new FrameError(ErrorCode.PROTOCOL_ERROR, 'MAX_FRAME_SIZE');
        settings.push([id, v]);
      }
      return { type: FrameType.SETTINGS, ack, settings };
    }
    case FrameType.PUSH_PROMISE: {
      if (sid === 0) return needStream();
      const d = unpad(h, p);
      if (d instanceof FrameError) return d;
      if (d.length < 4) return new FrameError(ErrorCode.FRAME_SIZE_ERROR, 'PUSH_PROMISE truncated');
      return {
        type: FrameType.PUSH_PROMISE,
        streamId: sid,
        promisedId: readU31(d, 0),
        endHeaders: !!(h.flags & Flags.END_HEADERS),
        block: d.subarray(4),
      };
    }
    case FrameType.PING:
      if (sid !== 0) return needConn();
      if (p.length !== 8) return new FrameError(ErrorCode.FRAME_SIZE_ERROR, 'PING length');
      return { type: FrameType.PING, ack: !!(h.flags & Flags.ACK), data: p.slice() };
    case FrameType.GOAWAY:
      if (sid !== 0) return needConn();
      if (p.length < 8) return new FrameError(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY length');
      return { type: FrameType.GOAWAY, lastStreamId: readU31(p, 0), code: readU32(p, 4), debug: p.slice(8) };
    case FrameType.WINDOW_UPDATE: {
      if (p.length !== 4) return new FrameError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
      const inc = readU31(p, 0);
      // §6.9: a zero increment is a stream error on a stream, a connection error on stream 0.
      if (inc === 0) return new FrameError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE increment 0', sid);
      return { type: FrameType.WINDOW_UPDATE, streamId: sid, increment: inc };
    }
    case FrameType.CONTINUATION:
      if (sid === 0) return needStream();
      return { type: FrameType.CONTINUATION, streamId: sid, endHeaders: !!(h.flags & Flags.END_HEADERS), block: p };
    default:
      // §4.1: unknown frame types are ignored.
      return { type: 'unknown', frameType: h.type, streamId: sid, flags: h.flags, length: h.length };
  }
}

export function encodeFrameRaw(type: number, flags: number, streamId: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_LENGTH + payload.length);
  out[0] = (payload.length >>> 16) & 0xff;
  out[1] = (payload.length >>> 8) & 0xff;
  out[2] = payload.length & 0xff;
  out[3] = type;
  out[4] = flags;
  writeU32(out, 5, streamId & 0x7fffffff);
  out.set(payload, FRAME_HEADER_LENGTH);
  return out;
}

export function encodeFrame(f: Exclude<Frame, { type: 'unknown' }>): Uint8Array {
  switch (f.type) {
    case FrameType.DATA:
      return encodeFrameRaw(f.type, f.endStream ? Flags.END_STREAM : 0, f.streamId, f.data);
    case FrameType.HEADERS: {
      let flags = (f.endStream ? Flags.END_STREAM : 0) | (f.endHeaders ? Flags.END_HEADERS : 0);
      let payload = f.block;
      if (f.priority) {
        flags |= Flags.PRIORITY;
        payload = new Uint8Array(5 + f.block.length);
        writeU32(payload, 0, (f.priority.dependency & 0x7fffffff) | (f.priority.exclusive ? 0x80000000 : 0));
        payload[4] = f.priority.weight - 1;
        payload.set(f.block, 5);
      }
      return encodeFrameRaw(f.type, flags, f.streamId, payload);
    }
    case FrameType.PRIORITY: {
      const p = new Uint8Array(5);
      writeU32(p, 0, (f.dependency & 0x7fffffff) | (f.exclusive ? 0x80000000 : 0));
      p[4] = f.weight - 1;
      return encodeFrameRaw(f.type, 0, f.streamId, p);
    }
    case FrameType.RST_STREAM: {
      const p = new Uint8Array(4);
      writeU32(p, 0, f.code);
      return encodeFrameRaw(f.type, 0, f.streamId, p);
    }
    case FrameType.SETTINGS: {
      const p = new Uint8Array(6 * f.settings.length);
      f.settings.forEach(([id, v], i) => {
        p[i * 6] = id >> 8;
        p[i * 6 + 1] = id & 0xff;
        writeU32(p, i * 6 + 2, v);
      });
      return encodeFrameRaw(f.type, f.ack ? Flags.ACK : 0, 0, p);
    }
    case FrameType.PUSH_PROMISE: {
      const p = new Uint8Array(4 + f.block.length);
      writeU32(p, 0, f.promisedId & 0x7fffffff);
      p.set(f.block, 4);
      return encodeFrameRaw(f.type, f.endHeaders ? Flags.END_HEADERS : 0, f.streamId, p);
    }
    case FrameType.PING:
      return encodeFrameRaw(f.type, f.ack ? Flags.ACK : 0, 0, f.data);
    case FrameType.GOAWAY: {
      const p = new Uint8Array(8 + f.debug.length);
      writeU32(p, 0, f.lastStreamId & 0x7fffffff);
      writeU32(p, 4, f.code);
      p.set(f.debug, 8);
      return encodeFrameRaw(f.type, 0, 0, p);
    }
    case FrameType.WINDOW_UPDATE: {
      const p = new Uint8Array(4);
      writeU32(p, 0, f.increment & 0x7fffffff);
      return encodeFrameRaw(f.type, 0, f.streamId, p);
    }
    case FrameType.CONTINUATION:
      return encodeFrameRaw(f.type, f.endHeaders ? Flags.END_HEADERS : 0, f.streamId, f.block);
  }
}

/**
 * Incremental frame splitter over a byte stream: push bytes, pull complete frames.
 * Frames larger than maxFrameSize are a FRAME_SIZE_ERROR (§4.2).
 */
export class FrameReader {
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;
  constructor(public maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {}

  push(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.buf.length) {
      const live = this.end - this.start;
      const need = live + chunk.length;
      const nb = need > this.buf.length ? new Uint8Array(Math.max(need, this.buf.length * 2, 32768)) : this.buf;
      nb.set(this.buf.subarray(this.start, this.end), 0);
      this.buf = nb;
      this.start = 0;
      this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** Next complete frame, undefined if more bytes are needed, or a FrameError. */
  next(): Frame | FrameError | undefined {
    if (this.end - this.start < FRAME_HEADER_LENGTH) return undefined;
    const h = decodeFrameHeader(this.buf, this.start);
    if (h.length > this.maxFrameSize) return new FrameError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${h.length} bytes`);
    if (this.end - this.start < FRAME_HEADER_LENGTH + h.length) return undefined;
    const p = this.buf.slice(this.start + FRAME_HEADER_LENGTH, this.start + FRAME_HEADER_LENGTH + h.length);
    this.start += FRAME_HEADER_LENGTH + h.length;
    return decodeFrame(h, p);
  }
}
