// Opening a connection: the SYN and SYN-ACK we send with our options (RFC 9293 §3.7.1 MSS,
// RFC 7323 §2.2 window scale and §4 timestamps, RFC 2018 §2 SACK-permitted), what the peer's SYN
// makes of them (negotiate), the passive open from a listener (§3.10.7.2) and a segment arriving
// in SYN_SENT (§3.10.7.3). The agreed options are plain fields of TcpConn, which every part reads;
// these functions only run until the connection is synchronized.
import { NetStackError } from './errors.js';
import { ACK, RST, SYN, type TcpOptions, type TcpSegment } from './tcp-segment.js';
import type { TcpConn } from './tcp.js';
import { seqDiff } from './tcp-types.js';

/** Passive open from a SYN seen by a listener (RFC 9293 §3.10.7.2 LISTEN, third check). */
export function passiveOpen(c: TcpConn, seg: TcpSegment): void {
  c.rcv.irs = seg.seq;
  c.rcv.nxt = 1;
  negotiate(c, seg);
  c.snd.wnd = seg.window; // never scaled in a SYN (RFC 7323 §2.2)
  c.snd.maxWnd = c.snd.wnd;
  c.snd.wl1 = 0;
  c.snd.wl2 = 0;
  if (seg.timestamps) c.setTsRecent(seg.timestamps[0]);
  sendSyn(c);
}

/** SYN (active) or SYN-ACK (passive), first or again. */
export function sendSyn(c: TcpConn): void {
  const cfg = c.host.cfg;
  const o: TcpOptions = { mss: c.ourMss };
  const active = c.state === 'SYN_SENT';
  if (active) {
    if (cfg.windowScale > 0) o.windowScale = cfg.windowScale;
    if (cfg.sack) o.sackPermitted = true;
    if (cfg.timestamps) o.timestamps = [c.tsNow(), 0];
  } else {
    if (c.wsOk) o.windowScale = c.rcv.wscale;
    if (c.sackOk) o.sackPermitted = true;
    if (c.tsOk) o.timestamps = [c.tsNow(), c.tsRecent];
  }
  // The window in a SYN is unscaled (RFC 7323 §2.2).
  const wnd = Math.min(65535, c.host.cfg.recvBuffer);
  c.rcv.advEdge = c.rcv.nxt + wnd;
  c.snd.emit(active ? SYN : SYN | ACK, 0, 0, o, wnd);
  c.snd.max = Math.max(c.snd.max, 1);
  c.snd.nxt = 1;
  if (c.retries === 0 && !c.tsOk) {
    c.snd.timedSeg = 0;
    c.snd.timedAt = c.host.clock.now();
  }
  c.timers.rto = c.host.clock.now() + c.rtt.rto;
  c.armTimer();
}

function negotiate(c: TcpConn, seg: TcpSegment): void {
  const cfg = c.host.cfg;
  const v6 = c.localIp.length === 16;
  // RFC 9293 §3.7.1: without an MSS option assume 536 (IPv4) / 1220 (IPv6).
  c.peerMss = seg.mss ?? (v6 ? 1220 : 536);
  c.tsOk = cfg.timestamps && seg.timestamps !== undefined;
  c.sackOk = cfg.sack && seg.sackPermitted === true;
  c.wsOk = seg.windowScale !== undefined && cfg.windowScale > 0;
  c.snd.wscale = c.wsOk ? seg.windowScale! : 0;
  c.rcv.wscale = c.wsOk ? cfg.windowScale : 0;
  c.mss = Math.max(64, Math.min(c.peerMss, c.ourMss) - (c.tsOk ? 12 : 0));
  c.cc.mss = c.mss;
  c.cc.cwnd = Math.min(10 * c.mss, Math.max(2 * c.mss, 14600));
}

/** A segment in SYN_SENT (RFC 9293 §3.10.7.3): a SYN-ACK, a RST, or a SYN (simultaneous open). */
export function synSentSegment(c: TcpConn, seg: TcpSegment): void {
  const snd = c.snd;
  let ackOk = false;
  if (seg.flags & ACK) {
    const ackOff = seqDiff(seg.ack, snd.iss);
    if (ackOff <= 0 || ackOff > snd.max) {
      if (!(seg.flags & RST)) snd.emitRstFor(seg.ack);
      c.host.stats.tcpBadSynAck++;
      return;
    }
    ackOk = true;
  }
  if (seg.flags & RST) {
    if (!ackOk) return;
    c.host.stats.tcpRstReceived++;
    c.terminate(new NetStackError('ECONNREFUSED', `connect ${c.remoteInfo}: connection refused`));
    return;
  }
  if (!(seg.flags & SYN)) return;
  c.rcv.irs = seg.seq;
  c.rcv.nxt = 1;
  negotiate(c, seg);
  if (c.tsOk && seg.timestamps) c.setTsRecent(seg.timestamps[0]);
  if (!ackOk) {
    // Simultaneous open (§3.10.7.3 fourth): SYN_RECEIVED and SYN-ACK.
    c.state = 'SYN_RECEIVED';
    snd.wnd = seg.window;
    sendSyn(c);
    return;
  }
  const now = c.host.clock.now();
  snd.wnd = seg.window << 0; // the SYN-ACK's window is unscaled
  snd.maxWnd = snd.wnd;
  snd.wl1 = 0;
  snd.wl2 = 1;
  snd.sampleRtt(1, seg, now);
  snd.una = 1;
  snd.bufBase = 1;
  c.retries = 0;
  c.timers.rto = 0;
  c.setState('ESTABLISHED');
  c.rcv.sendAck();
  c.sock.resolveOpened(c);
  snd.transmit();
  c.armTimer();
}
