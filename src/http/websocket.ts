// RFC 6455 (The WebSocket Protocol), client side, as pure functions: the opening handshake
// (§4.1 request, §4.2.2 Sec-WebSocket-Accept check), frame encoding with client masking (§5.2,
// §5.3) and a frame decoder that reassembles fragmented messages (§5.4), answers nothing itself
// but reports pings, pongs and closes (§5.5), and refuses anything malformed by failing the
// connection with the status code the RFC names (§7.4.1): 1002 protocol error, 1007 invalid
// UTF-8 in a text message, 1009 a message larger than we take. No extensions are offered, so
// RSV bits must be 0 (§5.2). I/O lives in websocket-client.ts.
import { sha1 } from '@noble/hashes/legacy.js';
import { joinChunks } from '../platform/streams.js';
import { HttpError } from './errors.js';
import { encodeRequestHead, isToken, latin1Decode, latin1Encode, type HeaderList } from './wire.js';

/** §1.3: appended to the key before hashing. */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OP_CONT = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** Status codes (§7.4.1). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_NO_STATUS = 1005;
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_INVALID_DATA = 1007;
export const CLOSE_TOO_BIG = 1009;

export function base64(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

/** §4.1: the Sec-WebSocket-Key, 16 random bytes in base64. */
export function makeKey(random: (n: number) => Uint8Array): string {
  return base64(random(16));
}

/** §4.2.2 step 5.4: base64(SHA-1(key + GUID)). */
export function acceptFor(key: string): string {
  return base64(sha1(latin1Encode(key + WS_GUID)));
}

export interface HandshakeRequest {
  /** Host field value ("host[:port]"). */
  host: string;
  /** origin-form request target "/path?query". */
  target: string;
  key: string;
  protocols?: string[];
  /** Extra fields (Origin, Cookie, User-Agent); never Upgrade/Connection/Sec-WebSocket-*. */
  headers?: HeaderList;
}

const RESERVED_REQ = new Set([
  'host',
  'upgrade',
  'connection',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'content-length',
  'transfer-encoding',
]);

/** §4.1: subprotocols are tokens, distinct (the browser API throws SyntaxError otherwise). */
export function validProtocols(protocols: string[]): boolean {
  return protocols.every((p) => p.length > 0 && isToken(p)) && new Set(protocols).size === protocols.length;
}

/** §4.1: the client's opening handshake. */
export function encodeHandshake(r: HandshakeRequest): Uint8Array {
  const protocols = r.protocols ?? [];
  if (!validProtocols(protocols)) throw new HttpError('bad-request', 'invalid WebSocket subprotocol list');
  const headers: HeaderList = [
    ['Host', r.host],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', r.key],
    ['Sec-WebSocket-Version', '13'],
  ];
  if (protocols.length) headers.push(['Sec-WebSocket-Protocol', protocols.join(', ')]);
  for (const [k, v] of r.headers ?? []) if (!RESERVED_REQ.has(k.toLowerCase())) headers.push([k, v]);
  return encodeRequestHead({ method: 'GET', target: r.target, headers });
}

export interface HandshakeResponse {
  status: number;
  statusText: string;
  headers: HeaderList;
}

/** Longest response head we read (then the server is not speaking WebSocket to us). */
export const MAX_HANDSHAKE_HEAD = 16 * 1024;

/**
 * Finds the end of the response head in `buf`: returns the parsed head and the offset of the
 * first byte after it (frames may follow in the same read), or null if more bytes are needed.
 * Throws HttpError('protocol') for a head that is not HTTP/1.1 or is too long.
 */
export function parseHandshakeResponse(buf: Uint8Array): { head: HandshakeResponse; rest: number } | null {
  let end = -1;
  for (let i = 3; i < buf.length; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) {
      end = i + 1;
      break;
    }
  }
  if (end < 0) {
    if (buf.length > MAX_HANDSHAKE_HEAD)
      throw new HttpError('protocol', `WebSocket handshake response head over ${MAX_HANDSHAKE_HEAD} bytes`);
    return null;
  }
  const lines = latin1Decode(buf, 0, end - 4).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new HttpError('protocol', `not an HTTP response: ${JSON.stringify(lines[0].slice(0, 60))}`);
  const headers: HeaderList = [];
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    if (c <= 0 || !isToken(line.slice(0, c)))
      throw new HttpError('protocol', 'malformed header line in the WebSocket handshake response');
    headers.push([line.slice(0, c), line.slice(c + 1).trim()]);
  }
  return { head: { status: Number(m[1]), statusText: m[2] ?? '', headers }, rest: end };
}

const field = (h: HeaderList, name: string): string[] => h.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);

/**
 * §4.2.2 / §4.1 "the client MUST validate the server's response": 101, Upgrade: websocket,
 * Connection: upgrade, the right Sec-WebSocket-Accept, a subprotocol only from those offered (and
 * only one), no extension (we offered none). Returns the chosen subprotocol ('' for none).
 */
export function checkHandshake(head: HandshakeResponse, key: string, offered: string[]): { protocol: string } {
  if (head.status !== 101)
    throw new HttpError(
      'protocol',
      `the server answered the WebSocket handshake with ${head.status} ${head.statusText}`.trim(),
    );
  const h = head.headers;
  if (!field(h, 'upgrade').some((v) => v.toLowerCase() === 'websocket'))
    throw new HttpError('protocol', 'WebSocket handshake: no "Upgrade: websocket"');
  if (!field(h, 'connection').some((v) => v.split(',').some((t) => t.trim().toLowerCase() === 'upgrade')))
    throw new HttpError('protocol', 'WebSocket handshake: no "Connection: Upgrade"');
  const accept = field(h, 'sec-websocket-accept');
  if (accept.length !== 1 || accept[0] !== acceptFor(key))
    throw new HttpError('protocol', 'WebSocket handshake: wrong Sec-WebSocket-Accept');
  if (field(h, 'sec-websocket-extensions').some((v) => v.trim()))
    throw new HttpError('protocol', 'WebSocket handshake: the server chose an extension we did not offer');
  const proto = field(h, 'sec-websocket-protocol')
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter((s) => s);
  if (proto.length > 1) throw new HttpError('protocol', 'WebSocket handshake: more than one subprotocol chosen');
  if (proto.length === 1 && !offered.includes(proto[0]))
    throw new HttpError('protocol', `WebSocket handshake: subprotocol ${JSON.stringify(proto[0])} was not offered`);
  return { protocol: proto[0] ?? '' };
}

/**
 * §5.2: one frame. `mask` (4 bytes) is required for frames a client sends (§5.3); the payload is
 * copied and masked, the caller's bytes stay as they are.
 */
export function encodeFrame(opcode: number, payload: Uint8Array, mask: Uint8Array | null, fin = true): Uint8Array {
  const n = payload.length;
  const lenBytes = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const headLen = 2 + lenBytes + (mask ? 4 : 0);
  const out = new Uint8Array(headLen + n);
  out[0] = (fin ? 0x80 : 0) | (opcode & 0x0f);
  out[1] = (mask ? 0x80 : 0) | (n < 126 ? n : n < 65536 ? 126 : 127);
  if (lenBytes === 2) {
    out[2] = n >>> 8;
    out[3] = n & 0xff;
  } else if (lenBytes === 8) {
    const hi = Math.floor(n / 2 ** 32);
    new DataView(out.buffer).setUint32(2, hi);
    new DataView(out.buffer).setUint32(6, n >>> 0);
  }
  out.set(payload, headLen);
  if (mask) {
    out.set(mask.subarray(0, 4), headLen - 4);
    for (let i = 0; i < n; i++) out[headLen + i] ^= mask[i & 3];
  }
  return out;
}

/** §5.5.1: a Close frame's body (code + UTF-8 reason ≤ 123 bytes); code 1005 means "no body". */
export function closePayload(code: number, reason = ''): Uint8Array {
  if (code === CLOSE_NO_STATUS) return new Uint8Array(0);
  const r = new TextEncoder().encode(reason);
  if (r.length > 123) throw new HttpError('bad-request', 'a WebSocket close reason is at most 123 bytes');
  const out = new Uint8Array(2 + r.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}

/** §7.4: codes that may appear in a Close frame on the wire (1005/1006/1015 never do). */
export function isValidWireCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

export type WsEvent =
  | { type: 'text'; data: string }
  | { type: 'binary'; data: Uint8Array }
  | { type: 'ping'; data: Uint8Array }
  | { type: 'pong'; data: Uint8Array }
  /** The peer's Close frame; code 1005 if it had no body. */
  | { type: 'close'; code: number; reason: string }
  /** We must fail the connection (§7.1.7) and send a Close with this code. */
  | { type: 'fail'; code: number; reason: string };

export interface FrameDecoderOptions {
  /** Largest message (after reassembly) taken; beyond it the connection fails with 1009. Default 16 MiB. */
  maxMessageBytes?: number;
}

const strictUtf8 = () => new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes frames a server sent (§5.2): unmasked (§5.1: a masked server frame is a protocol
 * error), RSV 0, known opcodes, control frames ≤ 125 bytes and unfragmented (§5.5),
 * continuation only inside a fragmented message and no new data frame inside one (§5.4).
 * Any violation yields one `fail` event and the decoder ignores everything after it, as it
 * does after a Close frame. It never throws and never buffers more than one frame header plus
 * maxMessageBytes.
 */
export class FrameDecoder {
  // Received bytes not yet decoded, joined only once a whole frame (or header) is there, so a
  // large frame arriving in many small reads is copied once, not once per read.
  private chunks: Uint8Array[] = [];
  private have = 0;
  private need = 2;
  private done = false;
  private fragOp = -1;
  private frags: Uint8Array[] = [];
  private fragBytes = 0;
  private readonly max: number;

  constructor(opts: FrameDecoderOptions = {}) {
    this.max = opts.maxMessageBytes ?? 16 << 20;
  }

  /** Whether a Close or a failure ended the stream. */
  get finished(): boolean {
    return this.done;
  }

  push(chunk: Uint8Array): WsEvent[] {
    if (this.done || chunk.length === 0) return [];
    this.chunks.push(chunk.slice());
    this.have += chunk.length;
    if (this.have < this.need) return [];
    let buf = this.chunks.length === 1 ? this.chunks[0] : joinChunks(this.chunks, this.have);
    const out: WsEvent[] = [];
    let off = 0;
    this.need = 2;
    while (!this.done) {
      const r = this.frame(buf, off, out);
      if (r < 0) break;
      off = r;
    }
    buf = this.done ? new Uint8Array(0) : buf.subarray(off);
    this.chunks = buf.length ? [buf] : [];
    this.have = buf.length;
    return out;
  }

  /** Not enough bytes yet: wait until `n` bytes from the frame's start are there. */
  private more(n: number): number {
    this.need = n;
    return -1;
  }

  private fail(out: WsEvent[], code: number, reason: string): number {
    this.done = true;
    this.frags = [];
    out.push({ type: 'fail', code, reason });
    return -1;
  }

  /** Decodes one frame at `off`; returns the offset after it, or -1 for "need more bytes" / finished. */
  private frame(b: Uint8Array, off: number, out: WsEvent[]): number {
    if (b.length - off < 2) return this.more(2);
    const b0 = b[off];
    const b1 = b[off + 1];
    const fin = (b0 & 0x80) !== 0;
    const op = b0 & 0x0f;
    if (b0 & 0x70) return this.fail(out, CLOSE_PROTOCOL_ERROR, 'reserved bits set without a negotiated extension');
    if (b1 & 0x80) return this.fail(out, CLOSE_PROTOCOL_ERROR, 'a server must not mask its frames');
    const control = op >= 0x8;
    if (![OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG].includes(op))
      return this.fail(out, CLOSE_PROTOCOL_ERROR, `unknown opcode ${op}`);
    let len = b1 & 0x7f;
    let p = off + 2;
    if (control && (len > 125 || !fin))
      return this.fail(out, CLOSE_PROTOCOL_ERROR, 'control frames are at most 125 bytes and never fragmented');
    if (len === 126) {
      if (b.length - p < 2) return this.more(4);
      len = (b[p] << 8) | b[p + 1];
      p += 2;
      if (len < 126) return this.fail(out, CLOSE_PROTOCOL_ERROR, 'frame length not in minimal form');
    } else if (len === 127) {
      if (b.length - p < 8) return this.more(10);
      const hi = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
      const lo = ((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0;
      if (hi & 0x80000000) return this.fail(out, CLOSE_PROTOCOL_ERROR, 'frame length has its most significant bit set');
      if (hi === 0 && lo < 65536) return this.fail(out, CLOSE_PROTOCOL_ERROR, 'frame length not in minimal form');
      len = hi * 2 ** 32 + lo;
      p += 8;
    }
    // Checked before the payload arrives, so an announced huge frame is refused without waiting for it.
    if (!control && (op === OP_CONT ? this.fragBytes : 0) + len > this.max)
      return this.fail(out, CLOSE_TOO_BIG, `message over ${this.max} bytes`);
    if (op === OP_CONT && this.fragOp < 0)
      return this.fail(out, CLOSE_PROTOCOL_ERROR, 'continuation frame without a message to continue');
    if ((op === OP_TEXT || op === OP_BINARY) && this.fragOp >= 0)
      return this.fail(out, CLOSE_PROTOCOL_ERROR, 'new message inside a fragmented one');
    if (b.length - p < len) return this.more(p - off + len);
    const payload = b.slice(p, p + len);
    const next = p + len;
    if (op === OP_PING) out.push({ type: 'ping', data: payload });
    else if (op === OP_PONG) out.push({ type: 'pong', data: payload });
    else if (op === OP_CLOSE) return this.close(payload, out);
    else {
      if (op !== OP_CONT) this.fragOp = op;
      this.frags.push(payload);
      this.fragBytes += len;
      if (fin) {
        const msgOp = this.fragOp;
        const data = this.frags.length === 1 ? this.frags[0] : joinChunks(this.frags, this.fragBytes);
        this.fragOp = -1;
        this.frags = [];
        this.fragBytes = 0;
        if (msgOp === OP_TEXT) {
          let text: string;
          try {
            text = strictUtf8().decode(data);
          } catch {
            return this.fail(out, CLOSE_INVALID_DATA, 'text message is not valid UTF-8');
          }
          out.push({ type: 'text', data: text });
        } else {
          out.push({ type: 'binary', data });
        }
      }
    }
    return next;
  }

  /** §5.5.1: a Close frame ends the stream; its body is empty or a valid code plus UTF-8 reason. */
  private close(payload: Uint8Array, out: WsEvent[]): number {
    if (payload.length === 0) {
      this.done = true;
      out.push({ type: 'close', code: CLOSE_NO_STATUS, reason: '' });
      return -1;
    }
    if (payload.length === 1) return this.fail(out, CLOSE_PROTOCOL_ERROR, 'close frame body of one byte');
    const code = (payload[0] << 8) | payload[1];
    if (!isValidWireCloseCode(code)) return this.fail(out, CLOSE_PROTOCOL_ERROR, `invalid close code ${code}`);
    let reason: string;
    try {
      reason = strictUtf8().decode(payload.subarray(2));
    } catch {
      return this.fail(out, CLOSE_INVALID_DATA, 'close reason is not valid UTF-8');
    }
    this.done = true;
    out.push({ type: 'close', code, reason });
    return -1;
  }
}
