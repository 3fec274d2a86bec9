// AllowedIPs routing table: longest-prefix match over IPv4 and IPv6 prefixes (tailcfg.Node.AllowedIPs,
// which defaults to Addresses when nil, capver 112). Picks the peer an outbound IP packet goes to.

import { parseIPv6 } from './disco.js';

export interface Prefix {
  bytes: Uint8Array;
  bits: number;
  v6: boolean;
}

/** Dotted-quad IPv4 ("1.2.3.4": four groups of 1–3 digits, each ≤ 255), or null. One pass, no regex: a map's 20,000 addresses are parsed at once. */
export function parseIPv4(ip: string): Uint8Array | null {
  const out = new Uint8Array(4);
  let part = 0;
  let digits = 0;
  let n = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (!digits || part === 3) return null;
      out[part++] = n;
      digits = n = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      n = n * 10 + (c - 48);
      digits++;
      if (n > 255) return null;
    } else return null;
  }
  if (!digits || part !== 3) return null;
  out[3] = n;
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

interface TrieNode<T> {
  children: [TrieNode<T> | undefined, TrieNode<T> | undefined];
  value?: T;
}

/** A full-length prefix (one address) as a map key: a v4 address as its number, a v6 one as a 16-char string. */
function hostKey(bytes: Uint8Array): number | string {
  if (bytes.length === 4) return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  return String.fromCharCode(...bytes);
}

/**
 * A binary trie per family; lookup returns the value of the longest matching prefix. Single
 * addresses (/32, /128: nearly every route, a peer's own addresses) are kept in a map beside the
 * tries: in a trie a /128 costs 128 nodes, and 10,000 peers' made 1.3 million objects.
 */
export class RouteTable<T> {
  private v4: TrieNode<T> = { children: [undefined, undefined] };
  private v6: TrieNode<T> = { children: [undefined, undefined] };
  private hosts = new Map<number | string, T>();
  size = 0;

  insert(prefix: Prefix, value: T): void {
    if (prefix.bits === prefix.bytes.length * 8) {
      const k = hostKey(prefix.bytes);
      if (!this.hosts.has(k)) this.size++;
      this.hosts.set(k, value);
      return;
    }
    let n = prefix.v6 ? this.v6 : this.v4;
    for (let i = 0; i < prefix.bits; i++) {
      const bit = (prefix.bytes[i >> 3]! >> (7 - (i & 7))) & 1;
      n = n.children[bit] ??= { children: [undefined, undefined] };
    }
    if (n.value === undefined) this.size++;
    n.value = value;
  }

  lookup(ip: Uint8Array): T | undefined {
    if (ip.length !== 4 && ip.length !== 16) return undefined;
    // A host route is the longest match there can be.
    const host = this.hosts.get(hostKey(ip));
    if (host !== undefined) return host;
    let n: TrieNode<T> | undefined = ip.length === 16 ? this.v6 : ip.length === 4 ? this.v4 : undefined;
    let best: T | undefined;
    for (let i = 0; n; i++) {
      if (n.value !== undefined) best = n.value;
      if (i >= ip.length * 8) break;
      n = n.children[(ip[i >> 3]! >> (7 - (i & 7))) & 1];
    }
    return best;
  }

  /** The node of exactly this prefix, or undefined (with create: made on the way). */
  private nodeFor(prefix: Prefix): TrieNode<T> | undefined {
    let n: TrieNode<T> | undefined = prefix.v6 ? this.v6 : this.v4;
    for (let i = 0; n && i < prefix.bits; i++) n = n.children[(prefix.bytes[i >> 3]! >> (7 - (i & 7))) & 1];
    return n;
  }

  /** Removes the route of exactly this prefix if its value is `value` (empty branches are left: cheap, and reused). */
  remove(prefix: Prefix, value: T): boolean {
    if (prefix.bits === prefix.bytes.length * 8) {
      const k = hostKey(prefix.bytes);
      if (this.hosts.get(k) !== value || value === undefined) return false;
      this.hosts.delete(k);
      this.size--;
      return true;
    }
    const n = this.nodeFor(prefix);
    if (!n || n.value === undefined || n.value !== value) return false;
    n.value = undefined;
    this.size--;
    return true;
  }

  /** Gives the route of exactly this prefix a new value, if it has `from` (a peer's newer object). */
  replace(prefix: Prefix, from: T, to: T): boolean {
    if (prefix.bits === prefix.bytes.length * 8) {
      const k = hostKey(prefix.bytes);
      if (this.hosts.get(k) !== from || from === undefined) return false;
      this.hosts.set(k, to);
      return true;
    }
    const n = this.nodeFor(prefix);
    if (!n || n.value !== from) return false;
    n.value = to;
    return true;
  }

  clear(): void {
    this.v4 = { children: [undefined, undefined] };
    this.v6 = { children: [undefined, undefined] };
    this.hosts = new Map();
    this.size = 0;
  }
}

/** What the person chose to use beyond peers' own addresses (tailscaled's --accept-routes, --exit-node). */
export interface RoutePrefs {
  /** Use subnet routes that peers advertise (and control approved). Off by default, as in tailscaled. */
  acceptRoutes?: boolean;
  /** The peer (NetMapPeer.id) chosen as exit node: only its default routes (0.0.0.0/0, ::/0) are used. */
  exitNodeId?: string;
}

export interface RouteTableBuild<P> {
  table: RouteTable<P>;
  badPrefixes: number;
  /** Subnet routes left out because acceptRoutes is off. */
  skippedSubnetRoutes: number;
  /** Default routes left out because their peer is not the chosen exit node. */
  skippedExitRoutes: number;
}

/** A prefix a peer routes for others: anything but the default route and the peer's own addresses
 *  (tailscale wgengine/wgcfg/nmcfg cidrIsSubnet). */
function isSubnetRoute(p: Prefix, ownAddresses: readonly string[]): boolean {
  if (p.bits === 0) return false;
  if (p.bits !== p.bytes.length * 8) return true;
  return !ownAddresses.some((a) => {
    const own = parsePrefix(a);
    return own !== null && own.bits === p.bits && own.v6 === p.v6 && own.bytes.every((b, i) => b === p.bytes[i]);
  });
}

/** What a peer offers beyond its own addresses: subnet routes, and whether it is an exit node. */
export function offeredRoutes(peer: { allowedIPs?: string[] | null; addresses?: string[] | null }): {
  subnets: string[];
  exitNode: boolean;
} {
  const own = peer.addresses ?? [];
  const subnets: string[] = [];
  let exitNode = false;
  for (const text of peer.allowedIPs ?? []) {
    // A peer's own address, in the same words, is neither (no need to parse 20,000 of them).
    if (own.includes(text) && !text.endsWith('/0')) continue;
    const p = parsePrefix(text);
    if (!p) continue;
    if (p.bits === 0) exitNode = true;
    else if (isSubnetRoute(p, own)) subnets.push(text);
  }
  return { subnets, exitNode };
}

/**
 * Builds the table from peers' AllowedIPs (falling back to Addresses) as tailscaled configures
 * WireGuard (nmcfg.WGCfg): a peer's own addresses always; its subnet routes only with
 * prefs.acceptRoutes; its default routes only when it is prefs.exitNodeId. The same table routes
 * outbound packets and checks the source of inbound ones (cryptokey routing), so a route the person
 * did not choose neither carries our traffic nor lets that peer speak for those addresses.
 */
export function buildRouteTable<P extends { id?: string; allowedIPs?: string[] | null; addresses?: string[] | null }>(
  peers: Iterable<P>,
  prefs: RoutePrefs = {},
): RouteTableBuild<P> {
  const table = new RouteTable<P>();
  const out: RouteTableBuild<P> = { table, badPrefixes: 0, skippedSubnetRoutes: 0, skippedExitRoutes: 0 };
  for (const peer of peers) for (const p of peerRoutes(peer, prefs, out)) table.insert(p, peer);
  return out;
}

/** The prefixes buildRouteTable puts in the table for one peer (counting what it leaves out into `counts`). */
export function peerRoutes(
  peer: { id?: string; allowedIPs?: string[] | null; addresses?: string[] | null },
  prefs: RoutePrefs = {},
  counts?: { badPrefixes: number; skippedSubnetRoutes: number; skippedExitRoutes: number },
): Prefix[] {
  const own = peer.addresses ?? [];
  const out: Prefix[] = [];
  for (const text of peer.allowedIPs ?? own) {
    const p = parsePrefix(text);
    if (!p) {
      if (counts) counts.badPrefixes++;
      continue;
    }
    if (p.bits === 0 && (prefs.exitNodeId === undefined || peer.id !== prefs.exitNodeId)) {
      if (counts) counts.skippedExitRoutes++;
      continue;
    }
    // The usual prefix is the peer's own address, given in the same words: no need to parse them all.
    const ownAddress = p.bits === p.bytes.length * 8 && own.includes(text);
    if (!prefs.acceptRoutes && !ownAddress && isSubnetRoute(p, own)) {
      if (counts) counts.skippedSubnetRoutes++;
      continue;
    }
    out.push(p);
  }
  return out;
}

/** A prefix as a map key: family, length and the significant bits (host bits past the length ignored). */
export function prefixKey(p: Prefix): string {
  let s = `${p.v6 ? 6 : 4}/${p.bits}/`;
  for (let i = 0; i * 8 < p.bits; i++) {
    const left = p.bits - i * 8;
    s += (left >= 8 ? p.bytes[i]! : p.bytes[i]! & ((0xff << (8 - left)) & 0xff)).toString(16).padStart(2, '0');
  }
  return s;
}
