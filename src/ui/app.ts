// <tailtab-app>: the whole app a person uses. It talks to the node only through NodeApi (the node
// lives in a Worker); it keeps profiles in IndexedDB; it never sees a private key.
import { LitElement, css, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type {
  LogLine,
  NodeApi,
  NodeStatusView,
  PeerView,
  SshKeyView,
  SshOpenOptions,
  UpConfig,
} from '../app/node-api.js';
import { openTailtabDb, deleteTailtabDb, type ProfileRecord } from '../platform/idb.js';
import { limitations, NO_SERVICE_WORKER } from './features.js';
import { shared } from './styles.js';
import { terminalStyles } from './terminal-styles.js';
import type { ConnectDefaults } from './views/connect.js';
import type { OpenRequest } from './views/machines.js';
import { isReload, type TerminalsView } from './views/terminals.js';
import {
  connectionId,
  forgetConnection,
  fromOptions,
  loadConnections,
  loadLastVisit,
  loadReopenSetting,
  loginMethodOf,
  rememberConnection,
  saveLastVisit,
  visitWithOthers,
  saveReopenSetting,
  toOptions,
  type SavedConnection,
  type VisitTerminal,
} from './saved-connections.js';
import { sessionTitle, shortName } from './format.js';
import './views/connect.js';
import './views/machines.js';
import './views/terminals.js';
import './views/files.js';
import type { FilesTarget } from './views/files.js';
import {
  chooseProxyOrigin,
  clearUsedProxyOrigins,
  forgetProxyOrigin,
  rememberProxyOrigin,
  startProxyHost,
  targetProxyOrigin,
  usedProxyOrigins,
  type ProxyHostHandle,
  type ProxyTarget,
} from './proxy-origin.js';
import { NEED_PORT, NODE_PORT, type NeedPortMessage, type NodePortMessage } from './sw/messages.js';
import './views/webview.js';
import './views/desktop.js';
import type { DesktopTarget } from './views/desktop.js';
import { VNC_PROBE_PORTS, type VncProbe } from './vnc.js';
import './views/status.js';
import './views/settings.js';

type Route = 'machines' | 'terminals' | 'files' | 'web' | 'desktop' | 'status' | 'settings';
const ROUTES: { id: Route; label: string }[] = [
  { id: 'machines', label: 'Machines' },
  { id: 'terminals', label: 'Terminals' },
  { id: 'files', label: 'Files' },
  { id: 'web', label: 'Web' },
  { id: 'desktop', label: 'Desktop' },
  { id: 'status', label: 'Status' },
  { id: 'settings', label: 'Settings' },
];

const STATE_WORDS: Record<NodeStatusView['state'], string> = {
  stopped: 'not connected',
  starting: 'connecting…',
  'needs-login': 'waiting for login approval',
  running: 'connected',
  error: 'not connected (error)',
};

const EMPTY: NodeStatusView = { state: 'stopped', peers: [], derp: [] };

export function profileIdFor(controlUrl: string, hostname: string): string {
  return `${controlUrl.replace(/\/+$/, '')}#${hostname}`;
}

@customElement('tailtab-app')
export class TailtabApp extends LitElement {
  static override styles = [
    shared,
    ...terminalStyles,
    css`
      :host {
        min-height: 100vh;
        background: var(--bg);
      }
      header {
        display: flex;
        align-items: center;
        gap: 1rem;
        padding: 0.5rem 1rem;
        border-bottom: 1px solid var(--border);
        background: var(--panel);
        flex-wrap: wrap;
      }
      header h1 {
        font-size: 1.1rem;
        margin: 0;
      }
      nav {
        display: flex;
        gap: 0.25rem;
        flex-wrap: wrap;
      }
      nav a {
        padding: 0.35rem 0.7rem;
        border-radius: 8px;
        color: var(--fg);
        text-decoration: none;
      }
      nav a[aria-current='page'] {
        background: var(--accent);
        color: #fff;
      }
      main {
        padding: 1rem;
      }
      .self {
        margin-left: auto;
        font-size: 0.9rem;
        color: var(--muted);
      }
      header button.end {
        border-color: var(--danger);
        color: var(--danger);
      }
      .note {
        margin: 0.5rem 1rem 0;
      }
      .modal {
        position: fixed;
        inset: 0;
        background: #0008;
        display: grid;
        place-items: center;
        padding: 1rem;
        z-index: 10;
      }
      /* A dialog fits a phone's width: its widest field (a long option) may not push it past the edge. */
      .modal > * {
        min-width: 0;
        max-width: 100%;
        box-sizing: border-box;
      }
    `,
  ];

  @property({ attribute: false }) node?: NodeApi;
  /** Why this browser cannot run tailtab at all (src/ui/features.ts), shown instead of the app. */
  @property({ attribute: false }) unsupported?: string;
  /** Whether the node is shared with this origin's other windows (a SharedWorker). */
  @property({ attribute: false }) sharedNode = true;
  /** What works less well in this browser, one sentence each. */
  @state() private notes: string[] = [];
  @property({ attribute: false }) defaults: ConnectDefaults & { autoConnect?: boolean; proxyOrigin?: string } = {};
  @state() private status: NodeStatusView = EMPTY;
  @state() private route: Route = 'machines';
  @state() private profiles: ProfileRecord[] = [];
  @state() private log: LogLine[] = [];
  @state() private sshPeer?: PeerView;
  @state() private sshPurpose: 'ssh' | 'files' = 'ssh';
  @state() private filesTarget?: FilesTarget;
  @state() private sshKeys: SshKeyView[] = [];
  @state() private webTarget = '';
  @state() private desktopTarget?: DesktopTarget;
  @state() private proxyReady = false;
  @state() private proxyOrigin = '';
  private pendingProfile?: ProfileRecord;
  @state() private ephemeral = false;
  /** The profile now in use (remembered profiles only): its saved connections and last visit. */
  private profileId = '';
  @state() private saved: SavedConnection[] = [];
  /** The terminals of the last visit, offered for one click on a returning visit (not on a reload). */
  @state() private lastVisit: VisitTerminal[] = [];
  @state() private reopenAuto = false;
  /** The last visit's terminals reopen by themselves as soon as the map lists peers. */
  private reopenOnMap = false;
  /** The last visit was read: from now on this visit's terminals replace it. */
  private visitLoaded = false;
  private readonly returningVisit = !isReload();
  /** What a probe found about SSH on a machine, by peer id (asked when the person opens it). */
  @state() private sshProbe = new Map<string, { port: number; open: boolean; reason?: string }>();
  /** What a check of ports 5900–5901 found on a machine, by peer id (asked when the person presses Desktop). */
  @state() private vncProbe = new Map<string, VncProbe>();
  @state() private dialogPreset?: SavedConnection;
  /** Whether the browser promised to keep this origin's storage (keys, logins): undefined = not asked. */
  @state() private storagePersisted: boolean | undefined;
  private unsubscribe?: () => void;

  override async connectedCallback() {
    super.connectedCallback();
    this.route = this.routeFromHash();
    addEventListener('hashchange', () => (this.route = this.routeFromHash()));
    addEventListener('pagehide', () => {
      // Tell the Worker this window is gone: its sessions end, and in kiosk mode the last window
      // takes the node with it (logged out, so control forgets it, and nothing stays behind).
      void this.node?.release();
    });
    // Back from the back/forward cache: this window was released above (its node may be down by
    // now, and the Worker no longer sends it anything), so start over as a fresh visit would.
    // (Not seen in the e2e: headless Chromium did not keep this page in that cache.)
    addEventListener('pageshow', (e) => {
      if ((e as PageTransitionEvent).persisted) location.reload();
    });
    if (!this.node) return;
    void limitations({ sharedNode: this.sharedNode, ephemeral: !!this.defaults.ephemeral }).then(
      (n) => (this.notes = [...n, ...this.notes.filter((x) => !n.includes(x))]),
    );
    this.unsubscribe = this.node.subscribe((ev) => {
      if (ev.type === 'status') this.onStatus(ev.status);
      else this.log = [...this.log.slice(-999), ev.line];
    });
    try {
      this.onStatus(await this.node.status());
    } catch (e) {
      // The node Worker never answers (node-client.ts): show why instead of a form that hangs.
      this.status = { ...EMPTY, state: 'error', error: (e as Error).message };
      return;
    }
    this.log = await this.node.logTail().catch(() => []);
    // Kiosk mode reads nothing from IndexedDB (and so creates no database there).
    this.profiles = this.defaults.ephemeral ? [] : await this.loadProfiles();
    // The node was already running (a reload, a new tab): its profile is the last one used.
    if (this.status.state === 'running') void this.loadSaved();
    void this.startProxy();
    if (this.status.state === 'stopped') {
      const last = this.profiles[0];
      if (this.defaults.autoConnect && this.defaults.controlUrl) {
        await this.connect({
          controlUrl: this.defaults.controlUrl,
          authKey: this.defaults.authKey,
          hostname: this.defaults.hostname || 'tailtab',
          ephemeral: !!this.defaults.ephemeral,
          profileId: '',
          allowInsecureDerp: this.defaults.allowInsecureDerp,
        });
      } else if (last) {
        // A remembered profile: log in again with its stored keys (no auth key needed).
        await this.useProfile(last);
      }
    }
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    this.unsubscribe?.();
  }

  private routeFromHash(): Route {
    const h = location.hash.replace(/^#\/?/, '') as Route;
    return ROUTES.some((r) => r.id === h) ? h : 'machines';
  }

  private onRoutes = (e: CustomEvent<{ acceptRoutes?: boolean; exitNodeId?: string }>) => {
    void this.node?.setRoutePrefs(e.detail).catch((err: Error) => {
      this.log = [...this.log, { at: Date.now(), level: 'warn', text: `routes: ${err.message}` }];
    });
  };

  /** Proxy-host frames by target origin: one origin, Service Worker and node port per target. */
  private readonly proxyHosts = new Map<string, Promise<ProxyHostHandle>>();

  /** A node port bound to one target: the node refuses any other host or port on it. */
  private async newProxyPort(target?: ProxyTarget): Promise<MessagePort> {
    const ch = new MessageChannel();
    await this.node!.httpProxyPort(ch.port1, target);
    return ch.port2;
  }

  /**
   * The origin the web view shows `target` on (src/ui/proxy-origin.ts): its own subdomain of the
   * proxy origin, whose Service Worker gets node ports bound to that target only. A failure is
   * reported, never answered by showing the app on tailtab's origin instead.
   */
  private openProxyFor = (target: ProxyTarget): Promise<string> => {
    const origin = targetProxyOrigin(this.proxyOrigin, target);
    let host = this.proxyHosts.get(origin);
    if (!host) {
      const warn = (text: string) => (this.log = [...this.log, { at: Date.now(), level: 'warn', text }]);
      host = startProxyHost(origin, () => this.newProxyPort(target), { onError: warn });
      rememberProxyOrigin(origin);
      host.catch(() => this.proxyHosts.delete(origin));
      this.proxyHosts.set(origin, host);
    }
    return host.then(() => origin);
  };

  private async startProxy() {
    if (!('serviceWorker' in navigator) || !this.node) return;
    const newPort = () => this.newProxyPort();
    try {
      // Proxied apps run on origins of their own when a proxy origin is available, so their
      // scripts cannot reach this origin's IndexedDB or the node, nor each other.
      const proxyOrigin = chooseProxyOrigin(this.defaults.proxyOrigin, location);
      await navigator.serviceWorker.register(proxyOrigin ? '/sw.js?proxy=off' : '/sw.js', { scope: '/' });
      const reg = await navigator.serviceWorker.ready;
      if (proxyOrigin) {
        this.proxyOrigin = proxyOrigin;
        this.proxyReady = true;
        return;
      }
      const hand = async () => {
        const port = await newPort();
        (navigator.serviceWorker.controller ?? reg.active)?.postMessage({ type: NODE_PORT } satisfies NodePortMessage, [
          port,
        ]);
        this.proxyReady = true;
      };
      navigator.serviceWorker.addEventListener('message', (e) => {
        if ((e.data as NeedPortMessage | null)?.type === NEED_PORT) void hand();
      });
      await hand();
    } catch (e) {
      // A browser that has the API but refuses it here (a private window): said in the notes too.
      this.log = [
        ...this.log,
        { at: Date.now(), level: 'warn', text: `web view unavailable: ${(e as Error).message}` },
      ];
      if (!this.notes.includes(NO_SERVICE_WORKER)) this.notes = [...this.notes, NO_SERVICE_WORKER];
    }
  }

  private onStatus(s: NodeStatusView) {
    const wasRunning = this.status.state === 'running';
    this.status = s;
    if (s.state === 'running' && !wasRunning) void this.loadSaved();
    if (this.reopenOnMap && s.peers.length) {
      this.reopenOnMap = false;
      this.reopenVisit();
    }
    if (s.state === 'running' && !wasRunning && this.pendingProfile) {
      void this.saveProfile(this.pendingProfile);
      this.pendingProfile = undefined;
    }
    // A remembered login lives in IndexedDB, which a browser may clear under storage pressure
    // unless it has granted persistence: ask once it is worth keeping (never in kiosk mode).
    if (s.state === 'running' && !wasRunning && !this.ephemeral && this.storagePersisted === undefined) {
      void navigator.storage?.persist?.().then(
        (ok) => (this.storagePersisted = ok),
        () => (this.storagePersisted = false),
      );
    }
  }

  /** Saved connections, the last visit and its setting for the profile in use (none in kiosk mode). */
  private async loadSaved() {
    if (this.ephemeral || this.defaults.ephemeral) return;
    if (!this.profileId) this.profileId = this.profiles[0]?.id ?? this.pendingProfile?.id ?? '';
    if (!this.profileId || this.visitLoaded) return;
    try {
      const { value, dropped } = await loadConnections(this.profileId);
      this.saved = value;
      if (dropped) this.warn(`${dropped} saved connection record(s) were damaged and are ignored.`);
      this.reopenAuto = await loadReopenSetting();
      const visit = this.returningVisit ? await loadLastVisit(this.profileId) : [];
      this.visitLoaded = true;
      this.lastVisit = visit.filter((t) => this.saved.some((c) => c.id === t.connectionId));
      // A returning visit is "running" before its first map lists the peers: reopen once it does.
      if (this.lastVisit.length && this.reopenAuto) {
        if (this.status.peers.length) this.reopenVisit();
        else this.reopenOnMap = true;
      }
    } catch (e) {
      this.visitLoaded = true;
      this.warn(`saved connections unavailable: ${(e as Error).message}`);
    }
  }

  private warn(text: string) {
    this.log = [...this.log, { at: Date.now(), level: 'warn', text }];
  }

  /** This visit's terminals, remembered for the next visit (once the last one was read). */
  private onTerminalsChanged(list: { title: string; options: SshOpenOptions }[]) {
    if (!this.visitLoaded || !this.profileId || this.ephemeral) return;
    const terms = list.map((t) => ({
      title: t.title,
      connectionId: connectionId({
        host: t.options.host,
        user: t.options.username,
        port: t.options.port ?? 22,
        method: loginMethodOf(t.options.auth),
      }),
    }));
    const profileId = this.profileId;
    const node = this.node;
    const peers = this.status?.peers ?? [];
    const titleOf = (l: { host: string; username: string }) => sessionTitle(l, peers);
    // In order (a later change must not be overwritten by an earlier one finishing late).
    this.visitSaving = this.visitSaving
      .then(async () => {
        const running = node?.workerKind === 'shared' ? await node.sshList().catch(() => []) : [];
        const visit = visitWithOthers(terms, running, titleOf);
        if (visit.length) this.lastVisit = [];
        await saveLastVisit(profileId, visit);
      })
      .catch((e: Error) => this.warn(`remembering this visit's terminals: ${e.message}`));
  }
  private visitSaving: Promise<void> = Promise.resolve();

  /** Opens a saved connection: at once, or through the dialog when a password is needed. */
  private reopen(c: SavedConnection) {
    const peer = this.peerFor(c);
    if (c.method === 'password' || !peer) {
      if (peer) void this.openPeer({ peer, kind: 'ssh' }, c);
      return;
    }
    location.hash = '#terminals';
    this.terminals()?.open(toOptions(c), c.label);
  }

  private reopenVisit() {
    const visit = this.lastVisit;
    this.lastVisit = [];
    for (const t of visit) {
      const c = this.saved.find((x) => x.id === t.connectionId);
      if (c) this.reopen(c);
    }
  }

  private async forgetSaved(id: string) {
    if (!this.profileId) return;
    this.saved = await forgetConnection(this.profileId, id).catch(() => this.saved);
  }

  private peerFor(c: { host: string; fqdn?: string }): PeerView | undefined {
    return (
      this.status.peers.find((p) => p.ips.includes(c.host)) ??
      (c.fqdn ? this.status.peers.find((p) => p.fqdn === c.fqdn) : undefined)
    );
  }

  private terminals(): TerminalsView | null {
    return this.renderRoot.querySelector('tt-terminals') as TerminalsView | null;
  }

  private async loadProfiles(): Promise<ProfileRecord[]> {
    try {
      const db = await openTailtabDb();
      const all = await db.getAll('profiles');
      db.close();
      return all.sort((a, b) => b.lastUsedAt - a.lastUsedAt);
    } catch {
      return [];
    }
  }

  private async saveProfile(p: ProfileRecord) {
    try {
      const db = await openTailtabDb();
      await db.put('profiles', { ...p, lastUsedAt: Date.now() });
      db.close();
    } catch {
      // Storage refused (a private window): the notes above say the login is not remembered.
      return;
    }
    this.profiles = await this.loadProfiles();
  }

  private async connect(cfg: UpConfig) {
    if (!this.node) return;
    const profileId = profileIdFor(cfg.controlUrl, cfg.hostname);
    this.ephemeral = cfg.ephemeral;
    if (!cfg.ephemeral && profileId !== this.profileId) {
      this.profileId = profileId;
      this.visitLoaded = false;
    }
    this.pendingProfile = cfg.ephemeral
      ? undefined
      : {
          id: profileId,
          name: `${cfg.hostname} @ ${new URL(cfg.controlUrl).host}`,
          controlUrl: cfg.controlUrl,
          hostname: cfg.hostname,
          allowInsecureDerp: cfg.allowInsecureDerp,
          controlKey: cfg.controlKey,
          ...(cfg.webrtc === false ? { webrtc: false } : {}),
          lastUsedAt: Date.now(),
        };
    try {
      await this.node.up({ ...cfg, profileId });
    } catch (e) {
      this.status = { ...this.status, state: 'error', error: (e as Error).message };
    }
  }

  private useProfile(p: ProfileRecord) {
    return this.connect({
      controlUrl: p.controlUrl,
      hostname: p.hostname,
      ephemeral: false,
      profileId: p.id,
      allowInsecureDerp: p.allowInsecureDerp,
      controlKey: p.controlKey,
      webrtc: p.webrtc,
    });
  }

  private async openPeer(req: OpenRequest, preset?: SavedConnection) {
    if (req.peer.browserNode) return; // nothing to open on a browser node (machines.ts offers nothing)
    if (req.kind === 'web') {
      this.webTarget = `http://${req.peer.ips[0] ?? req.peer.fqdn}/`;
      location.hash = '#web';
      return;
    }
    if (req.kind === 'desktop') {
      const host = req.peer.ips[0] ?? req.peer.fqdn;
      this.desktopTarget = { host, name: req.peer.name };
      location.hash = '#desktop';
      // Is a VNC server there, on display :0 or :1? Two connects, only now that the person asked.
      const id = req.peer.id;
      void Promise.all(VNC_PROBE_PORTS.map((port) => this.node!.probe(host, port).catch(() => undefined))).then(
        (rs) => {
          if (rs.some((r) => !r)) return; // the node went down meanwhile: nothing learnt
          const probe: VncProbe = { host, open: [], reasons: {} };
          rs.forEach((r, i) =>
            r!.open ? probe.open.push(VNC_PROBE_PORTS[i]!) : (probe.reasons[VNC_PROBE_PORTS[i]!] = r!.reason),
          );
          this.vncProbe = new Map(this.vncProbe).set(id, probe);
        },
      );
      return;
    }
    // The user and port used last time for this host, not always "root" on 22.
    this.dialogPreset = preset ?? this.saved.find((c) => c.fqdn === req.peer.fqdn || req.peer.ips.includes(c.host));
    this.sshKeys = await this.node!.sshKeys().catch(() => []);
    this.sshPurpose = req.kind === 'files' ? 'files' : 'ssh';
    this.sshPeer = req.peer;
    // Is anything listening? One connect, only now that the person asked for this machine.
    const port = this.dialogPreset?.port ?? 22;
    const host = req.peer.ips[0];
    if (host && !req.peer.tailscaleSsh) {
      void this.node!.probe(host, port).then(
        (r) => {
          this.sshProbe = new Map(this.sshProbe).set(req.peer.id, { port, ...r });
        },
        () => {},
      );
    }
  }

  private startSsh(e: CustomEvent<{ options: SshOpenOptions; title: string; purpose?: 'ssh' | 'files' }>) {
    const peer = this.sshPeer;
    this.sshPeer = undefined;
    if (peer && this.profileId && !this.ephemeral) {
      // How this host was reached, for next time: never the password.
      const c = fromOptions(
        e.detail.options,
        peer.fqdn,
        `${e.detail.options.username}@${shortName(peer.fqdn || peer.name)}`,
        Date.now(),
      );
      void rememberConnection(this.profileId, c).then(
        (list) => (this.saved = list),
        (err: Error) => this.warn(`saving the connection: ${err.message}`),
      );
    }
    if (e.detail.purpose === 'files') {
      const { cols: _c, rows: _r, ...options } = e.detail.options;
      this.filesTarget = { options, title: e.detail.title };
      location.hash = '#files';
      return;
    }
    location.hash = '#terminals';
    this.terminals()?.open(e.detail.options, e.detail.title);
  }

  private async signOut() {
    await this.node?.down({ logout: true });
    // Kiosk mode never touches IndexedDB, not even to list profiles.
    if (!this.ephemeral) this.profiles = await this.loadProfiles();
  }

  /** Everything this origin holds: the node's keys and logins, the offline shell, the Service Worker. */
  private async wipe() {
    // The apps' own origins first (each forgets its worker, caches and storage), while their frames live.
    // Origins of earlier visits, which no frame of this page has open, are loaded once to forget.
    const earlier = usedProxyOrigins().filter((o) => !this.proxyHosts.has(o));
    await Promise.allSettled([
      ...[...this.proxyHosts.values()].map((h) => h.then((x) => x.forget())),
      ...earlier.map((o) => forgetProxyOrigin(o)),
    ]);
    clearUsedProxyOrigins();
    try {
      sessionStorage.clear();
    } catch {
      /* nothing kept */
    }
    await this.node?.wipe();
    await deleteTailtabDb();
    if ('caches' in globalThis) for (const k of await caches.keys()) await caches.delete(k);
    for (const r of (await navigator.serviceWorker?.getRegistrations?.()) ?? []) await r.unregister();
    this.profiles = [];
    location.hash = '';
    location.reload();
  }

  private async deleteProfile(id: string) {
    const db = await openTailtabDb();
    await db.delete('profiles', id);
    db.close();
    this.profiles = await this.loadProfiles();
  }

  override render() {
    const st = this.status;
    const running = st.state === 'running';
    return html`
      <header>
        <h1>tailtab</h1>
        ${
          running
            ? html`<nav aria-label="Main">
                ${ROUTES.map((r) => html`<a href="#${r.id}" aria-current=${this.route === r.id ? 'page' : 'false'}>${r.label}</a>`)}
              </nav>`
            : ''
        }
        <span class="self" role="status"
          >${running ? `${st.self?.name ?? ''} · ${st.self?.ips[0] ?? ''}` : st.state === 'needs-login' && !st.authUrl && st.error ? 'signed out by control: log in again' : STATE_WORDS[st.state]}</span
        >
        ${
          running && this.ephemeral
            ? html`<button
                class="end"
                @click=${this.signOut}
                title="Log this browser out of the tailnet and forget everything"
              >
                End session
              </button>`
            : ''
        }
      </header>
      ${this.unsupported ? html`<p class="error" role="alert">${this.unsupported}</p>` : ''}
      ${this.notes.map((n) => html`<p class="hint note" role="note">${n}</p>`)}
      <main
        @connect=${(e: CustomEvent<UpConfig>) => this.connect(e.detail)}
        @use-profile=${(e: CustomEvent<ProfileRecord>) => this.useProfile(e.detail)}
        @open=${(e: CustomEvent<OpenRequest>) => this.openPeer(e.detail)}
        @ssh-start=${this.startSsh}
        @cancel=${() => (this.sshPeer = undefined)}
        @sign-out=${this.signOut}
        @wipe=${this.wipe}
        @delete-profile=${(e: CustomEvent<string>) => this.deleteProfile(e.detail)}
        @terminals-changed=${(e: CustomEvent<{ title: string; options: SshOpenOptions }[]>) => this.onTerminalsChanged(e.detail)}
        @reopen=${(e: CustomEvent<SavedConnection>) => this.reopen(e.detail)}
        @reopen-visit=${() => this.reopenVisit()}
        @forget-connection=${(e: CustomEvent<string>) => this.forgetSaved(e.detail)}
        @reopen-setting=${(e: CustomEvent<boolean>) => {
          this.reopenAuto = e.detail;
          void saveReopenSetting(e.detail).catch(() => {});
        }}
      >
        ${running ? this.renderRoute() : html`<tt-connect .status=${st} .profiles=${this.profiles} .defaults=${this.defaults}></tt-connect>`}
        ${/* Terminals stay mounted (hidden) so sessions survive switching views and a brief reconnect. */ ''}
        <tt-terminals
          .node=${this.node}
          .peers=${this.status?.peers ?? []}
          .shown=${running && this.route === 'terminals'}
          ?hidden=${!running || this.route !== 'terminals'}
        ></tt-terminals>
        <tt-files
          .node=${this.node}
          .target=${this.filesTarget}
          ?hidden=${!running || this.route !== 'files'}
        ></tt-files>
        <tt-desktop
          .node=${this.node}
          .target=${this.desktopTarget}
          .probe=${[...this.vncProbe.values()].find((p) => p.host === this.desktopTarget?.host)}
          ownsTitle
          ?hidden=${!running || this.route !== 'desktop'}
        ></tt-desktop>
        ${
          this.sshPeer
            ? html`<div
                class="modal"
                role="dialog"
                aria-modal="true"
                aria-label=${this.sshPurpose === 'files' ? 'Files login' : 'SSH login'}
                @keydown=${(e: KeyboardEvent) => {
                  if (e.key === 'Escape') this.sshPeer = undefined;
                }}
              >
                <tt-ssh-dialog
                  .peer=${this.sshPeer}
                  .keys=${this.sshKeys}
                  .purpose=${this.sshPurpose}
                  .preset=${this.dialogPreset}
                  .probe=${this.sshProbe.get(this.sshPeer.id)}
                ></tt-ssh-dialog>
              </div>`
            : ''
        }
      </main>
    `;
  }

  private renderRoute() {
    return html`
      ${
        this.route === 'machines'
          ? html`<tt-machines
              .peers=${this.status.peers}
              .routes=${this.status.routes ?? {}}
              @routes=${this.onRoutes}
              .recent=${this.saved}
              .lastVisit=${this.lastVisit}
              .sshProbe=${this.sshProbe}
              .vncProbe=${this.vncProbe}
            ></tt-machines>`
          : ''
      }
      ${this.route === 'web' ? html`<tt-webview .target=${this.webTarget} .proxyReady=${this.proxyReady} .proxyOrigin=${this.proxyOrigin} .openProxy=${this.openProxyFor}></tt-webview>` : ''}
      ${this.route === 'status' ? html`<tt-status .status=${this.status} .log=${this.log}></tt-status>` : ''}
      ${this.route === 'settings' ? html`<tt-settings .node=${this.node} .profiles=${this.profiles} .ephemeral=${this.ephemeral} .storagePersisted=${this.storagePersisted} .reopenAuto=${this.reopenAuto}></tt-settings>` : ''}
    `;
  }
}
