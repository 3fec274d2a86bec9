// Congestion control: CUBIC (RFC 9438) with slow start per RFC 5681 / RFC 3465 (L = 2 SMSS).
//
// Why CUBIC over NewReno: a tailnet path is often relayed (DERP) with RTTs of tens to hundreds of ms,
// where NewReno's one-segment-per-RTT growth leaves a large bandwidth-delay product unused after
// each loss. CUBIC's growth is RTT-independent, its Reno-friendly region (§4.3) keeps it fair on
// short paths, and it is the default of the peers we meet (Linux, and gVisor inside tailscaled).
// Loss recovery itself (which segments to resend) is SACK-based RFC 6675 in tcp.ts; this module
// only decides how big the window is.

const C = 0.4; // RFC 9438 §5.1
const BETA = 0.7; // §4.6
const ALPHA_RENO = (3 * (1 - BETA)) / (1 + BETA); // §4.3

export class Cubic {
  cwnd: number;
  ssthresh = Infinity;
  private wMax = 0; // in segments
  private k = 0; // seconds
  private epochStart = -1; // ms, -1 = no epoch
  private wEst = 0; // segments
  private cwndPrior = 0; // segments

  constructor(public mss: number) {
    // RFC 6928 initial window: min(10*MSS, max(2*MSS, 14600)).
    this.cwnd = Math.min(10 * mss, Math.max(2 * mss, 14600));
  }

  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh;
  }

  /** New data acknowledged outside recovery. now and srtt in ms. */
  onAck(acked: number, now: number, srtt: number): void {
    if (acked <= 0) return;
    if (this.cwnd < this.ssthresh) {
      this.cwnd += Math.min(acked, 2 * this.mss);
      if (this.cwnd <= this.ssthresh) return;
      acked = this.cwnd - this.ssthresh;
      this.cwnd = this.ssthresh;
    }
    const mss = this.mss;
    const cw = this.cwnd / mss;
    if (this.epochStart < 0) {
      // §4.2: a new congestion-avoidance epoch.
      this.epochStart = now;
      if (this.wMax <= 0) this.wMax = cw;
      this.k = cw < this.wMax ? Math.cbrt((this.wMax - cw) / C) : 0;
      this.wEst = cw;
    }
    const t = (now - this.epochStart + srtt) / 1000;
    let target = C * (t - this.k) ** 3 + this.wMax;
    target = Math.min(Math.max(target, cw), 1.5 * cw); // §4.2 clamps
    // §4.3 Reno-friendly estimate; alpha becomes 1 once past the previous maximum.
    const alpha = this.wEst >= this.cwndPrior ? 1 : ALPHA_RENO;
    this.wEst += (alpha * (acked / mss)) / cw;
    let next: number;
    if (target < this.wEst) next = this.wEst;
    else next = cw + ((target - cw) / cw) * (acked / mss);
    this.cwnd = Math.max(this.cwnd, Math.floor(next * mss));
  }

  /** Loss detected by fast retransmit (§4.6, with fast convergence §4.7). Returns the new ssthresh. */
  onCongestion(): number {
    const cw = this.cwnd / this.mss;
    this.epochStart = -1;
    this.cwndPrior = cw;
    this.wMax = cw < this.wMax ? (cw * (1 + BETA)) / 2 : cw;
    this.ssthresh = Math.max(Math.floor(this.cwnd * BETA), 2 * this.mss);
    this.cwnd = this.ssthresh;
    return this.ssthresh;
  }

  /** Retransmission timeout (§4.8): ssthresh from the flight, cwnd = 1 segment (RFC 5681 loss window). */
  onRto(flight: number): void {
    const cw = this.cwnd / this.mss;
    this.epochStart = -1;
    this.cwndPrior = cw;
    this.wMax = cw < this.wMax ? (cw * (1 + BETA)) / 2 : cw;
    this.ssthresh = Math.max(Math.floor(Math.max(flight, this.mss) * BETA), 2 * this.mss);
    this.cwnd = this.mss;
  }

  /** The whole state, so a reduction found to be spurious (RFC 4015) can be undone. */
  snapshot(): CubicState {
    return {
      cwnd: this.cwnd,
      ssthresh: this.ssthresh,
      wMax: this.wMax,
      k: this.k,
      epochStart: this.epochStart,
      wEst: this.wEst,
      cwndPrior: this.cwndPrior,
    };
  }

  restore(s: CubicState): void {
    this.cwnd = s.cwnd;
    this.ssthresh = s.ssthresh;
    this.wMax = s.wMax;
    this.k = s.k;
    this.epochStart = -1; // a new epoch starts from the restored window
    this.wEst = s.wEst;
    this.cwndPrior = s.cwndPrior;
  }

  /** Idle restart (RFC 5681 §4.1 / RFC 9438 §5.8): after an idle RTO, restart from the initial window. */
  onIdle(): void {
    this.epochStart = -1;
    this.cwnd = Math.min(this.cwnd, Math.min(10 * this.mss, Math.max(2 * this.mss, 14600)));
  }
}

export interface CubicState {
  cwnd: number;
  ssthresh: number;
  wMax: number;
  k: number;
  epochStart: number;
  wEst: number;
  cwndPrior: number;
}
