// The send side of one connection: the send buffer and its sequence space (RFC 9293 §3.3.1), ACK
// processing and the send window update rule (§3.10.7.4 fifth check), RTT samples from timestamps
// (RFC 7323 §4.1) or one timed segment under Karn's rule (RFC 6298 §3), segmentation within the
// peer's window and cwnd with sender SWS avoidance (RFC 9293 §3.8.6.2.1) and Nagle (RFC 896,
// §3.7.4), zero-window probing (§3.8.6.1), and the encoding of every segment we send.
//
// Positions are stream offsets (our SYN is 0, the first data byte 1, the FIN after the last data
// byte), so no comparison deals with 32-bit wrap-around; seq() converts on the wire.
import { ByteQueue } from './buffers.js';
import { NetStackError } from './errors.js';
import { encodeIpHeader, PROTO_TCP } from './ip.js';
import { pacingRate } from './pacing.js';
import {
  ACK,
  encodeTcpHeader,
  FIN,
  optionsLength,
  PSH,
  RST,
  SYN,
  TCP_HEADER_LEN,
  type TcpOptions,
  type TcpSegment,
} from './tcp-segment.js';
import type { TcpConn } from './tcp.js';
import { seqDiff, u32 } from './tcp-types.js';

export class TcpSender {
  /** Initial send sequence number (RFC 6528, from the stack). */
  readonly iss: number;
  /** SND.UNA, SND.NXT and the highest offset ever sent (SND.NXT goes back after an RTO). */
  una = 0;
  nxt = 0;
  max = 0;
  /** SND.WND (scaled) and the largest window the peer ever offered. */
  wnd = 0;
  maxWnd = 0;
  /** SND.WL1/SND.WL2 (§3.10.7.4): the segment and ACK that last updated the window. */
  wl1 = -1;
  wl2 = -1;
  /** The peer's window-scale shift (RFC 7323 §2.2). */
  wscale = 0;
  readonly buf = new ByteQueue();
  /** Offset of buf's first byte. */
  bufBase = 1;
  /** A FIN follows the last queued byte. */
  finQueued = false;
  /** Karn (RFC 6298 §3): the offset whose ACK gives an RTT sample, -1 for none (only without timestamps). */
  timedSeg = -1;
  timedAt = 0;
  /** The last transmit() stopped because cwnd was full (CUBIC grows only then, RFC 9438 §4.1). */
  cwndLimited = false;
  /** Unanswered zero-window probes (RFC 9293 §3.8.6.1). */
  persistProbes = 0;

  constructor(
    private readonly conn: TcpConn,
    iss: number,
  ) {
    this.iss = u32(iss);
  }

  /** Our sequence number of an offset. */
  seq(off: number): number {
    return u32(this.iss + off);
  }

  /** Offset after the last queued data byte. */
  get dataEnd(): number {
    return this.bufBase + this.buf.length;
  }

  /** Offset after everything queued, FIN included. */
  get finEnd(): number {
    return this.dataEnd + (this.finQueued ? 1 : 0);
  }

  finIsAcked(): boolean {
    return this.finQueued && this.una > this.dataEnd;
  }

  // ------------------------------------------------------------------ ACK arrival

  /** ACK processing in synchronized states (§3.10.7.4 fifth check, RFC 6675 §5 recovery). */
  processAck(ackOff: number, segOff: number, seg: TcpSegment, len: number, now: number): void {
    const c = this.conn;
    const rec = c.recovery;
    const wnd = seg.window << this.wscale;
    const outstanding = this.max > this.una;
    const newSack = rec.takeSack(seg, ackOff);
    const windowChanged = wnd !== this.wnd;
    // Window update rule (§3.10.7.4): only from a newer segment, or a newer ACK of the same segment.
    if (this.wl1 < segOff || (this.wl1 === segOff && this.wl2 <= ackOff)) {
      this.wnd = wnd;
      this.maxWnd = Math.max(this.maxWnd, wnd);
      this.wl1 = segOff;
      this.wl2 = ackOff;
      if (wnd > 0) {
        c.timers.persist = 0;
        this.persistProbes = 0;
      }
    }
    if (ackOff > this.una) this.onAckAdvance(ackOff, seg, now);
    else {
      // Duplicate ACK: with SACK, RFC 6675 §2 counts only ACKs that bring new SACK information (which
      // also covers ACKs riding on the peer's data, and ignores the ACKs a duplicated segment draws);
      // without SACK, RFC 5681 §2's definition (no data, same window).
      const isDup =
        ackOff === this.una && outstanding && (c.sackOk ? newSack : len === 0 && !(seg.flags & FIN) && !windowChanged);
      if (isDup) {
        c.host.stats.tcpDupAcks++;
        rec.dupAcks++;
      }
    }
    rec.afterAck();
  }

  /** SND.UNA advances to ackOff (RFC 9293 §3.10.7.4, RFC 6298 §5.2/5.3). */
  onAckAdvance(ackOff: number, seg: TcpSegment, now: number): void {
    const c = this.conn;
    const rec = c.recovery;
    const acked = ackOff - this.una;
    rec.detectSpuriousRto(seg);
    this.sampleRtt(ackOff, seg, now);
    // Free acknowledged bytes (the SYN and FIN occupy no buffer space).
    const dataAcked = Math.min(ackOff, this.dataEnd) - this.bufBase;
    if (dataAcked > 0) {
      this.buf.drop(dataAcked);
      this.bufBase += dataAcked;
    }
    this.una = ackOff;
    if (this.nxt < ackOff) this.nxt = ackOff;
    rec.sb.ack(ackOff);
    c.retries = 0;
    rec.dupAcks = 0;
    c.rtt.resetBackoff();
    if (rec.inRecovery) rec.onCumulativeAck(ackOff);
    else if (this.cwndLimited) c.cc.onAck(acked, now, c.rtt.srtt);
    // RFC 6298 §5.2/5.3: stop the timer when all is acked, else restart it.
    if (this.una >= this.max) c.timers.rto = 0;
    else c.timers.rto = now + c.rtt.rto;
    c.sock.refillFromPending();
    rec.tlpOut = false;
    rec.schedulePto(now);
    if (this.finQueued && this.una > this.dataEnd) c.onFinAcked(now);
  }

  sampleRtt(ackOff: number, seg: TcpSegment, now: number): void {
    const c = this.conn;
    if (c.tsOk && seg.timestamps && seg.timestamps[1] !== 0) {
      // RFC 7323 §4.1: the echoed TSval gives an unambiguous sample, retransmission or not.
      const r = u32(u32(now + c.tsOffset) - seg.timestamps[1]);
      if (r < 600_000) c.rtt.sample(r);
      return;
    }
    if (this.timedSeg >= 0 && ackOff > this.timedSeg) {
      c.rtt.sample(now - this.timedAt);
      this.timedSeg = -1;
    }
  }

  // ------------------------------------------------------------------ transmission

  /** Sends what the windows allow (RFC 6675 §5 NextSeg during recovery, else new data). */
  transmit(): void {
    const c = this.conn;
    const rec = c.recovery;
    const st = c.state;
    if (st === 'SYN_SENT' || st === 'SYN_RECEIVED' || st === 'CLOSED' || st === 'TIME_WAIT') return;
    const finEnd = this.finEnd;
    this.cwndLimited = false;
    const maxBefore = this.max;
    const now = c.host.clock.now();
    const rate = pacingRate(c.cc.cwnd, c.rtt.srtt, c.rtt.sampled, c.cc.inSlowStart);
    for (let guard = 0; guard < 10_000; guard++) {
      const wndEdge = this.una + this.wnd;
      if (rec.inRecovery) {
        const pipe = rec.pipe();
        if (c.cc.cwnd - pipe < c.mss) {
          this.cwndLimited = true;
          break;
        }
        if (this.paced(now, rate)) break;
        // Rule 1: the first lost, not yet retransmitted, unSACKed segment.
        if (rec.sendNextLost(finEnd)) continue;
        // Rule 2: new data, if the receive window allows.
        if (this.nxt < finEnd && this.nxt < Math.max(wndEdge, this.una + 1)) {
          if (!this.sendNew(finEnd, wndEdge)) break;
          continue;
        }
        break;
      }
      // Normal transmission: after an RTO nxt < max and we go back through the data (go-back-N,
      // skipping SACKed ranges, which are cleared on RTO per RFC 2018 §8 anyway).
      if (this.nxt >= finEnd) break;
      const flight = this.nxt - this.una - rec.sb.sackedIn(this.una, this.nxt);
      const cwndRoom = c.cc.cwnd - flight;
      if (cwndRoom <= 0) {
        this.cwndLimited = true;
        break;
      }
      const se = rec.sb.sackedEnd(this.nxt);
      if (se >= 0 && this.nxt < this.max) {
        this.nxt = Math.min(se, this.max);
        continue;
      }
      if (this.paced(now, rate)) break;
      if (!this.sendNew(finEnd, Math.min(wndEdge, this.nxt + cwndRoom), cwndRoom)) break;
    }
    if (this.max > maxBefore) rec.schedulePto(now); // RFC 8985 §7.2: (re)arm on new data
    if (this.wnd === 0 && this.nxt < finEnd && this.max <= this.una && c.timers.persist === 0) {
      // Zero window and nothing in flight: the persist timer probes it (RFC 9293 §3.8.6.1).
      c.timers.persist = now + c.rtt.rto;
    }
    c.armTimer();
  }

  /**
   * The pacer holds the next segment: its timer resumes transmit(). Held with cwnd room counts as
   * cwnd-limited, since the rate is cwnd's over the RTT (CUBIC must still grow, RFC 9438 §4.1).
   */
  private paced(now: number, rate: number): boolean {
    const c = this.conn;
    const at = c.pacer.check(now, rate, c.mss);
    if (at === 0) return false;
    c.timers.pace = at;
    this.cwndLimited = true;
    c.host.stats.tcpPacingWaits++;
    return true;
  }

  /** Sends one segment from nxt. Returns false if nothing could be sent. */
  sendNew(finEnd: number, edge: number, cwndRoom = Infinity): boolean {
    const c = this.conn;
    const s = this.nxt;
    let limit = finEnd;
    if (s < this.max) limit = Math.min(limit, c.recovery.sb.nextSackedStart(s), this.max); // retransmission span
    const dataLeft = Math.max(0, Math.min(limit, this.dataEnd) - s);
    const usable = edge - s;
    let n = Math.min(this.segSize(), dataLeft);
    if (usable < n) {
      // Sender SWS avoidance (RFC 9293 §3.8.6.2.1): send a partial segment only if it is at least
      // half the largest window the peer offered, or when nothing is in flight.
      const room = Math.max(0, usable);
      if (room >= this.maxWnd / 2 || (this.max <= this.una && room > 0)) n = room;
      else {
        if (cwndRoom < c.mss) this.cwndLimited = true;
        return false;
      }
    }
    const withFin = this.finQueued && s + n === this.dataEnd && limit === finEnd;
    if (n === 0 && !withFin) return false;
    if (c.host.cfg.nagle && n < this.segSize() && !withFin && s >= this.max && this.max > this.una) return false; // Nagle
    this.sendRange(s, n + (withFin ? 1 : 0), s < this.max);
    return true;
  }

  /**
   * Payload bytes a data segment can carry right now: the MSS less the SACK blocks we would attach
   * (options share the MTU). Sizing segments with it keeps a retransmitted hole in one segment.
   */
  segSize(): number {
    const c = this.conn;
    if (!c.sackOk || c.rcv.ooo.empty) return c.mss;
    const blocks = Math.min(c.rcv.ooo.rangeCount(), c.tsOk ? 3 : 4);
    const ipLen = c.localIp.length === 4 ? 20 : 40;
    return Math.max(1, Math.min(c.mss, c.host.cfg.mtu - ipLen - TCP_HEADER_LEN - (c.tsOk ? 12 : 0) - (4 + 8 * blocks)));
  }

  /** Emits the segment covering offsets [s, s+n) (data and possibly the FIN); returns the offset after the last byte actually sent. */
  sendRange(s: number, n: number, isRetransmit: boolean): number {
    const c = this.conn;
    const dataLen = Math.max(0, Math.min(s + n, this.dataEnd) - s);
    const fin = this.finQueued && s + n > this.dataEnd;
    let flags = ACK;
    if (fin) flags |= FIN;
    if (dataLen > 0 && s + dataLen === this.dataEnd) flags |= PSH;
    const sent = this.emit(flags, s, dataLen);
    // SACK blocks may have shortened the segment (options share the MTU): account for what went out.
    const end = s + sent + (fin && sent === dataLen ? 1 : 0);
    const now = c.host.clock.now();
    if (isRetransmit) {
      c.host.stats.tcpRetransmits++;
      if (this.timedSeg >= s && this.timedSeg < end) this.timedSeg = -1; // Karn
    } else if (this.timedSeg < 0 && !c.tsOk) {
      this.timedSeg = s;
      this.timedAt = now;
    }
    if (this.nxt < end) this.nxt = end;
    if (this.max < end) {
      this.max = end;
      c.host.stats.tcpTxBytes += dataLen;
    }
    if (c.timers.rto === 0) c.timers.rto = now + c.rtt.rto;
    c.lastSendAt = now;
    c.pacer.consume(end - s);
    return end;
  }

  /** The peer's window is zero: probe it (RFC 9293 §3.8.6.1). */
  onPersist(now: number): void {
    const c = this.conn;
    c.timers.persist = 0;
    const finEnd = this.finEnd;
    if (this.wnd > 0 || this.nxt >= finEnd) return;
    this.persistProbes++;
    if (this.persistProbes > c.host.cfg.maxPersistProbes && now - c.lastRecvAt > c.rtt.rto * 2) {
      c.host.stats.tcpTimeouts++;
      c.terminate(new NetStackError('ETIMEDOUT', `tcp ${c.remoteInfo}: peer stopped answering zero-window probes`));
      return;
    }
    // A window probe: an ACK with an old sequence number, which the peer must answer with an ACK
    // carrying its current window (the same form as a keepalive, RFC 1122 §4.2.3.6). It consumes no
    // sequence space, so it never interacts with retransmission.
    c.host.stats.tcpWindowProbes++;
    this.emit(ACK, this.una - 1, 0);
    c.rtt.backoff();
    c.timers.persist = now + Math.min(c.rtt.rto, 60_000);
  }

  // ------------------------------------------------------------------ the wire

  /** Builds and sends one segment: IP header + TCP header + options + data. Returns the data bytes sent. */
  emit(flags: number, seqOff: number, dataLen: number, synOpts?: TcpOptions, synWnd?: number): number {
    const c = this.conn;
    const v4 = c.localIp.length === 4;
    const ipLen = v4 ? 20 : 40;
    let o: TcpOptions;
    if (synOpts) o = synOpts;
    else {
      o = {};
      if (c.tsOk) o.timestamps = [c.tsNow(), c.tsRecent];
      if (c.sackOk && !c.rcv.ooo.empty && !(flags & RST)) {
        const blocks = c.rcv.ooo.sackBlocks(c.tsOk ? 3 : 4);
        o.sack = blocks.map((b) => [c.rcv.seq(b.start), c.rcv.seq(b.end)] as [number, number]);
        c.host.stats.tcpSackBlocksSent += blocks.length;
        if (dataLen === 0) c.host.stats.tcpSackAcksSent++;
      }
    }
    const optLen = optionsLength(o);
    const maxData = c.host.cfg.mtu - ipLen - TCP_HEADER_LEN - optLen;
    if (dataLen > maxData) {
      // Never exceed the MTU (options grew); the FIN then waits for the next segment.
      dataLen = maxData;
      flags &= ~FIN;
    }
    const tcpLen = TCP_HEADER_LEN + optLen + dataLen;
    const pkt = new Uint8Array(ipLen + tcpLen);
    if (dataLen > 0) this.buf.copyOut(pkt, ipLen + TCP_HEADER_LEN + optLen, seqOff - this.bufBase, dataLen);
    let wnd: number;
    if (synWnd !== undefined) wnd = synWnd;
    else wnd = c.rcv.advertiseWindow();
    const ackFlag = (flags & ACK) !== 0;
    encodeTcpHeader(
      pkt,
      ipLen,
      {
        srcPort: c.localPort,
        dstPort: c.remotePort,
        seq: this.seq(seqOff),
        ack: ackFlag ? c.rcv.seq(c.rcv.nxt) : 0,
        flags,
        window: wnd,
        urgent: 0,
        ...o,
        payloadLength: dataLen,
      },
      c.localIp,
      c.remoteIp,
    );
    encodeIpHeader(pkt, {
      src: c.localIp,
      dst: c.remoteIp,
      proto: PROTO_TCP,
      payloadLength: tcpLen,
      id: v4 ? c.host.nextIpId() : 0,
      dontFragment: true,
    });
    if (ackFlag) c.rcv.onAckSent();
    const stats = c.host.stats;
    stats.tcpSegmentsSent++;
    if (dataLen === 0 && !(flags & (SYN | FIN | RST))) {
      stats.tcpPureAcksSent++;
      if (wnd === 0) stats.tcpZeroWindowsSent++;
    }
    c.host.output(pkt);
    return dataLen;
  }

  /** <SEQ=SEG.ACK><CTL=RST> for an unacceptable ACK (§3.10.7.3 / §3.10.7.4). */
  emitRstFor(ackField: number): void {
    const c = this.conn;
    const v4 = c.localIp.length === 4;
    const ipLen = v4 ? 20 : 40;
    const pkt = new Uint8Array(ipLen + TCP_HEADER_LEN);
    encodeTcpHeader(
      pkt,
      ipLen,
      {
        srcPort: c.localPort,
        dstPort: c.remotePort,
        seq: ackField,
        ack: 0,
        flags: RST,
        window: 0,
        urgent: 0,
        payloadLength: 0,
      },
      c.localIp,
      c.remoteIp,
    );
    encodeIpHeader(pkt, {
      src: c.localIp,
      dst: c.remoteIp,
      proto: PROTO_TCP,
      payloadLength: TCP_HEADER_LEN,
      id: v4 ? c.host.nextIpId() : 0,
      dontFragment: true,
    });
    c.host.stats.tcpRstSent++;
    c.host.output(pkt);
  }

  /** A sequence number the peer sent us (an ICMP quote, say) as one of our offsets near SND.UNA. */
  offsetOf(seq: number): number {
    return this.una + seqDiff(seq, this.seq(this.una));
  }
}
