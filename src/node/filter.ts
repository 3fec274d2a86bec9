// Inbound packet filter from the netmap's tailcfg.FilterRule list (reference: tailscale
// wgengine/filter/filter.go, tailcfg.FilterRule). Rules say what peers may send TO us; replies to
// flows we opened ourselves pass through a bounded flow table. Every drop is counted.

import { parseIp, parsePrefix, prefixContains, type Prefix } from './routes.js';

export interface PortRange {
  First: number;
  Last: number;
}
export interface NetPortRange {
  IP: string;
  Bits?: number | null;
  Ports: PortRange;
}
export interface FilterRule {
  SrcIPs?: string[] | null;
  DstPorts?: NetPortRange[] | null;
  IPProto?: number[] | null;
  SrcBits?: number[] | null;
}

export const Proto = { ICMP: 1, TCP: 6, UDP: 17, ICMPv6: 58, SCTP: 132, TSMP: 99 } as const;
const DEFAULT_PROTOS = [Proto.TCP, Proto.UDP, Proto.ICMP, Proto.ICMPv6];

/** The parts of an IP packet the filter looks at. */
export interface PacketSummary {
  v6: boolean;
  proto: number;
  src: Uint8Array;
  dst: Uint8Array;
  srcPort: number;
  dstPort: number;
  /** ICMP(v6) type, or -1. */ icmpType: number;
  /** TCP flags, or 0. */ tcpFlags: number;
  /** A fragment other than the first (no transport header). */ fragmentNonFirst: boolean;
}

/** Parses an IPv4/IPv6 header (skipping common IPv6 extension headers); null when malformed. */
export function summarize(p: Uint8Array): PacketSummary | null {
  if (p.length < 1) return null;
  const ver = p[0]! >> 4;
  let proto: number, off: number, src: Uint8Array, dst: Uint8Array;
  let fragmentNonFirst = false;
  if (ver === 4) {
    const ihl = (p[0]! & 0x0f) * 4;
    if (ihl < 20 || p.length < ihl) return null;
    proto = p[9]!;
    src = p.subarray(12, 16);
    dst = p.subarray(16, 20);
    off = ihl;
    fragmentNonFirst = (((p[6]! & 0x1f) << 8) | p[7]!) !== 0;
  } else if (ver === 6) {
    if (p.length < 40) return null;
    proto = p[6]!;
    src = p.subarray(8, 24);
    dst = p.subarray(24, 40);
    off = 40;
    // Hop-by-hop (0), routing (43), fragment (44), destination options (60).
    for (let hops = 0; hops < 8 && (proto === 0 || proto === 43 || proto === 44 || proto === 60); hops++) {
      if (p.length < off + 8) return null;
      if (proto === 44) {
        fragmentNonFirst = (((p[off + 2]! << 8) | p[off + 3]!) & 0xfff8) !== 0;
        proto = p[off]!;
        off += 8;
      } else {
        const next = p[off]!;
        off += (p[off + 1]! + 1) * 8;
        proto = next;
      }
    }
  } else return null;
  const s: PacketSummary = {
    v6: ver === 6,
    proto,
    src,
    dst,
    srcPort: 0,
    dstPort: 0,
    icmpType: -1,
    tcpFlags: 0,
    fragmentNonFirst,
  };
  if (fragmentNonFirst) return s;
  if (proto === Proto.TCP || proto === Proto.UDP || proto === Proto.SCTP) {
    if (p.length < off + 4) return null;
    s.srcPort = (p[off]! << 8) | p[off + 1]!;
    s.dstPort = (p[off + 2]! << 8) | p[off + 3]!;
    if (proto === Proto.TCP) {
      if (p.length < off + 14) return null;
      s.tcpFlags = p[off + 13]!;
    }
  } else if (proto === Proto.ICMP || proto === Proto.ICMPv6) {
    if (p.length < off + 4) return null;
    s.icmpType = p[off]!;
    // Echo identifier stands in for a port so echo replies match our requests.
    if (p.length >= off + 6) s.srcPort = s.dstPort = (p[off + 4]! << 8) | p[off + 5]!;
  }
  return s;
}

type IpMatcher = { any: true } | { any: false; prefix: Prefix } | { any: false; range: [Uint8Array, Uint8Array] };

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function parseMatcher(text: string, bits?: number | null): IpMatcher | null {
  const t = text.trim();
  if (t === '*') return { any: true };
  const dash = t.indexOf('-');
  if (dash > 0) {
    const a = parseIp(t.slice(0, dash)),
      b = parseIp(t.slice(dash + 1));
    if (!a || !b || a.length !== b.length) return null;
    return { any: false, range: [a, b] };
  }
  const p = parsePrefix(bits != null && !t.includes('/') ? `${t}/${bits}` : t);
  return p ? { any: false, prefix: p } : null;
}

function matches(m: IpMatcher, ip: Uint8Array): boolean {
  if (m.any) return true;
  if ('prefix' in m) return prefixContains(m.prefix, ip);
  const [lo, hi] = m.range;
  return ip.length === lo.length && cmpBytes(ip, lo) >= 0 && cmpBytes(ip, hi) <= 0;
}

interface CompiledRule {
  srcs: IpMatcher[];
  dsts: { ip: IpMatcher; first: number; last: number }[];
  protos: Set<number>;
}

export interface FilterStats {
  accepted: number;
  acceptedReplies: number;
  droppedByRule: number;
  droppedMalformed: number;
  droppedNotForUs: number;
  badRules: number;
  flowsEvicted: number;
}

export type Verdict = 'accept' | 'drop';

/** Inbound filter plus a bounded table of our outbound flows (so replies pass). */
export class PacketFilter {
  private rules: CompiledRule[] = [];
  private readonly flows = new Map<string, true>();
  readonly stats: FilterStats = {
    accepted: 0,
    acceptedReplies: 0,
    droppedByRule: 0,
    droppedMalformed: 0,
    droppedNotForUs: 0,
    badRules: 0,
    flowsEvicted: 0,
  };
  private localAddrs: Uint8Array[] = [];

  constructor(private readonly maxFlows = 4096) {}

  setLocalAddresses(addrs: string[]): void {
    this.localAddrs = addrs.map((a) => parseIp(a.split('/')[0]!)).filter((x): x is Uint8Array => !!x);
  }

  setRules(rules: FilterRule[] | null | undefined): void {
    const out: CompiledRule[] = [];
    for (const r of rules ?? []) {
      const srcs: IpMatcher[] = [];
      (r.SrcIPs ?? []).forEach((s, i) => {
        const m = parseMatcher(s, r.SrcBits?.[i]);
        if (m) srcs.push(m);
        else this.stats.badRules++;
      });
      const dsts: CompiledRule['dsts'] = [];
      for (const d of r.DstPorts ?? []) {
        const m = parseMatcher(d.IP, d.Bits);
        if (m) dsts.push({ ip: m, first: d.Ports?.First ?? 0, last: d.Ports?.Last ?? 65535 });
        else this.stats.badRules++;
      }
      const protos = new Set(r.IPProto && r.IPProto.length ? r.IPProto : DEFAULT_PROTOS);
      out.push({ srcs, dsts, protos });
    }
    this.rules = out;
  }

  private static key(proto: number, a: Uint8Array, ap: number, b: Uint8Array, bp: number): string {
    return `${proto}|${a.join('.')}|${ap}|${b.join('.')}|${bp}`;
  }

  /** Records an outbound packet's flow so the peer's replies are let in. */
  noteOutbound(packet: Uint8Array, summary?: PacketSummary | null): void {
    const s = summary === undefined ? summarize(packet) : summary;
    // check() never looks TCP up here (a segment other than a bare SYN passes as a reply), so TCP
    // flows are not recorded: this runs for every packet we send, ACKs of a download included.
    if (!s || s.proto === Proto.TCP) return;
    const k = PacketFilter.key(s.proto, s.src, s.srcPort, s.dst, s.dstPort);
    if (this.flows.has(k)) {
      this.flows.delete(k);
      this.flows.set(k, true);
      return;
    }
    this.flows.set(k, true);
    if (this.flows.size > this.maxFlows) {
      const oldest = this.flows.keys().next().value;
      if (oldest !== undefined) this.flows.delete(oldest);
      this.stats.flowsEvicted++;
    }
  }

  get flowCount(): number {
    return this.flows.size;
  }

  /** Decides whether an inbound IP packet may reach our netstack. */
  check(packet: Uint8Array, summary?: PacketSummary | null): Verdict {
    const s = summary === undefined ? summarize(packet) : summary;
    if (!s) {
      this.stats.droppedMalformed++;
      return 'drop';
    }
    if (this.localAddrs.length && !this.localAddrs.some((a) => a.length === s.dst.length && cmpBytes(a, s.dst) === 0)) {
      this.stats.droppedNotForUs++;
      return 'drop';
    }
    // The order and cases follow wgengine/filter runIn4/runIn6 (tailscale v1.102.3), checked by
    // e2e/node-filter.test.ts against that code.
    if (s.fragmentNonFirst) {
      this.stats.acceptedReplies++;
      return 'accept';
    }
    const isIcmp = s.proto === Proto.ICMP || s.proto === Proto.ICMPv6;
    if (isIcmp) {
      // Echo replies and errors answer something we sent.
      const t = s.icmpType;
      const reply =
        s.proto === Proto.ICMP ? t === 0 || t === 3 || t === 11 || t === 12 : t === 129 || (t >= 1 && t <= 4);
      if (reply) {
        this.stats.acceptedReplies++;
        return 'accept';
      }
      // Any port open from this source to this destination allows ICMP to it, whatever IPProto says.
      if (this.rules.some((r) => r.srcs.some((m) => matches(m, s.src)) && r.dsts.some((d) => matches(d.ip, s.dst)))) {
        this.stats.accepted++;
        return 'accept';
      }
    } else if (s.proto === Proto.TCP || s.proto === Proto.UDP || s.proto === Proto.SCTP) {
      // A segment other than a bare SYN cannot open a session: it belongs to one of ours.
      if (s.proto === Proto.TCP && (s.tcpFlags & 0x12) !== 0x02) {
        this.stats.acceptedReplies++;
        return 'accept';
      }
      if (s.proto !== Proto.TCP && this.flows.has(PacketFilter.key(s.proto, s.dst, s.dstPort, s.src, s.srcPort))) {
        this.stats.acceptedReplies++;
        return 'accept';
      }
      for (const r of this.rules) {
        if (!r.protos.has(s.proto) || !r.srcs.some((m) => matches(m, s.src))) continue;
        if (r.dsts.some((d) => matches(d.ip, s.dst) && s.dstPort >= d.first && s.dstPort <= d.last)) {
          this.stats.accepted++;
          return 'accept';
        }
      }
    } else if (s.proto === Proto.TSMP) {
      this.stats.accepted++;
      return 'accept';
    } else {
      // Portless protocols: the rule must name the protocol and open all ports.
      for (const r of this.rules) {
        if (!r.protos.has(s.proto) || !r.srcs.some((m) => matches(m, s.src))) continue;
        if (r.dsts.some((d) => matches(d.ip, s.dst) && d.first === 0 && d.last === 65535)) {
          this.stats.accepted++;
          return 'accept';
        }
      }
    }
    this.stats.droppedByRule++;
    return 'drop';
  }
}
