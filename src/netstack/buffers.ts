// Byte buffers of a TCP connection: the send queue (unacknowledged + unsent bytes), the receive
// reassembly queue for out-of-order segments (RFC 9293 §3.10.7.4, with SACK block generation per
// RFC 2018 §4), and the sender's SACK scoreboard (RFC 6675 §3). Positions are stream offsets
// (plain numbers, never wrapped): tcp.ts converts 32-bit sequence numbers at the edge.

const CHUNK = 16 * 1024;

/** FIFO of bytes with random-access copy-out, built from owned chunks (small writes are coalesced). */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private fill: number[] = []; // used bytes per chunk
  private head = 0; // index of the first live chunk
  private headOff = 0; // bytes already consumed in chunks[head]
  length = 0;
  // Cursor cache for sequential copyOut (segment after segment).
  private curIdx = 0;
  private curStart = 0; // offset (relative to the queue front) of chunks[curIdx]'s first live byte

  push(src: Uint8Array, from = 0, to = src.length): void {
    let i = from;
    while (i < to) {
      const last = this.chunks.length - 1;
      if (last >= this.head && this.fill[last] < this.chunks[last].length) {
        const c = this.chunks[last];
        const n = Math.min(c.length - this.fill[last], to - i);
        c.set(src.subarray(i, i + n), this.fill[last]);
        this.fill[last] += n;
        i += n;
        this.length += n;
        continue;
      }
      const size = Math.max(CHUNK, Math.min(to - i, 256 * 1024));
      this.chunks.push(new Uint8Array(size));
      this.fill.push(0);
    }
  }

  /** Drops n bytes from the front. */
  drop(n: number): void {
    n = Math.min(n, this.length);
    this.length -= n;
    this.curIdx = this.head;
    this.curStart = 0;
    while (n > 0) {
      const avail = this.fill[this.head] - this.headOff;
      if (n < avail) {
        this.headOff += n;
        n = 0;
        break;
      }
      n -= avail;
      this.headOff = 0;
      this.head++;
    }
    if (this.head > 32 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.fill = this.fill.slice(this.head);
      this.head = 0;
    }
    if (this.length === 0 && this.head === this.chunks.length) {
      this.chunks = [];
      this.fill = [];
      this.head = 0;
      this.headOff = 0;
    }
    this.curIdx = this.head;
    this.curStart = 0;
  }

  /** Copies len bytes starting at offset from (relative to the front) into dst[dstOff..]. */
  copyOut(dst: Uint8Array, dstOff: number, from: number, len: number): void {
    if (from < this.curStart || this.curIdx < this.head) {
      this.curIdx = this.head;
      this.curStart = 0;
    }
    let idx = this.curIdx;
    let start = this.curStart;
    for (;;) {
      const live = this.fill[idx] - (idx === this.head ? this.headOff : 0);
      if (from < start + live) break;
      start += live;
      idx++;
    }
    this.curIdx = idx;
    this.curStart = start;
    while (len > 0) {
      const base = idx === this.head ? this.headOff : 0;
      const live = this.fill[idx] - base;
      const inChunk = from - start;
      const n = Math.min(len, live - inChunk);
      dst.set(this.chunks[idx].subarray(base + inChunk, base + inChunk + n), dstOff);
      dstOff += n;
      from += n;
      len -= n;
      if (inChunk + n >= live) {
        start += live;
        idx++;
      }
    }
  }
}

export interface Range {
  start: number;
  end: number;
}

/** Out-of-order receive segments above rcvNxt, kept sorted and non-overlapping. */
/**
 * Most separate pieces the out-of-order queue holds. Its bytes are bounded by the receive window
 * (segments outside it are refused before), but not its count: a peer sending 1-byte segments
 * with gaps between them would make a window of 1 MiB into ~500,000 entries, each an object and
 * a copy, and every insert O(entries). 1,024 pieces hold a whole 1 MiB window of full-size
 * segments with holes between each (a lossy bulk transfer); beyond it a new piece is dropped
 * (the sender retransmits it; nothing SACKed is reneged on, RFC 2018 §8) and counted.
 */
export const MAX_OOO_PIECES = 1024;

export class ReceiveAssembler {
  private segs: { start: number; data: Uint8Array }[] = [];
  bytes = 0;
  /** Segments (or parts of them) dropped because the queue held MAX_OOO_PIECES already. */
  dropped = 0;

  constructor(private readonly maxPieces = MAX_OOO_PIECES) {}
  /** Ranges in order of most recent arrival, for SACK blocks (RFC 2018 §4: first block = newest). */
  private recent: number[] = [];

  get empty(): boolean {
    return this.segs.length === 0;
  }

  /**
   * Inserts data at offset start (already trimmed to the window), dropping what is already held.
   * Returns false when it was dropped for want of room (see MAX_OOO_PIECES).
   */
  insert(start: number, data: Uint8Array): boolean {
    const end = start + data.length;
    // Trim against existing segments; store only new bytes (copies, the packet buffer is not ours).
    const pieces: { start: number; data: Uint8Array }[] = [];
    let cur = start;
    for (const s of this.segs) {
      const sEnd = s.start + s.data.length;
      if (sEnd <= cur) continue;
      if (s.start >= end) break;
      if (s.start > cur) pieces.push({ start: cur, data: data.slice(cur - start, s.start - start) });
      cur = Math.max(cur, sEnd);
      if (cur >= end) break;
    }
    if (cur < end) pieces.push({ start: cur, data: data.slice(cur - start, end - start) });
    if (this.segs.length + pieces.length > this.maxPieces) {
      this.dropped++;
      return false;
    }
    for (const p of pieces) {
      let i = this.segs.length;
      while (i > 0 && this.segs[i - 1].start > p.start) i--;
      this.segs.splice(i, 0, p);
      this.bytes += p.data.length;
    }
    this.recent = [start, ...this.recent.filter((x) => x !== start)].slice(0, 8);
    return true;
  }

  /** Removes and returns the segments that are contiguous from offset nxt (skipping bytes below it). */
  take(nxt: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    while (this.segs.length > 0) {
      const s = this.segs[0];
      if (s.start > nxt) break;
      this.segs.shift();
      this.bytes -= s.data.length;
      const sEnd = s.start + s.data.length;
      if (sEnd <= nxt) continue;
      out.push(s.data.subarray(nxt - s.start));
      nxt = sEnd;
    }
    return out;
  }

  /** Number of merged ranges held (what SACK blocks can report). */
  rangeCount(): number {
    let n = 0;
    let end = -1;
    for (const s of this.segs) {
      if (s.start > end) n++;
      end = Math.max(end, s.start + s.data.length);
    }
    return n;
  }

  /** Merged ranges held. */
  ranges(): Range[] {
    const out: Range[] = [];
    for (const s of this.segs) {
      const e = s.start + s.data.length;
      const last = out[out.length - 1];
      if (last && last.end >= s.start) last.end = Math.max(last.end, e);
      else out.push({ start: s.start, end: e });
    }
    return out;
  }

  /** Up to max SACK blocks, the one holding the most recent arrival first. */
  sackBlocks(max: number): Range[] {
    const rs = this.ranges();
    const out: Range[] = [];
    for (const r of this.recent) {
      const hit = rs.find((x) => x.start <= r && r < x.end);
      if (hit && !out.includes(hit)) out.push(hit);
      if (out.length >= max) return out;
    }
    for (const x of rs) {
      if (out.length >= max) break;
      if (!out.includes(x)) out.push(x);
    }
    return out;
  }

  clear(): void {
    this.segs = [];
    this.bytes = 0;
    this.recent = [];
  }
}

/** The sender's record of SACKed ranges above SND.UNA (RFC 6675 §3 "scoreboard"). */
export class Scoreboard {
  ranges: Range[] = [];
  sacked = 0;

  get highest(): number {
    return this.ranges.length ? this.ranges[this.ranges.length - 1].end : -1;
  }

  /** Adds a SACKed range (already validated to lie in (una, sndMax]). Returns true if it added bytes. */
  add(start: number, end: number): boolean {
    if (end <= start) return false;
    const before = this.sacked;
    const out: Range[] = [];
    let s = start;
    let e = end;
    let placed = false;
    for (const r of this.ranges) {
      if (r.end < s) out.push(r);
      else if (r.start > e) {
        if (!placed) {
          out.push({ start: s, end: e });
          placed = true;
        }
        out.push(r);
      } else {
        s = Math.min(s, r.start);
        e = Math.max(e, r.end);
      }
    }
    if (!placed) out.push({ start: s, end: e });
    this.ranges = out;
    this.recount();
    return this.sacked > before;
  }

  /** Forgets everything below una (cumulatively acknowledged). */
  ack(una: number): void {
    if (!this.ranges.length || this.ranges[0].start >= una) return;
    this.ranges = this.ranges.filter((r) => r.end > una).map((r) => (r.start < una ? { start: una, end: r.end } : r));
    this.recount();
  }

  clear(): void {
    this.ranges = [];
    this.sacked = 0;
  }

  private recount(): void {
    let n = 0;
    for (const r of this.ranges) n += r.end - r.start;
    this.sacked = n;
  }

  /** If off is SACKed, the end of its range; otherwise -1. */
  sackedEnd(off: number): number {
    for (const r of this.ranges) {
      if (r.start > off) return -1;
      if (off < r.end) return r.end;
    }
    return -1;
  }

  /** Start of the next SACKed range at or above off, or Infinity. */
  nextSackedStart(off: number): number {
    for (const r of this.ranges) if (r.end > off) return Math.max(r.start, off);
    return Infinity;
  }

  /**
   * RFC 6675 §4 IsLost as a boundary: unSACKed offsets below the returned value are lost, because
   * DupThresh (3) discontiguous ranges or more than (DupThresh-1)*SMSS bytes are SACKed above them.
   */
  lostBoundary(mss: number): number {
    let bytes = 0;
    let count = 0;
    for (let i = this.ranges.length - 1; i >= 0; i--) {
      const r = this.ranges[i];
      bytes += r.end - r.start;
      count++;
      if (count >= 3 || bytes > 2 * mss) return r.start;
    }
    return -1;
  }

  /** SACKed bytes inside [a, b). */
  sackedIn(a: number, b: number): number {
    let n = 0;
    for (const r of this.ranges) {
      const s = Math.max(a, r.start);
      const e = Math.min(b, r.end);
      if (e > s) n += e - s;
    }
    return n;
  }
}
