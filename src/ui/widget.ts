// <tailtab-connect>: the embeddable "connect to device" widget, configured by attributes:
//   control-url, auth-key (an ephemeral pre-auth key is the natural choice), hostname,
//   target (MagicDNS name or IP), port, mode ("ssh" | "http" | "vnc"), username, ssh-auth ("none"
//   for Tailscale SSH | "password": what the server asks — the password, a 2FA code — is asked in
//   the widget's terminal, unless the page gives `password` | "key": the person's own key, picked
//   or pasted inside the widget, views/widget-key.ts), password (SSH or VNC), insecure-derp
//   (test rigs only), proxy-origin (mode="http": show the device's page on its own origin under
//   this one, as the app's web view does — the recommended setup, see startDeviceProxy), webrtc
//   ("off": DERP relays only, no direct WebRTC path to other browser nodes).
// It runs its own ephemeral node in a Worker and shows a terminal, the device's web page, or its
// desktop (VNC, views/desktop.ts; noVNC is loaded only then).
import { LitElement, css, html } from 'lit';
// The terminal renders inside this element's shadow root: its styles come along with the widget.
import { hostColors, terminalStyles } from './terminal-styles.js';
import { customElement, property, state } from 'lit/decorators.js';
import type { NodeApi, NodeStatusView, SshOpenOptions } from '../app/node-api.js';
import { missingRequirement } from './features.js';
import { widgetStrings as W } from './strings.js';
import { createNodeClient } from './node-client.js';
import { NEED_PORT, NODE_PORT, type NodePortMessage } from './sw/messages.js';
import {
  chooseProxyOrigin,
  startProxyHost,
  targetProxyOrigin,
  type ProxyHostHandle,
  type ProxyTarget,
} from './proxy-origin.js';
import { proxyPath, WEB_VIEW_SANDBOX } from './views/webview.js';
import './views/terminal.js';
import './views/desktop.js';
import './views/widget-key.js';
import type { DesktopTarget } from './views/desktop.js';
import type { TailtabConnectElement } from '../widget.js';

@customElement('tailtab-connect')
export class TailtabConnect extends LitElement {
  static override styles = [
    hostColors,
    ...terminalStyles,
    css`
      :host {
        display: block;
        font:
          14px system-ui,
          sans-serif;
        border: 1px solid #ccd;
        border-radius: 10px;
        padding: 0.75rem;
      }
      .status {
        color: #556;
        margin-bottom: 0.5rem;
      }
      .error {
        color: #b00;
        white-space: pre-wrap;
      }
      button {
        font: inherit;
        min-height: 36px;
        padding: 0 1rem;
        border-radius: 8px;
      }
      iframe {
        width: 100%;
        height: 480px;
        border: 1px solid #ccd;
        border-radius: 8px;
      }
    `,
  ];

  @property({ attribute: 'control-url' }) controlUrl = '';
  @property({ attribute: 'auth-key' }) authKey = '';
  @property() hostname = 'tailtab-widget';
  @property() target = '';
  @property({ type: Number }) port = 0;
  @property() mode: 'ssh' | 'http' | 'vnc' = 'ssh';
  @property() username = 'root';
  /**
   * "key": the person logs in with their own key, chosen inside the widget (a file or paste, its
   * passphrase asked there); no attribute carries a key (SECURITY.md "A key in the widget").
   */
  @property({ attribute: 'ssh-auth' }) sshAuth: 'none' | 'password' | 'key' = 'none';
  /** For ssh-auth="password": given by the embedding page (a demo); otherwise the person is asked in the terminal. */
  @property() password = '';
  @property({ attribute: 'insecure-derp', type: Boolean }) insecureDerp = false;
  /** "off": no direct WebRTC path (node/webrtc-path.ts), DERP only. */
  @property() webrtc = '';
  @property({ type: Boolean }) autostart = false;
  /**
   * attribute proxy-origin: an http(s) origin serving tailtab's build (proxy-host.html, sw.js),
   * e.g. https://proxy.tailtab.example. The device's page then runs on p<port>-<machine>.<its
   * host>, never on the vendor's origin.
   */
  @property({ attribute: 'proxy-origin' }) proxyOrigin = '';
  @state() private deviceProxyReady = false;
  /** Where the device's frame loads from: '' = this (the vendor's) origin, else the device's own origin. */
  @state() private deviceOrigin = '';
  private proxyHost?: ProxyHostHandle;

  @state() private status?: NodeStatusView;
  @state() private phase: 'idle' | 'connecting' | 'ready' | 'error' = 'idle';
  @state() private error = '';
  @state() private sshOptions?: SshOpenOptions;
  /** ssh-auth="key": the person is choosing their key (tt-widget-key) before the terminal opens. */
  @state() private choosingKey = false;
  @state() private vncTarget?: DesktopTarget;
  private node?: NodeApi;
  private unsubscribe?: () => void;

  override connectedCallback() {
    super.connectedCallback();
    if (this.autostart) void this.start();
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    // The widget's node is ephemeral: taken out of the page, it logs out. A move within the page
    // (removed and inserted again in the same task, as frameworks do when re-parenting) is not a
    // leave: it is connected again before this microtask runs, and keeps its session.
    queueMicrotask(() => {
      if (this.isConnected || !this.node) return;
      const node = this.node;
      this.node = undefined;
      this.unsubscribe?.();
      this.unsubscribe = undefined;
      this.phase = 'idle';
      this.status = undefined;
      this.sshOptions = undefined;
      this.choosingKey = false;
      this.vncTarget = undefined;
      this.deviceProxyReady = false;
      this.deviceOrigin = '';
      this.proxyHost?.close();
      this.proxyHost = undefined;
      void node.release();
    });
  }

  async start() {
    if (this.phase === 'connecting' || this.phase === 'ready') return;
    if (!this.controlUrl || !this.target) {
      this.phase = 'error';
      this.error = W.missingAttributes;
      return;
    }
    if (this.mode === 'http' && this.proxyOrigin) {
      try {
        chooseProxyOrigin(this.proxyOrigin, location);
      } catch (e) {
        this.phase = 'error';
        this.error = W.badProxyOrigin((e as Error).message);
        return;
      }
    }
    const missing =
      missingRequirement() ??
      (this.mode === 'http' && typeof navigator.serviceWorker?.register !== 'function' ? W.noServiceWorker : undefined);
    if (missing) {
      this.phase = 'error';
      this.error = missing;
      return;
    }
    this.phase = 'connecting';
    // Its own node (not the app's, should both be open on one origin), ephemeral.
    this.node ??= createNodeClient({ name: 'tailtab-widget' });
    addEventListener('pagehide', () => void this.node?.release(), { once: true });
    this.unsubscribe?.();
    this.unsubscribe = this.node.subscribe((ev) => {
      if (ev.type !== 'status') return;
      this.status = ev.status;
      if (ev.status.state === 'running' && this.phase === 'connecting') this.onRunning();
      if (ev.status.state === 'error') {
        this.phase = 'error';
        this.error = ev.status.error ?? W.stopped;
      }
    });
    try {
      await this.node.up({
        controlUrl: this.controlUrl,
        authKey: this.authKey || undefined,
        hostname: this.hostname,
        ephemeral: true,
        profileId: '',
        allowInsecureDerp: this.insecureDerp,
        webrtc: this.webrtc !== 'off',
      });
      const st = await this.node.status();
      this.status = st;
      if (st.state === 'running') this.onRunning();
    } catch (e) {
      this.phase = 'error';
      this.error = (e as Error).message;
    }
  }

  private async onRunning() {
    this.phase = 'ready';
    if (this.mode === 'ssh' && this.sshAuth === 'key') {
      this.choosingKey = true;
    } else if (this.mode === 'ssh') {
      this.sshOptions = {
        host: this.target,
        port: this.port || 22,
        username: this.username,
        // Without a password from the page, the terminal asks whatever the server asks (its
        // password prompt, a verification code), as ssh(1) would.
        auth:
          this.sshAuth !== 'password'
            ? { type: 'none' }
            : this.password
              ? { type: 'password', password: this.password }
              : { type: 'interactive' },
        cols: 80,
        rows: 24,
        tailnetAuthenticated: this.sshAuth === 'none',
      };
    } else if (this.mode === 'vnc') {
      // One object for the session: tt-desktop reconnects when its target changes.
      this.vncTarget = { host: this.target, name: this.target, port: this.port || 5900 };
    } else {
      await this.startDeviceProxy({ host: this.target, port: this.port || 80 }).catch((e: Error) => {
        this.phase = 'error';
        this.error = W.pageNotOpened(e.message);
      });
    }
  }

  /** ssh-auth="key": the key the person chose or imported in the widget opens the terminal. */
  private useKey(keyId: string) {
    this.choosingKey = false;
    this.sshOptions = {
      host: this.target,
      port: this.port || 22,
      username: this.username,
      // A server that then asks more (a 2FA code after the key) asks the person in the terminal.
      auth: { type: 'key', keyId },
      cols: 80,
      rows: 24,
    };
  }

  /**
   * With proxy-origin (recommended): the device's page on an origin of its own, exactly as the
   * app's web view shows a tailnet app (src/ui/proxy-origin.ts): a hidden proxy-host frame on that
   * origin registers the Service Worker there and gets node ports bound to this device and port.
   * The device's scripts then cannot read the vendor origin's storage or host-only cookies, and
   * nothing is registered on the vendor's origin at all.
   */
  private async startIsolatedProxy(target: ProxyTarget) {
    const origin = targetProxyOrigin(chooseProxyOrigin(this.proxyOrigin, location)!, target);
    // "Try again" starts afresh: the earlier frame (and its message listener) goes.
    this.proxyHost?.close();
    this.proxyHost = undefined;
    const newPort = async () => {
      const ch = new MessageChannel();
      await this.node!.httpProxyPort(ch.port1, target);
      return ch.port2;
    };
    this.proxyHost = await startProxyHost(origin, newPort, {
      onError: (message) => {
        this.phase = 'error';
        this.error = W.pageStopped(message);
      },
    });
    this.deviceOrigin = origin;
    this.deviceProxyReady = true;
  }

  /**
   * Without proxy-origin: the device's web page on the vendor's origin, through a Service Worker
   * scoped to /proxy/: it controls the device's frame only — never the vendor's own pages, which
   * it neither caches nor reroutes (`?proxy=widget` keeps nothing offline) — and the node port it
   * gets is bound to the device's address and port. The device's scripts share the vendor's
   * origin (SECURITY.md).
   */
  private async startDeviceProxy(target: ProxyTarget) {
    if (this.proxyOrigin) return this.startIsolatedProxy(target);
    const reg = await navigator.serviceWorker.register('/sw.js?proxy=widget', { scope: '/proxy/' });
    const worker =
      reg.active ??
      (await new Promise<ServiceWorker>((resolve, reject) => {
        const w = reg.installing ?? reg.waiting;
        if (!w) return reject(new Error('the device proxy did not start'));
        w.addEventListener('statechange', () => {
          if (w.state === 'activated') resolve(w);
          else if (w.state === 'redundant') reject(new Error('the device proxy was replaced while starting'));
        });
      }));
    const hand = async () => {
      const ch = new MessageChannel();
      await this.node!.httpProxyPort(ch.port1, target);
      (reg.active ?? worker).postMessage({ type: NODE_PORT } satisfies NodePortMessage, [ch.port2]);
    };
    // A restarted worker has lost its port and asks its window clients (this page) for another.
    navigator.serviceWorker.addEventListener('message', (e) => {
      if ((e.data as { type?: string })?.type === NEED_PORT && e.source === (reg.active ?? worker)) void hand();
    });
    await hand();
    this.deviceOrigin = '';
    this.deviceProxyReady = true;
  }

  override render() {
    const label = this.status?.state === 'needs-login' ? W.waitingForApproval : this.phase;
    return html`
      <div class="status" role="status">${W.status(label, this.status?.self?.ips[0])}</div>
      ${this.phase === 'idle' ? html`<button @click=${() => this.start()}>${W.connect}</button>` : ''}
      ${
        this.phase === 'error'
          ? html`<p class="error" role="alert">${this.error}</p>
              <button
                @click=${() => {
                  this.phase = 'idle';
                  void this.start();
                }}
              >
                ${W.tryAgain}
              </button>`
          : ''
      }
      ${
        this.phase === 'ready' && this.mode === 'ssh' && this.choosingKey
          ? html`<tt-widget-key
              .node=${this.node}
              account=${`${this.username}@${this.target}`}
              @key-chosen=${(e: CustomEvent<{ keyId: string }>) => this.useKey(e.detail.keyId)}
            ></tt-widget-key>`
          : ''
      }
      ${
        this.phase === 'ready' && this.mode === 'ssh' && this.sshOptions
          ? html`<tt-terminal .node=${this.node} .options=${this.sshOptions} style="height: 420px"></tt-terminal> ${
                this.sshAuth === 'key'
                  ? html`<button
                      @click=${() => {
                        this.sshOptions = undefined;
                        this.choosingKey = true;
                      }}
                    >
                      ${W.anotherKey}
                    </button>`
                  : ''
              }`
          : ''
      }
      ${
        this.phase === 'ready' && this.mode === 'vnc' && this.vncTarget
          ? html`<tt-desktop
              .node=${this.node}
              .target=${this.vncTarget}
              .password=${this.password}
              autoconnect
            ></tt-desktop>`
          : ''
      }
      ${
        this.phase === 'ready' && this.mode === 'http' && this.deviceProxyReady
          ? html`<iframe
              title=${W.frameTitle}
              sandbox=${WEB_VIEW_SANDBOX}
              src=${this.deviceOrigin + (proxyPath(`http://${this.target}:${this.port || 80}/`) ?? '')}
            ></iframe>`
          : ''
      }
    `;
  }
}

// The package's 'tailtab/widget' types (src/widget.ts) must describe this element: a property
// renamed or retyped here fails the type check instead of shipping declarations that lie.
type Described<T extends TailtabConnectElement> = T;
export type TailtabConnectChecked = Described<TailtabConnect>;
