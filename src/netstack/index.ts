// netstack/: a userspace TCP/IP stack for tailtab (issue 6). It takes and emits raw IP packets and
// knows nothing of WireGuard; the node wires output() to its routes and feeds decrypted packets to
// input(). Time (Clock) and randomness (RandomSource) are injected, so tests run on a VirtualClock.
//
// API:
//   const stack = createNetStack({ addresses, clock, random, mtu?: 1280, output })
//   stack.input(ipPacket)                       never throws; malformed packets are dropped and counted
//   await stack.connect(addr, port, { timeoutMs })  -> TcpConnection
//       rejects with NetStackError: ECONNREFUSED (RST or ICMP port/admin unreachable), EHOSTUNREACH,
//       ETIMEDOUT (no answer; default 30 s), EINVAL, EADDRNOTAVAIL
//   const l = stack.listen(port)                -> TcpListener: await l.accept(), or `for await (const c of l)`; l.close()
//   const u = stack.udpBind(port?)              -> UdpSocket: u.send(addr, port, data); u.readable yields {addr, port, data}; u.close()
//   await stack.ping(addr, { timeoutMs, size }) -> { rttMs }
//   stack.stats                                 counters (rx/tx, drop_<reason>, tcpRetransmits, ...)
//   stack.close()                               resets everything
//
//   TcpConnection: readable (ReadableStream<Uint8Array>, ends at the peer's FIN, errors on reset),
//   writable (WritableStream<Uint8Array>, write() waits while the send buffer is full; close() = FIN),
//   close() (graceful: FIN after the data the writable has handed over, stop reading; resolves when
//   the FIN is acknowledged; to flush writes still queued in a writer, await writer.close() instead),
//   abort(reason?) (RST), closed (resolves on a clean end, rejects on reset/timeout/abort),
//   localAddress, localPort, remoteAddress, remotePort, state.
import { NetStack, type NetStackOptions } from './stack.js';

export { NetStack, type NetStackOptions, type TcpListener, type UdpSocket, type UdpMessage } from './stack.js';
export { type TcpConnection, type TcpConfig, type TcpState, DEFAULT_TCP_CONFIG } from './tcp.js';
export { NetStackError, type NetErrorCode } from './errors.js';

export function createNetStack(o: NetStackOptions): NetStack {
  return new NetStack(o);
}
