// The input side of NetStack: one IP packet in, decoded, reassembled and demultiplexed to a TCP
// connection or listener (passive open, RST for no socket: RFC 9293 §3.10.7), a UDP socket or the
// ICMP handler (echo, and errors that fail connections and pings: RFC 1122 §4.2.3.9, RFC 5461).
import { formatIp, ipEquals, ipKey } from './addr.js';
import { NetStackError } from './errors.js';
import {
  decodeIcmp,
  decodeQuoted,
  ICMP4_DEST_UNREACH,
  ICMP4_ECHO_REPLY,
  ICMP4_ECHO_REQUEST,
  ICMP6_DEST_UNREACH,
  ICMP6_ECHO_REPLY,
  ICMP6_ECHO_REQUEST,
  ICMP6_PACKET_TOO_BIG,
} from './icmp.js';
import { decodeIp, encodeIpHeader, type IpPacket, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from './ip.js';
import { ACK, decodeTcp, encodeTcpHeader, RST, SYN, FIN, TCP_HEADER_LEN, type TcpSegment } from './tcp-segment.js';
import { connKey, TcpConn } from './tcp.js';
import { decodeUdp } from './udp.js';
import type { Listener } from './stack-sockets.js';
import { NetStackCore } from './stack-core.js';

export abstract class NetStackInput extends NetStackCore {
  /** One IP packet from the network. Never throws: malformed packets are dropped and counted. */
  input(ipPacket: Uint8Array): void {
    if (this.closedStack) return;
    try {
      this.stats.rxPackets++;
      this.stats.rxBytes += ipPacket.length;
      this.inputInner(ipPacket);
    } catch {
      // A bug, not a bad packet: count it rather than letting one packet take the node down.
      this.stats.inputErrors++;
      this.drop('internalError');
    }
  }

  protected drop(reason: string): void {
    this.stats.rxDropped++;
    const k = 'drop_' + reason;
    this.stats[k] = (this.stats[k] ?? 0) + 1;
  }

  protected inputInner(buf: Uint8Array): void {
    const r = decodeIp(buf);
    if (!r.ok) return this.drop(r.reason);
    let p = r.value;
    if (!this.ours.has(ipKey(p.dst))) return this.drop('notForUs');
    if (p.isFragment) {
      // IPv4 fragments (RFC 791) and IPv6 fragment headers (RFC 8200 §4.5) share one bounded reassembler.
      this.stats.ipFragments++;
      const fr = this.frags.add(p, this.clock.now());
      if ('drop' in fr) return this.drop(fr.drop);
      if ('pending' in fr) return;
      this.stats.ipReassembled++;
      p = fr.done;
    }
    switch (p.proto) {
      case PROTO_TCP:
        return this.inputTcp(p);
      case PROTO_UDP:
        return this.inputUdp(p);
      case PROTO_ICMP:
        if (p.version !== 4) return this.drop('icmpOnV6');
        return this.inputIcmp(p);
      case PROTO_ICMPV6:
        if (p.version !== 6) return this.drop('icmpv6OnV4');
        return this.inputIcmp(p);
      default:
        this.drop('unknownProtocol');
        // IPv4: protocol unreachable (RFC 792). IPv6: parameter problem, unrecognized Next Header,
        // pointing at the field (RFC 8200 §4; only when there are no extension headers before it).
        if (p.version === 4) this.sendUnreachable(p, 2);
        else if (p.headerLength === 40) this.sendUnreachable(p, 1, 4, 6);
    }
  }

  protected inputTcp(p: IpPacket): void {
    const r = decodeTcp(p.payload, p.src, p.dst);
    if (!r.ok) return this.drop(r.reason);
    const seg = r.value;
    this.stats.tcpSegmentsReceived++;
    if (seg.srcPort === 0 || seg.dstPort === 0) return this.drop('tcpZeroPort');
    const f = seg.flags;
    if (f & SYN && f & FIN) return this.drop('tcpBadFlags'); // SYN+FIN never happens legitimately
    if (f & SYN && f & RST) return this.drop('tcpBadFlags');
    const conn = this.conns.get(connKey(p.src, seg.srcPort, p.dst, seg.dstPort));
    if (conn) {
      if (!(f & SYN && !(f & ACK) && this.listeners.has(seg.dstPort) && conn.acceptsNewIncarnation(seg)))
        return conn.onSegment(seg);
      this.stats.tcpTimeWaitReused++;
      conn.terminate(undefined); // the old incarnation's TIME_WAIT ends; the SYN goes to the listener
    }
    // No connection: a listener takes SYNs (RFC 9293 §3.10.7.2), otherwise answer with RST (§3.10.7.1).
    const l = this.listeners.get(seg.dstPort);
    if (l && !l.closed) {
      if (f & RST) return;
      if (f & ACK) return this.sendRst(p, seg);
      if (!(f & SYN)) return this.drop('tcpNoSyn');
      return this.passiveOpen(l, p, seg);
    }
    this.stats.tcpNoSocket++;
    if (!(f & RST)) this.sendRst(p, seg);
  }

  protected passiveOpen(l: Listener, p: IpPacket, seg: TcpSegment): void {
    if (
      l.halfOpen.size >= this.opts.synBacklog ||
      this.halfOpen >= this.opts.maxHalfOpen ||
      l.queue.length >= this.opts.acceptBacklog
    ) {
      // Bounded backlog: a SYN flood cannot grow state; the peer retries its SYN later.
      this.stats.tcpSynDropped++;
      return this.drop('tcpSynBacklogFull');
    }
    const src = p.dst.slice();
    const dst = p.src.slice();
    const c = new TcpConn(
      this.host,
      src,
      seg.dstPort,
      dst,
      seg.srcPort,
      this.isn(src, seg.dstPort, dst, seg.srcPort),
      this.u32(),
      false,
    );
    c.listenerPort = l.port;
    l.halfOpen.add(c);
    this.halfOpen++;
    this.conns.set(c.key, c);
    this.stats.tcpConnections = this.conns.size;
    this.stats.tcpHalfOpen = this.halfOpen;
    c.acceptSyn(seg);
  }

  protected passiveEstablished(c: TcpConn): void {
    const l = this.listeners.get(c.listenerPort);
    if (l && l.halfOpen.delete(c)) this.halfOpen--;
    if (!l || l.closed || l.queue.length >= this.opts.acceptBacklog) {
      c.abort('listener closed');
      return;
    }
    this.stats.tcpConnectionsAccepted++;
    this.stats.tcpHalfOpen = this.halfOpen;
    l.deliver(c);
  }

  protected release(c: TcpConn): void {
    this.heldAcks.delete(c);
    if (this.conns.get(c.key) === c) this.conns.delete(c.key);
    const l = this.listeners.get(c.listenerPort);
    if (l && l.halfOpen.delete(c)) this.halfOpen--;
    this.stats.tcpHalfOpen = this.halfOpen;
    this.stats.tcpConnections = this.conns.size;
  }

  /** RST for a segment that has no connection (RFC 9293 §3.10.7.1). */
  protected sendRst(p: IpPacket, seg: TcpSegment): void {
    const v4 = p.version === 4;
    const ipLen = v4 ? 20 : 40;
    const pkt = new Uint8Array(ipLen + TCP_HEADER_LEN);
    let seq = 0;
    let ack = 0;
    let flags = RST;
    if (seg.flags & ACK) seq = seg.ack;
    else {
      const segLen = seg.payload.length + (seg.flags & SYN ? 1 : 0) + (seg.flags & FIN ? 1 : 0);
      ack = (seg.seq + segLen) >>> 0;
      flags |= ACK;
    }
    const src = p.dst;
    const dst = p.src;
    encodeTcpHeader(
      pkt,
      ipLen,
      { srcPort: seg.dstPort, dstPort: seg.srcPort, seq, ack, flags, window: 0, urgent: 0, payloadLength: 0 },
      src,
      dst,
    );
    encodeIpHeader(pkt, {
      src,
      dst,
      proto: PROTO_TCP,
      payloadLength: TCP_HEADER_LEN,
      id: this.host.nextIpId(),
      dontFragment: true,
    });
    this.stats.tcpRstSent++;
    this.send(pkt);
  }

  protected inputUdp(p: IpPacket): void {
    const r = decodeUdp(p.payload, p.src, p.dst);
    if (!r.ok) return this.drop(r.reason);
    const d = r.value;
    const s = this.udp.get(d.dstPort);
    if (!s) {
      this.stats.udpNoSocket++;
      this.sendUnreachable(p, p.version === 4 ? 3 : 4); // port unreachable
      return;
    }
    this.stats.udpRxDatagrams++;
    s.push({ addr: formatIp(p.src), port: d.srcPort, data: d.payload.slice() });
  }

  protected inputIcmp(p: IpPacket): void {
    const v6 = p.version === 6;
    const r = decodeIcmp(p.payload, v6, p.src, p.dst);
    if (!r.ok) return this.drop(r.reason);
    const m = r.value;
    if ((!v6 && m.type === ICMP4_ECHO_REQUEST) || (v6 && m.type === ICMP6_ECHO_REQUEST)) {
      if (m.code !== 0) return this.drop('icmpBadCode');
      // A reassembled (fragmented) request may be larger than the MTU we send; we do not fragment.
      if (p.headerLength + p.payload.length > this.mtu) return this.drop('icmpEchoTooBig');
      this.stats.icmpEchoRequestsAnswered++;
      return this.sendIcmp(p.dst, p.src, v6 ? ICMP6_ECHO_REPLY : ICMP4_ECHO_REPLY, 0, m.rest, m.body);
    }
    if ((!v6 && m.type === ICMP4_ECHO_REPLY) || (v6 && m.type === ICMP6_ECHO_REPLY)) {
      const id = m.rest >>> 16;
      const seq = m.rest & 0xffff;
      const w = this.pings.get(seq);
      if (id !== this.pingId || !w || !ipEquals(w.addr, p.src) || !eqBytes(w.data, m.body))
        return this.drop('icmpUnexpectedEchoReply');
      this.stats.icmpEchoRepliesReceived++;
      this.pings.delete(seq);
      this.clock.clearTimeout(w.timer);
      w.resolve({ rttMs: this.clock.now() - w.t0 });
      return;
    }
    const unreach =
      (!v6 && m.type === ICMP4_DEST_UNREACH) ||
      (v6 && (m.type === ICMP6_DEST_UNREACH || m.type === ICMP6_PACKET_TOO_BIG));
    if (!unreach) return this.drop('icmpIgnoredType');
    const q = decodeQuoted(m.body);
    if (!q.ok) return this.drop(q.reason);
    const qp = q.value;
    if (!this.ours.has(ipKey(qp.src))) return this.drop('icmpQuoteNotOurs');
    if (v6 && m.type === ICMP6_PACKET_TOO_BIG) {
      // We never send more than the link MTU (>= 1280, the IPv6 minimum), so there is nothing to lower.
      this.stats.icmpPacketTooBig++;
      return;
    }
    if (!v6 && m.code === 4) {
      this.stats.icmpPacketTooBig++; // fragmentation needed: we send at most the MTU with DF
      return;
    }
    this.stats.icmpUnreachableReceived++;
    const what = describeUnreachable(v6, m.code);
    // RFC 1122 §4.2.3.9: protocol/port unreachable are hard errors; RFC 5461 lets a connecting
    // socket fail on any of them (there is no established state to protect).
    const hard = v6
      ? m.code === 1 || m.code === 4
      : m.code === 2 || m.code === 3 || m.code === 9 || m.code === 10 || m.code === 13;
    if (qp.proto === PROTO_TCP) {
      const c = this.conns.get(connKey(qp.dst, qp.dstPort, qp.src, qp.srcPort));
      if (!c) return this.drop('icmpNoConnection');
      c.onIcmpError(hard, what, qp.seq);
    } else if ((qp.proto === PROTO_ICMP && !v6) || (qp.proto === PROTO_ICMPV6 && v6)) {
      // Quoted echo request: the ping fails now rather than at its timeout. Bytes 4..8 are id, seq.
      const seq = qp.seq & 0xffff;
      const w = this.pings.get(seq);
      if (w && qp.seq >>> 16 === this.pingId) {
        this.pings.delete(seq);
        this.clock.clearTimeout(w.timer);
        w.reject(new NetStackError(hard ? 'ECONNREFUSED' : 'EHOSTUNREACH', `ping ${formatIp(w.addr)}: ${what}`));
      }
    }
  }
}

function eqBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describeUnreachable(v6: boolean, code: number): string {
  if (v6) {
    return (
      ([
        'no route to destination',
        'communication administratively prohibited',
        'beyond scope of source address',
        'address unreachable',
        'port unreachable',
        'source address failed policy',
        'reject route',
      ][code] ?? `destination unreachable (code ${code})`) + ' (ICMPv6)'
    );
  }
  const names: Record<number, string> = {
    0: 'network unreachable',
    1: 'host unreachable',
    2: 'protocol unreachable',
    3: 'port unreachable',
    9: 'network administratively prohibited',
    10: 'host administratively prohibited',
    13: 'communication administratively prohibited',
  };
  return (names[code] ?? `destination unreachable (code ${code})`) + ' (ICMP)';
}
