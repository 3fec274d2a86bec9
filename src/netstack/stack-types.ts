// The options and socket shapes of the NetStack (stack.ts), and the names of its counters.
import type { RandomSource } from '../crypto/random.js';
import type { Clock } from '../platform/clock.js';
import type { TcpConfig, TcpConnection } from './tcp.js';

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

export const STAT_KEYS = [
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
