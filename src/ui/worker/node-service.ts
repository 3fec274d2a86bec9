// The node's side of NodeApi (../node-api.ts): one TailnetNode shared by every window attached to
// this Worker (a SharedWorker gives several windows one node; a dedicated Worker serves one page),
// SSH sessions that run entirely here, SSH keys and known hosts kept by a WorkerStore, and the
// Service Worker's web-view proxy. Nothing here touches the DOM; the page sees only plain data,
// public keys, and terminal bytes.
import { toBase64, toHex } from '../../crypto/bytes.js';
import { secureRandom, type RandomSource } from '../../crypto/random.js';
import type { NodeEventMap, NodeNetMap, NodeStatus, TcpConnectionLike, UpConfig as NodeUpConfig } from '../../node/node.js';
import { SshClient, type AuthMethod, type HostKeyInfo, type HostKeyVerifier, type SshSession } from '../../ssh/client.js';
import { tailnetHostKeysVerifier } from '../../ssh/tailnet-host-keys.js';
import { SftpClient } from '../../ssh/sftp.js';
import { knownHostsVerifier, tailnetAuthenticatedVerifier, type HostKeyEvent, type KnownHostsStore } from '../../ssh/known-hosts.js';
import { authorizedKeysLine, ed25519KeyFromSeed, generateEd25519Key, publicKeyBlob } from '../../ssh/keys.js';
import { Writer } from '../../ssh/wire.js';
import type { KnownHostRecord, SshKeyRecord } from '../../platform/idb.js';
import type {
  DerpRegionView, FileEntryView, HostKeyVerdict, KnownHostView, LogLine, NodeEvent, NodeStatusView, PeerView, SftpOpenOptions, SshKeyView, SshOpenOptions, UpConfig,
} from '../node-api.js';
import { serveRpc, WithTransfer } from '../rpc.js';
import type { PortLike } from '../../platform/port.js';
import type { WebSocketFactory } from '../../platform/websocket.js';
import { MemoryWorkerStore, type WorkerStore } from './store.js';

/** The parts of TailnetNode (node/node.ts) the service uses. */
export interface NodeLike {
  up(cfg: NodeUpConfig): Promise<void>;
  down(): Promise<void>;
  /** Logs the node key out at control (an ephemeral node is then deleted by control), then down. */
  logout?(): Promise<void>;
  status(): NodeStatus;
  on<K extends keyof NodeEventMap>(ev: K, cb: (v: NodeEventMap[K]) => void): () => void;
  ping(host: string, o?: { timeoutMs?: number }): Promise<{ ms: number; ip: string }>;
  dial(host: string, port: number): Promise<TcpConnectionLike>;
  /** MagicDNS name or IP → tailnet address; throws for anything outside the tailnet. */
  resolve?(host: string): string;
}

export interface NodeServiceDeps {
  createNode(): Promise<NodeLike>;
  /** IndexedDB in a browser Worker. Ephemeral sessions use a memory store instead. */
  persistentStore: WorkerStore;
  webSocketFactory?: WebSocketFactory;
  random?: RandomSource;
  now?: () => number;
  /** Serves the Service Worker's proxy protocol (public/sw.js) on `port` over node.dial. */
  httpProxy?: (port: MessagePort, node: NodeLike) => void | Promise<void>;
  /** How often to push status while running (handshake ages, bytes, DERP RTT). */
  statusIntervalMs?: number;
  /**
   * How long a window arriving during the last window's release waits for the node to go down
   * before it is served anyway (a logout towards an unreachable control server can take long).
   */
  leaveWaitMs?: number;
}

/** Events the Worker pushes besides NodeEvent. */
export type WorkerEvent =
  | NodeEvent
  | { type: 'ssh-exit'; id: string; code?: number; signal?: string; error?: string }
  | { type: 'host-key-prompt'; promptId: string; host: string; fingerprint: string; keyType: string };

interface Client {
  push(ev: WorkerEvent): void;
  sessions: Set<string>;
  /** File-transfer sessions (SFTP) this window opened; closed with the window. */
  sftp: Set<string>;
  released: boolean;
}

interface SftpRecord {
  owner: Client;
  ssh: SshClient;
  sftp: SftpClient;
  conn: TcpConnectionLike;
}

/** SFTP attributes → what the page lists (S_IFDIR is 0o040000, POSIX <sys/stat.h>). */
export function toFileEntry(e: { filename: string; attrs: { size?: number; mtime?: number; permissions?: number } }): FileEntryView {
  const p = e.attrs.permissions;
  return {
    name: e.filename,
    dir: p !== undefined && (p & 0o170000) === 0o040000,
    size: e.attrs.size,
    mtime: e.attrs.mtime,
  };
}

/** Directories first, then by name; "." and ".." dropped (the page offers its own "..'). */
export function sortEntries(list: FileEntryView[]): FileEntryView[] {
  return list
    .filter((e) => e.name !== '.' && e.name !== '..')
    .sort((a, b) => Number(b.dir) - Number(a.dir) || a.name.localeCompare(b.name));
}

interface SshRecord {
  id: string;
  owner: Client;
  ssh: SshClient;
  session: SshSession;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  conn: TcpConnectionLike;
  closed: boolean;
}

const MAX_LOG = 500;

// ---- status mapping (pure) ----

function shortName(fqdn: string): string {
  return fqdn.replace(/\.$/, '').split('.')[0] ?? fqdn;
}

function plainIps(addrs: string[]): string[] {
  return addrs.map((a) => a.split('/')[0]!);
}

interface DerpStatusLike {
  regionId: number; state: string; home: boolean; rttMs?: number; bytesIn?: number; bytesOut?: number; drops?: number; lastError?: string;
}

/** NodeStatus (+ the last netmap for names and DERP region names) → the page's NodeStatusView. */
export function toStatusView(st: NodeStatus, nm: NodeNetMap | undefined, redact: (s: string) => string = (s) => s): NodeStatusView {
  const regionName = new Map<number, string>();
  for (const r of nm?.derpMap?.regions ?? []) regionName.set(r.regionId, r.regionName || r.regionCode || String(r.regionId));
  const byId = new Map((nm?.peers ?? []).map((p) => [p.id, p]));
  const peers: PeerView[] = st.peers.map((p) => {
    const fqdn = (byId.get(p.id)?.name ?? p.name).replace(/\.$/, '');
    const relay = p.relayRegion ?? byId.get(p.id)?.homeDerp;
    return {
      id: p.id,
      name: shortName(fqdn),
      fqdn,
      ips: p.ips,
      os: p.os ?? '',
      online: !!p.online,
      ...(p.lastSeen ? { lastSeen: p.lastSeen } : {}),
      tailscaleSsh: !!p.sshHostKeys?.length,
      relayRegion: relay,
      relayRegionName: relay !== undefined ? regionName.get(relay) : undefined,
      handshakeAgeMs: p.handshakeAgeMs,
      rxBytes: p.rxBytes,
      txBytes: p.txBytes,
    };
  });
  const derp: DerpRegionView[] = Array.isArray(st.derp)
    ? (st.derp as DerpStatusLike[]).map((d) => ({
        regionId: d.regionId,
        regionName: regionName.get(d.regionId) ?? String(d.regionId),
        state: d.state,
        home: d.home,
        rttMs: d.rttMs,
        bytesIn: d.bytesIn ?? 0,
        bytesOut: d.bytesOut ?? 0,
        drops: d.drops ?? 0,
        lastError: d.lastError ? redact(d.lastError) : undefined,
      }))
    : [];
  const selfFqdn = (st.self?.name ?? nm?.self.name ?? '').replace(/\.$/, '');
  return {
    state: st.state,
    error: st.error ? redact(st.error) : undefined,
    authUrl: st.state === 'needs-login' ? st.authUrl : undefined,
    self: st.self ? { name: shortName(selfFqdn), fqdn: selfFqdn, ips: st.self.ips, user: st.self.user } : undefined,
    peers,
    derp,
  };
}

// ---- OpenSSH private key export (PROTOCOL.key in openssh-portable), only on explicit request ----

export function openSshPrivateKey(seed: Uint8Array, comment: string, random: RandomSource): string {
  const key = ed25519KeyFromSeed(seed);
  const check = random(4);
  const priv = new Writer(256)
    .raw(check).raw(check)
    .string('ssh-ed25519').string(key.publicKey)
    .string(new Uint8Array([...seed, ...key.publicKey]))
    .string(comment);
  let body = priv.finish();
  const pad = (8 - (body.length % 8)) % 8;
  body = new Uint8Array([...body, ...Array.from({ length: pad }, (_, i) => i + 1)]);
  const blob = new Writer(512)
    .raw(new TextEncoder().encode('openssh-key-v1\0'))
    .string('none').string('none').string(new Uint8Array(0))
    .uint32(1)
    .string(publicKeyBlob(key))
    .string(body)
    .finish();
  const b64 = toBase64(blob).replace(/.{1,70}/g, '$&\n');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`;
}

// ---- the service ----

export class NodeService {
  private node?: NodeLike;
  private nodePromise?: Promise<NodeLike>;
  private netmap?: NodeNetMap;
  private readonly clients = new Set<Client>();
  private readonly sessions = new Map<string, SshRecord>();
  private readonly sftps = new Map<string, SftpRecord>();
  private readonly prompts = new Map<string, (ok: boolean) => void>();
  private readonly log: LogLine[] = [];
  private readonly memory = new MemoryWorkerStore();
  private current?: { cfg: UpConfig; profileId: string };
  private secrets: string[] = [];
  private ticker?: ReturnType<typeof setInterval>;
  private upError?: string;
  /** The last window's release taking the node down (a window arriving meanwhile waits for it). */
  private leaving?: Promise<void>;
  private readonly random: RandomSource;
  private readonly now: () => number;

  constructor(private readonly deps: NodeServiceDeps) {
    this.random = deps.random ?? secureRandom;
    this.now = deps.now ?? (() => Date.now());
  }

  /** The store for the current session: memory when ephemeral, else the persistent one. */
  private get store(): WorkerStore {
    return this.current?.cfg.ephemeral ? this.memory : this.deps.persistentStore;
  }

  /** Scrubs what must never reach a page or a log: the auth key given to up(). */
  private redact = (s: string): string => {
    let out = s;
    for (const secret of this.secrets) if (secret) out = out.split(secret).join('<auth key>');
    return out.replace(/tskey-[A-Za-z0-9-]+/g, 'tskey-<redacted>');
  };

  private broadcast(ev: WorkerEvent): void {
    for (const c of this.clients) c.push(ev);
  }

  private addLog(level: LogLine['level'], text: string): void {
    const line: LogLine = { at: this.now(), level, text: this.redact(text) };
    this.log.push(line);
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG);
    this.broadcast({ type: 'log', line });
  }

  private statusView(): NodeStatusView {
    if (!this.node) return { state: this.upError ? 'error' : 'stopped', error: this.upError, peers: [], derp: [] };
    const v = toStatusView(this.node.status(), this.netmap, this.redact);
    if (v.state === 'stopped' && this.upError) return { ...v, state: 'error', error: this.upError };
    return v;
  }

  private pushStatus = (): void => {
    if (!this.clients.size) return;
    this.broadcast({ type: 'status', status: this.statusView() });
  };

  private async getNode(): Promise<NodeLike> {
    if (this.node) return this.node;
    this.nodePromise ??= this.deps.createNode().then((n) => {
      this.node = n;
      n.on('state', (s) => {
        if (s === 'running' && !this.ticker) this.ticker = setInterval(this.pushStatus, this.deps.statusIntervalMs ?? 2000);
        if (s !== 'running' && this.ticker) { clearInterval(this.ticker); this.ticker = undefined; }
        this.addLog('info', `node ${s}`);
        this.pushStatus();
      });
      n.on('netmap', (nm) => { this.netmap = nm; this.pushStatus(); });
      n.on('peers', () => this.pushStatus());
      n.on('log', (t) => this.addLog(/fail|error|refused|timed out/i.test(t) ? 'warn' : 'info', t));
      return n;
    });
    return this.nodePromise;
  }

  /** Serves NodeApi on one window's port. */
  attach(port: PortLike): void {
    let push: (ev: unknown, transfer?: Transferable[]) => void = () => {};
    const client: Client = { push: (ev) => push(ev), sessions: new Set(), sftp: new Set(), released: false };
    this.clients.add(client);
    push = serveRpc(port, {
      // A window opened (a reload) while the last one's release is still taking the node down
      // sees the node after that, not a session about to end under it.
      up: async (cfg: UpConfig) => { await this.leftOrTired(); return this.up(cfg); },
      down: (o: { logout?: boolean } = {}) => this.down(o),
      status: async () => { await this.leftOrTired(); return this.statusView(); },
      logTail: () => [...this.log],
      ping: async (target: string) => {
        const node = await this.requireRunning();
        const r = await node.ping(target, { timeoutMs: 10_000 });
        return { ms: r.ms };
      },
      sshOpen: (o: SshOpenOptions & { promptId?: string }) => this.sshOpen(client, o),
      sshWrite: (id: string, data: Uint8Array) => this.sshWrite(id, data),
      sshResize: (id: string, cols: number, rows: number) => this.sessions.get(id)?.session.resize(cols, rows),
      sshClose: (id: string) => this.sshClose(id),
      sftpOpen: (o: SftpOpenOptions & { promptId?: string }) => this.sftpOpen(client, o),
      sftpList: (id: string, path: string) => this.sftpList(id, path),
      sftpDownload: (id: string, path: string) => this.sftpDownload(id, path),
      sftpUpload: (id: string, path: string, data: ReadableStream<Uint8Array>) => this.sftpRecord(id).sftp.upload(path, data),
      sftpClose: (id: string) => this.sftpClose(id),
      hostKeyAnswer: (promptId: string, ok: boolean) => { this.prompts.get(promptId)?.(!!ok); },
      sshKeys: () => this.sshKeys(),
      sshKeyCreate: (name: string) => this.sshKeyCreate(name),
      sshKeyDelete: (id: string) => this.store.deleteSshKey(id),
      sshKeyExport: (id: string) => this.sshKeyExport(id),
      knownHosts: async (): Promise<KnownHostView[]> =>
        (await this.store.knownHosts()).map((h) => ({ host: h.host, fingerprint: h.fingerprint, addedAt: h.addedAt })),
      knownHostDelete: (host: string) => this.store.deleteKnownHost(host),
      httpProxyPort: async (p: MessagePort) => {
        if (!this.deps.httpProxy) throw new Error('the web-view proxy is not part of this build');
        await this.deps.httpProxy(p, await this.getNode());
      },
      release: () => this.release(client),
      wipe: () => this.wipe(),
    });
  }

  private sameSession(cfg: UpConfig): boolean {
    const c = this.current?.cfg;
    return !!c && c.controlUrl.replace(/\/+$/, '') === cfg.controlUrl.replace(/\/+$/, '') && c.hostname === cfg.hostname && !!c.ephemeral === !!cfg.ephemeral;
  }

  async up(cfg: UpConfig): Promise<void> {
    const node = await this.getNode();
    const state = node.status().state;
    if (state === 'running' || state === 'starting' || state === 'needs-login') {
      // Another window of the app already brought the node up: join it rather than fight over it.
      if (this.sameSession(cfg)) return;
      throw new Error(
        `This browser is already connected as ${this.current?.cfg.hostname ?? 'another machine'} on ${this.current?.cfg.controlUrl ?? 'another server'} (in another window). Sign out there first.`,
      );
    }
    const profileId = cfg.profileId || `${cfg.controlUrl.replace(/\/+$/, '')}#${cfg.hostname}`;
    this.current = { cfg: { ...cfg, authKey: undefined }, profileId };
    this.secrets = cfg.authKey ? [cfg.authKey] : [];
    this.upError = undefined;
    this.addLog('info', `connecting to ${cfg.controlUrl} as ${cfg.hostname}${cfg.ephemeral ? ' (ephemeral)' : ''}`);
    try {
      await node.up({
        controlUrl: cfg.controlUrl,
        authKey: cfg.authKey,
        hostname: cfg.hostname,
        ephemeral: cfg.ephemeral,
        storage: this.store.controlStore(profileId),
        webSocketFactory: this.deps.webSocketFactory,
        allowInsecureDerp: cfg.allowInsecureDerp,
        controlKey: cfg.controlKey,
        wallClockMs: () => Date.now(),
        onAuthUrl: () => this.pushStatus(),
      });
    } catch (e) {
      const msg = this.redact(explain((e as Error)?.message ?? String(e), cfg));
      this.upError = msg;
      this.addLog('error', msg);
      try { await node.down(); } catch { /* already down */ }
      this.pushStatus();
      throw new Error(msg);
    }
    this.pushStatus();
  }

  async down(o: { logout?: boolean } = {}): Promise<void> {
    for (const id of [...this.sessions.keys()]) this.sshClose(id);
    for (const id of [...this.sftps.keys()]) this.sftpClose(id);
    const node = this.node;
    const wasEphemeral = !!this.current?.cfg.ephemeral;
    if (node && node.status().state !== 'stopped') {
      if (o.logout && node.logout) {
        try {
          await node.logout();
          this.addLog('info', 'logged out');
        } catch (e) {
          this.addLog('warn', `logout failed: ${(e as Error).message}`);
        }
      }
      if (node.status().state !== 'stopped') await node.down();
    }
    if (o.logout && this.current && !wasEphemeral) {
      // Forget the login (keys stay: Headscale binds node keys to the machine key).
      const st = this.store.controlStore(this.current.profileId);
      const s = await st.load();
      if (s) await st.save({ ...s, loggedIn: false });
    }
    if (wasEphemeral) await this.memory.wipe();
    this.current = undefined;
    this.secrets = [];
    this.netmap = undefined;
    this.pushStatus();
  }

  /**
   * A window is going away. The last window takes the node with it: an ephemeral session is logged
   * out (control then deletes the node at once), a remembered one only goes down (its login stays
   * for the next visit). The Worker may outlive its windows (node-client.ts: extendedLifetime, so
   * that this logout completes after a closed tab); a node left running there would stay online
   * with nobody to see it.
   */
  private release(client: Client): Promise<void> {
    if (client.released) return this.leaving ?? Promise.resolve();
    client.released = true;
    for (const id of client.sessions) this.sshClose(id);
    for (const id of [...client.sftp]) this.sftpClose(id);
    this.clients.delete(client);
    if (this.clients.size > 0 || !this.node || this.leaving) return this.leaving ?? Promise.resolve();
    const logout = !!this.current?.cfg.ephemeral;
    const leaving: Promise<void> = this.down({ logout })
      .catch((e: unknown) => this.addLog('warn', `going down: ${(e as Error)?.message ?? e}`))
      .finally(() => { if (this.leaving === leaving) this.leaving = undefined; });
    this.leaving = leaving;
    return leaving;
  }

  /** Resolves when the last window's release has taken the node down, or after leaveWaitMs. */
  private leftOrTired(): Promise<void> {
    const leaving = this.leaving;
    if (!leaving) return Promise.resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tired = new Promise<void>((r) => (timer = setTimeout(r, this.deps.leaveWaitMs ?? 5000)));
    return Promise.race([leaving, tired]).finally(() => clearTimeout(timer));
  }

  async wipe(): Promise<void> {
    await this.down({ logout: true }).catch(() => {});
    await this.memory.wipe();
    await this.deps.persistentStore.wipe();
    this.log.length = 0;
  }

  private async requireRunning(): Promise<NodeLike> {
    const node = await this.getNode();
    const st = node.status().state;
    if (st !== 'running') throw new Error(`Not connected to a tailnet (node ${st}).`);
    return node;
  }

  // ---- SSH keys ----

  private static view(k: SshKeyRecord): SshKeyView {
    return { id: k.id, name: k.name, publicKey: k.publicKey, createdAt: k.createdAt };
  }

  async sshKeys(): Promise<SshKeyView[]> {
    return (await this.store.sshKeys()).sort((a, b) => a.createdAt - b.createdAt).map(NodeService.view);
  }

  async sshKeyCreate(name: string): Promise<SshKeyView> {
    const clean = (name || 'tailtab').replace(/[^\w.@-]+/g, '-').slice(0, 64);
    const key = generateEd25519Key(this.random);
    const rec: SshKeyRecord = { id: toHex(this.random(8)), name: clean, seed: key.privateKey, publicKey: authorizedKeysLine(key, clean), createdAt: this.now() };
    await this.store.putSshKey(rec);
    return NodeService.view(rec);
  }

  /** The one way a private key leaves the store: the person asked to export it. */
  async sshKeyExport(id: string): Promise<string> {
    const k = await this.store.sshKey(id);
    if (!k) throw new Error('no such key');
    return openSshPrivateKey(k.seed, k.name, this.random);
  }

  // ---- SSH sessions ----

  private hostKeyVerifier(owner: Client, o: Pick<SshOpenOptions, 'host' | 'tailnetAuthenticated'> & { promptId?: string }, hostId: string, decided: (v: HostKeyVerdict) => void): HostKeyVerifier {
    const onEvent = (e: HostKeyEvent) =>
      decided({ fingerprint: e.fingerprint, verdict: e.kind === 'known' ? 'known' : e.kind === 'first-use' ? 'first-use' : 'tailnet' });
    if (o.tailnetAuthenticated) {
      // The peer's published SSH host keys (map Hostinfo.sshHostKeys) pin the key, as `tailscale
      // ssh` does; only without them is the tailnet's authentication of the machine all we have.
      const listed = this.peerSshHostKeys(o.host);
      return listed.length
        ? tailnetHostKeysVerifier(hostId, listed, (e) => decided({ fingerprint: e.fingerprint, verdict: 'tailnet-pinned' }))
        : tailnetAuthenticatedVerifier(hostId, onEvent);
    }
    const store = this.store;
    return async (info: HostKeyInfo) => {
      const rec = await store.knownHost(hostId);
      if (!rec && o.promptId) {
        // First connection: the person decides, seeing the fingerprint (ssh(1)'s "are you sure").
        const ok = await new Promise<boolean>((resolve) => {
          this.prompts.set(o.promptId!, resolve);
          owner.push({ type: 'host-key-prompt', promptId: o.promptId!, host: hostId, fingerprint: info.fingerprint, keyType: info.keyType });
        }).finally(() => this.prompts.delete(o.promptId!));
        if (!ok) throw new Error(`Host key ${info.fingerprint} of ${hostId} not accepted; not connected.`);
      }
      const adapter: KnownHostsStore = {
        get: async (h) => (await store.knownHost(h))?.keyBlob ?? undefined,
        set: async (h, blob) => {
          const r: KnownHostRecord = { host: h, keyType: info.keyType, fingerprint: info.fingerprint, keyBlob: blob, addedAt: this.now() };
          await store.putKnownHost(r);
        },
      };
      return knownHostsVerifier(adapter, hostId, onEvent)(info);
    };
  }

  private peerSshHostKeys(host: string): string[] {
    const node = this.node;
    if (!node?.resolve) return [];
    let ip: string;
    try {
      ip = node.resolve(host);
    } catch {
      return [];
    }
    return node.status().peers.find((p) => p.ips.includes(ip))?.sshHostKeys ?? [];
  }

  /**
   * Dials the host over the tailnet and logs in: the one path both the terminal and file transfer
   * take, so both get the same host-key checks (known hosts, prompt, or the tailnet's published keys).
   */
  private async sshConnect(owner: Client, o: (SshOpenOptions | SftpOpenOptions) & { promptId?: string }): Promise<{ ssh: SshClient; conn: TcpConnectionLike; hostKey: HostKeyVerdict }> {
    const node = await this.requireRunning();
    const port = o.port ?? 22;
    const hostId = port === 22 ? o.host : `[${o.host}]:${port}`;
    let auth: AuthMethod[];
    if (o.auth.type === 'none') auth = [{ type: 'none' }];
    else if (o.auth.type === 'password') {
      const pw = o.auth.password;
      auth = [{ type: 'password', password: pw }, { type: 'keyboard-interactive', respond: (c) => c.prompts.map(() => pw) }];
    } else {
      const rec = await this.store.sshKey(o.auth.keyId);
      if (!rec) throw new Error('That SSH key no longer exists in this browser.');
      auth = [{ type: 'publickey', key: ed25519KeyFromSeed(rec.seed) }];
    }
    let hostKey: HostKeyVerdict = { fingerprint: '', verdict: 'first-use' };
    let conn: TcpConnectionLike;
    try {
      conn = await node.dial(o.host, port);
    } catch (e) {
      throw new Error(`Cannot reach ${o.host}:${port} over the tailnet: ${(e as Error).message}`);
    }
    try {
      const ssh = await SshClient.connect(conn, {
        username: o.username,
        auth,
        random: this.random,
        keepaliveMs: 30_000,
        hostKeyVerifier: this.hostKeyVerifier(owner, o, hostId, (v) => (hostKey = v)),
      });
      return { ssh, conn, hostKey }; // decided by the verifier during connect
    } catch (e) {
      try { await conn.close(); } catch { /* closing anyway */ }
      throw e;
    }
  }

  private async sshOpen(owner: Client, o: SshOpenOptions & { promptId?: string }) {
    const { ssh, conn, hostKey } = await this.sshConnect(owner, o);
    let session: SshSession;
    try {
      session = await ssh.openSession({ pty: { term: 'xterm-256color', cols: o.cols, rows: o.rows } });
    } catch (e) {
      try { ssh.close(); } catch { /* closing anyway */ }
      try { await conn.close(); } catch { /* closing anyway */ }
      throw e;
    }
    const id = toHex(this.random(8));
    const rec: SshRecord = { id, owner, ssh, session, writer: session.stdin.getWriter(), conn, closed: false };
    this.sessions.set(id, rec);
    owner.sessions.add(id);
    // One stream for the terminal: stdout and stderr as the pty interleaves them.
    let open = 2;
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    const output = new ReadableStream<Uint8Array>({ start: (c) => { ctrl = c; } });
    const drain = async (s: ReadableStream<Uint8Array>) => {
      const r = s.getReader();
      try {
        for (;;) {
          const { value, done } = await r.read();
          if (done) break;
          ctrl.enqueue(value);
        }
      } catch { /* the exit reports why */ }
      if (--open === 0) try { ctrl.close(); } catch { /* cancelled by the page */ }
    };
    void drain(session.stdout);
    void drain(session.stderr);
    const finish = (info: { code?: number; signal?: string; error?: string }) => {
      if (rec.closed) return;
      rec.closed = true;
      this.sessions.delete(id);
      owner.sessions.delete(id);
      owner.push({ type: 'ssh-exit', id, ...info });
      try { ssh.close(); } catch { /* closing anyway */ }
    };
    session.exit.then(
      (x) => finish({ code: x.code, signal: x.signal, error: x.message }),
      (e: unknown) => finish({ error: (e as Error)?.message ?? String(e) }),
    );
    ssh.closed.then((err) => { if (err) finish({ error: err.message }); });
    return new WithTransfer({ id, output, hostKey }, [output as unknown as Transferable]);
  }

  private sshWrite(id: string, data: Uint8Array): void {
    const s = this.sessions.get(id);
    if (!s || s.closed) return;
    s.writer.write(data).catch(() => {});
  }

  private sshClose(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    try { s.session.close(); } catch { /* closing anyway */ }
    setTimeout(() => { if (!s.closed) { s.closed = true; this.sessions.delete(id); s.owner.sessions.delete(id); s.owner.push({ type: 'ssh-exit', id, error: 'closed' }); try { s.ssh.close(); } catch { /* */ } } }, 2000);
  }

  // ---- file transfer (SFTP, ssh/sftp.ts) ----

  private async sftpOpen(owner: Client, o: SftpOpenOptions & { promptId?: string }) {
    const { ssh, conn, hostKey } = await this.sshConnect(owner, o);
    let sftp: SftpClient;
    let home: string;
    try {
      sftp = await SftpClient.open(ssh);
      home = await sftp.realpath('.');
    } catch (e) {
      try { ssh.close(); } catch { /* closing anyway */ }
      try { await conn.close(); } catch { /* closing anyway */ }
      throw e;
    }
    const id = toHex(this.random(8));
    this.sftps.set(id, { owner, ssh, sftp, conn });
    owner.sftp.add(id);
    void sftp.ended.then(() => this.sftpClose(id));
    return { id, home, hostKey };
  }

  private sftpRecord(id: string): SftpRecord {
    const r = this.sftps.get(id);
    if (!r) throw new Error('The file session has ended; open Files again.');
    return r;
  }

  private async sftpList(id: string, path: string): Promise<{ path: string; entries: FileEntryView[] }> {
    const { sftp } = this.sftpRecord(id);
    const real = await sftp.realpath(path);
    return { path: real, entries: sortEntries((await sftp.list(real)).map(toFileEntry)) };
  }

  /**
   * The file's bytes as a stream handed to the page (transferred, not copied): SftpClient.download
   * keeps at most 16 × 32 KiB requests in flight and only reads on as the page pulls.
   */
  private async sftpDownload(id: string, path: string) {
    const { sftp } = this.sftpRecord(id);
    const size = (await sftp.stat(path)).size;
    const data = await sftp.download(path);
    return new WithTransfer({ size, data }, [data as unknown as Transferable]);
  }

  private sftpClose(id: string): void {
    const r = this.sftps.get(id);
    if (!r) return;
    this.sftps.delete(id);
    r.owner.sftp.delete(id);
    try { r.sftp.close(); } catch { /* closing anyway */ }
    try { r.ssh.close(); } catch { /* closing anyway */ }
  }
}

/** Clear words for the failures a person meets when connecting. */
export function explain(msg: string, cfg: Pick<UpConfig, 'controlUrl'>): string {
  if (/authkey|auth key|pre-?auth|invalid key|key (is )?expired|not found.*key/i.test(msg)) return `The auth key was refused by ${cfg.controlUrl}: ${msg}`;
  if (/CORS|Failed to fetch|NetworkError|fetch failed/i.test(msg)) return msg.includes('CORS') ? msg : `Cannot reach the control server ${cfg.controlUrl} from this page (${msg}). If it is up, it may not allow this origin (CORS); serve tailtab from the same origin or give its key under Advanced.`;
  return msg;
}
