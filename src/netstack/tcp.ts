// One TCP connection: the RFC 9293 state machine (§3.3.2 states, §3.10 event processing) with
// window scaling and timestamps (RFC 7323), SACK (RFC 2018), RTO (RFC 6298, rtt.ts), SACK-based loss
// recovery (RFC 6675), CUBIC congestion control (RFC 9438, cubic.ts), delayed ACKs (RFC 9293
// §3.8.6.3 / RFC 5681 §4.2), zero-window probing (§3.8.6.1), keepalive (RFC 1122 §4.2.3.6),
// RST/SYN/ACK hardening (RFC 5961) and ISNs per RFC 6528 (the stack supplies them).
//
// Why RFC 6675 rather than NewReno (RFC 6582) for recovery: every peer we meet (Linux, gVisor in
// tailscaled) negotiates SACK, and with SACK several losses in one window are repaired in about one
// RTT instead of one per RTT. Without SACK the same code degrades to NewReno behaviour (the first
// unacknowledged segment is resent on entry and on each partial ACK).
//
// Internally every position is a stream offset (a plain number: the SYN is offset 0, the first data
// byte 1, the FIN after the last data byte), so no comparison ever deals with 32-bit wrap-around;
// sequence numbers are converted only when a segment is encoded or decoded.
import { ByteQueue } from './buffers.js';
import { Cubic } from './cubic.js';
import { NetStackError } from './errors.js';
import { encodeIpHeader, ipHeaderLength, PROTO_TCP } from './ip.js';
import { formatIp } from './addr.js';
import { RttEstimator } from './rtt.js';
import { TcpReceiver } from './tcp-recv.js';
import { TcpRecovery } from './tcp-recovery.js';
import { TcpSocket } from './tcp-socket.js';
import { TcpTimers } from './tcp-timers.js';
import { ACK, encodeTcpHeader, FIN, optionsLength, PSH, RST, SYN, TCP_HEADER_LEN, type TcpOptions, type TcpSegment } from './tcp-segment.js';
import { MAX_HELD_ACK_SEGMENTS, seqDiff, u32, type TcpConnection, type TcpHost, type TcpState } from './tcp-types.js';

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

  // ---- send side (offsets; SYN = 0)
  private readonly iss: number;
  sndUna = 0;
  sndNxt = 0;
  sndMax = 0;
  sndWnd = 0;
  private maxSndWnd = 0;
  private sndWl1 = -1;
  private sndWl2 = -1;
  private sndWscale = 0;
  readonly sendBuf = new ByteQueue();
  private bufBase = 1; // offset of sendBuf's first byte
  finQueued = false; // FIN follows the last queued byte

  /** The receive side: acceptability, reassembly, advertised window, when to ACK. */
  readonly rcv: TcpReceiver;

  // ---- options
  private peerMss = 536;
  mss = 536; // effective send MSS (payload bytes per segment)
  tsOk = false;
  private tsRecent = 0;
  /** When tsRecent was last set: PAWS trusts it for 24 days only (RFC 7323 §5.5). */
  private tsRecentAt = 0;
  private readonly tsOffset: number;
  sackOk = false;
  private wsOk = false;

  // ---- timing and congestion
  readonly rtt: RttEstimator;
  readonly cc: Cubic;
  timedSeg = -1; // Karn: offset whose ACK gives an RTT sample (only when no timestamps)
  private timedAt = 0;
  retries = 0;
  private persistProbes = 0;
  private keepAliveProbes = 0;
  /** Every deadline of this connection, served by one platform timer. */
  readonly timers = new TcpTimers();
  private lastRecvAt: number;
  private lastSendAt: number;

  private cwndLimited = false;
  /** Loss recovery: SACK scoreboard, RFC 6675 recovery, TLP, RTO, Eifel. */
  readonly recovery: TcpRecovery;

  softError?: string;
  /** The web streams and promises the application sees. */
  readonly sock: TcpSocket;

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
    this.iss = u32(iss);
    this.rcv = new TcpReceiver(this);
    this.recovery = new TcpRecovery(this);
    this.tsOffset = tsOffset;
    this.state = active ? 'SYN_SENT' : 'SYN_RECEIVED';
    const cfg = host.cfg;
    this.rtt = new RttEstimator();
    this.ourMss = cfg.mtu - ipHeaderLength(localIp.length === 4 ? 4 : 6) - TCP_HEADER_LEN;
    this.cc = new Cubic(Math.min(536, this.ourMss));
    this.lastRecvAt = this.lastSendAt = host.clock.now();
    this.sock = new TcpSocket(this);
    this.readable = this.sock.readable;
    this.writable = this.sock.writable;
    this.closed = this.sock.closed;
    this.opened = this.sock.opened;
  }

  private readonly ourMss: number;

  get remoteInfo(): string {
    return `${this.remoteIp.length === 16 ? `[${this.remoteAddress}]` : this.remoteAddress}:${this.remotePort}`;
  }

  // ------------------------------------------------------------------ opening

  /** Active open: send SYN (RFC 9293 §3.10.1). */
  start(): void {
    this.sndNxt = 0;
    this.sendSyn();
  }

  /** Passive open from a SYN seen by a listener (RFC 9293 §3.10.7.2 LISTEN, third check). */
  acceptSyn(seg: TcpSegment): void {
    this.rcv.irs = seg.seq;
    this.rcv.nxt = 1;
    this.negotiate(seg);
    this.sndWnd = seg.window; // never scaled in a SYN (RFC 7323 §2.2)
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = 0;
    this.sndWl2 = 0;
    if (seg.timestamps) this.setTsRecent(seg.timestamps[0]);
    this.sendSyn();
  }

  private negotiate(seg: TcpSegment): void {
    const cfg = this.host.cfg;
    const v6 = this.localIp.length === 16;
    // RFC 9293 §3.7.1: without an MSS option assume 536 (IPv4) / 1220 (IPv6).
    this.peerMss = seg.mss ?? (v6 ? 1220 : 536);
    this.tsOk = cfg.timestamps && seg.timestamps !== undefined;
    this.sackOk = cfg.sack && seg.sackPermitted === true;
    this.wsOk = seg.windowScale !== undefined && cfg.windowScale > 0;
    this.sndWscale = this.wsOk ? seg.windowScale! : 0;
    this.rcv.wscale = this.wsOk ? cfg.windowScale : 0;
    this.mss = Math.max(64, Math.min(this.peerMss, this.ourMss) - (this.tsOk ? 12 : 0));
    this.cc.mss = this.mss;
    this.cc.cwnd = Math.min(10 * this.mss, Math.max(2 * this.mss, 14600));
  }

  sendSyn(): void {
    const cfg = this.host.cfg;
    const o: TcpOptions = { mss: this.ourMss };
    const active = this.state === 'SYN_SENT';
    if (active) {
      if (cfg.windowScale > 0) o.windowScale = cfg.windowScale;
      if (cfg.sack) o.sackPermitted = true;
      if (cfg.timestamps) o.timestamps = [this.tsNow(), 0];
    } else {
      if (this.wsOk) o.windowScale = this.rcv.wscale;
      if (this.sackOk) o.sackPermitted = true;
      if (this.tsOk) o.timestamps = [this.tsNow(), this.tsRecent];
    }
    // The window in a SYN is unscaled (RFC 7323 §2.2).
    const wnd = Math.min(65535, this.host.cfg.recvBuffer);
    this.rcv.advEdge = this.rcv.nxt + wnd;
    this.emit(active ? SYN : SYN | ACK, 0, 0, o, wnd);
    this.sndMax = Math.max(this.sndMax, 1);
    this.sndNxt = 1;
    if (this.retries === 0 && !this.tsOk) {
      this.timedSeg = 0;
      this.timedAt = this.host.clock.now();
    }
    this.timers.rto = this.host.clock.now() + this.rtt.rto;
    this.armTimer();
  }

  // ------------------------------------------------------------------ app side

  canSend(): boolean {
    return this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT';
  }

  /** Half-close: FIN after the queued data (writable.close(), or part of close()). */
  shutdownWrite(): Promise<void> {
    if (this.state === 'CLOSED') return this.sock.closedForWrite();
    if (this.finQueued || this.sock.finRequested) return this.sock.finAcked();
    if (this.state === 'SYN_SENT') {
      this.terminate(undefined);
      return Promise.resolve();
    }
    if (this.sock.pendingWrite) this.sock.finRequested = true;
    else this.queueFin();
    return this.sock.finAcked();
  }

  queueFin(): void {
    if (this.finQueued) return;
    this.sock.finRequested = false;
    this.finQueued = true;
    if (this.state === 'ESTABLISHED' || this.state === 'SYN_RECEIVED') this.setState('FIN_WAIT_1');
    else if (this.state === 'CLOSE_WAIT') this.setState('LAST_ACK');
    this.transmit();
  }

  finIsAcked(): boolean {
    return this.finQueued && this.sndUna > this.dataEnd;
  }

  async close(): Promise<void> {
    this.sock.cancelRead();
    return this.shutdownWrite();
  }

  abort(reason?: unknown): void {
    if (this.isClosed) return;
    if (this.state !== 'SYN_SENT' && this.state !== 'TIME_WAIT') {
      // RFC 9293 §3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST>.
      this.emit(RST | ACK, this.sndMax, 0);
      this.host.stats.tcpRstSent++;
    }
    const msg = reason instanceof Error ? reason.message : reason === undefined ? 'aborted by the application' : String(reason);
    this.terminate(new NetStackError('ECONNABORTED', `tcp ${this.remoteInfo}: ${msg}`));
  }

  // ------------------------------------------------------------------ segment arrival

  /** RFC 9293 §3.10.7.3/§3.10.7.4: a segment for this connection. Never throws. */
  onSegment(seg: TcpSegment): void {
    const now = this.host.clock.now();
    this.lastRecvAt = now;
    this.keepAliveProbes = 0;
    if (this.state === 'SYN_SENT') return this.onSegmentSynSent(seg);
    if (this.isClosed) return;

    const segOff = this.rcv.nxt + seqDiff(seg.seq, this.rcv.seq(this.rcv.nxt));
    let len = seg.payload.length;
    const segLen = len + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0);

    // PAWS (RFC 7323 §5.3 R1): a segment whose timestamp is older than the newest in-order one is an
    // old duplicate — from before a sequence-number wrap (4 GiB at tunnel speeds comes round within a
    // segment lifetime) or a stale retransmission — and is dropped with an ACK, as unacceptable.
    // Unless TS.Recent itself is stale: after 24 days idle the peer's clock may have wrapped (§5.5).
    if (this.tsOk && seg.timestamps && !(seg.flags & RST) && seqDiff(seg.timestamps[0], this.tsRecent) < 0) {
      if (now - this.tsRecentAt > PAWS_IDLE_MS) {
        this.setTsRecent(seg.timestamps[0]);
      } else {
        this.host.stats.tcpPawsRejected++;
        if (segLen > 0) this.host.stats.tcpDupSegmentsReceived++;
        this.rcv.sendOowAck(segLen, now);
        this.armTimer();
        return;
      }
    }

    // First: sequence acceptability (§3.10.7.4 table).
    if (!this.rcv.acceptable(segOff, segLen)) {
      if (this.state === 'SYN_RECEIVED' && seg.flags & SYN && !(seg.flags & ACK) && u32(seg.seq) === this.rcv.irs) {
        // The peer retransmitted its SYN: our SYN-ACK was lost.
        this.host.stats.tcpSynAckRetransmits++;
        this.sendSyn();
        return;
      }
      this.host.stats.tcpOutOfWindow++;
      if (segLen > 0 && segOff < this.rcv.nxt) this.host.stats.tcpDupSegmentsReceived++;
      if (!(seg.flags & RST)) this.rcv.sendOowAck(segLen, now); // §3.10.7.4: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
      if (this.state === 'TIME_WAIT' && seg.flags & FIN) this.timers.timeWait = now + this.host.cfg.timeWaitMs;
      this.armTimer();
      return;
    }

    // Second: RST (RFC 5961 §3.2: exact match resets, in-window gets a challenge ACK).
    if (seg.flags & RST) {
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
      this.terminate(this.state === 'CLOSING' || this.state === 'LAST_ACK' || this.state === 'TIME_WAIT' ? undefined : err);
      return;
    }

    // Fourth: SYN in a synchronized state (RFC 5961 §4: challenge ACK, drop).
    if (seg.flags & SYN) {
      this.host.stats.tcpChallengeAcks++;
      this.rcv.sendOowAck(0, now); // rate-limited (RFC 5961 §7)
      return;
    }

    // Fifth: ACK.
    if (!(seg.flags & ACK)) {
      this.host.stats.tcpNoAck++;
      return;
    }
    // Timestamps: remember the peer's TSval for in-order segments (RFC 7323 §4.3).
    if (this.tsOk && seg.timestamps && segOff <= this.rcv.nxt && seqDiff(seg.timestamps[0], this.tsRecent) >= 0) this.setTsRecent(seg.timestamps[0]);

    const ackOff = this.sndUna + seqDiff(seg.ack, this.sndSeq(this.sndUna));
    if (this.state === 'SYN_RECEIVED') {
      if (ackOff <= this.sndUna || ackOff > this.sndMax) {
        this.emitRstFor(seg.ack);
        return;
      }
      this.sndWl1 = segOff;
      this.sndWl2 = ackOff;
      this.sndWnd = seg.window << this.sndWscale;
      this.maxSndWnd = Math.max(this.maxSndWnd, this.sndWnd);
      this.setState('ESTABLISHED');
      this.onAckAdvance(ackOff, seg, now);
      if (this.listenerPort >= 0) this.host.established(this);
      else this.sock.resolveOpened(this); // simultaneous open
    } else {
      if (ackOff > this.sndMax) {
        // Acks something not yet sent (§3.10.7.4 fifth): ACK and drop.
        this.host.stats.tcpAckTooNew++;
        this.rcv.sendAck();
        return;
      }
      if (ackOff < this.sndUna - Math.max(this.maxSndWnd, 65535)) {
        // RFC 5961 §5.2: an ACK too far in the past; challenge and drop.
        this.host.stats.tcpAckTooOld++;
        this.rcv.sendAck();
        return;
      }
      this.processAck(ackOff, segOff, seg, len, now);
      if (this.isClosed) return;
    }

    // Sixth/seventh: data.
    let off = segOff;
    let data = seg.payload;
    if (len > 0 && (this.state === 'ESTABLISHED' || this.state === 'FIN_WAIT_1' || this.state === 'FIN_WAIT_2')) {
      if (off < this.rcv.nxt) {
        data = data.subarray(this.rcv.nxt - off);
        off = this.rcv.nxt;
      }
      // Trim what lies beyond the advertised window (the FIN then is beyond as well).
      const maxEnd = Math.max(this.rcv.advEdge, this.rcv.nxt);
      let finInWindow = (seg.flags & FIN) !== 0;
      if (off + data.length > maxEnd) {
        data = data.subarray(0, Math.max(0, maxEnd - off));
        finInWindow = false;
        this.rcv.ackNow = true;
      }
      len = data.length;
      if (len > 0) this.rcv.receiveData(off, data);
      if (finInWindow) this.rcv.finOff = off + len;
    } else if (seg.flags & FIN && segOff + len >= this.rcv.nxt) {
      this.rcv.finOff = segOff + len;
    }

    // Eighth: FIN (possibly one that arrived earlier, out of order, and is now reached).
    if (this.rcv.finOff >= 0 && this.rcv.finOff === this.rcv.nxt && !this.sock.readClosed) this.receiveFin(now);
    else if (seg.flags & FIN && this.sock.readClosed) {
      // A retransmitted FIN (our ACK was lost); in TIME_WAIT it restarts the 2MSL timer (§3.10.7.4).
      this.rcv.ackNow = true;
      if (this.state === 'TIME_WAIT') this.timers.timeWait = now + this.host.cfg.timeWaitMs;
    }

    this.transmit();
    this.rcv.flushAck();
    this.armTimer();
  }

  private onSegmentSynSent(seg: TcpSegment): void {
    // RFC 9293 §3.10.7.3.
    let ackOk = false;
    if (seg.flags & ACK) {
      const ackOff = seqDiff(seg.ack, this.iss);
      if (ackOff <= 0 || ackOff > this.sndMax) {
        if (!(seg.flags & RST)) this.emitRstFor(seg.ack);
        this.host.stats.tcpBadSynAck++;
        return;
      }
      ackOk = true;
    }
    if (seg.flags & RST) {
      if (!ackOk) return;
      this.host.stats.tcpRstReceived++;
      this.terminate(new NetStackError('ECONNREFUSED', `connect ${this.remoteInfo}: connection refused`));
      return;
    }
    if (!(seg.flags & SYN)) return;
    this.rcv.irs = seg.seq;
    this.rcv.nxt = 1;
    this.negotiate(seg);
    if (this.tsOk && seg.timestamps) this.setTsRecent(seg.timestamps[0]);
    if (!ackOk) {
      // Simultaneous open (§3.10.7.3 fourth): SYN_RECEIVED and SYN-ACK.
      this.state = 'SYN_RECEIVED';
      this.sndWnd = seg.window;
      this.sendSyn();
      return;
    }
    const now = this.host.clock.now();
    this.sndWnd = seg.window << 0; // the SYN-ACK's window is unscaled
    this.maxSndWnd = this.sndWnd;
    this.sndWl1 = 0;
    this.sndWl2 = 1;
    this.sampleRtt(1, seg, now);
    this.sndUna = 1;
    this.bufBase = 1;
    this.retries = 0;
    this.timers.rto = 0;
    this.setState('ESTABLISHED');
    this.rcv.sendAck();
    this.sock.resolveOpened(this);
    this.transmit();
    this.armTimer();
  }

  /** ACK processing in synchronized states (§3.10.7.4 fifth check, RFC 6675 §5 recovery). */
  private processAck(ackOff: number, segOff: number, seg: TcpSegment, len: number, now: number): void {
    const wnd = seg.window << this.sndWscale;
    const outstanding = this.sndMax > this.sndUna;
    const newSack = this.recovery.takeSack(seg, ackOff);
    const windowChanged = wnd !== this.sndWnd;
    // Window update rule (§3.10.7.4): only from a newer segment, or a newer ACK of the same segment.
    if (this.sndWl1 < segOff || (this.sndWl1 === segOff && this.sndWl2 <= ackOff)) {
      this.sndWnd = wnd;
      this.maxSndWnd = Math.max(this.maxSndWnd, wnd);
      this.sndWl1 = segOff;
      this.sndWl2 = ackOff;
      if (wnd > 0) {
        this.timers.persist = 0;
        this.persistProbes = 0;
      }
    }
    if (ackOff > this.sndUna) this.onAckAdvance(ackOff, seg, now);
    else {
      // Duplicate ACK: with SACK, RFC 6675 §2 counts only ACKs that bring new SACK information (which
      // also covers ACKs riding on the peer's data, and ignores the ACKs a duplicated segment draws);
      // without SACK, RFC 5681 §2's definition (no data, same window).
      const isDup =
        ackOff === this.sndUna && outstanding && (this.sackOk ? newSack : len === 0 && !(seg.flags & FIN) && !windowChanged);
      if (isDup) {
        this.host.stats.tcpDupAcks++;
        this.recovery.dupAcks++;
      }
    }
    this.recovery.afterAck();
  }

  private onAckAdvance(ackOff: number, seg: TcpSegment, now: number): void {
    const acked = ackOff - this.sndUna;
    this.recovery.detectSpuriousRto(seg);
    this.sampleRtt(ackOff, seg, now);
    // Free acknowledged bytes (the SYN and FIN occupy no buffer space).
    const dataAcked = Math.min(ackOff, this.dataEnd) - this.bufBase;
    if (dataAcked > 0) {
      this.sendBuf.drop(dataAcked);
      this.bufBase += dataAcked;
    }
    this.sndUna = ackOff;
    if (this.sndNxt < ackOff) this.sndNxt = ackOff;
    this.recovery.sb.ack(ackOff);
    this.retries = 0;
    this.recovery.dupAcks = 0;
    this.rtt.resetBackoff();
    if (this.recovery.inRecovery) this.recovery.onCumulativeAck(ackOff);
    else if (this.cwndLimited) this.cc.onAck(acked, now, this.rtt.srtt);
    // RFC 6298 §5.2/5.3: stop the timer when all is acked, else restart it.
    if (this.sndUna >= this.sndMax) this.timers.rto = 0;
    else this.timers.rto = now + this.rtt.rto;
    this.sock.refillFromPending();
    this.recovery.tlpOut = false;
    this.recovery.schedulePto(now);
    if (this.finQueued && this.sndUna > this.dataEnd) this.onFinAcked(now);
  }

  private onFinAcked(now: number): void {
    for (const w of this.sock.finAckedWaiters.splice(0)) w.resolve();
    if (this.state === 'FIN_WAIT_1') {
      this.setState('FIN_WAIT_2');
      if (this.sock.readCancelled) this.timers.finWait2 = now + this.host.cfg.finWait2Ms;
    } else if (this.state === 'CLOSING') this.enterTimeWait(now);
    else if (this.state === 'LAST_ACK') this.terminate(undefined);
  }

  private sampleRtt(ackOff: number, seg: TcpSegment, now: number): void {
    if (this.tsOk && seg.timestamps && seg.timestamps[1] !== 0) {
      // RFC 7323 §4.1: the echoed TSval gives an unambiguous sample, retransmission or not.
      const r = u32(u32(now + this.tsOffset) - seg.timestamps[1]);
      if (r < 600_000) this.rtt.sample(r);
      return;
    }
    if (this.timedSeg >= 0 && ackOff > this.timedSeg) {
      this.rtt.sample(now - this.timedAt);
      this.timedSeg = -1;
    }
  }


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
        if (this.finIsAcked()) this.enterTimeWait(now);
        else this.setState('CLOSING');
        break;
      case 'FIN_WAIT_2':
        this.enterTimeWait(now);
        break;
      default:
        break;
    }
  }

  private enterTimeWait(now: number): void {
    this.setState('TIME_WAIT');
    this.timers.rto = 0;
    this.timers.tlp = 0;
    this.timers.persist = 0;
    this.timers.keepAlive = 0;
    this.timers.finWait2 = 0;
    this.timers.timeWait = now + this.host.cfg.timeWaitMs;
    this.sock.resolveClosed();
    this.sock.finished = true;
    this.armTimer();
  }

  // ------------------------------------------------------------------ transmission

  private get dataEnd(): number {
    return this.bufBase + this.sendBuf.length;
  }

  /** Offset after everything queued, FIN included. */
  get finEnd(): number {
    return this.dataEnd + (this.finQueued ? 1 : 0);
  }

  /** A sequence number the peer sent us (an ICMP quote, say) as one of our offsets near SND.UNA. */
  offsetOf(seq: number): number {
    return this.sndUna + seqDiff(seq, this.sndSeq(this.sndUna));
  }

  /** Sends what the windows allow (RFC 6675 §5 NextSeg during recovery, else new data). */
  transmit(): void {
    const st = this.state;
    if (st === 'SYN_SENT' || st === 'SYN_RECEIVED' || st === 'CLOSED' || st === 'TIME_WAIT') return;
    const finEnd = this.dataEnd + (this.finQueued ? 1 : 0);
    this.cwndLimited = false;
    const maxBefore = this.sndMax;
    for (let guard = 0; guard < 10_000; guard++) {
      const wndEdge = this.sndUna + this.sndWnd;
      if (this.recovery.inRecovery) {
        const pipe = this.recovery.pipe();
        if (this.cc.cwnd - pipe < this.mss) {
          this.cwndLimited = true;
          break;
        }
        // Rule 1: the first lost, not yet retransmitted, unSACKed segment.
        if (this.recovery.sendNextLost(finEnd)) continue;
        // Rule 2: new data, if the receive window allows.
        if (this.sndNxt < finEnd && this.sndNxt < Math.max(wndEdge, this.sndUna + 1)) {
          if (!this.sendNew(finEnd, wndEdge)) break;
          continue;
        }
        break;
      }
      // Normal transmission: after an RTO sndNxt < sndMax and we go back through the data (go-back-N,
      // skipping SACKed ranges, which are cleared on RTO per RFC 2018 §8 anyway).
      if (this.sndNxt >= finEnd) break;
      const flight = this.sndNxt - this.sndUna - this.recovery.sb.sackedIn(this.sndUna, this.sndNxt);
      const cwndRoom = this.cc.cwnd - flight;
      if (cwndRoom <= 0) {
        this.cwndLimited = true;
        break;
      }
      const se = this.recovery.sb.sackedEnd(this.sndNxt);
      if (se >= 0 && this.sndNxt < this.sndMax) {
        this.sndNxt = Math.min(se, this.sndMax);
        continue;
      }
      if (!this.sendNew(finEnd, Math.min(wndEdge, this.sndNxt + cwndRoom), cwndRoom)) break;
    }
    if (this.sndMax > maxBefore) this.recovery.schedulePto(this.host.clock.now()); // RFC 8985 §7.2: (re)arm on new data
    if (this.sndWnd === 0 && this.sndNxt < finEnd && this.sndMax <= this.sndUna && this.timers.persist === 0) {
      // Zero window and nothing in flight: the persist timer probes it (RFC 9293 §3.8.6.1).
      this.timers.persist = this.host.clock.now() + this.rtt.rto;
    }
    this.armTimer();
  }

  /** Sends one segment from sndNxt. Returns false if nothing could be sent. */
  sendNew(finEnd: number, edge: number, cwndRoom = Infinity): boolean {
    const s = this.sndNxt;
    let limit = finEnd;
    if (s < this.sndMax) limit = Math.min(limit, this.recovery.sb.nextSackedStart(s), this.sndMax); // retransmission span
    const dataLeft = Math.max(0, Math.min(limit, this.dataEnd) - s);
    const usable = edge - s;
    let n = Math.min(this.segSize(), dataLeft);
    if (usable < n) {
      // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): send a partial segment only if it is at least
      // half the largest window the peer offered, or when nothing is in flight.
      const room = Math.max(0, usable);
      if (room >= this.maxSndWnd / 2 || (this.sndMax <= this.sndUna && room > 0)) n = room;
      else {
        if (cwndRoom < this.mss) this.cwndLimited = true;
        return false;
      }
    }
    const withFin = this.finQueued && s + n === this.dataEnd && limit === finEnd;
    if (n === 0 && !withFin) return false;
    if (this.host.cfg.nagle && n < this.segSize() && !withFin && s >= this.sndMax && this.sndMax > this.sndUna) return false; // Nagle
    this.sendRange(s, n + (withFin ? 1 : 0), s < this.sndMax);
    return true;
  }

  /**
   * Payload bytes a data segment can carry right now: the MSS less the SACK blocks we would attach
   * (options share the MTU). Sizing segments with it keeps a retransmitted hole in one segment.
   */
  segSize(): number {
    if (!this.sackOk || this.rcv.ooo.empty) return this.mss;
    const blocks = Math.min(this.rcv.ooo.rangeCount(), this.tsOk ? 3 : 4);
    const ipLen = this.localIp.length === 4 ? 20 : 40;
    return Math.max(1, Math.min(this.mss, this.host.cfg.mtu - ipLen - TCP_HEADER_LEN - (this.tsOk ? 12 : 0) - (4 + 8 * blocks)));
  }

  /** Emits the segment covering offsets [s, s+n) (data and possibly the FIN). */
  /** Returns the offset after the last byte actually sent. */
  sendRange(s: number, n: number, isRetransmit: boolean): number {
    const dataLen = Math.max(0, Math.min(s + n, this.dataEnd) - s);
    const fin = this.finQueued && s + n > this.dataEnd;
    let flags = ACK;
    if (fin) flags |= FIN;
    if (dataLen > 0 && s + dataLen === this.dataEnd) flags |= PSH;
    const sent = this.emit(flags, s, dataLen);
    // SACK blocks may have shortened the segment (options share the MTU): account for what went out.
    const end = s + sent + (fin && sent === dataLen ? 1 : 0);
    const now = this.host.clock.now();
    if (isRetransmit) {
      this.host.stats.tcpRetransmits++;
      if (this.timedSeg >= s && this.timedSeg < end) this.timedSeg = -1; // Karn
    } else if (this.timedSeg < 0 && !this.tsOk) {
      this.timedSeg = s;
      this.timedAt = now;
    }
    if (this.sndNxt < end) this.sndNxt = end;
    if (this.sndMax < end) {
      this.sndMax = end;
      this.host.stats.tcpTxBytes += dataLen;
    }
    if (this.timers.rto === 0) this.timers.rto = now + this.rtt.rto;
    this.lastSendAt = now;
    return end;
  }

  /** NetStack.releaseAcks: the batch of input ended; send the ACK this connection held back. */
  releaseHeldAck(): void {
    if (this.rcv.unackedSegs > 0 && this.state !== 'CLOSED') {
      this.rcv.sendAck();
      this.armTimer();
    }
  }

  /** Builds and sends one segment: IP header + TCP header + options + data. */
  emit(flags: number, seqOff: number, dataLen: number, synOpts?: TcpOptions, synWnd?: number): number {
    const v4 = this.localIp.length === 4;
    const ipLen = v4 ? 20 : 40;
    let o: TcpOptions;
    if (synOpts) o = synOpts;
    else {
      o = {};
      if (this.tsOk) o.timestamps = [this.tsNow(), this.tsRecent];
      if (this.sackOk && !this.rcv.ooo.empty && !(flags & RST)) {
        const blocks = this.rcv.ooo.sackBlocks(this.tsOk ? 3 : 4);
        o.sack = blocks.map((b) => [this.rcv.seq(b.start), this.rcv.seq(b.end)] as [number, number]);
        this.host.stats.tcpSackBlocksSent += blocks.length;
        if (dataLen === 0) this.host.stats.tcpSackAcksSent++;
      }
    }
    const optLen = optionsLength(o);
    const maxData = this.host.cfg.mtu - ipLen - TCP_HEADER_LEN - optLen;
    if (dataLen > maxData) {
      // Never exceed the MTU (options grew); the FIN then waits for the next segment.
      dataLen = maxData;
      flags &= ~FIN;
    }
    const tcpLen = TCP_HEADER_LEN + optLen + dataLen;
    const pkt = new Uint8Array(ipLen + tcpLen);
    if (dataLen > 0) this.sendBuf.copyOut(pkt, ipLen + TCP_HEADER_LEN + optLen, seqOff - this.bufBase, dataLen);
    let wnd: number;
    if (synWnd !== undefined) wnd = synWnd;
    else wnd = this.rcv.advertiseWindow();
    const ackFlag = (flags & ACK) !== 0;
    encodeTcpHeader(
      pkt,
      ipLen,
      {
        srcPort: this.localPort,
        dstPort: this.remotePort,
        seq: this.sndSeq(seqOff),
        ack: ackFlag ? this.rcv.seq(this.rcv.nxt) : 0,
        flags,
        window: wnd,
        urgent: 0,
        ...o,
        payloadLength: dataLen,
      },
      this.localIp,
      this.remoteIp,
    );
    encodeIpHeader(pkt, { src: this.localIp, dst: this.remoteIp, proto: PROTO_TCP, payloadLength: tcpLen, id: v4 ? this.host.nextIpId() : 0, dontFragment: true });
    if (ackFlag) this.rcv.onAckSent();
    const stats = this.host.stats;
    stats.tcpSegmentsSent++;
    if (dataLen === 0 && !(flags & (SYN | FIN | RST))) {
      stats.tcpPureAcksSent++;
      if (wnd === 0) stats.tcpZeroWindowsSent++;
    }
    this.host.output(pkt);
    return dataLen;
  }

  private emitRstFor(ackField: number): void {
    // <SEQ=SEG.ACK><CTL=RST> (§3.10.7.3 / §3.10.7.4).
    const v4 = this.localIp.length === 4;
    const ipLen = v4 ? 20 : 40;
    const pkt = new Uint8Array(ipLen + TCP_HEADER_LEN);
    encodeTcpHeader(pkt, ipLen, { srcPort: this.localPort, dstPort: this.remotePort, seq: ackField, ack: 0, flags: RST, window: 0, urgent: 0, payloadLength: 0 }, this.localIp, this.remoteIp);
    encodeIpHeader(pkt, { src: this.localIp, dst: this.remoteIp, proto: PROTO_TCP, payloadLength: TCP_HEADER_LEN, id: v4 ? this.host.nextIpId() : 0, dontFragment: true });
    this.host.stats.tcpRstSent++;
    this.host.output(pkt);
  }

  private sndSeq(off: number): number {
    return u32(this.iss + off);
  }

  private setTsRecent(tsVal: number): void {
    this.tsRecent = tsVal;
    this.tsRecentAt = this.host.clock.now();
  }

  tsNow(): number {
    return u32(Math.floor(this.host.clock.now()) + this.tsOffset);
  }

  // ------------------------------------------------------------------ timers

  private armTimer(): void {
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
    this.timers.handle = undefined;
    if (this.isClosed) return;
    const now = this.host.clock.now();
    try {
      if (this.timers.timeWait > 0 && now >= this.timers.timeWait) {
        this.terminate(undefined);
        return;
      }
      if (this.timers.finWait2 > 0 && now >= this.timers.finWait2 && this.state === 'FIN_WAIT_2') {
        this.terminate(undefined);
        return;
      }
      if (this.timers.rto > 0 && now >= this.timers.rto) this.recovery.onRto(now);
      if (this.isClosed) return;
      if (this.timers.tlp > 0 && now >= this.timers.tlp) this.recovery.onPto(now);
      if (this.timers.delAck > 0 && now >= this.timers.delAck) {
        this.host.stats.tcpDelayedAcks++;
        this.rcv.sendAck();
      }
      if (this.timers.persist > 0 && now >= this.timers.persist) this.onPersist(now);
      if (this.isClosed) return;
      if (this.timers.keepAlive > 0 && now >= this.timers.keepAlive) this.onKeepAlive(now);
    } finally {
      this.armTimer();
    }
  }

  private onPersist(now: number): void {
    this.timers.persist = 0;
    const finEnd = this.dataEnd + (this.finQueued ? 1 : 0);
    if (this.sndWnd > 0 || this.sndNxt >= finEnd) return;
    this.persistProbes++;
    if (this.persistProbes > this.host.cfg.maxPersistProbes && now - this.lastRecvAt > this.rtt.rto * 2) {
      this.host.stats.tcpTimeouts++;
      this.terminate(new NetStackError('ETIMEDOUT', `tcp ${this.remoteInfo}: peer stopped answering zero-window probes`));
      return;
    }
    // A window probe: an ACK with an old sequence number, which the peer must answer with an ACK
    // carrying its current window (the same form as a keepalive, RFC 1122 §4.2.3.6). It consumes no
    // sequence space, so it never interacts with retransmission.
    this.host.stats.tcpWindowProbes++;
    this.emit(ACK, this.sndUna - 1, 0);
    this.rtt.backoff();
    this.timers.persist = now + Math.min(this.rtt.rto, 60_000);
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
    this.emit(ACK, this.sndUna - 1, 0);
    this.timers.keepAlive = now + cfg.keepAliveIntervalMs;
  }

  // ------------------------------------------------------------------ errors and teardown

  /** ICMP destination unreachable quoting one of our segments (RFC 5461 / RFC 1122 §4.2.3.9). */
  onIcmpError(hard: boolean, what: string, quotedSeq: number): void {
    if (this.isClosed) return;
    // RFC 5927 §4.1: act only if the quoted sequence number is one we have sent and not yet had
    // acknowledged; blind ICMP attacks must guess it.
    const off = this.sndUna + seqDiff(quotedSeq, this.sndSeq(this.sndUna));
    if (off < this.sndUna || off >= Math.max(this.sndMax, this.sndUna + 1)) {
      this.host.stats.icmpIgnoredBadSeq++;
      return;
    }
    if (this.state === 'SYN_SENT' || this.state === 'SYN_RECEIVED' || hard) {
      const code = what.includes('port') || what.includes('prohibited') ? 'ECONNREFUSED' : 'EHOSTUNREACH';
      this.terminate(new NetStackError(code, `${this.state === 'SYN_SENT' ? 'connect' : 'tcp'} ${this.remoteInfo}: ${what}`));
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
    const e = err ?? (wasSynSent ? new NetStackError('ECONNABORTED', `connect ${this.remoteInfo}: cancelled`) : undefined);
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

  private setState(s: TcpState): void {
    this.state = s;
  }

  /** For tests and stats: a snapshot of the congestion state. */
  get debug(): { cwnd: number; ssthresh: number; srtt: number; rto: number; mss: number; sndWnd: number; inflight: number; sackOk: boolean; tsOk: boolean; wscale: [number, number] } {
    return {
      cwnd: this.cc.cwnd,
      ssthresh: this.cc.ssthresh,
      srtt: this.rtt.srtt,
      rto: this.rtt.rto,
      mss: this.mss,
      sndWnd: this.sndWnd,
      inflight: this.sndMax - this.sndUna,
      sackOk: this.sackOk,
      tsOk: this.tsOk,
      wscale: [this.sndWscale, this.rcv.wscale],
    };
  }

  /** Bytes held by this connection (send queue + out-of-order), for bounds tests. */
  get bufferedBytes(): number {
    return this.sendBuf.length + this.rcv.ooo.bytes;
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
