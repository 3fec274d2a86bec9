// The shapes the TCP files share: connection states (RFC 9293 §3.3.2), the tunables (RFC 9293,
// RFC 7323, RFC 1122 §4.2.3.6), what a connection needs from its stack, the socket the application
// sees, and 32-bit sequence arithmetic (RFC 9293 §3.4).
import type { Clock } from '../platform/clock.js';
import type { PacingConfig } from './pacing.js';
import type { TcpConn } from './tcp.js';

export type TcpState =
  | 'SYN_SENT'
  | 'SYN_RECEIVED'
  | 'ESTABLISHED'
  | 'FIN_WAIT_1'
  | 'FIN_WAIT_2'
  | 'CLOSE_WAIT'
  | 'CLOSING'
  | 'LAST_ACK'
  | 'TIME_WAIT'
  | 'CLOSED';

export interface TcpConfig {
  /** Link MTU; MSS = MTU - IP header - 20 (RFC 9293 §3.7.1, RFC 8200 minimum 1280). */
  mtu: number;
  /** Receive buffer bytes: the most we advertise and queue for the reader. */
  recvBuffer: number;
  /** Send buffer bytes: writes wait (backpressure) while this much is unacknowledged/unsent. */
  sendBuffer: number;
  /** Delayed ACK timeout (RFC 9293 §3.8.6.3 requires < 0.5 s; Linux uses 40 ms minimum). */
  delayedAckMs: number;
  /** Data retransmissions of one segment before the connection fails (RFC 1122 R2, ~100 s and more). */
  maxRetransmits: number;
  /** SYN retransmissions before connect fails (with 1 s initial RTO: 1+2+4+8+16 s). */
  maxSynRetransmits: number;
  /** SYN-ACK retransmissions for a half-open passive connection before it is forgotten. */
  maxSynAckRetransmits: number;
  /** TIME_WAIT duration, 2*MSL (RFC 9293 §3.4.2; Linux uses 60 s). */
  timeWaitMs: number;
  /** How long FIN_WAIT_2 waits for the peer's FIN after our side is fully closed (Linux tcp_fin_timeout). */
  finWait2Ms: number;
  /** Keepalive (RFC 1122 §4.2.3.6): idle time before the first probe; 0 = off (the RFC's default). */
  keepAliveIdleMs: number;
  keepAliveIntervalMs: number;
  keepAliveCount: number;
  /** Unanswered zero-window probes before giving up (a peer that vanished while its window was 0). */
  maxPersistProbes: number;
  /** Our window-scale shift (RFC 7323 §2.2); 0..14. */
  windowScale: number;
  timestamps: boolean;
  sack: boolean;
  /**
   * Nagle's algorithm (RFC 896, RFC 9293 §3.7.4): hold a partial segment while data is unacknowledged.
   * Off by default: SSH keystrokes and request/response traffic want each write sent at once.
   */
  nagle: boolean;
  /**
   * Send pacing (pacing.ts): each window spread over the RTT instead of sent in one burst, so
   * derper's 32-packet per-client queue is not overrun. Off unless `{ enabled: true }` (pacing.ts says why).
   */
  pacing: Partial<PacingConfig>;
}

export const DEFAULT_TCP_CONFIG: TcpConfig = {
  mtu: 1280,
  // 4 MiB, like the upper end of Linux's tcp_rmem autotuning (6 MiB) and gVisor's in tailscaled
  // (8 MiB): over DERP our reader is often the bottleneck, queues build, and a 1 MiB window left the
  // sender no new data to send during loss recovery, so each lost retransmission cost it a 200 ms RTO
  // (tailnet bench). Memory is only used while the reader falls behind or a hole is being repaired.
  recvBuffer: 4 << 20,
  sendBuffer: 1 << 20,
  delayedAckMs: 40,
  maxRetransmits: 12,
  maxSynRetransmits: 5,
  maxSynAckRetransmits: 4,
  timeWaitMs: 60_000,
  finWait2Ms: 60_000,
  keepAliveIdleMs: 0,
  keepAliveIntervalMs: 75_000,
  keepAliveCount: 9,
  maxPersistProbes: 20,
  windowScale: 7,
  timestamps: true,
  sack: true,
  nagle: false,
  pacing: {},
};

/** What a connection needs from the stack that owns it. */
export interface TcpHost {
  readonly clock: Clock;
  readonly stats: Record<string, number>;
  readonly cfg: TcpConfig;
  output(packet: Uint8Array): void;
  nextIpId(): number;
  /** The connection reached CLOSED: forget it. */
  release(conn: TcpConn): void;
  /** A passive connection became ESTABLISHED: hand it to its listener. */
  established(conn: TcpConn): void;
  /**
   * True while the caller of input() has more packets already received and queued (NetStack.holdAcks):
   * the every-second-segment ACK then waits for releaseAcks(), as a receiver with GRO/NAPI batching
   * acknowledges a whole batch at once instead of every other segment of it.
   */
  readonly acksHeld?: boolean;
  /** The connection owes an ACK that waits for releaseAcks(). */
  holdAck?(conn: TcpConn): void;
}

/**
 * A held ACK still goes out once this many in-order segments are unacknowledged: the sender's next
 * burst is about what one ACK acknowledges, and a DERP server queues at most 32 packets per client
 * (derp_server.go perClientSendQueueDepth), so a stretch ACK must not free much more than that.
 */
export const MAX_HELD_ACK_SEGMENTS = 8;

export interface TcpConnectionInfo {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

/** The socket: web streams with backpressure plus graceful close / abort. */
export interface TcpConnection extends TcpConnectionInfo {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** Graceful close: FIN after the queued data, stop reading; resolves when our FIN is acknowledged. */
  close(): Promise<void>;
  /** Abortive close: RST now, queued data discarded. */
  abort(reason?: unknown): void;
  /** Resolves when the connection ends cleanly, rejects with a NetStackError on reset/timeout/abort. */
  readonly closed: Promise<void>;
  readonly state: TcpState;
}

export const u32 = (x: number) => x >>> 0;
/** Signed distance a - b of two 32-bit sequence numbers (RFC 9293 §3.4 modular comparison). */
export const seqDiff = (a: number, b: number) => (a - b) | 0;
