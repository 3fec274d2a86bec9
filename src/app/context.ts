// What the app's session managers (ssh-sessions.ts, sftp-sessions.ts, host-keys.ts, ssh-keys.ts)
// share with the service that owns them: the node as they use it, the windows that own sessions,
// and the session's store, randomness and time.
import type { RandomSource } from '../crypto/random.js';
import type { NodeEventMap, NodeStatus, TcpConnectionLike, UpConfig as NodeUpConfig } from '../node/node.js';
import type { PeerView, WorkerEvent } from './node-api.js';
import type { WorkerStore } from './store.js';

/** The parts of TailnetNode (node/node.ts) the app uses. */
export interface NodeLike {
  up(cfg: NodeUpConfig): Promise<void>;
  down(): Promise<void>;
  /** Logs the node key out at control (an ephemeral node is then deleted by control), then down. */
  logout?(): Promise<void>;
  /** `peers: false`: without the per-peer part (see peerStatusChanges). */
  status(o?: { peers?: boolean }): NodeStatus;
  /** The peers whose status may have changed since the last call (TailnetNode.peerStatusChanges); without it, every tick is whole. */
  peerStatusChanges?(): { full: boolean; peers: NodeStatus['peers']; removed: string[] };
  on<K extends keyof NodeEventMap>(ev: K, cb: (v: NodeEventMap[K]) => void): () => void;
  ping(host: string, o?: { timeoutMs?: number }): Promise<{ ms: number; ip: string }>;
  dial(host: string, port: number, o?: { timeoutMs?: number }): Promise<TcpConnectionLike>;
  /** MagicDNS name or IP → tailnet address; throws for anything outside the tailnet. */
  resolve?(host: string): string;
  /** Subnet routes on/off and the exit node (TailnetNode.setRoutePrefs). */
  setRoutePrefs?(prefs: { acceptRoutes?: boolean; exitNodeId?: string }): void;
}

/** One window attached to the service, and the sessions it opened (closed when it goes). */
export interface AppWindow {
  push(ev: WorkerEvent): void;
  sessions: Set<string>;
  /** File-transfer sessions (SFTP) this window opened. */
  sftp: Set<string>;
  /** Raw TCP connections (tcpDial) this window opened. */
  tcp?: Set<string>;
  released: boolean;
  /** The peers this window was last sent, by id (NodeService sends it only what changed since). */
  sentPeers?: Map<string, PeerView>;
}

export interface AppContext {
  /** The node, once it runs; refuses in words otherwise. */
  requireRunning(): Promise<NodeLike>;
  /** The node if one was made yet (running or not). */
  node(): NodeLike | undefined;
  /** The current session's store: memory when ephemeral, else the persistent one. */
  store(): WorkerStore;
  /**
   * The store that outlives an ephemeral session (IndexedDB in the Worker): only for what the
   * person asked to keep there (a widget key with "remember", app/ssh-keys.ts).
   */
  persistentStore?(): WorkerStore;
  readonly random: RandomSource;
  readonly now: () => number;
}
