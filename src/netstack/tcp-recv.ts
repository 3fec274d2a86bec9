// The receive side of one connection: sequence acceptability (RFC 9293 §3.10.7.4), in-order delivery
// and out-of-order reassembly with SACK blocks to report it (RFC 2018 §4, buffers.ts), the window we
// advertise with receiver-side SWS avoidance (RFC 9293 §3.8.6.2.2, RFC 7323 §2.3 scaling), and when
// we ACK: every second segment, at once for out-of-order data or a filled hole (RFC 5681 §4.2), else
// after the delayed-ACK time (RFC 9293 §3.8.6.3); ACKs for unacceptable segments are rate-limited
// (RFC 5961 §7).
//
// Positions are stream offsets of the peer's stream (its SYN is 0), converted to sequence numbers
// only on the wire (seq()).
import { ReceiveAssembler } from './buffers.js';
import { ACK } from './tcp-segment.js';
import type { TcpConn } from './tcp.js';
import { MAX_HELD_ACK_SEGMENTS, u32 } from './tcp-types.js';

export class TcpReceiver {
  /** Initial receive sequence number (the peer's ISN). */
  irs = 0;
  /** RCV.NXT as an offset. */
  nxt = 0;
  /** Highest right edge we advertised (the window never shrinks, §3.8.6.2.2). */
  advEdge = 0;
  /** Our window-scale shift, once agreed (RFC 7323 §2.2). */
  wscale = 0;
  readonly ooo = new ReceiveAssembler();
  /** Offset of the peer's FIN once seen (possibly out of order); -1 before. */
  finOff = -1;
  /** In-order segments received since our last ACK. */
  unackedSegs = 0;
  /** The next transmission must carry an ACK at once. */
  ackNow = false;
  /** When the out-of-order queue last went from empty to non-empty (stats only). */
  oooSince = 0;
  /** When we last answered an unacceptable zero-length segment (RFC 5961 §7 rate limit). */
  lastOowAckAt = -Infinity;

  constructor(private readonly conn: TcpConn) {}

  /** The peer's sequence number of an offset. */
  seq(off: number): number {
    return u32(this.irs + off);
  }

  /** RFC 9293 §3.10.7.4 first check, the table of segment length against receive window. */
  acceptable(segOff: number, segLen: number): boolean {
    const wnd = Math.max(0, this.advEdge - this.nxt);
    let acceptable: boolean;
    if (segLen === 0) acceptable = wnd === 0 ? segOff === this.nxt : segOff >= this.nxt && segOff < this.nxt + wnd;
    else if (wnd === 0) acceptable = false;
    else {
      const last = segOff + segLen - 1;
      acceptable = (segOff >= this.nxt && segOff < this.nxt + wnd) || (last >= this.nxt && last < this.nxt + wnd);
    }
    // A zero-length segment at exactly RCV.NXT is always fine (pure ACKs when our window is 0).
    if (!acceptable && segLen === 0 && segOff === this.nxt) acceptable = true;
    return acceptable;
  }

  receiveData(off: number, data: Uint8Array): void {
    const c = this.conn;
    if (off === this.nxt) {
      c.sock.deliver(data);
      this.nxt += data.length;
      if (!this.ooo.empty) {
        // A hole was filled: deliver what follows and ACK at once (RFC 5681 §4.2).
        const stats = c.host.stats;
        stats.tcpHolesFilled++;
        // How long the hole at RCV.NXT stayed open tells the sender's repair: about one RTT is a fast
        // retransmit, 200 ms and more is the sender's RTO (its minimum) or a tail probe.
        if (c.host.clock.now() - this.oooSince >= 150) stats.tcpSlowHoleRepairs++;
        for (const d of this.ooo.take(this.nxt)) {
          c.sock.deliver(d);
          this.nxt += d.length;
        }
        this.ackNow = true;
      }
      this.unackedSegs++;
      if (c.host.acksHeld && this.unackedSegs < MAX_HELD_ACK_SEGMENTS) c.host.holdAck?.(c);
      else if (this.unackedSegs >= 2) this.ackNow = true;
    } else {
      // Out of order: keep it and send an immediate duplicate ACK with SACK (RFC 5681 §4.2, RFC 2018).
      const stats = c.host.stats;
      stats.tcpOutOfOrder++;
      if (this.ooo.empty) this.oooSince = c.host.clock.now();
      if (!this.ooo.insert(off, data)) stats.tcpOooDropped++;
      if (this.ooo.bytes > stats.tcpOooMaxBytes) stats.tcpOooMaxBytes = this.ooo.bytes;
      this.ackNow = true;
    }
  }

  /** The 16-bit window field; keeps the advertised right edge from moving left (RFC 9293 §3.8.6.2.2). */
  advertiseWindow(): number {
    const c = this.conn;
    const avail = c.sock.readCancelled || c.sock.readClosed ? c.host.cfg.recvBuffer : c.sock.freeRecvSpace();
    let edge = this.nxt + avail;
    // While a hole is open the right edge stays put: a SACK sender takes an ACK as a duplicate only
    // with an unchanged window (RFC 5681 §2 (e); gVisor snd.go isDupAck resets its count otherwise),
    // so a window that moved as the reader drained would turn a fast retransmit into a timeout. The
    // sender has the hole outstanding, so its retransmission timer runs and nothing waits on this.
    if (!this.ooo.empty && this.advEdge > this.nxt) edge = this.advEdge;
    const threshold = Math.min(c.host.cfg.recvBuffer / 2, c.mss);
    if (edge < this.advEdge || (edge - this.advEdge < threshold && this.advEdge - this.nxt >= threshold))
      edge = Math.max(edge, this.advEdge);
    const field = Math.min(65535, Math.floor((edge - this.nxt) / 2 ** this.wscale));
    this.advEdge = Math.max(this.advEdge, this.nxt + field * 2 ** this.wscale);
    return field;
  }

  /** The reader took data from its queue: maybe announce the larger window. */
  onReaderPulled(): void {
    const c = this.conn;
    // Receiver-side SWS avoidance (RFC 9293 §3.8.6.2.2): announce the opened window only once it grew
    // by min(half the buffer, one MSS); a window that was closed is announced at once.
    if (c.state === 'CLOSED' || c.state === 'SYN_SENT' || c.state === 'SYN_RECEIVED') return;
    // During a hole a window update is an ACK without new SACK information, which resets a SACK
    // sender's duplicate count (gVisor snd.go isDupAck); the ACK that closes the hole announces it.
    if (!this.ooo.empty) return;
    const before = this.advEdge - this.nxt;
    // What the 16-bit field can carry at our scale is the most we could announce.
    const avail = Math.min(c.sock.freeRecvSpace(), 65535 * 2 ** this.wscale);
    // Like Linux (tcp_cleanup_rbuf), only worth a segment if the window at least doubles.
    const threshold = Math.min(c.host.cfg.recvBuffer / 2, c.mss);
    if (avail - before >= threshold && avail >= 2 * before && this.finOff < 0) {
      c.host.stats.tcpWindowUpdates++;
      this.sendAck();
    }
  }

  // ------------------------------------------------------------------ acknowledgements

  sendAck(): void {
    // SND.MAX, not SND.NXT: after an RTO rewinds SND.NXT, an ACK numbered below what the peer already
    // holds would be unacceptable to it and draw an ACK back (an ACK storm).
    this.conn.snd.emit(ACK, this.conn.snd.max, 0);
  }

  /**
   * The ACK owed for an unacceptable segment (§3.10.7.4). For zero-length segments it is rate-limited
   * (like Linux's tcp_oow_rate_limited), so two stacks that disagree can never ping-pong ACKs.
   */
  sendOowAck(segLen: number, now: number): void {
    if (segLen === 0) {
      if (now - this.lastOowAckAt < 200) {
        this.conn.host.stats.tcpOowAcksSuppressed++;
        return;
      }
      this.lastOowAckAt = now;
    }
    this.sendAck();
  }

  /** After a segment: ACK now if owed, else start the delayed-ACK timer. */
  flushAck(): void {
    if (this.ackNow) {
      this.sendAck();
      return;
    }
    const c = this.conn;
    if (this.unackedSegs > 0 && c.timers.delAck === 0) c.timers.delAck = c.host.clock.now() + c.host.cfg.delayedAckMs;
  }

  /** An ACK went out: nothing is owed any more. */
  onAckSent(): void {
    this.ackNow = false;
    this.unackedSegs = 0;
    this.conn.timers.delAck = 0;
  }
}
