// One TCP connection: the RFC 9293 state machine (§3.3.2 states, §3.10 event processing), option
// negotiation in the handshake (RFC 9293 §3.7.1 MSS, RFC 7323 §2-§4 window scale and timestamps,
// RFC 2018 §2 SACK-permitted), PAWS (RFC 7323 §5), RST/SYN/ACK hardening (RFC 5961), keepalive
// (RFC 1122 §4.2.3.6), ICMP errors (RFC 5927) and ISNs per RFC 6528 (the stack supplies them).
//
// The connection is split by role, as gVisor's tcpip splits it, each part a small object of plain
// fields reachable from here: `snd` (tcp-send.ts: send buffer, segmentation, window, ACK processing),
// `rcv` (tcp-recv.ts: acceptability, reassembly, advertised window, ACK policy), `recovery`
// (tcp-recovery.ts: RFC 6675 SACK recovery, TLP, RTO, Eifel), `timers` (tcp-timers.ts: every
// deadline) and `sock` (tcp-socket.ts: the web streams). RTT and CUBIC are rtt.ts and cubic.ts.
//
// Internally every position is a stream offset (a plain number: the SYN is offset 0, the first data
// byte 1, the FIN after the last data byte), so no comparison ever deals with 32-bit wrap-around;
// sequence numbers are converted only when a segment is encoded or decoded.
import { Cubic } from './cubic.js';
import { NetStackError } from './errors.js';
import { ipHeaderLength } from './ip.js';
import { formatIp } from './addr.js';
import { DEFAULT_PACING, Pacer } from './pacing.js';
import { RttEstimator } from './rtt.js';
import { ACK, FIN, RST, SYN, TCP_HEADER_LEN, type TcpSegment } from './tcp-segment.js';
import * as handshake from './tcp-handshake.js';
import { TcpReceiver } from './tcp-recv.js';
import { TcpRecovery } from './tcp-recovery.js';
import { TcpSender } from './tcp-send.js';
import { TcpSocket } from './tcp-socket.js';
import { TcpTimers } from './tcp-timers.js';
import { seqDiff, u32, type TcpConnection, type TcpHost, type TcpState } from './tcp-types.js';

export {
  DEFAULT_TCP_CONFIG,
  MAX_HELD_ACK_SEGMENTS,
  type TcpConfig,
  type TcpConnection,
  type TcpConnectionInfo,
  type TcpHost,
  type TcpState,
} from './tcp-types.js';

/** RFC 7323 §5.5: TS.Recent older than 24 days no longer vouches for anything. */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

export class TcpConn implements TcpConnection {
  state: TcpState;
  readonly key: string;
  readonly localAddress: string;
  readonly remoteAddress: string;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly closed: Promise<void>;
  /** Resolves with the connection once ESTABLISHED (active open), rejects if it fails before. */
  readonly opened: Promise<TcpConn>;
  /** Which listener spawned us (passive open), for the backlog accounting. */
  listenerPort = -1;

  readonly snd: TcpSender;
  readonly rcv: TcpReceiver;
  readonly recovery: TcpRecovery;
  readonly timers = new TcpTimers();
  readonly sock: TcpSocket;

  // ---- options agreed in the handshake
  /** The MSS we announce: MTU less the IP and TCP headers. */
  readonly ourMss: number;
  peerMss = 536;
  /** Effective send MSS (payload bytes per segment). */
  mss = 536;
  tsOk = false;
  tsRecent = 0;
  /** When tsRecent was last set: PAWS trusts it for 24 days only (RFC 7323 §5.5). */
  tsRecentAt = 0;
  readonly tsOffset: number;
  sackOk = false;
  wsOk = false;

  // ---- timing and congestion
  readonly rtt: RttEstimator;
  readonly cc: Cubic;
  /** Spreads each window over the RTT (pacing.ts). */
  readonly pacer: Pacer;
  /** Retransmissions of the segment at SND.UNA (or of the SYN) since the last ACK. */
  retries = 0;
  keepAliveProbes = 0;
  lastRecvAt: number;
  lastSendAt: number;
  /** The last soft ICMP error, to explain a later timeout (RFC 1122 §4.2.3.9). */
  softError?: string;

  constructor(
    readonly host: TcpHost,
    readonly localIp: Uint8Array,
    readonly localPort: number,
    readonly remoteIp: Uint8Array,
    readonly remotePort: number,
    iss: number,
    tsOffset: number,
    active: boolean,
  ) {
    this.key = connKey(remoteIp, remotePort, localIp, localPort);
    this.localAddress = formatIp(localIp);
    this.remoteAddress = formatIp(remoteIp);
    this.snd = new TcpSender(this, iss);
    this.rcv = new TcpReceiver(this);
    this.recovery = new TcpRecovery(this);
    this.tsOffset = tsOffset;
    this.state = active ? 'SYN_SENT' : 'SYN_RECEIVED';
    const cfg = host.cfg;
    this.rtt = new RttEstimator();
    this.ourMss = cfg.mtu - ipHeaderLength(localIp.length === 4 ? 4 : 6) - TCP_HEADER_LEN;
    this.cc = new Cubic(Math.min(536, this.ourMss));
    this.pacer = new Pacer({ ...DEFAULT_PACING, ...cfg.pacing });
    this.lastRecvAt = this.lastSendAt = host.clock.now();
    this.sock = new TcpSocket(this);
    this.readable = this.sock.readable;
    this.writable = this.sock.writable;
    this.closed = this.sock.closed;
    this.opened = this.sock.opened;
  }

  get remoteInfo(): string {
    return `${this.remoteIp.length === 16 ? `[${this.remoteAddress}]` : this.remoteAddress}:${this.remotePort}`;
  }

  // ------------------------------------------------------------------ opening

  /** Active open: send SYN (RFC 9293 §3.10.1). */
  start(): void {
    this.snd.nxt = 0;
    handshake.sendSyn(this);
  }

  /** Passive open from a SYN seen by a listener (RFC 9293 §3.10.7.2 LISTEN, third check). */
  acceptSyn(seg: TcpSegment): void {
    handshake.passiveOpen(this, seg);
  }

  setTsRecent(tsVal: number): void {
    this.tsRecent = tsVal;
    this.tsRecentAt = this.host.clock.now();
  }

  /** Our TSval (RFC 7323 §4.1): the clock in ms plus this connection's random offset. */
  tsNow(): number {
    return u32(Math.floor(this.host.clock.now()) + this.tsOffset);
  }

  // ------------------------------------------------------------------ application calls

  canSend(): boolean {
    return this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT';
  }

  /** Half-close: FIN after the queued data (writable.close(), or part of close()). */
  shutdownWrite(): Promise<void> {
    const sock = this.sock;
    if (this.state === 'CLOSED') return sock.closedForWrite();
    if (this.snd.finQueued || sock.finRequested) return sock.finAcked();
    if (this.state === 'SYN_SENT') {
      this.terminate(undefined);
      return Promise.resolve();
    }
    if (sock.pendingWrite) sock.finRequested = true;
    else this.queueFin();
    return sock.finAcked();
  }

  /** RFC 9293 §3.10.4 CLOSE: the FIN takes the next offset after the queued data. */
  queueFin(): void {
    if (this.snd.finQueued) return;
    this.sock.finRequested = false;
    this.snd.finQueued = true;
    if (this.state === 'ESTABLISHED' || this.state === 'SYN_RECEIVED') this.setState('FIN_WAIT_1');
    else if (this.state === 'CLOSE_WAIT') this.setState('LAST_ACK');
    this.snd.transmit();
  }

  async close(): Promise<void> {
    this.sock.cancelRead();
    return this.shutdownWrite();
  }

  abort(reason?: unknown): void {
    if (this.isClosed) return;
    if (this.state !== 'SYN_SENT' && this.state !== 'TIME_WAIT') {
      // RFC 9293 §3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST>.
      this.snd.emit(RST | ACK, this.snd.max, 0);
      this.host.stats.tcpRstSent++;
    }
    const msg =
      reason instanceof Error ? reason.message : reason === undefined ? 'aborted by the application' : String(reason);
    this.terminate(new NetStackError('ECONNABORTED', `tcp ${this.remoteInfo}: ${msg}`));
  }

  // ------------------------------------------------------------------ segment arrival

  /** RFC 9293 §3.10.7.3/§3.10.7.4: a segment for this connection. Never throws. */
  onSegment(seg: TcpSegment): void {
    const now = this.host.clock.now();
    this.lastRecvAt = now;
    this.keepAliveProbes = 0;
    if (this.state === 'SYN_SENT') return handshake.synSentSegment(this, seg);
    if (this.isClosed) return;

    const rcv = this.rcv;
    const segOff = rcv.nxt + seqDiff(seg.seq, rcv.seq(rcv.nxt));
    const len = seg.payload.length;
    const segLen = len + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0);

    if (this.pawsRejects(seg, segLen, now)) return;
    // First: sequence acceptability (§3.10.7.4 table).
    if (!rcv.acceptable(segOff, segLen)) return this.onUnacceptable(seg, segOff, segLen, now);
    // Second: RST (RFC 5961 §3.2: exact match resets, in-window gets a challenge ACK).
    if (seg.flags & RST) return this.onRst(segOff, now);
    // Fourth: SYN in a synchronized state (RFC 5961 §4: challenge ACK, drop).
    if (seg.flags & SYN) {
      this.host.stats.tcpChallengeAcks++;
      rcv.sendOowAck(0, now); // rate-limited (RFC 5961 §7)
      return;
    }
    // Fifth: ACK.
    if (!(seg.flags & ACK)) {
      this.host.stats.tcpNoAck++;
      return;
    }
    // Timestamps: remember the peer's TSval for in-order segments (RFC 7323 §4.3).
    if (this.tsOk && seg.timestamps && segOff <= rcv.nxt && seqDiff(seg.timestamps[0], this.tsRecent) >= 0)
      this.setTsRecent(seg.timestamps[0]);
    if (!this.onAck(seg, segOff, len, now)) return;
    // Sixth to eighth: data and FIN.
    this.onData(seg, segOff, now);

    this.snd.transmit();
    rcv.flushAck();
    this.armTimer();
  }

  /**
   * PAWS (RFC 7323 §5.3 R1): a segment whose timestamp is older than the newest in-order one is an
   * old duplicate — from before a sequence-number wrap (4 GiB at tunnel speeds comes round within a
   * segment lifetime) or a stale retransmission — and is dropped with an ACK, as unacceptable.
   * Unless TS.Recent itself is stale: after 24 days idle the peer's clock may have wrapped (§5.5).
   */
  private pawsRejects(seg: TcpSegment, segLen: number, now: number): boolean {
    if (!(this.tsOk && seg.timestamps && !(seg.flags & RST) && seqDiff(seg.timestamps[0], this.tsRecent) < 0))
      return false;
    if (now - this.tsRecentAt > PAWS_IDLE_MS) {
      this.setTsRecent(seg.timestamps[0]);
      return false;
    }
    this.host.stats.tcpPawsRejected++;
    if (segLen > 0) this.host.stats.tcpDupSegmentsReceived++;
    this.rcv.sendOowAck(segLen, now);
    this.armTimer();
    return true;
  }

  private onUnacceptable(seg: TcpSegment, segOff: number, segLen: number, now: number): void {
    if (this.state === 'SYN_RECEIVED' && seg.flags & SYN && !(seg.flags & ACK) && u32(seg.seq) === this.rcv.irs) {
      // The peer retransmitted its SYN: our SYN-ACK was lost.
      this.host.stats.tcpSynAckRetransmits++;
      handshake.sendSyn(this);
      return;
    }
    this.host.stats.tcpOutOfWindow++;
    if (segLen > 0 && segOff < this.rcv.nxt) this.host.stats.tcpDupSegmentsReceived++;
    if (!(seg.flags & RST)) this.rcv.sendOowAck(segLen, now); // §3.10.7.4: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    if (this.state === 'TIME_WAIT' && seg.flags & FIN) this.timers.timeWait = now + this.host.cfg.timeWaitMs;
    this.armTimer();
  }

  private onRst(segOff: number, now: number): void {
    if (segOff !== this.rcv.nxt) {
      this.host.stats.tcpChallengeAcks++;
      this.rcv.sendOowAck(0, now); // rate-limited (RFC 5961 §7)
      return;
    }
    this.host.stats.tcpRstReceived++;
    if (this.state === 'SYN_RECEIVED' && this.listenerPort >= 0) {
      this.terminate(undefined); // back to LISTEN: the half-open entry just goes away
      return;
    }
    const err =
      this.state === 'SYN_RECEIVED'
        ? new NetStackError('ECONNREFUSED', `tcp ${this.remoteInfo}: connection refused`)
        : new NetStackError('ECONNRESET', `tcp ${this.remoteInfo}: connection reset by peer`);
    this.terminate(
      this.state === 'CLOSING' || this.state === 'LAST_ACK' || this.state === 'TIME_WAIT' ? undefined : err,
    );
  }

  /** §3.10.7.4 fifth check. False if the segment is dropped here (or the connection ended). */
  private onAck(seg: TcpSegment, segOff: number, len: number, now: number): boolean {
    const snd = this.snd;
    const ackOff = snd.offsetOf(seg.ack);
    if (this.state === 'SYN_RECEIVED') {
      if (ackOff <= snd.una || ackOff > snd.max) {
        snd.emitRstFor(seg.ack);
        return false;
      }
      snd.wl1 = segOff;
      snd.wl2 = ackOff;
      snd.wnd = seg.window << snd.wscale;
      snd.maxWnd = Math.max(snd.maxWnd, snd.wnd);
      this.setState('ESTABLISHED');
      snd.onAckAdvance(ackOff, seg, now);
      if (this.listenerPort >= 0) this.host.established(this);
      else this.sock.resolveOpened(this); // simultaneous open
      return true;
    }
    if (ackOff > snd.max) {
      // Acks something not yet sent (§3.10.7.4 fifth): ACK and drop.
      this.host.stats.tcpAckTooNew++;
      this.rcv.sendAck();
      return false;
    }
    if (ackOff < snd.una - Math.max(snd.maxWnd, 65535)) {
      // RFC 5961 §5.2: an ACK too far in the past; challenge and drop.
      this.host.stats.tcpAckTooOld++;
      this.rcv.sendAck();
      return false;
    }
    snd.processAck(ackOff, segOff, seg, len, now);
    return !this.isClosed;
  }

  /** §3.10.7.4 sixth to eighth checks: the segment text, then the FIN. */
  private onData(seg: TcpSegment, segOff: number, now: number): void {
    const rcv = this.rcv;
    let off = segOff;
    let data = seg.payload;
    let len = data.length;
    if (len > 0 && (this.state === 'ESTABLISHED' || this.state === 'FIN_WAIT_1' || this.state === 'FIN_WAIT_2')) {
      if (off < rcv.nxt) {
        data = data.subarray(rcv.nxt - off);
        off = rcv.nxt;
      }
      // Trim what lies beyond the advertised window (the FIN then is beyond as well).
      const maxEnd = Math.max(rcv.advEdge, rcv.nxt);
      let finInWindow = (seg.flags & FIN) !== 0;
      if (off + data.length > maxEnd) {
        data = data.subarray(0, Math.max(0, maxEnd - off));
        finInWindow = false;
        rcv.ackNow = true;
      }
      len = data.length;
      if (len > 0) rcv.receiveData(off, data);
      if (finInWindow) rcv.finOff = off + len;
    } else if (seg.flags & FIN && segOff + len >= rcv.nxt) {
      rcv.finOff = segOff + len;
    }

    // Eighth: FIN (possibly one that arrived earlier, out of order, and is now reached).
    if (rcv.finOff >= 0 && rcv.finOff === rcv.nxt && !this.sock.readClosed) this.receiveFin(now);
    else if (seg.flags & FIN && this.sock.readClosed) {
      // A retransmitted FIN (our ACK was lost); in TIME_WAIT it restarts the 2MSL timer (§3.10.7.4).
      rcv.ackNow = true;
      if (this.state === 'TIME_WAIT') this.timers.timeWait = now + this.host.cfg.timeWaitMs;
    }
  }

  /** The peer's FIN reached RCV.NXT (§3.10.7.4 eighth check). */
  private receiveFin(now: number): void {
    this.sock.flushRx();
    this.rcv.nxt += 1;
    this.rcv.ackNow = true;
    this.sock.endOfStream();
    switch (this.state) {
      case 'SYN_RECEIVED':
      case 'ESTABLISHED':
        this.setState('CLOSE_WAIT');
        break;
      case 'FIN_WAIT_1':
        if (this.snd.finIsAcked()) this.enterTimeWait(now);
        else this.setState('CLOSING');
        break;
      case 'FIN_WAIT_2':
        this.enterTimeWait(now);
        break;
      default:
        break;
    }
  }

  /** Our FIN is acknowledged (FIN_WAIT_1 → FIN_WAIT_2, CLOSING → TIME_WAIT, LAST_ACK → CLOSED). */
  onFinAcked(now: number): void {
    for (const w of this.sock.finAckedWaiters.splice(0)) w.resolve();
    if (this.state === 'FIN_WAIT_1') {
      this.setState('FIN_WAIT_2');
      if (this.sock.readCancelled) this.timers.finWait2 = now + this.host.cfg.finWait2Ms;
    } else if (this.state === 'CLOSING') this.enterTimeWait(now);
    else if (this.state === 'LAST_ACK') this.terminate(undefined);
  }

  private enterTimeWait(now: number): void {
    this.setState('TIME_WAIT');
    const t = this.timers;
    t.rto = 0;
    t.tlp = 0;
    t.persist = 0;
    t.keepAlive = 0;
    t.finWait2 = 0;
    t.timeWait = now + this.host.cfg.timeWaitMs;
    this.sock.resolveClosed();
    this.sock.finished = true;
    this.armTimer();
  }

  /** NetStack.releaseAcks: the batch of input ended; send the ACK this connection held back. */
  releaseHeldAck(): void {
    if (this.rcv.unackedSegs > 0 && this.state !== 'CLOSED') {
      this.rcv.sendAck();
      this.armTimer();
    }
  }

  // ------------------------------------------------------------------ timers

  armTimer(): void {
    if (this.isClosed) return;
    const cfg = this.host.cfg;
    if (cfg.keepAliveIdleMs > 0 && (this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT')) {
      const base = Math.max(this.lastRecvAt, this.lastSendAt);
      this.timers.keepAlive = this.keepAliveProbes === 0 ? base + cfg.keepAliveIdleMs : this.timers.keepAlive;
    }
    this.timers.arm(this.host.clock, this);
  }

  /** The platform timer fired: run every deadline that is due, in this order, then re-arm. */
  onTimer(): void {
    const t = this.timers;
    t.handle = undefined;
    if (this.isClosed) return;
    const now = this.host.clock.now();
    try {
      if (t.timeWait > 0 && now >= t.timeWait) {
        this.terminate(undefined);
        return;
      }
      if (t.finWait2 > 0 && now >= t.finWait2 && this.state === 'FIN_WAIT_2') {
        this.terminate(undefined);
        return;
      }
      if (t.rto > 0 && now >= t.rto) this.recovery.onRto(now);
      if (this.isClosed) return;
      if (t.tlp > 0 && now >= t.tlp) this.recovery.onPto(now);
      if (t.delAck > 0 && now >= t.delAck) {
        this.host.stats.tcpDelayedAcks++;
        this.rcv.sendAck();
      }
      if (t.persist > 0 && now >= t.persist) this.snd.onPersist(now);
      if (t.pace > 0 && now >= t.pace) {
        t.pace = 0;
        this.snd.transmit();
      }
      if (this.isClosed) return;
      if (t.keepAlive > 0 && now >= t.keepAlive) this.onKeepAlive(now);
    } finally {
      this.armTimer();
    }
  }

  private onKeepAlive(now: number): void {
    const cfg = this.host.cfg;
    if (this.keepAliveProbes >= cfg.keepAliveCount) {
      this.host.stats.tcpTimeouts++;
      this.terminate(new NetStackError('ETIMEDOUT', `tcp ${this.remoteInfo}: keepalive timed out`));
      return;
    }
    this.keepAliveProbes++;
    this.host.stats.tcpKeepAlives++;
    this.snd.emit(ACK, this.snd.una - 1, 0);
    this.timers.keepAlive = now + cfg.keepAliveIntervalMs;
  }

  // ------------------------------------------------------------------ errors and teardown

  /** ICMP destination unreachable quoting one of our segments (RFC 5461 / RFC 1122 §4.2.3.9). */
  onIcmpError(hard: boolean, what: string, quotedSeq: number): void {
    if (this.isClosed) return;
    // RFC 5927 §4.1: act only if the quoted sequence number is one we have sent and not yet had
    // acknowledged; blind ICMP attacks must guess it.
    const off = this.snd.offsetOf(quotedSeq);
    if (off < this.snd.una || off >= Math.max(this.snd.max, this.snd.una + 1)) {
      this.host.stats.icmpIgnoredBadSeq++;
      return;
    }
    if (this.state === 'SYN_SENT' || this.state === 'SYN_RECEIVED' || hard) {
      const code = what.includes('port') || what.includes('prohibited') ? 'ECONNREFUSED' : 'EHOSTUNREACH';
      this.terminate(
        new NetStackError(code, `${this.state === 'SYN_SENT' ? 'connect' : 'tcp'} ${this.remoteInfo}: ${what}`),
      );
      return;
    }
    this.softError = what; // soft errors only explain a later timeout
  }

  /** Ends the connection: err undefined = clean. Releases all state. */
  terminate(err: NetStackError | undefined): void {
    if (this.isClosed) return;
    const wasSynSent = this.state === 'SYN_SENT';
    this.setState('CLOSED');
    this.timers.stopAll(this.host.clock);
    this.rcv.ooo.clear();
    this.recovery.sb.clear();
    const e =
      err ?? (wasSynSent ? new NetStackError('ECONNABORTED', `connect ${this.remoteInfo}: cancelled`) : undefined);
    this.sock.closeError = err;
    this.sock.settle(e);
    this.host.release(this);
  }

  /**
   * RFC 9293 §3.10.7.4 / RFC 6191: a new SYN may reopen a connection in TIME_WAIT when it cannot be
   * confused with the old incarnation: its timestamp is newer, or (without timestamps) its sequence
   * number is above the old RCV.NXT.
   */
  acceptsNewIncarnation(seg: TcpSegment): boolean {
    if (this.state !== 'TIME_WAIT') return false;
    if (this.tsOk && seg.timestamps) return seqDiff(seg.timestamps[0], this.tsRecent) > 0;
    return seqDiff(seg.seq, this.rcv.seq(this.rcv.nxt)) > 0;
  }

  /** Not narrowed by TypeScript's control flow (state changes inside called methods). */
  get isClosed(): boolean {
    return this.state === 'CLOSED';
  }

  setState(s: TcpState): void {
    this.state = s;
  }

  /** For tests and stats: a snapshot of the congestion state. */
  get debug(): {
    cwnd: number;
    ssthresh: number;
    srtt: number;
    rto: number;
    mss: number;
    sndWnd: number;
    inflight: number;
    sackOk: boolean;
    tsOk: boolean;
    wscale: [number, number];
  } {
    return {
      cwnd: this.cc.cwnd,
      ssthresh: this.cc.ssthresh,
      srtt: this.rtt.srtt,
      rto: this.rtt.rto,
      mss: this.mss,
      sndWnd: this.snd.wnd,
      inflight: this.snd.max - this.snd.una,
      sackOk: this.sackOk,
      tsOk: this.tsOk,
      wscale: [this.snd.wscale, this.rcv.wscale],
    };
  }

  /** Bytes held by this connection (send queue + out-of-order), for bounds tests. */
  get bufferedBytes(): number {
    return this.snd.buf.length + this.rcv.ooo.bytes;
  }
}

export function connKey(remoteIp: Uint8Array, remotePort: number, localIp: Uint8Array, localPort: number): string {
  let s = '';
  for (let i = 0; i < remoteIp.length; i++) s += String.fromCharCode(remoteIp[i]);
  s += String.fromCharCode(remotePort >> 8, remotePort & 0xff);
  for (let i = 0; i < localIp.length; i++) s += String.fromCharCode(localIp[i]);
  s += String.fromCharCode(localPort >> 8, localPort & 0xff);
  return s;
}
