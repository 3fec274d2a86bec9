// Send pacing on the virtual clock: the rate from cwnd/RTT, the bucket's bounds, that an absent or
// absurd RTT never stalls a connection, and on a simulated relay link that a window goes out spread
// over time instead of in one burst (what derper's 32-packet queue needs).
import { describe, expect, it, vi } from 'vitest';
import { VirtualClock } from '../platform/clock.js';
import { drive } from '../platform/virtual-time.testkit.js';
import { DEFAULT_PACING, Pacer, pacingRate } from './pacing.js';
import { SimLink } from './sim-link.testkit.js';

vi.setConfig({ testTimeout: 60_000 });

const MSS = 1228;
const ON = { ...DEFAULT_PACING, enabled: true };

/** Segments the pacer lets go between 0 and `untilMs`, asking every `stepMs` and at each deadline it names. */
function released(p: Pacer, rate: number, untilMs: number, stepMs = 1): number[] {
  const at: number[] = [];
  let now = 0;
  while (now <= untilMs) {
    const next = p.check(now, rate, MSS);
    if (next === 0) {
      p.consume(MSS);
      at.push(now);
      continue;
    }
    expect(next).toBeGreaterThan(now);
    expect(next - now).toBeLessThanOrEqual(DEFAULT_PACING.maxDelayMs);
    now = Math.min(next, now + stepMs);
  }
  return at;
}

describe('pacing: rate and bucket', () => {
  it('paces nothing without an RTT sample, or with an RTT of zero, below zero or not a number', () => {
    expect(pacingRate(100_000, 10, false, false)).toBe(Infinity);
    for (const srtt of [0, -5, NaN, Infinity]) expect(pacingRate(100_000, srtt, true, false)).toBe(Infinity);
    const p = new Pacer(ON);
    for (let i = 0; i < 1000; i++) (expect(p.check(0, Infinity, MSS)).toBe(0), p.consume(MSS));
  });

  it('is 200 % of cwnd per RTT in slow start and 120 % after (Linux tcp_pacing_*_ratio)', () => {
    expect(pacingRate(100_000, 10, true, true)).toBe(20_000);
    expect(pacingRate(100_000, 10, true, false)).toBe(12_000);
  });

  it('lets a burst of at most maxBurstSegments go at once, then the rate', () => {
    const rate = pacingRate(400 * MSS, 20, true, false); // 24 segments per ms
    const at = released(new Pacer(ON), rate, 10);
    expect(at.filter((t) => t === 0).length).toBe(DEFAULT_PACING.maxBurstSegments);
    // 10 ms at 24 segments/ms, give or take the first burst and the last partial step.
    expect(at.length).toBeGreaterThan(220);
    expect(at.length).toBeLessThan(280);
  });

  it('a slow flow still sends minBurstSegments back to back', () => {
    const rate = pacingRate(4 * MSS, 100, true, false); // about one segment per 20 ms
    const at = released(new Pacer(ON), rate, 0);
    expect(at.length).toBe(DEFAULT_PACING.minBurstSegments);
  });

  it('an absurd RTT (ten minutes) never holds a segment longer than maxDelayMs', () => {
    const rate = pacingRate(10 * MSS, 600_000, true, false);
    const at = released(new Pacer(ON), rate, 1000);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(DEFAULT_PACING.maxDelayMs);
    expect(at.length).toBeGreaterThanOrEqual(1000 / DEFAULT_PACING.maxDelayMs);
  });

  it('turned off (the default, see pacing.ts), it never holds anything', () => {
    const p = new Pacer(DEFAULT_PACING);
    for (let i = 0; i < 100; i++) (expect(p.check(0, 1, MSS)).toBe(0), p.consume(MSS));
  });
});

describe('pacing on a simulated relay link', () => {
  /** 1 MiB from a to b over a 10 ms, 5 MB/s link with a 32-packet drop-tail queue; data segments sent at one instant. */
  async function transfer(pacing: boolean) {
    const clock = new VirtualClock(0);
    const net = new SimLink(clock, 7, { delayMs: 10, bytesPerMs: 5000, queueBytes: 32 * 1280 });
    const a = net.stack(['100.64.0.1'], { tcp: { pacing: { enabled: pacing } } });
    const b = net.stack(['100.64.0.2']);
    const atOnce = new Map<number, number>();
    net.tap = (pkt) => {
      if (pkt.length > 1000 && pkt[12] === 100 && pkt[15] === 1) {
        const t = clock.now();
        atOnce.set(t, (atOnce.get(t) ?? 0) + 1);
      }
    };
    const data = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 0xff);
    const l = b.listen(80);
    const got = (async () => {
      const c = await l.accept();
      const parts: Uint8Array[] = [];
      const r = c.readable.getReader();
      for (let x = await r.read(); !x.done; x = await r.read()) parts.push(x.value);
      return Buffer.concat(parts);
    })();
    const c = await drive(clock, a.connect('100.64.0.2', 80));
    const w = c.writable.getWriter();
    await drive(
      clock,
      (async () => {
        await w.write(data);
        await w.close();
      })(),
    );
    const body = await drive(clock, got);
    expect(Buffer.compare(body, Buffer.from(data))).toBe(0);
    return { maxAtOnce: Math.max(...atOnce.values()), waits: a.stats.tcpPacingWaits, dropped: net.dropped };
  }

  it('spreads each window over the RTT: no more than maxBurstSegments leave at one instant; unpaced, whole windows do', async () => {
    const paced = await transfer(true);
    const unpaced = await transfer(false);
    expect(paced.waits).toBeGreaterThan(0);
    expect(paced.maxAtOnce).toBeLessThanOrEqual(DEFAULT_PACING.maxBurstSegments + 1);
    expect(unpaced.waits).toBe(0);
    expect(unpaced.maxAtOnce).toBeGreaterThan(DEFAULT_PACING.maxBurstSegments + 1);
  });
});
