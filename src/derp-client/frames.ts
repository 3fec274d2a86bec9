// DERP frame codec, protocol version 2 (tailscale/tailscale derp/derp.go).
// A frame is: type byte, big-endian u32 payload length, payload. Over WebSocket the
// frames form a byte stream: one message may hold part of a frame or several frames.

export const PROTOCOL_VERSION = 2;
export const KEY_LEN = 32;
export const NONCE_LEN = 24;
/** derp.go MaxPacketSize. */
export const MAX_PACKET_SIZE = 64 << 10;
/** Largest frame payload we accept (a packet plus its 32-byte key, with headroom as derp.go's maxFrameSize). */
export const MAX_FRAME_SIZE = 1 << 20;
export const FRAME_HEADER_LEN = 5;
/** "DERP🔑" */
export const MAGIC = new Uint8Array([0x44, 0x45, 0x52, 0x50, 0xf0, 0x9f, 0x94, 0x91]);

export const FrameType = {
  ServerKey: 0x01,
  ClientInfo: 0x02,
  ServerInfo: 0x03,
  SendPacket: 0x04,
  RecvPacket: 0x05,
  KeepAlive: 0x06,
  NotePreferred: 0x07,
  PeerGone: 0x08,
  Ping: 0x12,
  Pong: 0x13,
  Health: 0x14,
  Restarting: 0x15,
} as const;

export type Frame =
  | { type: 'serverKey'; serverKey: Uint8Array }
  | { type: 'clientInfo'; clientKey: Uint8Array; sealed: Uint8Array }
  | { type: 'serverInfo'; sealed: Uint8Array }
  | { type: 'sendPacket'; dstKey: Uint8Array; packet: Uint8Array }
  | { type: 'recvPacket'; srcKey: Uint8Array; packet: Uint8Array }
  | { type: 'keepAlive' }
  | { type: 'notePreferred'; preferred: boolean }
  | { type: 'peerGone'; peerKey: Uint8Array; reason: number }
  | { type: 'ping'; data: Uint8Array }
  | { type: 'pong'; data: Uint8Array }
  | { type: 'health'; problem: string }
  | { type: 'restarting'; reconnectInMs: number; tryForMs: number }
  | { type: 'unknown'; frameType: number; payload: Uint8Array };

export type DecodeResult = { ok: true; frame: Frame } | { ok: false; error: string };

/** A frame whose payload is `payload` followed by `rest`, copied once into the frame (no joined payload first: one copy less per packet sent). */
function frame(type: number, payload: Uint8Array, rest?: Uint8Array): Uint8Array {
  const len = payload.length + (rest ? rest.length : 0);
  const out = new Uint8Array(FRAME_HEADER_LEN + len);
  out[0] = type;
  out[1] = len >>> 24;
  out[2] = (len >>> 16) & 0xff;
  out[3] = (len >>> 8) & 0xff;
  out[4] = len & 0xff;
  out.set(payload, FRAME_HEADER_LEN);
  if (rest) out.set(rest, FRAME_HEADER_LEN + payload.length);
  return out;
}

function u32pair(a: number, b: number): Uint8Array {
  const o = new Uint8Array(8);
  const dv = new DataView(o.buffer);
  dv.setUint32(0, a >>> 0, false);
  dv.setUint32(4, b >>> 0, false);
  return o;
}

/** Encodes a frame; throws only on programmer error (wrong key length, oversized packet). */
export function encodeFrame(f: Frame): Uint8Array {
  switch (f.type) {
    case 'serverKey':
      checkLen(f.serverKey, KEY_LEN);
      return frame(FrameType.ServerKey, MAGIC, f.serverKey);
    case 'clientInfo':
      checkLen(f.clientKey, KEY_LEN);
      return frame(FrameType.ClientInfo, f.clientKey, f.sealed);
    case 'serverInfo':
      return frame(FrameType.ServerInfo, f.sealed);
    case 'sendPacket':
      checkLen(f.dstKey, KEY_LEN);
      if (f.packet.length > MAX_PACKET_SIZE) throw new RangeError('derp: packet too large');
      return frame(FrameType.SendPacket, f.dstKey, f.packet);
    case 'recvPacket':
      checkLen(f.srcKey, KEY_LEN);
      if (f.packet.length > MAX_PACKET_SIZE) throw new RangeError('derp: packet too large');
      return frame(FrameType.RecvPacket, f.srcKey, f.packet);
    case 'keepAlive':
      return frame(FrameType.KeepAlive, new Uint8Array(0));
    case 'notePreferred':
      return frame(FrameType.NotePreferred, new Uint8Array([f.preferred ? 1 : 0]));
    case 'peerGone':
      checkLen(f.peerKey, KEY_LEN);
      return frame(FrameType.PeerGone, f.peerKey, new Uint8Array([f.reason & 0xff]));
    case 'ping':
      checkLen(f.data, 8);
      return frame(FrameType.Ping, f.data);
    case 'pong':
      checkLen(f.data, 8);
      return frame(FrameType.Pong, f.data);
    case 'health':
      return frame(FrameType.Health, new TextEncoder().encode(f.problem));
    case 'restarting':
      return frame(FrameType.Restarting, u32pair(f.reconnectInMs, f.tryForMs));
    case 'unknown':
      return frame(f.frameType, f.payload);
  }
}

function checkLen(b: Uint8Array, n: number): void {
  if (b.length !== n) throw new RangeError(`derp: expected ${n} bytes, got ${b.length}`);
}

function eqMagic(p: Uint8Array): boolean {
  for (let i = 0; i < MAGIC.length; i++) if (p[i] !== MAGIC[i]) return false;
  return true;
}

/** Decodes one frame's payload. Never throws; malformed payloads give an error value. */
export function decodeFramePayload(type: number, p: Uint8Array): DecodeResult {
  const bad = (error: string): DecodeResult => ({ ok: false, error });
  const ok = (frame: Frame): DecodeResult => ({ ok: true, frame });
  switch (type) {
    case FrameType.ServerKey:
      // derp_client.go recvServerKey: at least magic + key; extra bytes are ignored.
      if (p.length < MAGIC.length + KEY_LEN) return bad('server key frame too short');
      if (!eqMagic(p)) return bad('server key frame: wrong magic');
      return ok({ type: 'serverKey', serverKey: p.slice(MAGIC.length, MAGIC.length + KEY_LEN) });
    case FrameType.ClientInfo:
      if (p.length < KEY_LEN + NONCE_LEN) return bad('client info frame too short');
      return ok({ type: 'clientInfo', clientKey: p.slice(0, KEY_LEN), sealed: p.slice(KEY_LEN) });
    case FrameType.ServerInfo:
      if (p.length < NONCE_LEN) return bad('server info frame too short');
      return ok({ type: 'serverInfo', sealed: p.slice() });
    case FrameType.SendPacket:
    case FrameType.RecvPacket: {
      if (p.length < KEY_LEN) return bad('packet frame too short');
      if (p.length - KEY_LEN > MAX_PACKET_SIZE) return bad('packet too large');
      const key = p.slice(0, KEY_LEN);
      // A view, not a copy: the data path's bytes (every WireGuard packet) are read once by the
      // receiver and never written, and the chunk they live in is not reused (FrameReassembler
      // copies only its unfinished tail).
      const packet = p.subarray(KEY_LEN);
      return ok(
        type === FrameType.SendPacket
          ? { type: 'sendPacket', dstKey: key, packet }
          : { type: 'recvPacket', srcKey: key, packet },
      );
    }
    case FrameType.KeepAlive:
      return ok({ type: 'keepAlive' });
    case FrameType.NotePreferred:
      if (p.length < 1) return bad('note preferred frame too short');
      return ok({ type: 'notePreferred', preferred: p[0] !== 0 });
    case FrameType.PeerGone:
      if (p.length < KEY_LEN) return bad('peer gone frame too short');
      // derp_client.go: reason byte is optional (older servers), default 0 = disconnected.
      return ok({ type: 'peerGone', peerKey: p.slice(0, KEY_LEN), reason: p.length > KEY_LEN ? p[KEY_LEN] : 0 });
    case FrameType.Ping:
    case FrameType.Pong:
      if (p.length < 8) return bad('ping/pong frame too short');
      return ok({ type: type === FrameType.Ping ? 'ping' : 'pong', data: p.slice(0, 8) });
    case FrameType.Health:
      return ok({ type: 'health', problem: new TextDecoder('utf-8', { fatal: false }).decode(p) });
    case FrameType.Restarting: {
      if (p.length < 8) return bad('restarting frame too short');
      const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
      return ok({ type: 'restarting', reconnectInMs: dv.getUint32(0, false), tryForMs: dv.getUint32(4, false) });
    }
    default:
      // derp_client.go: unknown frame types are skipped for forward compatibility.
      return ok({ type: 'unknown', frameType: type, payload: p.slice() });
  }
}

export type ReassemblerEvent = DecodeResult;

/**
 * Reassembles a DERP byte stream from arbitrary chunks. push() returns the decoded frames (or
 * error values) completed by this chunk. An oversized length is a fatal error: the stream
 * cannot be resynchronised, so the caller must close the connection. Bounded: at most one frame
 * (maxFrameSize) plus its header is ever held. A frame arriving in many small chunks is kept as
 * a list of them and joined once when complete (not re-copied with every chunk, which made a
 * 64 KiB frame in 1-byte WebSocket messages cost 2 GB of copying); frames lying whole within one
 * chunk are decoded from it without a copy.
 */
export class FrameReassembler {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Payload length of the frame being collected in `chunks`, once its header is whole (else −1). */
  private frameLen = -1;
  private fatal: string | undefined;
  /** Byte copies made to join frames that spanned chunks (for tests and benchmarks). */
  copiedBytes = 0;

  constructor(private readonly maxFrameSize = MAX_FRAME_SIZE) {}

  get failed(): string | undefined {
    return this.fatal;
  }

  /** Bytes buffered that do not yet form a complete frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): DecodeResult[] {
    if (this.fatal !== undefined) return [];
    const out: DecodeResult[] = [];
    const data = chunk;
    let off = 0;
    if (this.buffered) {
      // Complete the frame that is in the list first, taking from the new chunk only what it needs.
      // Its length is read once, when its header is whole.
      if (this.frameLen < 0) {
        const head = this.peek(FRAME_HEADER_LEN, chunk);
        if (!head) {
          this.keep(chunk, 0);
          return out;
        }
        const n = ((head[1]! << 24) | (head[2]! << 16) | (head[3]! << 8) | head[4]!) >>> 0;
        if (n > this.maxFrameSize) return this.tooLarge(out, head[0]!, n);
        this.frameLen = n;
      }
      const len = this.frameLen;
      const need = FRAME_HEADER_LEN + len - this.buffered;
      if (chunk.length < need) {
        this.keep(chunk, 0);
        return out;
      }
      const whole = new Uint8Array(FRAME_HEADER_LEN + len);
      let at = 0;
      for (const c of this.chunks) {
        whole.set(c, at);
        at += c.length;
      }
      whole.set(chunk.subarray(0, need), at);
      this.copiedBytes += whole.length;
      this.chunks = [];
      this.buffered = 0;
      this.frameLen = -1;
      out.push(decodeFramePayload(whole[0]!, whole.subarray(FRAME_HEADER_LEN)));
      off = need;
    }
    while (data.length - off >= FRAME_HEADER_LEN) {
      const type = data[off]!;
      const len = ((data[off + 1]! << 24) | (data[off + 2]! << 16) | (data[off + 3]! << 8) | data[off + 4]!) >>> 0;
      if (len > this.maxFrameSize) return this.tooLarge(out, type, len);
      if (data.length - off < FRAME_HEADER_LEN + len) break;
      out.push(decodeFramePayload(type, data.subarray(off + FRAME_HEADER_LEN, off + FRAME_HEADER_LEN + len)));
      off += FRAME_HEADER_LEN + len;
    }
    if (off < data.length) this.keep(data, off);
    return out;
  }

  /** Keeps data[off..] (a copy: the caller may reuse its buffer). */
  private keep(data: Uint8Array, off: number): void {
    const rest = data.slice(off);
    if (!rest.length) return;
    this.chunks.push(rest);
    this.buffered += rest.length;
  }

  /** The first n bytes of the buffered list followed by `next`, or undefined if there are fewer. */
  private peek(n: number, next: Uint8Array): Uint8Array | undefined {
    if (this.buffered + next.length < n) return undefined;
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    const out = new Uint8Array(n);
    let at = 0;
    for (let i = 0; at < n; i++) {
      const c = i < this.chunks.length ? this.chunks[i]! : next;
      const k = Math.min(c.length, n - at);
      out.set(c.subarray(0, k), at);
      at += k;
    }
    return out;
  }

  private tooLarge(out: DecodeResult[], type: number, len: number): DecodeResult[] {
    this.fatal = `frame too large (${len} bytes, type 0x${type.toString(16)})`;
    out.push({ ok: false, error: this.fatal });
    this.chunks = [];
    this.buffered = 0;
    return out;
  }
}
