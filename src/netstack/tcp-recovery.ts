// Loss recovery for one connection's send side: the SACK scoreboard fed from ACKs (RFC 2018 §3),
// SACK-based recovery (RFC 6675 §5: DupThresh, pipe, NextSeg rules 1-2) that degrades to NewReno
// (RFC 6582 §3.2) without SACK, early retransmit for small flights (RFC 5827 §3.2), lost-retransmission
// detection (the idea of RFC 8985 §6.2), tail loss probes (RFC 8985 §7), the retransmission timeout
// (RFC 6298 §5.4-5.7, keeping the scoreboard per RFC 6675 §5.1) and Eifel detection of a spurious
// timeout with its undo (RFC 3522 §3.2, RFC 4015).
//
// Why RFC 6675 rather than NewReno for recovery: every peer we meet (Linux, gVisor in tailscaled)
// negotiates SACK, and with SACK several losses in one window are repaired in about one RTT instead
// of one per RTT. Without SACK the same code degrades to NewReno behaviour (the first unacknowledged
// segment is resent on entry and on each partial ACK).
import { Scoreboard } from './buffers.js';
import type { CubicState } from './cubic.js';
import { NetStackError } from './errors.js';
import { sendSyn } from './tcp-handshake.js';
import { ACK, RST, type TcpSegment } from './tcp-segment.js';
import type { TcpConn } from './tcp.js';
import { seqDiff } from './tcp-types.js';

export class TcpRecovery {
  /** What the peer has SACKed above SND.UNA (RFC 6675 §3). */
  readonly sb = new Scoreboard();
  inRecovery = false;
  /** RFC 6582 "recover" / RFC 6675 RecoveryPoint. */
  recoverPoint = 0;
  /** HighRxt: the highest offset retransmitted in this recovery. */
  highRxt = 0;
  dupAcks = 0;
  /** SND.MAX when the segment at SND.UNA was last retransmitted (lost-retransmission detection). */
  rxtMark = -1;
  /** A tail loss probe is out (RFC 8985 §7: one per tail episode). */
  tlpOut = false;
  /** Eifel (RFC 3522/4015): the TSval of the first RTO retransmission and the state before it. */
  rtoUndo?: { ts: number; cc: CubicState };

  constructor(private readonly conn: TcpConn) {}

  /** SACK blocks (RFC 2018 §3): only those inside (SND.UNA, SND.MAX] are believed. True if any was new. */
  takeSack(seg: TcpSegment, ackOff: number): boolean {
    const c = this.conn;
    const snd = c.snd;
    let newSack = false;
    if (c.sackOk && seg.sack) {
      for (const [l, r] of seg.sack) {
        const s = snd.offsetOf(l);
        const e = snd.offsetOf(r);
        if (s >= e || e > snd.max || s < ackOff) continue;
        if (this.sb.add(Math.max(s, snd.una), e)) newSack = true;
      }
    }
    return newSack;
  }

  /** After each ACK: a lost retransmission, or a reason to enter recovery (RFC 6675 §5, RFC 5827). */
  afterAck(): void {
    const c = this.conn;
    const snd = c.snd;
    if (this.inRecovery && this.rxtMark >= 0 && this.sb.sackedIn(this.rxtMark, snd.max) > 2 * c.mss) {
      // Lost retransmission: data sent after our retransmission of the first hole is SACKed well
      // beyond DupThresh while the hole is still open, so that retransmission was lost too (the
      // idea of Linux's lost-retransmit marking and RACK, RFC 8985 §6.2). Without this only an RTO,
      // with cwnd back at one segment, would repair it.
      c.host.stats.tcpLostRetransmits++;
      this.highRxt = snd.una;
      this.rxtMark = -1;
    }
    if (this.inRecovery || snd.una < this.recoverPoint || snd.una >= snd.max) return;
    // RFC 6675 §5: enter recovery on DupThresh duplicates or when IsLost(HighACK + 1).
    const lost = c.sackOk && this.sb.lostBoundary(c.mss) > snd.una;
    if (this.dupAcks >= 3 || lost) {
      this.enter();
      return;
    }
    // Early retransmit (RFC 5827 §3.2, SACK variant): with fewer than four segments outstanding and
    // nothing new to send, three duplicates can never arrive; lower the threshold to oseg - 1.
    if (c.sackOk && this.sb.sacked > 0 && this.dupAcks > 0) {
      const oseg = Math.ceil((snd.max - snd.una) / c.mss);
      const finEnd = snd.finEnd;
      const nothingNew = snd.nxt >= finEnd || snd.nxt >= snd.una + snd.wnd;
      if (oseg < 4 && nothingNew && this.dupAcks >= Math.max(1, oseg - 1)) {
        c.host.stats.tcpEarlyRetransmits++;
        this.enter();
      }
    }
  }

  private enter(): void {
    const c = this.conn;
    // RFC 6675 §5 steps (1)-(4): RecoveryPoint = HighData, cwnd = ssthresh = CC reduction.
    c.host.stats.tcpFastRecoveries++;
    this.inRecovery = true;
    c.timers.tlp = 0;
    this.recoverPoint = c.snd.max;
    this.highRxt = c.snd.una;
    c.cc.onCongestion();
    c.snd.timedSeg = -1; // Karn
    // The first lost segment goes out regardless of pipe (§5 step 4.2 / RFC 5681 fast retransmit).
    this.retransmitFirstHole();
  }

  private retransmitFirstHole(): void {
    const snd = this.conn.snd;
    const s = snd.una;
    const sackedEnd = this.sb.nextSackedStart(s);
    const n = Math.min(snd.segSize(), Math.min(sackedEnd, snd.finEnd) - s);
    if (n <= 0) return;
    this.rxtMark = snd.max;
    this.highRxt = Math.max(this.highRxt, snd.sendRange(s, n, true));
  }

  /** SND.UNA advanced while in recovery. */
  onCumulativeAck(ackOff: number): void {
    const c = this.conn;
    if (ackOff >= this.recoverPoint) {
      this.inRecovery = false; // RFC 6675 §5: recovery ends when RecoveryPoint is acknowledged
      this.rxtMark = -1;
      c.cc.cwnd = Math.max(c.cc.ssthresh, 2 * c.mss);
    } else if (!c.sackOk) {
      // NewReno partial ACK (RFC 6582 §3.2 step 3): resend the next hole.
      this.retransmitFirstHole();
    }
  }

  /** The first ACK after an RTO retransmission: was the timeout spurious? */
  detectSpuriousRto(seg: TcpSegment): void {
    if (!this.rtoUndo) return;
    const c = this.conn;
    // RFC 3522 §3.2: the first ACK after an RTO retransmission that echoes an older TSval than the
    // retransmission's was caused by the original segment: the timeout was spurious (a delay spike,
    // e.g. a stalled relay). RFC 4015 response: undo the window reduction and carry on with new
    // data instead of resending everything in flight.
    const ecr = seg.timestamps?.[1];
    if (ecr !== undefined && ecr !== 0 && seqDiff(ecr, this.rtoUndo.ts) < 0) {
      c.host.stats.tcpSpuriousRtos++;
      c.cc.restore(this.rtoUndo.cc);
      c.snd.nxt = Math.max(c.snd.nxt, c.snd.max);
    }
    this.rtoUndo = undefined;
  }

  /** Pipe per RFC 6675 §4 SetPipe, using the lost boundary and HighRxt. */
  pipe(): number {
    const c = this.conn;
    const una = c.snd.una;
    const max = c.snd.max;
    const lostB = c.sackOk ? Math.max(una, this.sb.lostBoundary(c.mss)) : una;
    const notLost = max - lostB - this.sb.sackedIn(lostB, max);
    const rxtEnd = Math.min(this.highRxt, max);
    const retransmitted = rxtEnd > una ? rxtEnd - una - this.sb.sackedIn(una, rxtEnd) : 0;
    return Math.max(0, notLost) + retransmitted;
  }

  /** RFC 6675 §4 NextSeg rule 1: sends the first lost, not yet retransmitted, unSACKed segment, if any. */
  sendNextLost(finEnd: number): boolean {
    const c = this.conn;
    const snd = c.snd;
    const lostB = c.sackOk ? this.sb.lostBoundary(c.mss) : -1;
    let s = Math.max(this.highRxt, snd.una);
    while (s < lostB) {
      const se = this.sb.sackedEnd(s);
      if (se >= 0) {
        s = se;
        continue;
      }
      const n = Math.min(snd.segSize(), this.sb.nextSackedStart(s) - s, lostB - s, finEnd - s);
      if (n <= 0) break;
      if (s === snd.una) this.rxtMark = snd.max;
      this.highRxt = snd.sendRange(s, n, true);
      return true;
    }
    return false;
  }

  // ------------------------------------------------------------------ timeouts

  /**
   * RFC 8985 §7.2: arm the probe timeout, PTO = 2*SRTT (+ the worst-case delayed ACK when one segment
   * is in flight), if it would fire before the RTO. Needs SACK (the probe's ACK reveals the hole)
   * and an RTT sample; one probe per tail episode.
   */
  schedulePto(now: number): void {
    const c = this.conn;
    const snd = c.snd;
    c.timers.tlp = 0;
    if (!c.sackOk || !c.rtt.sampled || this.inRecovery || this.tlpOut || snd.max <= snd.una || snd.wnd === 0) return;
    if (
      c.state !== 'ESTABLISHED' &&
      c.state !== 'CLOSE_WAIT' &&
      c.state !== 'FIN_WAIT_1' &&
      c.state !== 'CLOSING' &&
      c.state !== 'LAST_ACK'
    )
      return;
    let pto = 2 * c.rtt.srtt;
    if (snd.max - snd.una <= c.mss) pto += 200; // WCDelAckT
    pto = Math.max(pto, 10);
    const at = now + pto;
    if (c.timers.rto > 0 && at >= c.timers.rto) return;
    c.timers.tlp = at;
  }

  /** RFC 8985 §7.3: send one probe — new data if the windows allow, else the last segment again. */
  onPto(now: number): void {
    const c = this.conn;
    const snd = c.snd;
    c.timers.tlp = 0;
    if (this.inRecovery || snd.max <= snd.una || c.isClosed) return;
    c.host.stats.tcpTailLossProbes++;
    this.tlpOut = true;
    const finEnd = snd.finEnd;
    let sent = false;
    if (snd.nxt === snd.max && snd.nxt < finEnd && snd.nxt < snd.una + snd.wnd)
      sent = snd.sendNew(finEnd, snd.una + snd.wnd);
    if (!sent) {
      const s = Math.max(snd.una, snd.max - snd.segSize());
      snd.sendRange(s, snd.max - s, true);
    }
    c.timers.rto = now + c.rtt.rto; // §7.3: the RTO restarts after a probe
  }

  /** The retransmission timer expired (RFC 6298 §5.4-5.7). */
  onRto(now: number): void {
    const c = this.conn;
    const snd = c.snd;
    c.timers.rto = 0;
    const cfg = c.host.cfg;
    const handshake = c.state === 'SYN_SENT' || c.state === 'SYN_RECEIVED';
    if (!handshake && snd.una >= snd.max) return;
    if (!handshake && snd.wnd === 0) {
      // The peer closed its window: probing, not retransmission, keeps the connection going.
      if (c.timers.persist === 0) c.timers.persist = now + c.rtt.rto;
      return;
    }
    c.retries++;
    const limit =
      c.state === 'SYN_SENT'
        ? cfg.maxSynRetransmits
        : c.state === 'SYN_RECEIVED'
          ? cfg.maxSynAckRetransmits
          : cfg.maxRetransmits;
    if (c.retries > limit) {
      const what = c.state === 'SYN_SENT' ? 'connect' : 'tcp';
      const why = c.softError ? ` (last error: ${c.softError})` : '';
      c.host.stats.tcpTimeouts++;
      if (!handshake) snd.emit(RST | ACK, snd.max, 0);
      c.terminate(
        new NetStackError(
          'ETIMEDOUT',
          `${what} ${c.remoteInfo}: timed out after ${c.retries - 1} retransmissions${why}`,
        ),
      );
      return;
    }
    c.rtt.backoff(); // RFC 6298 §5.5
    c.host.stats.tcpRtoExpirations++;
    snd.timedSeg = -1; // Karn: nothing retransmitted is timed
    if (handshake) {
      c.host.stats.tcpRetransmits++;
      if (c.state === 'SYN_RECEIVED') c.host.stats.tcpSynAckRetransmits++;
      sendSyn(c);
      return;
    }
    // Eifel detection (RFC 3522) needs timestamps: remember what the first timeout of this episode
    // changes, and the TSval its retransmission carries.
    if (c.retries === 1 && c.tsOk) this.rtoUndo = { ts: c.tsNow(), cc: c.cc.snapshot() };
    // RFC 5681 §3.1 eq. 4 / RFC 9438 §4.8: ssthresh from the flight, cwnd = loss window.
    c.cc.onRto(snd.max - snd.una - this.sb.sackedIn(snd.una, snd.max));
    // RFC 6675 §5.1: keep the SACK scoreboard across the RTO (reneging is rare), so the go-back
    // below resends only the holes instead of everything in flight. Linux does the same.
    this.inRecovery = false;
    this.rxtMark = -1;
    c.timers.tlp = 0;
    this.tlpOut = false;
    this.recoverPoint = snd.max; // RFC 6582 §3.2 step 4: no fast retransmit for old duplicates
    this.dupAcks = 0;
    snd.nxt = snd.una;
    this.highRxt = snd.una;
    snd.transmit();
    if (c.timers.rto === 0) c.timers.rto = now + c.rtt.rto;
  }
}
