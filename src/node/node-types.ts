// The types of TailnetNode (node.ts): what it needs from the other layers, and its configuration,
// status and events.
import type { RandomSource } from '../crypto/random.js';
import type { StaticX25519Key } from '../crypto/static-key.js';
import type { PlainNetMapPeer } from '../control/netmap.js';
import type { ControlStore } from '../control/storage.js';
import type { Clock } from '../platform/clock.js';
import type { WebSocketFactory } from '../platform/websocket.js';
import type { AeadEngine } from '../noise/wireguard/aead-batch.js';
import type { WireGuardTimerConfig } from '../noise/wireguard/timers.js';
import type { FilterRule } from './filter.js';
import type { RoutePrefs } from './routes.js';
import type { PeerPathStatus } from './webrtc-path.js';
import type { PeerConnectionFactory } from './webrtc-peer.js';

// ---- what the node needs from the other layers ----

export interface DerpMapLike {
  regions: { regionId: number; regionCode?: string; regionName?: string; nodes: unknown[] }[];
}

/** A peer as control/netmap.ts hands it over (toPlainNetMap): one definition, not a copy. */
export type NetMapPeer = PlainNetMapPeer;

export interface NodeNetMap {
  self: { name: string; addresses: string[]; user?: string };
  peers: NetMapPeer[];
  derpMap?: DerpMapLike;
  packetFilter?: FilterRule[] | null;
  domain?: string;
  /** Stands for `peers`: the same object while no peer changed (control/netmap.ts toPlainNetMap). */
  peersVersion?: object;
  /** `peers` as a change of the list whose peersVersion was `from` (applied alone when that is the node's). */
  peerDelta?: { from: object; changed: NetMapPeer[]; removed: string[] };
}

export interface ControlSession {
  /** The node key: raw bytes, or a key object (a non-extractable WebCrypto key, crypto/static-key.ts). */
  nodePrivateKey: Uint8Array | StaticX25519Key;
  onNetMap(cb: (nm: NodeNetMap) => void): void;
  onState?(cb: (state: string, detail?: string) => void): void;
  /** Control's state, why it is down and when the next try is (control/client.ts ControlStatus). */
  status?(): ControlStatusLike;
  /** Report our home DERP region (Hostinfo.NetInfo.PreferredDERP). */
  setPreferredDerp(regionId: number): void;
  /** The home region remembered from the last run (0 or undefined: none). */
  readonly preferredDerp?: number;
  /** Expires our node key at control (Headscale deletes an ephemeral node at once). */
  logout?(): Promise<void>;
  /** Counters of the control client (map messages, unknown map fields…): numbers go to status().counters as control.*. */
  readonly stats?: object;
  close(): void | Promise<void>;
}

export interface ControlStatusLike {
  state: string;
  lastError?: string;
  retryInMs?: number;
  failures?: number;
}

export interface ControlStartOptions {
  controlUrl: string;
  authKey?: string;
  hostname: string;
  ephemeral?: boolean;
  storage: ControlStore | undefined;
  webSocketFactory: WebSocketFactory | undefined;
  clock: Clock;
  random: RandomSource;
  discoPublicKey: Uint8Array;
  onAuthUrl?: (url: string) => void;
  controlKey?: string;
  log: (t: string) => void;
}

export interface DerpPoolLike {
  start(): void | Promise<void>;
  setDerpMap(m: DerpMapLike): void;
  setHomeRegion?(regionId: number): void;
  send(regionId: number, dstNodeKey: Uint8Array, packet: Uint8Array): void;
  chooseHomeRegion?(): Promise<number | undefined> | number | undefined;
  status?(): unknown;
  close(): void;
}

export interface DerpPoolStartOptions {
  privateKey: Uint8Array | StaticX25519Key;
  derpMap: DerpMapLike;
  homeRegion?: number;
  webSocketFactory: WebSocketFactory | undefined;
  clock: Clock;
  random: RandomSource;
  allowInsecure?: boolean;
  onPacket: (srcNodeKey: Uint8Array, packet: Uint8Array, regionId: number) => void;
}

export interface TcpConnectionLike {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  close(): void | Promise<void>;
  abort?(reason?: unknown): void;
  closed?: Promise<unknown>;
}

export interface TcpListenerLike extends AsyncIterable<TcpConnectionLike> {
  readonly port?: number;
  accept(): Promise<TcpConnectionLike>;
  close(): void;
}

export interface NetStackLike {
  input(ipPacket: Uint8Array): void;
  /** More input is already on its way: hold every-second-segment ACKs until releaseAcks(). */
  holdAcks?(): void;
  releaseAcks?(): void;
  connect(addr: string, port: number, o?: { timeoutMs?: number }): Promise<TcpConnectionLike>;
  listen(port: number): TcpListenerLike;
  ping?(addr: string, o?: { timeoutMs?: number; size?: number }): Promise<{ rttMs: number } | number>;
  stats?: Record<string, number>;
  close(): void;
}

export interface NetStackStartOptions {
  addresses: string[];
  clock: Clock;
  random: RandomSource;
  mtu: number;
  output: (ip: Uint8Array) => void;
}

export interface NodeLayers {
  startControl(o: ControlStartOptions): Promise<ControlSession>;
  createDerpPool(o: DerpPoolStartOptions): DerpPoolLike;
  createNetStack(o: NetStackStartOptions): NetStackLike;
  /** The WireGuard data-path AEAD for this platform (default: the device's WebCrypto/noble detection). */
  aeadEngine?(): AeadEngine | Promise<AeadEngine> | undefined;
}

export interface UpConfig {
  controlUrl: string;
  authKey?: string;
  hostname: string;
  ephemeral?: boolean;
  /** Where control keeps this node's login and keys (default: memory, see layers.ts). */
  storage?: ControlStore;
  /** Default: the platform's (layers.ts: the global WebSocket; Node.js passes `ws`). */
  webSocketFactory?: WebSocketFactory;
  clock?: Clock;
  random?: RandomSource;
  allowInsecureDerp?: boolean;
  controlKey?: string;
  onAuthUrl?: (url: string) => void;
  /** Wall clock for WireGuard TAI64N timestamps (must increase across restarts). */
  wallClockMs?: () => number;
  homeRegion?: number;
  /** Subnet routes and exit node, off unless the person chose them (setRoutePrefs changes them later). */
  routes?: RoutePrefs;
  /**
   * WireGuard protocol constants (default: WireGuard's, plus tailtab's first-contact retries).
   * For tests and measurements, e.g. `{ firstContactRetriesMs: [] }` for plain WireGuard retries.
   */
  wireguardTimers?: Partial<WireGuardTimerConfig>;
  /**
   * up() fails when no network map came within this (ms; default 90 s) after the login, saying
   * control's last error: control's stages each have their own deadline and the map stream
   * retries on its backoff meanwhile, but up() itself never waits for good.
   */
  firstMapTimeoutMs?: number;
  /**
   * The direct WebRTC path beside DERP (webrtc-path.ts): on unless `enabled: false`. The peer
   * connection constructor defaults to this scope's RTCPeerConnection (none in a Worker: the path
   * is then unavailable unless a factory is passed).
   */
  webrtc?: { enabled?: boolean; createPeerConnection?: PeerConnectionFactory };
}

export type NodeState = 'stopped' | 'starting' | 'needs-login' | 'running' | 'error';

export interface PeerStatus {
  id: string;
  name: string;
  nodeKey: string;
  ips: string[];
  online?: boolean;
  os?: string;
  lastSeen?: string;
  sshHostKeys?: string[];
  relayRegion?: number;
  handshakeAgeMs?: number;
  rxBytes: number;
  txBytes: number;
  /** Subnet routes the peer advertises (used only with RoutePrefs.acceptRoutes). */
  subnetRoutes?: string[];
  /** The peer offers itself as an exit node (used only when chosen). */
  exitNode?: boolean;
  /** The path its packets take now: WebRTC (when its disco pings are answered, with their RTT), else DERP. */
  path?: { kind: 'webrtc'; rttMs?: number } | { kind: 'derp'; region?: number };
  /** The WebRTC path when one was tried (state, RTT, packets), and WireGuard packets over DERP. */
  webrtc?: PeerPathStatus;
  derpTxPackets?: number;
  derpRxPackets?: number;
}

export interface NodeStatus {
  state: NodeState;
  error?: string;
  authUrl?: string;
  self?: { name: string; ips: string[]; nodeKey: string; discoKey: string; user?: string };
  homeRegion?: number;
  peers: PeerStatus[];
  derp?: unknown;
  /** Control's state (streaming, reconnecting…), its last error and the next try. */
  control?: ControlStatusLike;
  counters: Record<string, number>;
  /** The routes the person chose (subnet routes on or off, the exit node). */
  routes: RoutePrefs;
  /** Why the WebRTC path is not used (turned off, or no RTCPeerConnection here); absent when it is available. */
  webrtcUnavailable?: string;
}

/** `debug`: detail for a debug log (WireGuard handshakes per peer), emitted only while someone listens. */
export type NodeEventMap = { state: NodeState; netmap: NodeNetMap; log: string; debug: string; peers: PeerStatus[] };
