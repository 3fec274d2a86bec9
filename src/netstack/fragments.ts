// IPv4 fragment reassembly (RFC 791 §3.2 "reassembly"; RFC 815 hole bookkeeping kept simple).
// Bounded: at most maxDatagrams partial datagrams and maxBytes buffered in total; the oldest is
// evicted first, and each expires after timeoutMs (RFC 791 suggests 15 s; Linux uses 30 s).
// Overlapping fragments drop the whole datagram (they are only ever an attack or a bug, cf. RFC 5722),
// while an exact duplicate (a link that duplicates packets) is ignored.
import type { IpPacket } from './ip.js';
import { ipKey } from './addr.js';

export interface ReassemblyLimits {
  maxDatagrams: number;
  maxBytes: number;
  timeoutMs: number;
}

interface Partial {
  frags: { off: number; data: Uint8Array }[];
  bytes: number;
  total: number; // -1 until the last fragment is seen
  expires: number;
  first?: IpPacket; // the offset-0 fragment (its header is kept)
}

export type ReassemblyResult = { done: IpPacket } | { pending: true } | { drop: string };

export class Reassembler {
  private readonly partials = new Map<string, Partial>();
  private bytes = 0;

  constructor(
    private readonly limits: ReassemblyLimits = { maxDatagrams: 64, maxBytes: 256 * 1024, timeoutMs: 30_000 },
  ) {}

  get size(): number {
    return this.partials.size;
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  add(p: IpPacket, now: number): ReassemblyResult {
    this.expire(now);
    const data = p.payload;
    if (p.moreFragments && data.length % 8 !== 0) return { drop: 'fragBadLength' };
    const end = p.fragmentOffset + data.length;
    if (end > 65535) return { drop: 'fragTooLong' };
    const key = ipKey(p.src) + ipKey(p.dst) + p.proto + ':' + p.id;
    let e = this.partials.get(key);
    if (!e) {
      while (
        this.partials.size >= this.limits.maxDatagrams ||
        (this.partials.size > 0 && this.bytes + data.length > this.limits.maxBytes)
      )
        this.evictOldest();
      if (data.length > this.limits.maxBytes) return { drop: 'fragTooLong' };
      e = { frags: [], bytes: 0, total: -1, expires: now + this.limits.timeoutMs };
      this.partials.set(key, e);
    }
    for (const f of e.frags) {
      const fend = f.off + f.data.length;
      if (f.off === p.fragmentOffset && fend === end) return { pending: true }; // duplicate
      if (p.fragmentOffset < fend && f.off < end) {
        this.remove(key, e);
        return { drop: 'fragOverlap' };
      }
    }
    if (!p.moreFragments) {
      if (e.total >= 0 && e.total !== end) {
        this.remove(key, e);
        return { drop: 'fragOverlap' };
      }
      e.total = end;
    }
    if (e.total >= 0 && end > e.total) {
      this.remove(key, e);
      return { drop: 'fragOverlap' };
    }
    while (this.bytes + data.length > this.limits.maxBytes && this.partials.size > 1) this.evictOldest(key);
    if (this.bytes + data.length > this.limits.maxBytes) {
      this.remove(key, e);
      return { drop: 'fragNoSpace' };
    }
    e.frags.push({ off: p.fragmentOffset, data: data.slice() });
    e.bytes += data.length;
    this.bytes += data.length;
    if (p.fragmentOffset === 0) e.first = p;
    if (e.total < 0 || e.bytes !== e.total || !e.first) return { pending: true };
    // Complete: no overlaps and total bytes equal the length, so the fragments tile [0, total).
    const payload = new Uint8Array(e.total);
    for (const f of e.frags) payload.set(f.data, f.off);
    const first = e.first;
    this.remove(key, e);
    return {
      done: {
        ...first,
        src: first.src.slice(),
        dst: first.dst.slice(),
        payload,
        packet: payload,
        moreFragments: false,
        fragmentOffset: 0,
        isFragment: false,
      },
    };
  }

  private remove(key: string, e: Partial): void {
    this.bytes -= e.bytes;
    this.partials.delete(key);
  }

  private evictOldest(except?: string): void {
    for (const [k, e] of this.partials) {
      if (k === except) continue;
      this.remove(k, e);
      return;
    }
  }

  private expire(now: number): void {
    // Map iteration is insertion order, and expiry = insertion time + constant.
    for (const [k, e] of this.partials) {
      if (e.expires > now) break;
      this.remove(k, e);
    }
  }
}
