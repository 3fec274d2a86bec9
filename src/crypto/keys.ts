// Curve25519 public keys in Tailscale's text forms (types/key in tailscale/tailscale):
//   node key "nodekey:<hex>", machine key "mkey:<hex>", disco key "discokey:<hex>",
//   private keys "privkey:<hex>"; and WireGuard's base64 form.
import { fromBase64, fromHex, toBase64, toHex } from './bytes.js';

export type KeyKind = 'nodekey' | 'mkey' | 'discokey' | 'privkey' | 'chalpub';

export const KEY_LENGTH = 32;

export function keyToText(kind: KeyKind, key: Uint8Array): string {
  if (key.length !== KEY_LENGTH) throw new Error(`${kind}: key must be 32 bytes, got ${key.length}`);
  return `${kind}:${toHex(key)}`;
}

export function keyFromText(kind: KeyKind, text: string): Uint8Array {
  const prefix = `${kind}:`;
  if (!text.startsWith(prefix)) throw new Error(`expected a ${kind}: key, got "${text.slice(0, 12)}…"`);
  const hex = text.slice(prefix.length);
  if (hex.length !== 64) throw new Error(`${kind}: key must be 64 hex digits`);
  return fromHex(hex);
}

export function keyToBase64(key: Uint8Array): string {
  return toBase64(key);
}

export function keyFromBase64(text: string): Uint8Array {
  const k = fromBase64(text);
  if (k.length !== KEY_LENGTH) throw new Error('base64 key must decode to 32 bytes');
  return k;
}

/** A short form for logs and UIs ("[abcde]" like tailscale's ShortString); never for private keys. */
export function shortKey(key: Uint8Array): string {
  return `[${toBase64(key).slice(0, 5)}]`;
}
