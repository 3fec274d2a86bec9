// Byte helpers shared by every layer. Small and pure (joining chunks is platform/streams.ts's).
import { joinChunks } from '../platform/streams.js';

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return joinChunks(parts);
}

/** Constant-time equality for MACs, tags and keys: the time depends on the length only. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Constant-time test for an all-zero buffer (e.g. an X25519 result from a low-order point). */
export function isAllZero(a: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc |= a[i];
  return acc === 0;
}

const HEX = '0123456789abcdef';
/** Two hex digits per byte value: one string append per byte (keys are hexed per packet on the data path). */
const HEX_BYTE = Array.from({ length: 256 }, (_, i) => HEX[i >> 4] + HEX[i & 15]);

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX_BYTE[b[i]];
  return s;
}

/** A hex digit's value from its char code, or -1 (a map's 20,000 keys are decoded at once). */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  c |= 0x20; // A-F → a-f
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0) throw new Error('invalid hex string');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexDigit(s.charCodeAt(2 * i));
    const lo = hexDigit(s.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) throw new Error('invalid hex string');
    out[i] = (hi << 4) | lo;
  }
  return out;
}

export function toBase64(b: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < b.length; i++) bin += String.fromCharCode(b[i]);
  return btoa(bin);
}

export function fromBase64(s: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(s);
  } catch {
    throw new Error('invalid base64 string');
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export const utf8 = {
  encode: (s: string): Uint8Array => new TextEncoder().encode(s),
  decode: (b: Uint8Array): string => new TextDecoder().decode(b),
};

/** Overwrites secret material that is no longer needed. Best effort in a GC'd language. */
export function wipe(b: Uint8Array | undefined): void {
  if (b) b.fill(0);
}
