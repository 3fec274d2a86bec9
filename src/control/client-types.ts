// The types of the control client (client.ts): its states, options, stage deadlines, status and counters.
import type { RandomSource } from '../crypto/random.js';
import type { Clock } from '../platform/clock.js';
import type { FetchLike } from './key.js';
import type { NetMapStats } from './netmap.js';
import type { ControlStore } from './storage.js';
import type { WebSocketFactory } from '../platform/websocket.js';

export type ControlClientState =
  | 'idle' // nothing started
  | 'registering' // a /machine/register is in flight
  | 'needs-login' // control wants a person to open AuthURL (we long-poll meanwhile)
  | 'logged-in' // registered; no map stream yet
  | 'connecting' // dialling for the map stream
  | 'streaming' // map stream open and delivering
  | 'reconnecting' // waiting out the backoff after a failed stream; last map kept
  | 'key-expired' // node key expired: login() again
  | 'logged-out'
  | 'stopped';

export class ControlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlError';
  }
}

export interface ControlClientOptions {
  controlUrl: string;
  store: ControlStore;
  webSocketFactory: WebSocketFactory;
  clock: Clock;
  random: RandomSource;
  /** Our disco public key (the node owns it; control must see it non-zero or peers drop us). */
  discoPublicKey: Uint8Array;
  /** The control key given in configuration ("mkey:…"), skipping GET /key (CORS). */
  controlKey?: string;
  fetch?: FetchLike;
  log?: (line: string) => void;
  /** Wall-clock RFC 3339 time, for PeerSeenChange stamps only. */
  wallTime?: () => string;
  os?: string;
  ipnVersion?: string;
  maxMapMessage?: number;
  /** Ask control to zstd-compress map messages, as tailscaled does (default 'zstd'). */
  mapCompression?: 'zstd' | 'none';
  /** No map message for this long = dead stream (Headscale sends keepalives every ~60 s). */
  watchdogMs?: number;
  /** The reconnect curve's unit (default 10 ms: n²·10 ms after the n-th failure, tailscale util/backoff). */
  backoffBaseMs?: number;
  /** The reconnect backoff's cap (default 30 s, as tailscaled's mapRoutine in controlclient/auto.go). */
  backoffMaxMs?: number;
  /** Deadlines of each stage of reaching control (ms); a stage that overruns fails with its name. */
  timeouts?: Partial<ControlTimeouts>;
}

/** How long each stage of reaching control may take before it fails with an error naming it. */
export interface ControlTimeouts {
  /** GET /key (the server's Noise key). */
  keyMs: number;
  /** The WebSocket upgrade on /ts2021. */
  openMs: number;
  /** The server's Noise handshake response after the WebSocket opened. */
  handshakeMs: number;
  /** POST /machine/register: the whole answer (not the Followup long-poll, which waits for a person). */
  registerMs: number;
  /** POST /machine/map: the response head (the stream itself has the watchdog). */
  mapHeadMs: number;
}

export const DEFAULT_CONTROL_TIMEOUTS: ControlTimeouts = {
  keyMs: 15_000,
  openMs: 15_000,
  handshakeMs: 15_000,
  registerMs: 30_000,
  mapHeadMs: 30_000,
};

/** What the status view shows about control: the state, why it is down and when the next try is. */
export interface ControlStatus {
  state: ControlClientState;
  lastError?: string;
  /** While waiting to reconnect: milliseconds until the next attempt. */
  retryInMs?: number;
  /** Consecutive failed map streams (0 once one delivered a map). */
  failures: number;
}

export interface LoginOptions {
  authKey?: string;
  ephemeral?: boolean;
  hostname: string;
  onAuthUrl?: (url: string) => void;
  /** Register even when the stored login looks usable (default: a returning node skips it). */
  forceRegister?: boolean;
}

export interface ControlClientStats extends NetMapStats {
  mapStreams: number;
  reconnects: number;
  streamErrors: number;
  malformedMaps: number;
  /** Map messages that came zstd-compressed and were decoded; their compressed and decoded bytes. */
  compressedMaps: number;
  mapBytes: number;
  mapDecodedBytes: number;
  lastError: string;
}
