// MagicDNS resolution from the network map (tailcfg.Node.Name is the FQDN with a trailing dot;
// DNSConfig domains give the search suffix). Accepts IP literals, FQDNs with or without the
// trailing dot, and short host names.

import { parseIp } from './routes.js';

export interface NamedPeer {
  name: string;
  addresses: string[];
}

export interface Resolved {
  ip: string;
  v6: boolean;
  name?: string;
}

function stripPrefixLen(a: string): string {
  const s = a.indexOf('/');
  return s >= 0 ? a.slice(0, s) : a;
}

/** Resolves a host to the peer's addresses (IPv4 first unless preferV6). Null when unknown. */
export function resolveHost(
  host: string,
  peers: Iterable<NamedPeer>,
  opts: { preferV6?: boolean } = {},
): Resolved[] | null {
  const h = host.trim().replace(/^\[|\]$/g, '');
  const lit = parseIp(h);
  if (lit) return [{ ip: h, v6: lit.length === 16 }];
  const want = h.toLowerCase().replace(/\.$/, '');
  if (!want) return null;
  let shortMatch: NamedPeer | undefined;
  let shortCount = 0;
  for (const p of peers) {
    const fqdn = p.name.toLowerCase().replace(/\.$/, '');
    if (fqdn === want) return toResolved(p, opts.preferV6);
    if (!want.includes('.') && fqdn.split('.')[0] === want) {
      shortMatch ??= p;
      shortCount++;
    }
  }
  // A short name shared by two hosts is ambiguous: refuse rather than guess.
  if (shortMatch && shortCount === 1) return toResolved(shortMatch, opts.preferV6);
  return null;
}

function toResolved(p: NamedPeer, preferV6?: boolean): Resolved[] {
  const out = p.addresses.map(stripPrefixLen).map((ip) => ({ ip, v6: ip.includes(':'), name: p.name }));
  out.sort((a, b) => (a.v6 === b.v6 ? 0 : a.v6 === !!preferV6 ? -1 : 1));
  return out;
}
