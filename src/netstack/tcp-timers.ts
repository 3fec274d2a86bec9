// A connection's deadlines in one typed record, served by one platform timer (as smoltcp keeps one
// timer per socket): retransmission (RFC 6298 §5), tail loss probe (RFC 8985 §7.2), delayed ACK
// (RFC 9293 §3.8.6.3, RFC 5681 §4.2), persist (RFC 9293 §3.8.6.1), keepalive (RFC 1122 §4.2.3.6),
// TIME_WAIT's 2*MSL (RFC 9293 §3.4.2), the FIN_WAIT_2 limit (Linux tcp_fin_timeout) and the pacer's
// next release (pacing.ts).
// Each deadline is an absolute Clock time; 0 means not running. What a deadline does when it fires
// is the connection's business (TcpConn.onTimer); this file only says when.
import type { Clock, TimerHandle } from '../platform/clock.js';

export class TcpTimers {
  /** Retransmission timeout (RFC 6298). */
  rto = 0;
  /** Tail loss probe timeout (RFC 8985 §7.2). */
  tlp = 0;
  /** Delayed ACK (RFC 9293 §3.8.6.3). */
  delAck = 0;
  /** Zero-window probe (RFC 9293 §3.8.6.1). */
  persist = 0;
  /** Keepalive probe (RFC 1122 §4.2.3.6). */
  keepAlive = 0;
  /** End of TIME_WAIT (RFC 9293 §3.4.2). */
  timeWait = 0;
  /** End of FIN_WAIT_2 once our side is fully closed. */
  finWait2 = 0;
  /** The pacer lets the next segment go (pacing.ts). */
  pace = 0;

  /** The platform timer and the time it was set for. */
  handle?: TimerHandle;
  handleAt = 0;

  /** The earliest running deadline, Infinity when none runs. */
  next(): number {
    let at = Infinity;
    // (No array here: this runs for every segment.)
    if (this.rto > 0 && this.rto < at) at = this.rto;
    if (this.tlp > 0 && this.tlp < at) at = this.tlp;
    if (this.delAck > 0 && this.delAck < at) at = this.delAck;
    if (this.persist > 0 && this.persist < at) at = this.persist;
    if (this.keepAlive > 0 && this.keepAlive < at) at = this.keepAlive;
    if (this.timeWait > 0 && this.timeWait < at) at = this.timeWait;
    if (this.finWait2 > 0 && this.finWait2 < at) at = this.finWait2;
    if (this.pace > 0 && this.pace < at) at = this.pace;
    return at;
  }

  /** Makes the platform timer fire by the next deadline. */
  arm(clock: Clock, owner: { onTimer(): void }): void {
    const now = clock.now();
    const at = this.next();
    // Keep an earlier timer, even one no deadline needs any more: when it fires, onTimer finds nothing
    // due and re-arms for what is left. Replace it only if a deadline is sooner. Clearing and setting
    // a timer for every segment (the delayed-ACK deadline comes and goes with every other segment)
    // was ~10% of a browser Worker's busy time in a download profile.
    if (at === Infinity || (this.handle && this.handleAt <= at)) return;
    if (this.handle) clock.clearTimeout(this.handle);
    this.handleAt = at;
    this.handle = clock.setTimeout(() => owner.onTimer(), Math.max(0, at - now));
  }

  /** The connection is gone: nothing runs any more. */
  stopAll(clock: Clock): void {
    if (this.handle) clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.rto = this.delAck = this.persist = this.keepAlive = this.timeWait = this.finWait2 = this.tlp = this.pace = 0;
  }
}
