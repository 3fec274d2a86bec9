// Unit tests of the TCP building blocks: RTO estimator (RFC 6298), CUBIC (RFC 9438), buffers, the
// SACK scoreboard (RFC 6675) and IPv4 fragment reassembly, with fast-check against simple models.
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { describe, expect, it } from 'vitest';
import { ByteQueue, MAX_OOO_PIECES, ReceiveAssembler, Scoreboard } from './buffers.js';
import { Cubic } from './cubic.js';
import { Reassembler } from './fragments.js';
import type { IpPacket } from './ip.js';
import { RttEstimator } from './rtt.js';

describe('RttEstimator (RFC 6298)', () => {
  it('starts at 1 s, takes the first sample as SRTT with RTTVAR = R/2, then smooths with 1/8 and 1/4', () => {
    const r = new RttEstimator();
    expect(r.rto).toBe(1000);
    r.sample(100);
    expect(r.srtt).toBe(100);
    expect(r.rttvar).toBe(50);
    expect(r.rto).toBe(300); // 100 + 4*50
    r.sample(200);
    expect(r.rttvar).toBeCloseTo(0.75 * 50 + 0.25 * 100);
    expect(r.srtt).toBeCloseTo(0.875 * 100 + 0.125 * 200);
  });
  it('clamps to the 200 ms floor and 60 s ceiling; backoff doubles and a new sample resets it', () => {
    const r = new RttEstimator();
    r.sample(5);
    expect(r.rto).toBe(200);
    r.backoff();
    r.backoff();
    expect(r.rto).toBe(800); // the floored 200 ms, doubled twice
    for (let i = 0; i < 20; i++) r.backoff();
    expect(r.rto).toBe(60_000);
    r.sample(5);
    expect(r.rto).toBe(200);
    const q = new RttEstimator();
    q.sample(300);
    q.backoff();
    expect(q.rto).toBe(1800);
  });
});

describe('Cubic (RFC 9438)', () => {
  it('initial window per RFC 6928, slow start grows by at most 2 MSS per ACK', () => {
    const c = new Cubic(1000);
    expect(c.cwnd).toBe(10_000);
    c.onAck(5000, 0, 50);
    expect(c.cwnd).toBe(12_000);
  });
  it('a loss multiplies cwnd by beta = 0.7; an RTO drops it to one segment', () => {
    const c = new Cubic(1000);
    c.cwnd = 100_000;
    c.onCongestion();
    expect(c.cwnd).toBe(70_000);
    expect(c.ssthresh).toBe(70_000);
    c.onRto(50_000);
    expect(c.cwnd).toBe(1000);
    expect(c.ssthresh).toBe(35_000);
  });
  it('after a loss, the window climbs back to W_max in about K seconds (concave), then probes beyond (convex)', () => {
    const mss = 1000;
    const c = new Cubic(mss);
    c.cwnd = 100 * mss;
    c.onCongestion(); // W_max = 100, cwnd = 70
    const K = Math.cbrt((100 * (1 - 0.7)) / 0.4); // ≈ 4.2 s
    const rtt = 100;
    let t = 0;
    const at: Record<number, number> = {};
    while (t < 8000) {
      // one window of ACKs per RTT
      const acks = Math.floor(c.cwnd / mss);
      for (let i = 0; i < acks; i++) c.onAck(mss, t, rtt);
      t += rtt;
      at[t] = c.cwnd / mss;
    }
    const near = (s: number) => at[Math.round((s * 1000) / rtt) * rtt];
    expect(near(K - 1)).toBeGreaterThan(90);
    expect(near(K - 1)).toBeLessThan(100.5);
    expect(near(K)).toBeGreaterThan(97);
    expect(near(K)).toBeLessThan(103);
    expect(near(7.5)).toBeGreaterThan(105); // convex growth past W_max
    // concave: growth over the first second is faster than over the second before K
    expect(near(1) - near(0.1)).toBeGreaterThan(near(K) - near(K - 1));
  });
});

describe('ByteQueue', () => {
  it('matches a plain array model under random push/drop/copyOut', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('push' as const), n: fc.integer({ min: 0, max: 40_000 }) }),
            fc.record({ op: fc.constant('drop' as const), n: fc.integer({ min: 0, max: 50_000 }) }),
            fc.record({ op: fc.constant('copy' as const), from: fc.nat(), n: fc.integer({ min: 0, max: 5000 }) }),
          ),
          { maxLength: 60 },
        ),
        (ops) => {
          const q = new ByteQueue();
          let model: number[] = [];
          let counter = 0;
          for (const o of ops) {
            if (o.op === 'push') {
              const b = new Uint8Array(o.n);
              for (let i = 0; i < o.n; i++) b[i] = counter++ & 0xff;
              q.push(b);
              model = model.concat(Array.from(b));
            } else if (o.op === 'drop') {
              q.drop(o.n);
              model = model.slice(Math.min(o.n, model.length));
            } else if (model.length > 0) {
              const from = o.from % model.length;
              const n = Math.min(o.n, model.length - from);
              const dst = new Uint8Array(n);
              q.copyOut(dst, 0, from, n);
              expect(Array.from(dst)).toEqual(model.slice(from, from + n));
            }
            expect(q.length).toBe(model.length);
          }
        },
      ),
      fuzz(100),
    );
  });
});

describe('ReceiveAssembler', () => {
  it('any order, duplicates and overlaps of segments reassemble the exact stream', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20_000 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 3000 })), { minLength: 1, maxLength: 40 }),
        (len, cuts) => {
          const data = new Uint8Array(len).map((_, i) => (i * 31) & 0xff);
          const ra = new ReceiveAssembler();
          const segs = cuts.map(([s, n]) => [s % len, Math.min(len, (s % len) + n)] as const);
          segs.push([0, len]); // make sure everything is covered eventually
          let nxt = 0;
          const out: number[] = [];
          for (const [s, e] of segs) {
            if (e <= nxt) continue;
            const start = Math.max(s, nxt);
            if (start === nxt) {
              out.push(...data.subarray(nxt, e));
              nxt = e;
              for (const d of ra.take(nxt)) {
                out.push(...d);
                nxt += d.length;
              }
            } else ra.insert(start, data.subarray(start, e));
            const blocks = ra.sackBlocks(4);
            for (const b of blocks) expect(b.start).toBeGreaterThan(nxt);
          }
          expect(nxt).toBe(len);
          expect(out).toEqual(Array.from(data));
        },
      ),
      fuzz(200),
    );
  });
  it('holds at most MAX_OOO_PIECES pieces: 1-byte segments with gaps beyond it are dropped and counted, the rest still reassembles', () => {
    const ra = new ReceiveAssembler();
    const data = new Uint8Array(2 * 5000).map((_, i) => i & 0xff);
    // A hostile pattern: every other byte, 5,000 separate pieces.
    for (let i = 0; i < 5000; i++) ra.insert(2 * i + 1, data.subarray(2 * i + 1, 2 * i + 2));
    expect(ra.rangeCount()).toBe(MAX_OOO_PIECES);
    expect(ra.dropped).toBe(5000 - MAX_OOO_PIECES);
    expect(ra.bytes).toBe(MAX_OOO_PIECES);
    // A duplicate of a held piece adds nothing and is not a drop.
    ra.insert(1, data.subarray(1, 2));
    expect(ra.dropped).toBe(5000 - MAX_OOO_PIECES);
    // The sender retransmits everything in order: the held pieces join it, nothing is lost or doubled.
    let nxt = 0;
    const out: number[] = [];
    while (nxt < data.length) {
      out.push(data[nxt]!);
      nxt++;
      for (const d of ra.take(nxt)) {
        out.push(...d);
        nxt += d.length;
      }
    }
    expect(out).toEqual(Array.from(data));
    expect(ra.empty).toBe(true);
  });
  it('the first SACK block is the one holding the most recent arrival (RFC 2018 §4)', () => {
    const ra = new ReceiveAssembler();
    ra.insert(100, new Uint8Array(10));
    ra.insert(300, new Uint8Array(10));
    ra.insert(200, new Uint8Array(10));
    expect(ra.sackBlocks(3).map((b) => b.start)).toEqual([200, 300, 100]);
    ra.insert(110, new Uint8Array(10)); // extends the first range
    expect(ra.sackBlocks(3)[0]).toEqual({ start: 100, end: 120 });
  });
});

describe('Scoreboard (RFC 6675)', () => {
  it('tracks SACKed bytes like a set; lostBoundary marks holes with > 2 MSS or 3 ranges SACKed above', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 300 })), { maxLength: 20 }),
        fc.integer({ min: 0, max: 2000 }),
        (adds, una) => {
          const sb = new Scoreboard();
          const set = new Set<number>();
          for (const [s, n] of adds) {
            sb.add(s, s + n);
            for (let i = s; i < s + n; i++) set.add(i);
          }
          sb.ack(una);
          for (const i of [...set]) if (i < una) set.delete(i);
          expect(sb.sacked).toBe(set.size);
          for (let i = 0; i < 2400; i += 7) expect(sb.sackedEnd(i) >= 0).toBe(set.has(i));
          const mss = 100;
          const lb = sb.lostBoundary(mss);
          // every unSACKed offset below the boundary has the IsLost property, and the first one above does not
          const isLost = (off: number) => {
            let bytes = 0;
            let ranges = 0;
            let inRange = false;
            for (let i = off + 1; i < 2400; i++) {
              if (set.has(i)) {
                bytes++;
                if (!inRange) ranges++;
                inRange = true;
              } else inRange = false;
            }
            return ranges >= 3 || bytes > 2 * mss;
          };
          for (let i = una; i < Math.min(lb, 2400); i += 13) if (!set.has(i)) expect(isLost(i)).toBe(true);
          if (lb >= 0)
            for (let i = lb; i < 2400; i++)
              if (!set.has(i)) {
                expect(isLost(i)).toBe(false);
                break;
              }
        },
      ),
      fuzz(200),
    );
  });
});

describe('IPv4 fragment reassembly', () => {
  const frag = (id: number, off: number, data: Uint8Array, more: boolean): IpPacket => ({
    version: 4,
    src: Uint8Array.of(100, 64, 0, 1),
    dst: Uint8Array.of(100, 64, 0, 2),
    proto: 17,
    ttl: 64,
    payload: data,
    packet: data,
    headerLength: 20,
    id,
    dontFragment: false,
    moreFragments: more,
    fragmentOffset: off,
    isFragment: true,
  });

  it('any arrival order (with duplicates) yields the original payload exactly once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 20 }),
        (nfr, tail, order) => {
          const size = (nfr - 1) * 800 + tail;
          const data = new Uint8Array(size).map((_, i) => i & 0xff);
          const frags = Array.from({ length: nfr }, (_, i) =>
            frag(7, i * 800, data.subarray(i * 800, i === nfr - 1 ? size : (i + 1) * 800), i < nfr - 1),
          );
          const seq = [...order.map((o) => frags[o % nfr]), ...frags];
          const r = new Reassembler();
          let done = 0;
          for (const f of seq) {
            const x = r.add(f, 0);
            if ('done' in x) {
              done++;
              expect(Array.from(x.done.payload)).toEqual(Array.from(data));
              break;
            }
          }
          expect(done).toBe(1);
          expect(r.size).toBe(0);
        },
      ),
      fuzz(100),
    );
  });

  it('overlapping fragments drop the datagram; bad lengths are rejected', () => {
    const r = new Reassembler();
    expect(r.add(frag(1, 0, new Uint8Array(16), true), 0)).toEqual({ pending: true });
    expect(r.add(frag(1, 8, new Uint8Array(16), false), 0)).toEqual({ drop: 'fragOverlap' });
    expect(r.size).toBe(0);
    expect(r.add(frag(2, 0, new Uint8Array(15), true), 0)).toEqual({ drop: 'fragBadLength' });
    expect(r.add(frag(3, 65528, new Uint8Array(16), false), 0)).toEqual({ drop: 'fragTooLong' });
  });

  it('state stays bounded under a flood of never-completed datagrams and expires with time', () => {
    const r = new Reassembler({ maxDatagrams: 64, maxBytes: 256 * 1024, timeoutMs: 30_000 });
    for (let i = 0; i < 10_000; i++) {
      r.add(frag(i, 0, new Uint8Array(1200), true), i);
      expect(r.size).toBeLessThanOrEqual(64);
      expect(r.bufferedBytes).toBeLessThanOrEqual(256 * 1024);
    }
    r.add(frag(99_999, 0, new Uint8Array(8), true), 10_000 + 30_000);
    expect(r.size).toBe(1); // the others expired
  });
});
