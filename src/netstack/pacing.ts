// Send pacing: a token bucket filled at a rate derived from cwnd and the smoothed RTT, as Linux's
// TCP internal pacing and the fq qdisc do (net/ipv4/tcp_output.c tcp_update_pacing_rate: rate =
// ratio × cwnd × mss / srtt, ratio 200 % in slow start, 120 % in congestion avoidance).
// Why: over DERP the first bounded queue on the path is derper's 32-packet per-client send queue
// (derpserver.go perClientSendQueueDepth); a window released in one burst overflows it and TCP
// sees the drops as congestion. Spreading the same window over the RTT keeps the bursts short.
// Pure: time comes in as arguments (a Clock's ms), so tests run on the virtual clock.
//
// Never a stall: without an RTT sample (or with srtt ≤ 0, not finite) nothing is paced; however low
// the rate (an absurd srtt of minutes), the next segment is never held longer than maxDelayMs.

export interface PacingConfig {
  /** Pace at all (TcpConfig.pacing). */
  enabled: boolean;
  /** The bucket holds at most this many ms of the rate (a burst the timers cannot split)… */
  burstMs: number;
  /** …and at least this many segments, so a slow flow still sends a few back to back. */
  minBurstSegments: number;
  /** …and at most this many segments: under derper's 32-packet queue. */
  maxBurstSegments: number;
  /** The longest a segment waits for tokens, whatever the estimate says. */
  maxDelayMs: number;
}

/**
 * Off by default: on the rig (bench/tailnet, Chromium Worker upload, pacing off vs on in alternate
 * runs on a loaded 2-core machine) it did not lower derper's drops (292 vs 410 per 64 MiB) nor raise
 * throughput (7.05 vs 5.75 MB/s, 0.27 vs 0.26× native). Those drops come with the relay's goroutines
 * being scheduled late, not with our bursts: with TS_DEBUG_DERP_PER_CLIENT_SEND_QUEUE_DEPTH=1024 they
 * vanish and the same upload doubles. Turn it on per stack with `tcp: { pacing: { enabled: true } }`.
 */
export const DEFAULT_PACING: PacingConfig = {
  enabled: false,
  burstMs: 2,
  minBurstSegments: 2,
  maxBurstSegments: 16,
  maxDelayMs: 10,
};

/** Bytes per ms for a window over an RTT, Infinity when there is nothing to pace by. */
export function pacingRate(cwnd: number, srttMs: number, sampled: boolean, slowStart: boolean): number {
  if (!sampled || !(srttMs > 0) || !Number.isFinite(srttMs) || !(cwnd > 0)) return Infinity;
  return ((slowStart ? 2 : 1.2) * cwnd) / srttMs;
}

export class Pacer {
  /** Bytes that may go now; goes negative by at most one segment (a segment is never split). */
  private tokens = 0;
  private last = -1;
  /** The time a refused segment may go regardless (the maxDelayMs bound), 0 when none waits. */
  private heldUntil = 0;

  constructor(private readonly cfg: PacingConfig = DEFAULT_PACING) {}

  private cap(rate: number, mss: number): number {
    const c = this.cfg;
    return Math.min(c.maxBurstSegments * mss, Math.max(c.minBurstSegments * mss, rate * c.burstMs));
  }

  /**
   * 0 if a segment may go at `now`, else the time it may (always ≤ now + maxDelayMs: once that time
   * has come a segment goes whatever the bucket holds). The first call finds a full bucket.
   */
  check(now: number, rate: number, mss: number): number {
    if (!this.cfg.enabled || rate === Infinity) return 0;
    const cap = this.cap(rate, mss);
    if (this.last < 0) this.tokens = cap;
    else if (now > this.last) this.tokens = Math.min(cap, this.tokens + (now - this.last) * rate);
    this.last = Math.max(this.last, now);
    if (this.tokens > 0 || (this.heldUntil > 0 && now >= this.heldUntil)) {
      this.heldUntil = 0;
      return 0;
    }
    const wait = Math.min(this.cfg.maxDelayMs, Math.max(0.1, (1 - this.tokens) / rate));
    if (this.heldUntil === 0 || now + wait < this.heldUntil) this.heldUntil = now + wait;
    return this.heldUntil;
  }

  /** A segment of n bytes went out. */
  consume(n: number): void {
    if (this.last >= 0) this.tokens -= n;
  }
}
