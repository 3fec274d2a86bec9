// The contract between the page (ui/) and the app layer running in the node's Worker
// (app/node-service.ts serves it, app/node-client.ts calls it over app/rpc.ts). Only plain,
// structured-clonable data crosses it: the page never holds node keys, and every byte of SSH runs
// in the Worker.

export type NodeState = 'stopped' | 'starting' | 'needs-login' | 'running' | 'error';

export interface UpConfig {
  controlUrl: string;
  /** Pre-auth key; without it the node asks for interactive login (authUrl in status). */
  authKey?: string;
  hostname: string;
  /** Kiosk mode: ephemeral node, nothing kept after the tab closes. */
  ephemeral: boolean;
  /** Profile whose stored keys and login to use (ignored when ephemeral). */
  profileId: string;
  /** Plain ws:// to DERP (a local test rig only). */
  allowInsecureDerp?: boolean;
  /** The control server's key when /key cannot be read from this origin (CORS). */
  controlKey?: string;
  /** The direct WebRTC path to other browser nodes, beside DERP (default on; false: DERP only). */
  webrtc?: boolean;
}

export interface PeerView {
  id: string;
  name: string;
  fqdn: string;
  ips: string[];
  os: string;
  online: boolean;
  lastSeen?: string;
  relayRegion?: number;
  relayRegionName?: string;
  /** The path its packets take now: a WebRTC data channel (with its disco ping RTT) or the DERP relay. */
  path?: 'webrtc' | 'derp';
  pathRttMs?: number;
  handshakeAgeMs?: number;
  rxBytes: number;
  txBytes: number;
  tailscaleSsh?: boolean;
  /** Another browser node (tailtab, or Tailscale's own tsconnect): it serves no SSH, files or web. */
  browserNode?: boolean;
  /** Subnet routes this machine advertises (used only when "use subnet routes" is on). */
  subnetRoutes?: string[];
  /** This machine offers itself as an exit node. */
  offersExitNode?: boolean;
  /** This machine is the chosen exit node: all other traffic leaves through it. */
  isExitNode?: boolean;
}

/** The routes the person chose, as tailscale up --accept-routes / --exit-node. */
export interface RoutePrefsView {
  acceptRoutes?: boolean;
  exitNodeId?: string;
}

export interface DerpRegionView {
  regionId: number;
  regionName: string;
  state: string;
  home: boolean;
  rttMs?: number;
  bytesIn: number;
  bytesOut: number;
  drops: number;
  lastError?: string;
  /** While the region is down: milliseconds until the next connection attempt. */
  retryInMs?: number;
}

/** Control's side of the connection, for the status view: why it is down and when the next try is. */
export interface ControlView {
  /** streaming, connecting, reconnecting, key-expired, … (control/client.ts ControlClientState). */
  state: string;
  error?: string;
  retryInMs?: number;
}

export interface NodeStatusView {
  state: NodeState;
  error?: string;
  authUrl?: string;
  self?: { name: string; fqdn: string; ips: string[]; user?: string };
  peers: PeerView[];
  derp: DerpRegionView[];
  control?: ControlView;
  routes?: RoutePrefsView;
  /** Why the WebRTC path is not in use here (turned off, or no RTCPeerConnection in the Worker). */
  webrtcUnavailable?: string;
  /** Terminal output waiting in the Worker for pages: bounded per terminal by boundBytes. */
  terminals?: { open: number; queuedBytes: number; peakQueuedBytes: number; boundBytes: number };
}

export interface LogLine {
  at: number;
  level: 'debug' | 'info' | 'warn' | 'error';
  text: string;
}

export type NodeEvent = { type: 'status'; status: NodeStatusView } | { type: 'log'; line: LogLine };

export type SshAuth =
  | { type: 'none' }
  | { type: 'password'; password: string }
  /** A key of this browser: the one chosen, or (no keyId) every key, oldest first, as ssh -i tries several. */
  | { type: 'key'; keyId?: string }
  /** Nothing given beforehand: whatever the server asks (a password, a 2FA code) is asked of the person. */
  | { type: 'interactive' };

export interface SshOpenOptions {
  host: string;
  port?: number;
  username: string;
  auth: SshAuth;
  cols: number;
  rows: number;
  /** Tailscale SSH: the tailnet authenticates the host, host-key pinning is skipped (and said). */
  tailnetAuthenticated?: boolean;
  /**
   * "Legacy device" for this host: also accept SHA-1 key exchange, ssh-rsa host signatures,
   * hmac-sha1 and 1024–2047-bit RSA host keys (SshConnectOptions.legacyDevice). Off unless the
   * person turned it on for this host after the refusal told them why. The app also sets it
   * itself for a known host the person consented for (KnownHostView.legacyDevice).
   */
  legacyDevice?: boolean;
}

/** A running session as a window may list it (to attach): never a secret. */
export interface SshSessionListing {
  id: string;
  host: string;
  port: number;
  username: string;
  /** 'none' for Tailscale SSH, else how the login was made (no password or key in it). */
  method: 'none' | 'password' | 'key';
  /** How many windows show it now. */
  windows: number;
}

/** File transfer (SFTP) logs in exactly as the terminal does, without a terminal size. */
export type SftpOpenOptions = Omit<SshOpenOptions, 'cols' | 'rows'>;

/** One directory entry as the page lists it (remote names are shown as text, never as markup). */
export interface FileEntryView {
  name: string;
  dir: boolean;
  size?: number;
  /** Seconds since the epoch (SFTP v3 mtime). */
  mtime?: number;
}

export interface SftpSessionHandle {
  id: string;
  /** The remote home directory (realpath of "."). */
  home: string;
  hostKey: SshSessionHandle['hostKey'];
  /** The folder's absolute path (as the server resolves it) and its entries, directories first. */
  list(path: string): Promise<{ path: string; entries: FileEntryView[] }>;
  /** The file's bytes, read from the host as the stream is pulled. */
  download(path: string): Promise<{ size?: number; data: ReadableStream<Uint8Array> }>;
  /** Writes `data` to `path` (created or truncated); resolves with the bytes written. */
  upload(path: string, data: ReadableStream<Uint8Array>): Promise<number>;
  close(): void;
}

/**
 * A raw TCP connection to a tailnet host's port (NodeApi.tcpDial), as web streams: write bytes to
 * `writable`, read the host's bytes from `readable`. Back-pressure holds end to end: the Worker
 * reads from the host only as fast as `readable` is read, and `writable`'s writes resolve as the
 * connection takes them. app/tcp-socket.ts wraps one in a WebSocket-shaped object.
 */
export interface TcpStreamHandle {
  id: string;
  /** "host:port" as dialled (the name the caller gave). */
  remote: string;
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  /** Closes both directions at once (closing `writable` alone sends the host an end of stream). */
  close(): void;
}

/** How a connected host's key was vouched for: remembered, just trusted, or by the tailnet (pinned to its published keys or not). */
export type HostKeyVerdict = { fingerprint: string; verdict: 'known' | 'first-use' | 'tailnet' | 'tailnet-pinned' };

export interface SshSessionHandle {
  id: string;
  /** Bytes from the remote terminal (stdout and stderr interleaved as a pty gives them). */
  output: ReadableStream<Uint8Array>;
  write(data: Uint8Array): void;
  resize(cols: number, rows: number): void;
  close(): void;
  exit: Promise<{ code?: number; signal?: string; error?: string }>;
  /** What was decided about the host key, for the person to see. */
  hostKey: HostKeyVerdict;
}

export interface SshKeyView {
  id: string;
  name: string;
  /** 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa', … */
  type: string;
  /** SHA256:… as ssh-keygen -l prints it. */
  fingerprint: string;
  publicKey: string; // OpenSSH authorized_keys line
  createdAt: number;
  /** Made or imported with "allow export": only such a key can be exported. */
  exportable: boolean;
  /** 'webcrypto': a non-extractable CryptoKey; 'raw': bytes (this engine lacks the algorithm). */
  custody: 'webcrypto' | 'raw';
  source: 'generated' | 'imported';
  /** A key the person gave the widget on this site (never listed or used by the app; SECURITY.md). */
  scope?: 'widget';
  /** Widget keys: kept in this site's storage ("remember"), not only for this visit. */
  remembered?: boolean;
}

/** Which keys: the app's own (Settings), or those imported into the widget on this site. */
export interface SshKeyScope {
  scope?: 'widget';
}

/** An import either stored the key or says why not (the code lets the page ask for a passphrase). */
export type SshKeyImportResult =
  | { ok: true; key: SshKeyView }
  | {
      ok: false;
      code: 'passphrase-needed' | 'wrong-passphrase' | 'malformed' | 'unsupported' | 'duplicate';
      message: string;
    };

export interface SshKeyImportOptions {
  /** Shown in the list and used as the public line's comment; default the file's comment. */
  name?: string;
  passphrase?: string;
  /** Keep an exportable copy (default off: the key can never leave this browser). */
  allowExport?: boolean;
  /** 'widget': a key the person gave the widget (kept apart from the app's keys). */
  scope?: 'widget';
  /**
   * Widget keys: keep it in this site's IndexedDB for later visits (default: for this visit only,
   * in the ephemeral session's memory).
   */
  remember?: boolean;
}

export interface KnownHostView {
  host: string;
  fingerprint: string;
  addedAt: number;
  /** The person chose "Connect anyway (legacy device)" for it: SHA-1 and short RSA keys accepted. */
  legacyDevice?: boolean;
}

/**
 * A question the server asks during login: keyboard-interactive (RFC 4256: PAM's "Verification
 * code:", a password), or the password a password-only server wants when none was given. The
 * texts are the server's, control sequences removed (ssh/display-text.ts); show them as text.
 */
export interface AuthPrompt {
  host: string;
  username: string;
  name: string;
  instruction: string;
  /** echo false: the answer is secret (shown masked). */
  prompts: { prompt: string; echo: boolean }[];
}

/** The device needs algorithms tailtab refuses by default; `reason` is the refusal, in words. */
export interface LegacyPrompt {
  host: string;
  reason: string;
}

/** A host seen for the first time: the person is asked before its key is remembered. */
export interface HostKeyPrompt {
  host: string;
  fingerprint: string;
  keyType: string;
}

/** What the Worker pushes to a window: NodeEvents to every window, the rest to the window concerned. */
/**
 * Status as it crosses to a window: the first one whole; after that, `peersDiff` instead of the
 * peer list (status.peers is then empty): the peers that changed since the window's last status,
 * and the ids of those gone. A tailnet of 10,000 machines is megabytes of PeerViews, and a status
 * goes out every 2 s and on every map change; node-client.ts puts the whole list back together.
 */
export interface StatusWireEvent {
  type: 'status';
  status: NodeStatusView;
  peersDiff?: { upsert: PeerView[]; remove: string[] };
}

export type WorkerEvent =
  | Exclude<NodeEvent, { type: 'status' }>
  | StatusWireEvent
  | { type: 'ssh-exit'; id: string; code?: number; signal?: string; error?: string }
  | ({ type: 'host-key-prompt'; promptId: string } & HostKeyPrompt)
  /** Login questions and notices for the login `promptId`; answered by `askId` (loginAnswer). */
  | ({ type: 'auth-prompt'; promptId: string; askId: string } & AuthPrompt)
  | ({ type: 'legacy-prompt'; promptId: string; askId: string } & LegacyPrompt)
  | { type: 'ssh-banner'; promptId: string; text: string };

export interface SshOpenHooks {
  /** Asked on first contact with a host (not for Tailscale SSH); without it the key is trusted on first use. */
  confirmHostKey?: (p: HostKeyPrompt) => Promise<boolean>;
  /** Asked what the server asks during login; undefined = declined. Without it only a plain password prompt is answered (from the password given). */
  askAuth?: (p: AuthPrompt) => Promise<string[] | undefined>;
  /** The server's pre-login banner (RFC 4252 §5.4), to show before any question. */
  banner?: (text: string) => void;
  /** Asked when the device needs the legacy-device opt-in; true connects anyway and remembers it with the host. */
  confirmLegacy?: (p: LegacyPrompt) => Promise<boolean>;
}

export interface NodeApi {
  up(cfg: UpConfig): Promise<void>;
  down(o?: { logout?: boolean }): Promise<void>;
  status(): Promise<NodeStatusView>;
  subscribe(cb: (ev: NodeEvent) => void): () => void;
  ping(target: string): Promise<{ ms: number }>;
  sshOpen(o: SshOpenOptions, hooks?: SshOpenHooks): Promise<SshSessionHandle>;
  /**
   * Shows a session that still runs in the node's Worker (this page was reloaded): what it printed
   * lately (a bounded scrollback), then its live output. Refused in words when it has ended.
   */
  sshAttach(id: string): Promise<SshSessionHandle>;
  /** The terminal sessions running in the node's Worker (any window's), to attach to from this one. */
  sshList(): Promise<SshSessionListing[]>;
  /** Whether host:port accepts a TCP connection (one connect, short deadline); asked per person's action, never as a scan. */
  probe(host: string, port: number): Promise<{ open: boolean; reason?: string }>;
  /** 'dedicated': the node (and every terminal) ends with this page; 'shared': it outlives a reload. */
  readonly workerKind?: 'shared' | 'dedicated';
  /** An SFTP session for moving files to and from the host (same login and host-key checks as sshOpen). */
  sftpOpen(o: SftpOpenOptions, hooks?: SshOpenHooks): Promise<SftpSessionHandle>;
  sshKeys(o?: SshKeyScope): Promise<SshKeyView[]>;
  sshKeyCreate(name: string, o?: { allowExport?: boolean }): Promise<SshKeyView>;
  /** The person's private key file (OpenSSH, PEM/PKCS#8/PKCS#1/SEC1) as text. */
  sshKeyImport(text: string, o?: SshKeyImportOptions): Promise<SshKeyImportResult>;
  sshKeyDelete(id: string, o?: SshKeyScope): Promise<void>;
  /**
   * The private key as an OpenSSH file, passphrase-protected when one is given: the one way it
   * leaves this browser. Call it from the click handler: without a fresh user gesture
   * (navigator.userActivation, where the browser has it) it refuses; so does a key stored
   * without "allow export".
   */
  sshKeyExport(id: string, o?: { passphrase?: string }): Promise<string>;
  knownHosts(): Promise<KnownHostView[]>;
  knownHostDelete(host: string): Promise<void>;
  /** Stops (false) treating a known host as a legacy device; it is asked again next time. */
  knownHostLegacy(host: string, allow: boolean): Promise<void>;
  /** Turns subnet routes on or off and chooses (or clears) the exit node; applies at once. */
  setRoutePrefs(prefs: RoutePrefsView): Promise<void>;
  /**
   * A TCP connection to `port` of a machine of the tailnet (MagicDNS name or tailnet address; a
   * subnet-route or exit-node address only when that route is in use, as for SSH and the web
   * view). Rejects in words: refused (nothing listens), timed out, not a tailnet machine. The
   * connection belongs to this window and closes with it.
   */
  tcpDial(host: string, port: number): Promise<TcpStreamHandle>;
  /** A MessagePort over which the Service Worker proxy sends HTTP requests into the tailnet. */
  /** Serves the web-view proxy on `port`; with `target`, only that host and port (its own origin). */
  httpProxyPort(port: MessagePort, target?: { host: string; port: number }): Promise<void>;
  /** Sign out and delete every key and setting this app stored. */
  wipe(): Promise<void>;
  /** This window is going away (pagehide); the last window of an ephemeral session logs the node out. */
  release(): Promise<void>;
  /** Recent log lines (for a window that attaches to a node another window started). */
  logTail(): Promise<LogLine[]>;
}
