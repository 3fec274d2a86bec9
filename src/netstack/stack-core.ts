// The state a NetStack shares between its roles, and what they all use: addresses, counters, the
// connection/listener/socket tables, the TCP host hooks, ACK batching, packet output (loopback,
// ICMP, rate-limited unreachables) and ISN/port choice. NetStack is one object whose methods are
// spread over files by role, as gVisor's stack splits nic.go (input dispatch) from transport
// endpoints: NetStackCore (this file) <- NetStackInput (stack-input.ts: demultiplexing, passive
// open, ICMP) <- NetStack (stack.ts: the socket API).
import { sha256 } from '@noble/hashes/sha2.js';
import type { RandomSource } from '../crypto/random.js';
import type { Clock, TimerHandle } from '../platform/clock.js';
import { formatIp, ipKey, parseIp } from './addr.js';
import { NetStackError } from './errors.js';
import { Reassembler } from './fragments.js';
import { encodeIcmpHeader, ICMP4_DEST_UNREACH, ICMP6_DEST_UNREACH } from './icmp.js';
import { encodeIpHeader, type IpPacket, PROTO_ICMP, PROTO_ICMPV6 } from './ip.js';
import { connKey, DEFAULT_TCP_CONFIG, type TcpConn, type TcpConfig, type TcpHost } from './tcp.js';
import type { Listener, UdpSock } from './stack-sockets.js';
import { type NetStackOptions, STAT_KEYS } from './stack-types.js';

const V4_DEFAULT_TTL = 64;

export abstract class NetStackCore {
  readonly stats: Record<string, number>;
  readonly mtu: number;
  protected readonly clock: Clock;
  protected readonly random: RandomSource;
  protected readonly out: (p: Uint8Array) => void;
  protected readonly v4: Uint8Array[] = [];
  protected readonly v6: Uint8Array[] = [];
  protected readonly ours = new Set<string>();
  protected readonly conns = new Map<string, TcpConn>();
  protected readonly listeners = new Map<number, Listener>();
  protected readonly udp = new Map<number, UdpSock>();
  protected readonly pings = new Map<
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
  protected readonly frags: Reassembler;
  protected readonly secret: Uint8Array;
  protected readonly host: TcpHost;
  protected readonly opts: Required<Pick<NetStackOptions, 'synBacklog' | 'acceptBacklog' | 'maxHalfOpen' | 'udpQueue'>>;
  protected ipId: number;
  protected pingId: number;
  protected pingSeq = 0;
  protected halfOpen = 0;
  protected closedStack = false;
  protected icmpTokens = 50;
  protected icmpTokensAt = 0;

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

  protected acksHeld = false;
  protected readonly heldAcks = new Set<TcpConn>();

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

  // ------------------------------------------------------------------ output

  protected send(p: Uint8Array): void {
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

  protected sendIcmp(
    src: Uint8Array,
    dst: Uint8Array,
    type: number,
    code: number,
    rest: number,
    body: Uint8Array,
  ): void {
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
  protected sendUnreachable(p: IpPacket, code: number, v6Type = ICMP6_DEST_UNREACH, rest = 0): void {
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

  protected localFor(dst: Uint8Array): Uint8Array | undefined {
    return (dst.length === 4 ? this.v4 : this.v6)[0];
  }

  protected u32(): number {
    const b = this.random(4);
    return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  }

  /** RFC 6528 ISN: M + F(4-tuple, secret), M a 4 µs clock, F a keyed hash (SHA-256 here). */
  protected isn(local: Uint8Array, lport: number, remote: Uint8Array, rport: number): number {
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

  protected ephemeralPort(remote: Uint8Array, rport: number, local: Uint8Array): number {
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

  /** One IP packet from the network (stack-input.ts); output loops packets to ourselves back to it. */
  abstract input(ipPacket: Uint8Array): void;
  protected abstract release(c: TcpConn): void;
  protected abstract passiveEstablished(c: TcpConn): void;
}
