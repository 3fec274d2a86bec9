// The userspace IP stack: takes and emits raw IPv4/IPv6 packets (knows nothing of WireGuard), answers
// ICMP/ICMPv6 echo, reassembles IPv4 fragments, demultiplexes TCP connections and listeners and UDP
// sockets, and turns ICMP errors into failed connections. Time and randomness are injected.
//
// Socket API shapes (documented in index.ts):
//   connect(addr, port) -> Promise<TcpConnection>     (web streams + close/abort/closed)
//   listen(port)        -> TcpListener                 (accept() / for await; bounded backlogs)
//   udpBind(port?)      -> UdpSocket                   (send(); readable of {addr, port, data})
//   ping(addr)          -> Promise<{ rttMs }>//
// NetStack is one object whose methods live in files by role: stack-core.ts (state, output, ISN and
// port choice) <- stack-input.ts (demultiplexing, passive open, ICMP) <- stack.ts (the socket API);
// the option and socket types in stack-types.ts, the listener and UDP socket in stack-sockets.ts.
import { formatIp, parseIp } from './addr.js';
import { NetStackError } from './errors.js';
import { ICMP4_ECHO_REQUEST, ICMP6_ECHO_REQUEST } from './icmp.js';
import { encodeIpHeader, PROTO_UDP } from './ip.js';
import { TcpConn, type TcpConnection } from './tcp.js';
import { encodeUdpHeader, UDP_HEADER_LEN } from './udp.js';
import { Listener, UdpSock } from './stack-sockets.js';
import { NetStackInput } from './stack-input.js';
import type { TcpListener, UdpSocket } from './stack-types.js';

export type { NetStackOptions, UdpMessage, UdpSocket, TcpListener } from './stack-types.js';

export class NetStack extends NetStackInput {
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

  protected udpSend(sport: number, addr: string, dport: number, data: Uint8Array): void {
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
