// The options of a WireGuardDevice (device.ts) and the handshake events it reports.
import type { RandomSource } from '../../crypto/random.js';
import type { StaticX25519Key } from '../../crypto/static-key.js';
import type { Clock } from '../../platform/clock.js';
import type { AeadEngine } from './aead-batch.js';
import type { InitiationKind, WireGuardTimerConfig } from './timers.js';

export interface WireGuardDeviceOptions {
  /** Our static key: raw bytes, or a key object (a non-extractable WebCrypto key, see crypto/static-key.ts). */
  privateKey: Uint8Array | StaticX25519Key;
  clock: Clock;
  random: RandomSource;
  /** Send a WireGuard datagram towards a peer (the node sends it over DERP; the interop test over UDP). */
  send: (peerPublicKey: Uint8Array, datagram: Uint8Array) => void;
  /** A decrypted IP packet arrived from a peer (keepalives are not delivered). */
  onPacket: (peerPublicKey: Uint8Array, ipPacket: Uint8Array) => void;
  onHandshake?: (peerPublicKey: Uint8Array) => void;
  /**
   * Each handshake message sent or received, per peer (for a debug log: no key material). The
   * first-contact retries (timers.ts) show as initiations with kind 'early'.
   */
  onHandshakeEvent?: (peerPublicKey: Uint8Array, ev: HandshakeEvent) => void;
  /**
   * Wall-clock time in ms since the Unix epoch, for the TAI64N timestamp of initiations. Peers reject
   * an initiation whose timestamp is not later than the last one they saw from us, so this must keep
   * increasing across restarts of the node: pass `() => Date.now()` in production. Defaults to
   * clock.now() (fine for tests; NOT for a node that restarts while its peers keep running).
   */
  wallClockMs?: () => number;
  /** Protocol constants; tests and the interop test shorten them. */
  timers?: Partial<WireGuardTimerConfig>;
  /** AEAD engine for transport data; default: WebCrypto ChaCha20-Poly1305 when present, else @noble. */
  aead?: AeadEngine | Promise<AeadEngine>;
  /** Handshake messages per second above which MAC2 (a cookie) is required. Default 64. */
  underLoadThreshold?: number;
  /** Packets queued per peer while no session exists (oldest dropped first). Default 128. */
  maxStagedPackets?: number;
  /**
   * Packets per peer and direction waiting for the AEAD engine (WebCrypto is asynchronous), beyond
   * which new ones are dropped and counted (rxDropBacklog, txDropBacklog), as wireguard-go bounds
   * its per-peer inbound and outbound queues (device/queueconstants_default.go: 1024 each).
   */
  maxQueuedPerPeer?: number;
  /** Tunnel MTU, for padding (wireguard-go calculatePaddingSize). Default 1280 (Tailscale's). */
  mtu?: number;
  /**
   * Every transport packet received so far has been decrypted and delivered (receiveBacklog fell
   * to 0): the end of a receive batch, where the node lets netstack send the ACKs it held back.
   */
  onReceiveIdle?: () => void;
}

/** A handshake message sent or received (WireGuardDeviceOptions.onHandshakeEvent). */
export type HandshakeEvent =
  | { type: 'initiation-sent'; kind: InitiationKind; attempt: number }
  | { type: 'initiation-received' }
  | { type: 'response-sent' }
  | { type: 'response-received' }
  | { type: 'gave-up'; attempts: number }
  | { type: 'reset' };
