// The app layer's coordinator, the node's side of NodeApi (node-api.ts): one TailnetNode shared by
// every window attached to this Worker (a SharedWorker gives several windows one node; a
// dedicated Worker serves one page), its status and log pushed to them, and the sessions they
// open — terminals (ssh-sessions.ts), file transfer (sftp-sessions.ts), SSH keys (ssh-keys.ts),
// host keys (host-keys.ts) — kept in a WorkerStore (store.ts), and the Service Worker's web-view
// proxy (web-proxy.ts), and raw TCP connections (tcp-sessions.ts). Nothing here touches the DOM; the page sees only plain data, public keys,
// and terminal bytes.
import { secureRandom, type RandomSource } from '../crypto/random.js';
import type { NodeNetMap, NodeStatus } from '../node/node.js';
import type { PortLike } from '../platform/port.js';
import type { WebSocketFactory } from '../platform/websocket.js';
import type {
  LogLine,
  NodeStatusView,
  SftpOpenOptions,
  SshKeyImportOptions,
  SshKeyScope,
  SshOpenOptions,
  UpConfig,
  WorkerEvent,
} from './node-api.js';
import { serveRpc } from './rpc.js';
import { MemoryWorkerStore, type WorkerStore } from './store.js';
import type { AppContext, AppWindow, NodeLike } from './context.js';
import { explain, redactSecrets } from './errors.js';
import { HostKeyChecks } from './host-keys.js';
import { SftpSessions } from './sftp-sessions.js';
import { SshKeyring } from './ssh-keys.js';
import { SshSessions } from './ssh-sessions.js';
import { TcpSessions } from './tcp-sessions.js';
import { toStatusView } from './status.js';
import { PeerViews, type PeerViewChange } from './status-peers.js';
import type { ProxyBinding } from '../http/proxy-target.js';
import { proxyBinding } from './web-proxy.js';

/** Route preferences as they cross from a window (plain data, checked). */
/** A window's key scope, checked for shape: anything but 'widget' is the app's own keys. */
function keyScope(o: unknown): 'widget' | undefined {
  return (o as SshKeyScope | undefined)?.scope === 'widget' ? 'widget' : undefined;
}

function routePrefs(v: unknown): { acceptRoutes?: boolean; exitNodeId?: string } {
  const p = (v ?? {}) as { acceptRoutes?: unknown; exitNodeId?: unknown };
  if (p.acceptRoutes !== undefined && typeof p.acceptRoutes !== 'boolean')
    throw new Error('acceptRoutes is true or false');
  if (p.exitNodeId !== undefined && (typeof p.exitNodeId !== 'string' || !p.exitNodeId))
    throw new Error('an exit node is named by its machine id');
  return {
    acceptRoutes: p.acceptRoutes as boolean | undefined,
    ...(p.exitNodeId ? { exitNodeId: p.exitNodeId as string } : {}),
  };
}

export interface NodeServiceDeps {
  createNode(): Promise<NodeLike>;
  /** IndexedDB in a browser Worker. Ephemeral sessions use a memory store instead. */
  persistentStore: WorkerStore;
  webSocketFactory?: WebSocketFactory;
  random?: RandomSource;
  now?: () => number;
  /** Serves the Service Worker's proxy protocol (http/proxy-protocol.ts, ui/sw/) on `port` over node.dial. */
  httpProxy?: (port: MessagePort, node: NodeLike, target?: ProxyBinding) => void | Promise<void>;
  /** How often to push status while running (handshake ages, bytes, DERP RTT). */
  statusIntervalMs?: number;
  /** Map changes closer together than this share one status push (default 250 ms, up to 2 s for big tailnets). */
  statusMinIntervalMs?: number;
  /**
   * How long a window arriving during the last window's release waits for the node to go down
   * before it is served anyway (a logout towards an unreachable control server can take long).
   */
  leaveWaitMs?: number;
  /**
   * How long a remembered (not ephemeral) session's terminals and node outlive the last window
   * (a reload, a closed tab) before they end: a window arriving meanwhile attaches to them again.
   * 0 (the default here): at once, as an ephemeral session always does.
   */
  detachGraceMs?: number;
}

const MAX_LOG = 500;
const NO_PEERS = { full: true, peers: [], removed: [] };

export class NodeService {
  private node?: NodeLike;
  private nodePromise?: Promise<NodeLike>;
  private netmap?: NodeNetMap;
  private readonly clients = new Set<AppWindow>();
  private readonly log: LogLine[] = [];
  private readonly memory = new MemoryWorkerStore();
  private current?: { cfg: UpConfig; profileId: string };
  private secrets: string[] = [];
  private ticker?: ReturnType<typeof setInterval>;
  private pushTimer?: ReturnType<typeof setTimeout>;
  private lastPushAt = Number.NEGATIVE_INFINITY;
  private upError?: string;
  /** The last window's release taking the node down (a window arriving meanwhile waits for it). */
  private leaving?: Promise<void>;
  /** The last window of a remembered session went: the node goes down when this fires (detachGraceMs). */
  private idleTimer?: ReturnType<typeof setTimeout>;
  private readonly hostKeys: HostKeyChecks;
  private readonly ssh: SshSessions;
  private readonly sftp: SftpSessions;
  private readonly tcp: TcpSessions;
  private readonly keys: SshKeyring;
  private readonly now: () => number;
  private readonly peerViews = new PeerViews();

  constructor(private readonly deps: NodeServiceDeps) {
    const ctx: AppContext = {
      requireRunning: () => this.requireRunning(),
      node: () => this.node,
      store: () => this.store,
      persistentStore: () => deps.persistentStore,
      random: deps.random ?? secureRandom,
      now: deps.now ?? (() => Date.now()),
    };
    this.hostKeys = new HostKeyChecks(ctx);
    this.ssh = new SshSessions(ctx, this.hostKeys);
    this.sftp = new SftpSessions(ctx, this.hostKeys);
    this.tcp = new TcpSessions(ctx);
    this.keys = new SshKeyring(ctx);
    this.now = ctx.now;
  }

  /** The store for the current session: memory when ephemeral, else the persistent one. */
  private get store(): WorkerStore {
    return this.current?.cfg.ephemeral ? this.memory : this.deps.persistentStore;
  }

  /** Scrubs what must never reach a page or a log: the auth key given to up(). */
  private redact = (s: string): string => redactSecrets(s, this.secrets);

  private broadcast(ev: WorkerEvent): void {
    for (const c of this.clients) c.push(ev);
  }

  private addLog(level: LogLine['level'], text: string): void {
    const line: LogLine = { at: this.now(), level, text: this.redact(text) };
    this.log.push(line);
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG);
    this.broadcast({ type: 'log', line });
  }

  /** The status whole (O(peers): for a window that asks; the ticks send what changed). */
  private statusView(st: NodeStatus | undefined = this.node?.status()): NodeStatusView {
    if (!st) return { state: this.upError ? 'error' : 'stopped', error: this.upError, peers: [], derp: [] };
    const v = { ...toStatusView(st, this.netmap, this.redact), terminals: this.ssh.flowStats() };
    if (v.state === 'stopped' && this.upError) return { ...v, state: 'error', error: this.upError };
    return v;
  }

  /** The status without its peers, and the peers' change since the last push (the node's, when it tells). */
  private statusChange(): { status: NodeStatusView; change: PeerViewChange } {
    const node = this.node;
    if (!node)
      return { status: this.statusView(undefined), change: this.peerViews.update(NO_PEERS, undefined, undefined) };
    const st = node.peerStatusChanges ? node.status({ peers: false }) : node.status();
    const change = node.peerStatusChanges?.() ?? { full: true, peers: st.peers, removed: [] };
    return {
      status: this.statusView({ ...st, peers: [] }),
      change: this.peerViews.update(change, this.netmap, st.routes?.exitNodeId, !!node.peerStatusChanges),
    };
  }

  private pushStatus = (): void => {
    if (this.pushTimer !== undefined) {
      clearTimeout(this.pushTimer);
      this.pushTimer = undefined;
    }
    this.lastPushAt = this.now();
    if (!this.clients.size) return;
    const { status, change } = this.statusChange();
    for (const c of this.clients) c.push(this.peerViews.eventFor(c, status, change));
  };

  /**
   * A push for a map change: in the next task when none went out in the last statusMinIntervalMs,
   * else one at the end of that interval for all the changes meanwhile. A busy tailnet sends several deltas
   * a second, and each status is O(peers) to make.
   */
  private pushSoon = (): void => {
    if (this.pushTimer !== undefined) return;
    // A status costs O(peers) to make: a big tailnet gets it less often (10,000 peers: every 1 s).
    const min = this.deps.statusMinIntervalMs ?? Math.max(250, Math.min(2000, (this.netmap?.peers.length ?? 0) / 10));
    // Never at once: the node's state change that often follows in the same task pushes anyway
    // (and cancels this one), so a first map of 10,000 peers is made into one status, not two.
    const wait = Math.max(0, this.lastPushAt + min - this.now());
    this.pushTimer = setTimeout(() => {
      this.pushTimer = undefined;
      this.pushStatus();
    }, wait);
  };

  private async getNode(): Promise<NodeLike> {
    if (this.node) return this.node;
    this.nodePromise ??= this.deps.createNode().then((n) => {
      this.node = n;
      n.on('state', (s) => {
        if (s === 'running' && !this.ticker)
          this.ticker = setInterval(this.pushStatus, this.deps.statusIntervalMs ?? 2000);
        if (s !== 'running' && this.ticker) {
          clearInterval(this.ticker);
          this.ticker = undefined;
        }
        this.addLog('info', `node ${s}`);
        this.pushStatus();
      });
      // (Not 'peers' too: the node emits it right after 'netmap', for the same change.)
      n.on('netmap', (nm) => {
        this.netmap = nm;
        this.pushSoon();
      });
      n.on('log', (t) => this.addLog(/fail|error|refused|timed out/i.test(t) ? 'warn' : 'info', t));
      n.on('debug', (t) => this.addLog('debug', t));
      return n;
    });
    return this.nodePromise;
  }

  /** Serves NodeApi on one window's port. */
  attach(port: PortLike): void {
    let push: (ev: unknown, transfer?: Transferable[]) => void = () => {};
    const client: AppWindow = {
      push: (ev) => push(ev),
      sessions: new Set(),
      sftp: new Set(),
      tcp: new Set(),
      released: false,
    };
    this.clients.add(client);
    // A window came back (a reload) before the grace ran out: the node and its terminals stay.
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    push = serveRpc(port, {
      // A window opened (a reload) while the last one's release is still taking the node down
      // sees the node after that, not a session about to end under it.
      up: async (cfg: UpConfig) => {
        await this.leftOrTired();
        return this.up(cfg);
      },
      down: (o: { logout?: boolean } = {}) => this.down(o),
      status: async () => {
        await this.leftOrTired();
        return this.statusView();
      },
      logTail: () => [...this.log],
      ping: async (target: string) => {
        const node = await this.requireRunning();
        const r = await node.ping(target, { timeoutMs: 10_000 });
        return { ms: r.ms };
      },
      sshOpen: (o: SshOpenOptions & { promptId?: string }) => this.ssh.open(client, o),
      sshAttach: (id: string) => this.ssh.attach(client, String(id)),
      sshList: () => this.ssh.list(),
      sshWrite: (id: string, data: Uint8Array) => this.ssh.write(id, data),
      probe: (host: string, port: number) => this.probe(String(host), Number(port)),
      sshResize: (id: string, cols: number, rows: number) => this.ssh.resize(id, cols, rows),
      sshClose: (id: string) => this.ssh.close(id, client),
      sftpOpen: (o: SftpOpenOptions & { promptId?: string }) => this.sftp.open(client, o),
      sftpList: (id: string, path: string) => this.sftp.list(id, path),
      sftpDownload: (id: string, path: string) => this.sftp.download(id, path),
      sftpUpload: (id: string, path: string, data: ReadableStream<Uint8Array>) => this.sftp.upload(id, path, data),
      sftpClose: (id: string) => this.sftp.close(id),
      tcpDial: (host: unknown, port: unknown, up: unknown) => this.tcp.open(client, host, port, up),
      tcpClose: (id: string) => this.tcp.close(id),
      hostKeyAnswer: (promptId: string, ok: boolean) => this.hostKeys.answer(promptId, ok),
      loginAnswer: (askId: string, value: unknown) => this.hostKeys.login.answer(askId, value),
      sshKeys: (o?: SshKeyScope) => this.keys.list(keyScope(o)),
      sshKeyCreate: (name: string, o?: { allowExport?: boolean }) =>
        this.keys.create(String(name ?? ''), { allowExport: o?.allowExport === true }),
      sshKeyImport: (text: string, o?: SshKeyImportOptions) =>
        this.keys.import(text, {
          name: typeof o?.name === 'string' ? o.name : undefined,
          passphrase: typeof o?.passphrase === 'string' ? o.passphrase : undefined,
          allowExport: o?.allowExport === true,
          scope: keyScope(o),
          remember: o?.remember === true,
        }),
      sshKeyDelete: (id: string, o?: SshKeyScope) => this.keys.delete(id, keyScope(o)),
      sshKeyExport: (id: string, o?: { passphrase?: string }) =>
        this.keys.export(id, { passphrase: typeof o?.passphrase === 'string' ? o.passphrase : undefined }),
      knownHosts: () => this.hostKeys.knownHosts(),
      knownHostDelete: (host: string) => this.hostKeys.forget(host),
      knownHostLegacy: (host: string, allow: boolean) => this.hostKeys.setLegacy(host, allow),
      setRoutePrefs: async (prefs: unknown) => {
        const node = await this.requireRunning();
        if (!node.setRoutePrefs) throw new Error('this node cannot use subnet routes or exit nodes');
        node.setRoutePrefs(routePrefs(prefs));
        this.pushStatus();
      },
      httpProxyPort: async (p: MessagePort, target?: unknown) => {
        if (!this.deps.httpProxy) throw new Error('the web-view proxy is not part of this build');
        await this.deps.httpProxy(p, await this.getNode(), target === undefined ? undefined : proxyBinding(target));
      },
      release: () => this.release(client),
      wipe: () => this.wipe(),
    });
  }

  private sameSession(cfg: UpConfig): boolean {
    const c = this.current?.cfg;
    return (
      !!c &&
      c.controlUrl.replace(/\/+$/, '') === cfg.controlUrl.replace(/\/+$/, '') &&
      c.hostname === cfg.hostname &&
      !!c.ephemeral === !!cfg.ephemeral
    );
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
        webrtc: { enabled: cfg.webrtc !== false },
        wallClockMs: () => Date.now(),
        onAuthUrl: () => this.pushStatus(),
      });
    } catch (e) {
      const msg = this.redact(explain((e as Error)?.message ?? String(e), cfg));
      this.upError = msg;
      this.addLog('error', msg);
      try {
        await node.down();
      } catch {
        /* already down */
      }
      this.pushStatus();
      throw new Error(msg);
    }
    this.pushStatus();
  }

  async down(o: { logout?: boolean } = {}): Promise<void> {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    for (const id of this.ssh.ids()) this.ssh.close(id);
    for (const id of this.sftp.ids()) this.sftp.close(id);
    for (const id of this.tcp.ids()) this.tcp.close(id);
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
   * for the next visit). The Worker may outlive its windows (ui/node-client.ts: extendedLifetime,
   * so that this logout completes after a closed tab); a node left running there would stay online
   * with nobody to see it.
   */
  private release(client: AppWindow): Promise<void> {
    if (client.released) return this.leaving ?? Promise.resolve();
    client.released = true;
    // A remembered session's terminals wait for the window to come back (a reload); a kiosk's end.
    const grace = this.current?.cfg.ephemeral ? 0 : (this.deps.detachGraceMs ?? 0);
    for (const id of [...client.sessions]) grace > 0 ? this.ssh.detach(id, grace, client) : this.ssh.close(id, client);
    for (const id of [...client.sftp]) this.sftp.close(id);
    this.tcp.closeAll(client);
    this.clients.delete(client);
    if (this.clients.size > 0 || !this.node || this.leaving) return this.leaving ?? Promise.resolve();
    if (grace > 0 && this.ssh.detachedCount() > 0) {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        if (this.clients.size === 0) void this.takeDown(false);
      }, grace);
      return Promise.resolve();
    }
    return this.takeDown(!!this.current?.cfg.ephemeral);
  }

  /** The last window is gone: the node goes down (an ephemeral one logged out first). */
  private takeDown(logout: boolean): Promise<void> {
    if (this.leaving) return this.leaving;
    const leaving: Promise<void> = this.down({ logout })
      .catch((e: unknown) => this.addLog('warn', `going down: ${(e as Error)?.message ?? e}`))
      .finally(() => {
        if (this.leaving === leaving) this.leaving = undefined;
      });
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

  /**
   * Whether something listens on host:port: one TCP connect with a short deadline, closed at once
   * (the person opened that machine's row or dialog; nothing is scanned on its own).
   */
  private async probe(host: string, port: number): Promise<{ open: boolean; reason?: string }> {
    const node = await this.requireRunning();
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${port} is not a port number`);
    try {
      const c = await node.dial(host, port, { timeoutMs: 4000 });
      void Promise.resolve(c.close()).catch(() => {});
      return { open: true };
    } catch (e) {
      const m = (e as Error)?.message ?? String(e);
      return { open: false, reason: /refused|reset|RST/i.test(m) ? 'refused' : /time/i.test(m) ? 'no answer' : m };
    }
  }

  private async requireRunning(): Promise<NodeLike> {
    const node = await this.getNode();
    const st = node.status().state;
    if (st !== 'running') throw new Error(`Not connected to a tailnet (node ${st}).`);
    return node;
  }
}
