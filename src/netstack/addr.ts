// IP address text forms: dotted quad (RFC 791) and IPv6 text (RFC 4291 §2.2, canonical per RFC 5952).
// Addresses travel through the stack as 4- or 16-byte Uint8Arrays; strings only at the API edge.

export type IpBytes = Uint8Array; // length 4 or 16

/** Parses an IPv4 or IPv6 address (no zone, no prefix). Returns undefined if malformed. */
export function parseIp(s: string): IpBytes | undefined {
  return s.includes(':') ? parseIpv6(s) : parseIpv4(s);
}

export function parseIpv4(s: string): IpBytes | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === '0')) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

export function parseIpv6(s: string): IpBytes | undefined {
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return undefined;
  const words: number[] = [];
  const parseSide = (side: string, allowV4Tail: boolean): number[] | undefined => {
    if (side === '') return [];
    const groups = side.split(':');
    const w: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (allowV4Tail && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIpv4(g);
        if (!v4) return undefined;
        w.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      w.push(parseInt(g, 16));
    }
    return w;
  };
  if (dbl >= 0) {
    const head = parseSide(s.slice(0, dbl), false);
    const tail = parseSide(s.slice(dbl + 2), true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    words.push(...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail);
  } else {
    const all = parseSide(s, true);
    if (!all || all.length !== 8) return undefined;
    words.push(...all);
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  return out;
}

/** Formats 4 or 16 bytes; IPv6 in RFC 5952 canonical form (lowercase, longest zero run as ::). */
export function formatIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[2 * i] << 8) | b[2 * i + 1]);
  let bestStart = -1;
  let bestLen = 1; // RFC 5952 §4.2.2: a single zero group is not shortened
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(w);
  return `${hex(w.slice(0, bestStart))}::${hex(w.slice(bestStart + bestLen))}`;
}

/** Canonical text of an address string, or undefined if malformed. */
export function canonicalIp(s: string): string | undefined {
  const b = parseIp(s);
  return b ? formatIp(b) : undefined;
}

export function ipEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A compact map key for an address (faster than formatting text on every packet). */
export function ipKey(b: Uint8Array, off = 0, len = b.length): string {
  let s = len === 4 ? '4:' : '6:';
  for (let i = 0; i < len; i++) s += String.fromCharCode(b[off + i]);
  return s;
}
