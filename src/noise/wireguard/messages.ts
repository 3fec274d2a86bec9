// WireGuard wire formats: the four message types, as pure encode/decode functions.
// Spec: the WireGuard paper §5.4 (handshake) and §5.4.6 (transport); layouts and sizes as in
// wireguard-go device/noise-protocol.go. All integers are little-endian; the type is a u32 whose
// upper three bytes are zero (a datagram with non-zero "reserved" bytes is an unknown type).

export const MESSAGE_INITIATION = 1;
export const MESSAGE_RESPONSE = 2;
export const MESSAGE_COOKIE_REPLY = 3;
export const MESSAGE_TRANSPORT = 4;

export const INITIATION_SIZE = 148;
export const RESPONSE_SIZE = 92;
export const COOKIE_REPLY_SIZE = 64;
export const TRANSPORT_HEADER_SIZE = 16;
/** Smallest transport message: header + Poly1305 tag (a keepalive). */
export const KEEPALIVE_SIZE = TRANSPORT_HEADER_SIZE + 16;
/** Largest datagram we accept (wireguard-go MaxMessageSize = MaxSegmentSize). */
export const MAX_MESSAGE_SIZE = 65535;

export interface Initiation {
  sender: number;
  ephemeral: Uint8Array; // 32
  encryptedStatic: Uint8Array; // 32 + 16
  encryptedTimestamp: Uint8Array; // 12 + 16
  mac1: Uint8Array; // 16
  mac2: Uint8Array; // 16
}

export interface Response {
  sender: number;
  receiver: number;
  ephemeral: Uint8Array; // 32
  encryptedNothing: Uint8Array; // 16
  mac1: Uint8Array;
  mac2: Uint8Array;
}

export interface CookieReply {
  receiver: number;
  nonce: Uint8Array; // 24
  encryptedCookie: Uint8Array; // 16 + 16
}

export interface TransportHeader {
  receiver: number;
  /** The 64-bit counter. Numbers are exact to 2^53; larger counters are reported as +Infinity. */
  counter: number;
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** The message type, or 0 when the datagram is too short or the reserved bytes are not zero. */
export function messageType(datagram: Uint8Array): number {
  if (datagram.length < 4) return 0;
  return view(datagram).getUint32(0, true);
}

export function encodeInitiation(m: Initiation): Uint8Array {
  const out = new Uint8Array(INITIATION_SIZE);
  const v = view(out);
  v.setUint32(0, MESSAGE_INITIATION, true);
  v.setUint32(4, m.sender >>> 0, true);
  out.set(m.ephemeral, 8);
  out.set(m.encryptedStatic, 40);
  out.set(m.encryptedTimestamp, 88);
  out.set(m.mac1, 116);
  out.set(m.mac2, 132);
  return out;
}

export function decodeInitiation(b: Uint8Array): Initiation | null {
  if (b.length !== INITIATION_SIZE || messageType(b) !== MESSAGE_INITIATION) return null;
  return {
    sender: view(b).getUint32(4, true),
    ephemeral: b.slice(8, 40),
    encryptedStatic: b.slice(40, 88),
    encryptedTimestamp: b.slice(88, 116),
    mac1: b.slice(116, 132),
    mac2: b.slice(132, 148),
  };
}

export function encodeResponse(m: Response): Uint8Array {
  const out = new Uint8Array(RESPONSE_SIZE);
  const v = view(out);
  v.setUint32(0, MESSAGE_RESPONSE, true);
  v.setUint32(4, m.sender >>> 0, true);
  v.setUint32(8, m.receiver >>> 0, true);
  out.set(m.ephemeral, 12);
  out.set(m.encryptedNothing, 44);
  out.set(m.mac1, 60);
  out.set(m.mac2, 76);
  return out;
}

export function decodeResponse(b: Uint8Array): Response | null {
  if (b.length !== RESPONSE_SIZE || messageType(b) !== MESSAGE_RESPONSE) return null;
  const v = view(b);
  return {
    sender: v.getUint32(4, true),
    receiver: v.getUint32(8, true),
    ephemeral: b.slice(12, 44),
    encryptedNothing: b.slice(44, 60),
    mac1: b.slice(60, 76),
    mac2: b.slice(76, 92),
  };
}

export function encodeCookieReply(m: CookieReply): Uint8Array {
  const out = new Uint8Array(COOKIE_REPLY_SIZE);
  const v = view(out);
  v.setUint32(0, MESSAGE_COOKIE_REPLY, true);
  v.setUint32(4, m.receiver >>> 0, true);
  out.set(m.nonce, 8);
  out.set(m.encryptedCookie, 32);
  return out;
}

export function decodeCookieReply(b: Uint8Array): CookieReply | null {
  if (b.length !== COOKIE_REPLY_SIZE || messageType(b) !== MESSAGE_COOKIE_REPLY) return null;
  return { receiver: view(b).getUint32(4, true), nonce: b.slice(8, 32), encryptedCookie: b.slice(32, 64) };
}

/** Writes the 16-byte transport header into out[0..16). */
export function writeTransportHeader(out: Uint8Array, receiver: number, counter: number): void {
  const v = view(out);
  v.setUint32(0, MESSAGE_TRANSPORT, true);
  v.setUint32(4, receiver >>> 0, true);
  v.setUint32(8, counter % 0x1_0000_0000, true);
  v.setUint32(12, Math.floor(counter / 0x1_0000_0000), true);
}

export function decodeTransportHeader(b: Uint8Array): TransportHeader | null {
  if (b.length < KEEPALIVE_SIZE || b.length > MAX_MESSAGE_SIZE || messageType(b) !== MESSAGE_TRANSPORT) return null;
  const v = view(b);
  const lo = v.getUint32(8, true);
  const hi = v.getUint32(12, true);
  // 2^53 / 2^32 = 2^21: above that a JS number loses exactness. A peer cannot have sent 2^53
  // packets in one session (REKEY_AFTER_TIME bounds it), so such a counter is treated as too large.
  const counter = hi >= 0x20_0000 ? Number.POSITIVE_INFINITY : hi * 0x1_0000_0000 + lo;
  return { receiver: v.getUint32(4, true), counter };
}

/** The part of a handshake message covered by mac1 (everything before mac1). */
export function mac1Input(msg: Uint8Array): Uint8Array {
  return msg.subarray(0, msg.length - 32);
}

/** The part covered by mac2 (everything before mac2, so including mac1). */
export function mac2Input(msg: Uint8Array): Uint8Array {
  return msg.subarray(0, msg.length - 16);
}
