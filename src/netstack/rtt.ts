// Retransmission timeout per RFC 6298. Karn's rule (§3: no samples from retransmitted segments)
// is applied by the caller, which only samples unambiguous segments or timestamp echoes (RFC 7323 §4).
//
// Minimum RTO: RFC 6298 §2.4 asks for 1 s, but notes it is conservative; Linux and gVisor (inside
// tailscaled) use 200 ms, and over a tailnet a 1 s floor makes every tail loss cost a second. We use
// 200 ms; the initial RTO stays at RFC 6298's 1 s (§2.1) until a sample exists.
export interface RtoConfig {
  initialMs: number;
  minMs: number;
  maxMs: number;
}

export const DEFAULT_RTO: RtoConfig = { initialMs: 1000, minMs: 200, maxMs: 60_000 };

export class RttEstimator {
  srtt = 0;
  rttvar = 0;
  private hasSample = false;
  private base: number;
  private backoffShift = 0;

  constructor(private readonly cfg: RtoConfig = DEFAULT_RTO) {
    this.base = cfg.initialMs;
  }

  /** A new RTT measurement in ms (RFC 6298 §2.2/2.3 with alpha 1/8, beta 1/4, G = 1 ms). */
  sample(r: number): void {
    r = Math.max(0, r);
    if (!this.hasSample) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasSample = true;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.base = this.srtt + Math.max(1, 4 * this.rttvar);
    this.backoffShift = 0; // a valid sample ends the backoff (§5 note)
  }

  get sampled(): boolean {
    return this.hasSample;
  }

  /** Current RTO in ms, including exponential backoff (§5.5), clamped to [min, max]. */
  get rto(): number {
    // §5.5 doubles the RTO as it stands, i.e. after the §2.4 floor.
    const v = Math.max(this.cfg.minMs, this.base) * 2 ** this.backoffShift;
    return Math.min(this.cfg.maxMs, v);
  }

  backoff(): void {
    if (Math.max(this.cfg.minMs, this.base) * 2 ** this.backoffShift < this.cfg.maxMs) this.backoffShift++;
  }

  resetBackoff(): void {
    this.backoffShift = 0;
  }
}
