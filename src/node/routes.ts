// AllowedIPs routing table: longest-prefix match over IPv4 and IPv6 prefixes (tailcfg.Node.AllowedIPs,
// which defaults to Addresses when nil, capver 112). Picks the peer an outbound IP packet goes to.

import { parseIPv6 } from './disco.js';

export interface Prefix { bytes: Uint8Array; bits: number; v6: boolean }

export function parseIPv4(ip: string): Uint8Array | null {
  const p = ip.split('.');
  if (p.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(p[i]!)) return null;
    const n = Number(p[i]);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** Parses an IP literal (v4 or v6) into 4 or 16 bytes, or null. */
export function parseIp(ip: string): Uint8Array | null {
  if (ip.includes(':')) return parseIPv6(ip.replace(/^\[|\]$/g, ''));
  return parseIPv4(ip);
}

/** Parses "a.b.c.d/n", "v6/n" or a bare IP (full-length prefix). */
export function parsePrefix(text: string): Prefix | null {
  const slash = text.indexOf('/');
  const addr = slash >= 0 ? text.slice(0, slash) : text;
  const bytes = parseIp(addr);
  if (!bytes) return null;
  const max = bytes.length * 8;
  const bits = slash >= 0 ? Number(text.slice(slash + 1)) : max;
  if (!Number.isInteger(bits) || bits < 0 || bits > max) return null;
  return { bytes, bits, v6: bytes.length === 16 };
}

export function prefixContains(p: Prefix, ip: Uint8Array): boolean {
  if (ip.length !== p.bytes.length) return false;
  let bits = p.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i]! & mask) !== (p.bytes[i]! & mask)) return false;
  }
  return true;
}

interface TrieNode<T> { children: [TrieNode<T> | undefined, TrieNode<T> | undefined]; value?: T }

/** A binary trie per family; lookup returns the value of the longest matching prefix. */
export class RouteTable<T> {
  private v4: TrieNode<T> = { children: [undefined, undefined] };
  private v6: TrieNode<T> = { children: [undefined, undefined] };
  size = 0;

  insert(prefix: Prefix, value: T): void {
    let n = prefix.v6 ? this.v6 : this.v4;
    for (let i = 0; i < prefix.bits; i++) {
      const bit = (prefix.bytes[i >> 3]! >> (7 - (i & 7))) & 1;
      n = n.children[bit] ??= { children: [undefined, undefined] };
    }
    if (n.value === undefined) this.size++;
    n.value = value;
  }

  lookup(ip: Uint8Array): T | undefined {
    let n: TrieNode<T> | undefined = ip.length === 16 ? this.v6 : ip.length === 4 ? this.v4 : undefined;
    let best: T | undefined;
    for (let i = 0; n; i++) {
      if (n.value !== undefined) best = n.value;
      if (i >= ip.length * 8) break;
      n = n.children[(ip[i >> 3]! >> (7 - (i & 7))) & 1];
    }
    return best;
  }

  clear(): void {
    this.v4 = { children: [undefined, undefined] };
    this.v6 = { children: [undefined, undefined] };
    this.size = 0;
  }
}

/** Builds the table from peers' AllowedIPs (falling back to Addresses). Bad prefixes are counted. */
export function buildRouteTable<P extends { allowedIPs?: string[] | null; addresses?: string[] | null }>(
  peers: Iterable<P>,
): { table: RouteTable<P>; badPrefixes: number } {
  const table = new RouteTable<P>();
  let badPrefixes = 0;
  for (const peer of peers) {
    for (const text of peer.allowedIPs ?? peer.addresses ?? []) {
      const p = parsePrefix(text);
      if (p) table.insert(p, peer);
      else badPrefixes++;
    }
  }
  return { table, badPrefixes };
}
