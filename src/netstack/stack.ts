// The userspace IP stack: takes and emits raw IPv4/IPv6 packets (knows nothing of WireGuard), answers
// ICMP/ICMPv6 echo, reassembles IPv4 fragments, demultiplexes TCP connections and listeners and UDP
// sockets, and turns ICMP errors into failed connections. Time and randomness are injected.
//
// Socket API shapes (documented in index.ts):
//   connect(addr, port) -> Promise<TcpConnection>     (web streams + close/abort/closed)
//   listen(port)        -> TcpListener                 (accept() / for await; bounded backlogs)
//   udpBind(port?)      -> UdpSocket                   (send(); readable of {addr, port, data})
//   ping(addr)          -> Promise<{ rttMs }>
import { sha256 } from '@noble/hashes/sha2.js';
import type { RandomSource } from '../crypto/random.js';
import type { Clock, TimerHandle } from '../platform/clock.js';
import { formatIp, ipEquals, ipKey, parseIp } from './addr.js';
import { NetStackError } from './errors.js';
import { Reassembler } from './fragments.js';
import {
  decodeIcmp,
  decodeQuoted,
  encodeIcmpHeader,
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
import { connKey, DEFAULT_TCP_CONFIG, TcpConn, type TcpConfig, type TcpConnection, type TcpHost } from './tcp.js';
import { decodeUdp, encodeUdpHeader, UDP_HEADER_LEN } from './udp.js';

export interface NetStackOptions {
  /** Our addresses (IPv4 and/or IPv6), e.g. the node's 100.x.y.z and fd7a:115c:a1e0::… */
  addresses: string[];
  clock: Clock;
  random: RandomSource;
  /** Link MTU; default 1280 (Tailscale's, and IPv6's minimum). */
  mtu?: number;
  /** Called with every IP packet the stack sends. Must not call input() synchronously. */
  output: (ipPacket: Uint8Array) => void;
  /** TCP tuning (buffers, timers, keepalive...). */
  tcp?: Partial<TcpConfig>;
  /** Half-open (SYN_RECEIVED) connections per listener; further SYNs are dropped and counted. */
  synBacklog?: number;
  /** Established connections waiting in accept() per listener. */
  acceptBacklog?: number;
  /** Half-open connections across the whole stack. */
  maxHalfOpen?: number;
  /** Datagrams queued per UDP socket before new ones are dropped. */
  udpQueue?: number;
}

export interface UdpMessage {
  addr: string;
  port: number;
  data: Uint8Array;
}

/** A UDP socket. readable yields datagrams; send() throws on bad arguments or datagrams over the MTU. */
export interface UdpSocket {
  readonly localPort: number;
  readonly readable: ReadableStream<UdpMessage>;
  send(addr: string, port: number, data: Uint8Array): void;
  close(): void;
}

/**
 * A listening TCP port. accept() resolves with the next established connection (in arrival order);
 * the listener is also an async iterable of connections. close() stops listening, resets connections
 * not yet accepted and rejects pending accept() calls.
 */
export interface TcpListener extends AsyncIterable<TcpConnection> {
  readonly port: number;
  accept(): Promise<TcpConnection>;
  close(): void;
}

const STAT_KEYS = [
  'rxPackets',
  'rxBytes',
  'txPackets',
  'txBytes',
  'rxDropped',
  'inputErrors',
  'ipFragments',
  'ipReassembled',
  'icmpEchoRequestsAnswered',
  'icmpEchoRepliesReceived',
  'icmpUnreachableReceived',
  'icmpIgnoredBadSeq',
  'icmpUnreachableSent',
  'icmpPacketTooBig',
  'udpRxDatagrams',
  'udpTxDatagrams',
  'udpRxQueueFull',
  'udpNoSocket',
  'tcpSegmentsReceived',
  'tcpSegmentsSent',
  'tcpRxBytes',
  'tcpTxBytes',
  'tcpRetransmits',
  'tcpRtoExpirations',
  'tcpSpuriousRtos',
  'tcpTailLossProbes',
  'tcpPacingWaits',
  'tcpEarlyRetransmits',
  'tcpFastRecoveries',
  'tcpLostRetransmits',
  'tcpDupAcks',
  'tcpOutOfOrder',
  'tcpDelayedAcks',
  'tcpWindowUpdates',
  'tcpWindowProbes',
  'tcpKeepAlives',
  'tcpTimeouts',
  'tcpRstSent',
  'tcpRstReceived',
  'tcpChallengeAcks',
  'tcpOutOfWindow',
  'tcpOowAcksSuppressed',
  'tcpNoAck',
  'tcpAckTooNew',
  'tcpAckTooOld',
  'tcpPawsRejected',
  'tcpBadSynAck',
  'tcpSynAckRetransmits',
  'tcpSynDropped',
  'tcpNoSocket',
  'tcpPureAcksSent',
  'tcpSackAcksSent',
  'tcpSackBlocksSent',
  'tcpDsacksSent',
  'tcpDupSegmentsReceived',
  'tcpHolesFilled',
  'tcpSlowHoleRepairs',
  'tcpOooMaxBytes',
  'tcpOooDropped',
  'tcpZeroWindowsSent',
  'tcpTimeWaitReused',
  'tcpConnectionsOpened',
  'tcpConnectionsAccepted',
  'tcpConnections',
  'tcpHalfOpen',
] as const;

const V4_DEFAULT_TTL = 64;

export class NetStack {
  readonly stats: Record<string, number>;
  readonly mtu: number;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly out: (p: Uint8Array) => void;
  private readonly v4: Uint8Array[] = [];
  private readonly v6: Uint8Array[] = [];
  private readonly ours = new Set<string>();
  private readonly conns = new Map<string, TcpConn>();
  private readonly listeners = new Map<number, Listener>();
  private readonly udp = new Map<number, UdpSock>();
  private readonly pings = new Map<
    number,
    {
      resolve: (r: { rttMs: number }) => void;
      reject: (e: unknown) => void;
      t0: number;
      data: Uint8Array;
      addr: Uint8Array;
      timer: TimerHandle;
    }
  >();
  private readonly frags: Reassembler;
  private readonly secret: Uint8Array;
  private readonly host: TcpHost;
  private readonly opts: Required<Pick<NetStackOptions, 'synBacklog' | 'acceptBacklog' | 'maxHalfOpen' | 'udpQueue'>>;
  private ipId: number;
  private pingId: number;
  private pingSeq = 0;
  private halfOpen = 0;
  private closedStack = false;
  private icmpTokens = 50;
  private icmpTokensAt = 0;

  constructor(o: NetStackOptions) {
    this.clock = o.clock;
    this.random = o.random;
    this.out = o.output;
    this.mtu = o.mtu ?? 1280;
    if (this.mtu < 1280 || this.mtu > 65535)
      throw new NetStackError('EINVAL', `netstack: mtu ${this.mtu} is outside 1280..65535`);
    for (const a of o.addresses) {
      const b = parseIp(a.replace(/\/\d+$/, ''));
      if (!b) throw new NetStackError('EINVAL', `netstack: bad address ${JSON.stringify(a)}`);
      (b.length === 4 ? this.v4 : this.v6).push(b);
      this.ours.add(ipKey(b));
    }
    this.stats = Object.fromEntries(STAT_KEYS.map((k) => [k, 0]));
    this.frags = new Reassembler();
    this.secret = o.random(32);
    const r = o.random(4);
    this.ipId = (r[0] << 8) | r[1];
    this.pingId = (r[2] << 8) | r[3];
    this.opts = {
      synBacklog: o.synBacklog ?? 128,
      acceptBacklog: o.acceptBacklog ?? 128,
      maxHalfOpen: o.maxHalfOpen ?? 1024,
      udpQueue: o.udpQueue ?? 512,
    };
    const cfg: TcpConfig = { ...DEFAULT_TCP_CONFIG, ...o.tcp, mtu: this.mtu };
    const self = this;
    this.host = {
      clock: this.clock,
      stats: this.stats,
      cfg,
      output: (p) => self.send(p),
      nextIpId: () => (self.ipId = (self.ipId + 1) & 0xffff),
      release: (c) => self.release(c),
      established: (c) => self.passiveEstablished(c),
      get acksHeld() {
        return self.acksHeld;
      },
      holdAck: (c) => {
        self.heldAcks.add(c);
      },
    };
  }

  // ------------------------------------------------------------------ ACK batching

  private acksHeld = false;
  private readonly heldAcks = new Set<TcpConn>();

  /**
   * The caller has more packets already received (e.g. still being decrypted) that will reach
   * input() next: connections hold the every-second-segment ACK (up to MAX_HELD_ACK_SEGMENTS)
   * until releaseAcks(). Out-of-order data, a filled hole, FIN and window updates are still
   * acknowledged at once. Fewer pure ACKs mean less work per byte on every hop of a relayed path.
   */
  holdAcks(): void {
    this.acksHeld = true;
  }

  /** The batch ended: every connection sends the ACK it held. Idempotent. */
  releaseAcks(): void {
    this.acksHeld = false;
    if (this.heldAcks.size === 0) return;
    const conns = [...this.heldAcks];
    this.heldAcks.clear();
    for (const c of conns) c.releaseHeldAck();
  }

  get addresses(): string[] {
    return [...this.v4, ...this.v6].map(formatIp);
  }

  // ------------------------------------------------------------------ input

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

  private drop(reason: string): void {
    this.stats.rxDropped++;
    const k = 'drop_' + reason;
    this.stats[k] = (this.stats[k] ?? 0) + 1;
  }

  private inputInner(buf: Uint8Array): void {
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

  private inputTcp(p: IpPacket): void {
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

  private passiveOpen(l: Listener, p: IpPacket, seg: TcpSegment): void {
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

  private passiveEstablished(c: TcpConn): void {
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

  private release(c: TcpConn): void {
    this.heldAcks.delete(c);
    if (this.conns.get(c.key) === c) this.conns.delete(c.key);
    const l = this.listeners.get(c.listenerPort);
    if (l && l.halfOpen.delete(c)) this.halfOpen--;
    this.stats.tcpHalfOpen = this.halfOpen;
    this.stats.tcpConnections = this.conns.size;
  }

  /** RST for a segment that has no connection (RFC 9293 §3.10.7.1). */
  private sendRst(p: IpPacket, seg: TcpSegment): void {
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

  private inputUdp(p: IpPacket): void {
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

  private inputIcmp(p: IpPacket): void {
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

  // ------------------------------------------------------------------ output

  private send(p: Uint8Array): void {
    if (this.closedStack) return;
    this.stats.txPackets++;
    this.stats.txBytes += p.length;
    // A packet to one of our own addresses is looped back (asynchronously, so no re-entrancy).
    const dst = p[0] >> 4 === 4 ? p.subarray(16, 20) : p.subarray(24, 40);
    if (this.ours.has(ipKey(dst))) {
      queueMicrotask(() => this.input(p));
      return;
    }
    try {
      this.out(p);
    } catch {
      this.stats.outputErrors = (this.stats.outputErrors ?? 0) + 1;
    }
  }

  private sendIcmp(src: Uint8Array, dst: Uint8Array, type: number, code: number, rest: number, body: Uint8Array): void {
    const v6 = src.length === 16;
    const ipLen = v6 ? 40 : 20;
    const pkt = new Uint8Array(ipLen + 8 + body.length);
    pkt.set(body, ipLen + 8);
    encodeIcmpHeader(pkt, ipLen, type, code, rest, body.length, v6, src, dst);
    encodeIpHeader(pkt, {
      src,
      dst,
      proto: v6 ? PROTO_ICMPV6 : PROTO_ICMP,
      payloadLength: 8 + body.length,
      id: this.host.nextIpId(),
      ttl: V4_DEFAULT_TTL,
    });
    this.send(pkt);
  }

  /** ICMP destination unreachable quoting p (RFC 792; RFC 4443 §3.1), rate-limited (RFC 4443 §2.4(f)). */
  private sendUnreachable(p: IpPacket, code: number, v6Type = ICMP6_DEST_UNREACH, rest = 0): void {
    const now = this.clock.now();
    this.icmpTokens = Math.min(50, this.icmpTokens + ((now - this.icmpTokensAt) / 1000) * 100);
    this.icmpTokensAt = now;
    if (this.icmpTokens < 1) return;
    this.icmpTokens--;
    const v6 = p.version === 6;
    // Quote as much as fits in the minimum MTU (RFC 4443 §3.1; RFC 1812 §4.3.2.3 for IPv4, 576 bytes).
    const max = v6 ? 1280 - 48 : 576 - 28;
    const quote = p.packet.subarray(0, Math.min(p.packet.length, max));
    this.stats.icmpUnreachableSent++;
    this.sendIcmp(p.dst.slice(), p.src.slice(), v6 ? v6Type : ICMP4_DEST_UNREACH, code, rest, quote);
  }

  // ------------------------------------------------------------------ sockets

  private localFor(dst: Uint8Array): Uint8Array | undefined {
    return (dst.length === 4 ? this.v4 : this.v6)[0];
  }

  private u32(): number {
    const b = this.random(4);
    return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  }

  /** RFC 6528 ISN: M + F(4-tuple, secret), M a 4 µs clock, F a keyed hash (SHA-256 here). */
  private isn(local: Uint8Array, lport: number, remote: Uint8Array, rport: number): number {
    const m = new Uint8Array(this.secret.length + local.length + remote.length + 4);
    m.set(this.secret, 0);
    m.set(local, 32);
    m.set(remote, 32 + local.length);
    const o = 32 + local.length + remote.length;
    m[o] = lport >> 8;
    m[o + 1] = lport & 0xff;
    m[o + 2] = rport >> 8;
    m[o + 3] = rport & 0xff;
    const h = sha256(m);
    const f = ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
    return (Math.floor(this.clock.now() * 250) + f) >>> 0;
  }

  private ephemeralPort(remote: Uint8Array, rport: number, local: Uint8Array): number {
    // RFC 6056 §3.3.1-style: random start in the dynamic range, then linear probing.
    const range = 65535 - 49152 + 1;
    const b = this.random(2);
    const start = ((b[0] << 8) | b[1]) % range;
    for (let i = 0; i < range; i++) {
      const port = 49152 + ((start + i) % range);
      if (this.listeners.has(port) || this.udp.has(port)) continue;
      if (!this.conns.has(connKey(remote, rport, local, port))) return port;
    }
    throw new NetStackError('EADDRNOTAVAIL', 'netstack: no free ephemeral port');
  }

  /** Active open. Rejects with ECONNREFUSED (RST or ICMP), ETIMEDOUT, EHOSTUNREACH, EINVAL. */
  async connect(addr: string, port: number, o: { timeoutMs?: number } = {}): Promise<TcpConnection> {
    if (this.closedStack) throw new NetStackError('ESHUTDOWN', 'netstack is closed');
    const dst = parseIp(addr.replace(/^\[(.*)\]$/, '$1'));
    if (!dst) throw new NetStackError('EINVAL', `connect: bad address ${JSON.stringify(addr)}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new NetStackError('EINVAL', `connect: bad port ${port}`);
    const src = this.localFor(dst);
    if (!src)
      throw new NetStackError('EADDRNOTAVAIL', `connect ${addr}: no local IPv${dst.length === 4 ? 4 : 6} address`);
    const lport = this.ephemeralPort(dst, port, src);
    const c = new TcpConn(this.host, src.slice(), lport, dst, port, this.isn(src, lport, dst, port), this.u32(), true);
    this.conns.set(c.key, c);
    this.stats.tcpConnections = this.conns.size;
    this.stats.tcpConnectionsOpened++;
    const timeoutMs = o.timeoutMs ?? 30_000;
    const t = this.clock.setTimeout(() => {
      if (c.state === 'SYN_SENT' || c.state === 'SYN_RECEIVED') {
        this.stats.tcpTimeouts++;
        c.terminate(new NetStackError('ETIMEDOUT', `connect ${c.remoteInfo}: timed out after ${timeoutMs} ms`));
      }
    }, timeoutMs);
    c.start();
    try {
      return await c.opened;
    } finally {
      this.clock.clearTimeout(t);
    }
  }

  listen(port: number): TcpListener {
    if (this.closedStack) throw new NetStackError('ESHUTDOWN', 'netstack is closed');
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new NetStackError('EINVAL', `listen: bad port ${port}`);
    if (this.listeners.has(port)) throw new NetStackError('EADDRINUSE', `listen: port ${port} is already in use`);
    const l = new Listener(port, () => {
      this.listeners.delete(port);
      for (const c of l.halfOpen) c.abort('listener closed');
    });
    this.listeners.set(port, l);
    return l;
  }

  udpBind(port?: number): UdpSocket {
    if (this.closedStack) throw new NetStackError('ESHUTDOWN', 'netstack is closed');
    if (port === undefined || port === 0) {
      const b = this.random(2);
      const range = 65535 - 49152 + 1;
      const start = ((b[0] << 8) | b[1]) % range;
      port = -1;
      for (let i = 0; i < range; i++) {
        const p = 49152 + ((start + i) % range);
        if (!this.udp.has(p)) {
          port = p;
          break;
        }
      }
      if (port < 0) throw new NetStackError('EADDRNOTAVAIL', 'udpBind: no free port');
    }
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new NetStackError('EINVAL', `udpBind: bad port ${port}`);
    if (this.udp.has(port)) throw new NetStackError('EADDRINUSE', `udpBind: port ${port} is already in use`);
    const s = new UdpSock(
      port,
      this.opts.udpQueue,
      (addr, dport, data) => this.udpSend(port!, addr, dport, data),
      () => this.udp.delete(port!),
      this.stats,
    );
    this.udp.set(port, s);
    return s;
  }

  private udpSend(sport: number, addr: string, dport: number, data: Uint8Array): void {
    if (this.closedStack) throw new NetStackError('ESHUTDOWN', 'netstack is closed');
    const dst = parseIp(addr.replace(/^\[(.*)\]$/, '$1'));
    if (!dst) throw new NetStackError('EINVAL', `udp send: bad address ${JSON.stringify(addr)}`);
    if (!Number.isInteger(dport) || dport < 1 || dport > 65535)
      throw new NetStackError('EINVAL', `udp send: bad port ${dport}`);
    const src = this.localFor(dst);
    if (!src)
      throw new NetStackError('EADDRNOTAVAIL', `udp send ${addr}: no local IPv${dst.length === 4 ? 4 : 6} address`);
    const ipLen = dst.length === 4 ? 20 : 40;
    const total = ipLen + UDP_HEADER_LEN + data.length;
    if (total > this.mtu)
      throw new NetStackError(
        'EMSGSIZE',
        `udp send: ${data.length} bytes exceed the MTU (${this.mtu - ipLen - UDP_HEADER_LEN} max)`,
      );
    const pkt = new Uint8Array(total);
    pkt.set(data, ipLen + UDP_HEADER_LEN);
    encodeUdpHeader(pkt, ipLen, sport, dport, data.length, src, dst);
    encodeIpHeader(pkt, {
      src,
      dst,
      proto: PROTO_UDP,
      payloadLength: UDP_HEADER_LEN + data.length,
      id: this.host.nextIpId(),
    });
    this.stats.udpTxDatagrams++;
    this.send(pkt);
  }

  /** ICMP/ICMPv6 echo. Resolves with the round-trip time; rejects on timeout or ICMP error. */
  ping(addr: string, o: { timeoutMs?: number; size?: number } = {}): Promise<{ rttMs: number }> {
    if (this.closedStack) return Promise.reject(new NetStackError('ESHUTDOWN', 'netstack is closed'));
    const dst = parseIp(addr.replace(/^\[(.*)\]$/, '$1'));
    if (!dst) return Promise.reject(new NetStackError('EINVAL', `ping: bad address ${JSON.stringify(addr)}`));
    const src = this.localFor(dst);
    if (!src)
      return Promise.reject(
        new NetStackError('EADDRNOTAVAIL', `ping ${addr}: no local IPv${dst.length === 4 ? 4 : 6} address`),
      );
    const size = o.size ?? 56;
    const ipLen = dst.length === 4 ? 20 : 40;
    if (!Number.isInteger(size) || size < 0 || ipLen + 8 + size > this.mtu)
      return Promise.reject(new NetStackError('EMSGSIZE', `ping: size ${size} does not fit the MTU`));
    const timeoutMs = o.timeoutMs ?? 5000;
    let seq = -1;
    for (let i = 0; i < 65536; i++) {
      this.pingSeq = (this.pingSeq + 1) & 0xffff;
      if (!this.pings.has(this.pingSeq)) {
        seq = this.pingSeq;
        break;
      }
    }
    if (seq < 0) return Promise.reject(new NetStackError('EADDRNOTAVAIL', 'ping: too many pings outstanding'));
    const data = this.random(size);
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        if (this.pings.get(seq)?.timer === timer) {
          this.pings.delete(seq);
          reject(new NetStackError('ETIMEDOUT', `ping ${formatIp(dst)}: no reply within ${timeoutMs} ms`));
        }
      }, timeoutMs);
      this.pings.set(seq, { resolve, reject, t0: this.clock.now(), data, addr: dst, timer });
      this.sendIcmp(
        src,
        dst,
        dst.length === 4 ? ICMP4_ECHO_REQUEST : ICMP6_ECHO_REQUEST,
        0,
        ((this.pingId << 16) | seq) >>> 0,
        data,
      );
    });
  }

  /** Number of TCP connections in any state (for bounds tests). */
  get connectionCount(): number {
    return this.conns.size;
  }

  /** Connection states, for diagnostics. */
  connections(): { local: string; remote: string; state: string }[] {
    return [...this.conns.values()].map((c) => ({
      local: `${c.localAddress}:${c.localPort}`,
      remote: `${c.remoteAddress}:${c.remotePort}`,
      state: c.state,
    }));
  }

  /** Resets every connection, closes listeners and sockets, fails pending pings. */
  close(): void {
    if (this.closedStack) return;
    for (const c of [...this.conns.values()]) c.abort('netstack closed');
    for (const l of [...this.listeners.values()]) l.close();
    for (const s of [...this.udp.values()]) s.close();
    for (const [, w] of this.pings) {
      this.clock.clearTimeout(w.timer);
      w.reject(new NetStackError('ESHUTDOWN', 'netstack closed'));
    }
    this.pings.clear();
    this.closedStack = true;
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

class Listener implements TcpListener {
  readonly queue: TcpConn[] = [];
  readonly halfOpen = new Set<TcpConn>();
  private waiters: { resolve: (c: TcpConnection) => void; reject: (e: unknown) => void }[] = [];
  closed = false;

  constructor(
    readonly port: number,
    private readonly onClose: () => void,
  ) {}

  deliver(c: TcpConn): void {
    const w = this.waiters.shift();
    if (w) w.resolve(c);
    else this.queue.push(c);
  }

  accept(): Promise<TcpConnection> {
    if (this.closed) return Promise.reject(new NetStackError('ESHUTDOWN', `listener on port ${this.port} is closed`));
    const c = this.queue.shift();
    if (c) return Promise.resolve(c);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TcpConnection> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (e) {
        if (this.closed) return;
        throw e;
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.queue.splice(0)) c.abort('listener closed');
    for (const w of this.waiters.splice(0))
      w.reject(new NetStackError('ESHUTDOWN', `listener on port ${this.port} is closed`));
    this.onClose();
  }
}

class UdpSock implements UdpSocket {
  readonly readable: ReadableStream<UdpMessage>;
  private ctrl!: ReadableStreamDefaultController<UdpMessage>;
  private closed = false;

  constructor(
    readonly localPort: number,
    queue: number,
    private readonly sendFn: (addr: string, port: number, data: Uint8Array) => void,
    private readonly onClose: () => void,
    private readonly stats: Record<string, number>,
  ) {
    this.readable = new ReadableStream<UdpMessage>(
      { start: (c) => void (this.ctrl = c), cancel: () => this.close() },
      { highWaterMark: queue },
    );
  }

  push(m: UdpMessage): void {
    if (this.closed) return;
    if ((this.ctrl.desiredSize ?? 0) <= 0) {
      this.stats.udpRxQueueFull++; // the reader is behind: drop, as a kernel socket buffer would
      return;
    }
    this.ctrl.enqueue(m);
  }

  send(addr: string, port: number, data: Uint8Array): void {
    if (this.closed) throw new NetStackError('ESHUTDOWN', `udp socket ${this.localPort} is closed`);
    this.sendFn(addr, port, data);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.ctrl.close();
    } catch {
      /* cancelled */
    }
    this.onClose();
  }
}
