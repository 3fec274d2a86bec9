// Desktop: a machine's screen over VNC, in the page. The RFB client is noVNC 1.7.0 (loaded when
// first used), fed by a TcpSocket (app/tcp-socket.ts) over NodeApi.tcpDial: the bytes go from the
// Worker's TCP connection through the tailnet, with nothing installed on the machine but its VNC
// server. Remote text (desktop name, clipboard, the server's refusal reasons) only ever goes into
// Lit text bindings and form values, never into markup.
import { LitElement, css, html } from 'lit';
import { hostNameProblem, portProblem } from '../validate.js';
import { customElement, property, state } from 'lit/decorators.js';
import type RFB from '@novnc/novnc';
import type { NodeApi } from '../../app/node-api.js';
import { RfbHandshakeSniffer } from '../../app/rfb-handshake.js';
import { TcpSocket, type TcpErrorEvent } from '../../app/tcp-socket.js';
import { shared } from '../styles.js';
import {
  desktopSizeProblem,
  KEY_COMBOS,
  keysymFor,
  vncEndSentence,
  vncProbeSentence,
  type VncEnd,
  type VncProbe,
} from '../vnc.js';
import { desktopStrings as S } from '../strings.js';

export interface DesktopTarget {
  /** What to dial: a tailnet address or MagicDNS name. */
  host: string;
  /** What to call it. */
  name: string;
  port?: number;
}

export const VNC_BASE_PORT = 5900;

/** Text typed into the remote side at most at once (each character is a key down and up). */
const MAX_TYPED = 4096;

@customElement('tt-desktop')
export class DesktopView extends LitElement {
  static override styles = [
    shared,
    css`
      :host([hidden]) {
        display: none;
      }
      .screen {
        width: 100%;
        height: max(240px, calc(100dvh - 12rem));
        border: 1px solid var(--border);
        border-radius: 8px;
        overflow: hidden;
        background: #282828;
      }
      .screen.idle {
        display: none;
      }
      .screen:fullscreen {
        height: 100%;
        border: none;
        border-radius: 0;
      }
      .toolbar {
        margin: 0 0 0.5rem;
      }
      .toolbar select {
        max-width: 11rem;
      }
      button[aria-pressed='true'] {
        background: var(--accent);
        border-color: var(--accent);
        color: #fff;
      }
      form.connect .row {
        align-items: end;
      }
      form.connect label {
        margin-top: 0;
      }
      #vnc-port {
        width: 7rem;
      }
      textarea {
        font: inherit;
        width: 100%;
        box-sizing: border-box;
        min-height: 4rem;
        border-radius: 8px;
        border: 1px solid var(--border);
        background: var(--bg);
        color: var(--fg);
        padding: 0.4rem;
      }
      .panel {
        margin: 0 0 0.5rem;
      }
      .remote-clip {
        white-space: pre-wrap;
        max-height: 8rem;
        overflow: auto;
      }
      @media (max-width: 640px) {
        .screen {
          height: max(200px, calc(100dvh - 15rem));
        }
      }
    `,
  ];

  @property({ attribute: false }) node?: NodeApi;
  @property({ attribute: false }) target?: DesktopTarget;
  /** A VNC password given by the embedding page (the widget); otherwise the person is asked when the server wants one. */
  @property({ attribute: false }) password = '';
  /** Connect as soon as a target is set (the widget), instead of showing the form first. */
  @property({ type: Boolean }) autoconnect = false;
  /** What a check of ports 5900–5901 found, when the person came from the machines list. */
  @property({ attribute: false }) probe?: VncProbe;
  /** Put the remote desktop's name in the tab's title (the app; not the widget on a vendor's page). */
  @property({ type: Boolean }) ownsTitle = false;

  @state() private phase: 'idle' | 'connecting' | 'password' | 'connected' | 'ended' = 'idle';
  @state() private error = '';
  @state() private desktopName = '';
  @state() private fit = true;
  @state() private viewOnly = false;
  @state() private panel = false;
  @state() private remoteClip = '';
  @state() private clipNote = '';
  @state() private host = '';
  @state() private port = VNC_BASE_PORT;
  private rfb?: RFB;
  private socket?: TcpSocket;
  private end?: VncEnd;
  private titleBefore?: string;
  private givenPasswordUsed = false;

  override willUpdate(changed: Map<string, unknown>) {
    if (changed.has('target') && this.target) {
      this.host = this.target.host;
      this.port = this.target.port ?? VNC_BASE_PORT;
      if (this.phase !== 'idle') this.disconnect();
      this.error = '';
      this.phase = 'idle';
    }
    // Only 5901 answers (display :1): the form starts from it, unless the person typed a port already.
    const p = this.probe;
    if (changed.has('probe') && p && p.host === this.host && this.phase === 'idle' && !this.target?.port) {
      const input = this.renderRoot.querySelector('#vnc-port') as HTMLInputElement | null;
      const untouched = !input || input.value === String(VNC_BASE_PORT);
      if (untouched && !p.open.includes(VNC_BASE_PORT) && p.open.length) this.port = p.open[0]!;
    }
  }

  override updated(changed: Map<string, unknown>) {
    if (changed.has('target') && this.target && this.autoconnect) void this.connect();
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    this.disconnect();
  }

  private get where(): string {
    return `${this.target?.name ?? this.host}:${this.port}`;
  }

  private disconnect() {
    if (this.end) this.end.byUser = true;
    this.rfb?.disconnect();
    this.socket?.close();
    this.restoreTitle();
  }

  private restoreTitle() {
    if (this.titleBefore !== undefined) document.title = this.titleBefore;
    this.titleBefore = undefined;
  }

  private async connect() {
    if (!this.node || !this.host) return;
    this.disconnect();
    const where = this.where;
    const end: VncEnd = { where, clean: false, wasConnected: false };
    this.end = end;
    this.error = '';
    this.desktopName = '';
    this.remoteClip = '';
    this.givenPasswordUsed = false;
    this.phase = 'connecting';
    let RfbClass: typeof RFB;
    try {
      // noVNC only when a desktop is opened: the app's first load stays as small as it was.
      RfbClass = (await import('@novnc/novnc')).default;
    } catch (e) {
      return this.finish(end, S.clientNotLoaded((e as Error).message));
    }
    let handle;
    try {
      handle = await this.node.tcpDial(this.host, this.port);
    } catch (e) {
      end.dialError = (e as Error).message;
      return this.finish(end);
    }
    if (this.end !== end) {
      handle.close();
      return;
    }
    await this.updateComplete;
    const screen = this.renderRoot.querySelector('.screen') as HTMLElement;
    const sniff = new RfbHandshakeSniffer();
    end.handshake = sniff.view;
    // The socket and the RFB client are made in one task: the socket's first bytes go to noVNC.
    const socket = new TcpSocket(handle, { tap: { received: (b) => sniff.received(b), sent: (b) => sniff.sent(b) } });
    socket.addEventListener('error', (e) => {
      end.channelError = (e as TcpErrorEvent).message;
    });
    socket.addEventListener('close', () => {
      end.endedBy = socket.endedBy;
    });
    this.socket = socket;
    const rfb = new RfbClass(screen, socket, { shared: true });
    this.rfb = rfb;
    rfb.scaleViewport = this.fit;
    rfb.viewOnly = this.viewOnly;
    rfb.background = '#282828';
    this.guardSize(screen, rfb, end);
    rfb.addEventListener('credentialsrequired', ((e: CustomEvent<{ types: string[] }>) => {
      if (this.end !== end) return;
      if (e.detail.types.includes('username')) {
        // noVNC asks for a user name for Plain/Unix-login schemes; a VNC password is all we ask for.
        rfb.disconnect();
        end.securityFailure = { reason: 'this server wants a user name and password (Plain); allow VncAuth on it' };
        return;
      }
      if (this.password && !this.givenPasswordUsed) {
        this.givenPasswordUsed = true;
        end.passwordSent = true;
        rfb.sendCredentials({ password: this.password });
        return;
      }
      this.phase = 'password';
      void this.updateComplete.then(() =>
        (this.renderRoot.querySelector('#vnc-password') as HTMLInputElement | null)?.focus(),
      );
    }) as EventListener);
    rfb.addEventListener('securityfailure', ((e: CustomEvent<{ status?: number; reason?: string }>) => {
      end.securityFailure = { status: e.detail.status, reason: e.detail.reason };
    }) as EventListener);
    rfb.addEventListener('connect', () => {
      if (this.end !== end) return;
      end.wasConnected = true;
      this.phase = 'connected';
      rfb.focus({ preventScroll: true });
    });
    rfb.addEventListener('disconnect', ((e: CustomEvent<{ clean: boolean }>) => {
      end.clean = e.detail.clean;
      // noVNC closes the socket and says 'disconnect' in one go, before the socket's own 'close'.
      end.endedBy ??= socket.endedBy;
      if (this.rfb === rfb) this.rfb = undefined;
      if (this.socket === socket) this.socket = undefined;
      if (this.end === end) this.finish(end);
    }) as EventListener);
    rfb.addEventListener('desktopname', ((e: CustomEvent<{ name: string }>) => {
      this.desktopName = String(e.detail.name ?? '').slice(0, 200);
      if (this.ownsTitle && this.end === end) {
        this.titleBefore ??= document.title;
        document.title = `${this.desktopName || where} — tailtab`;
      }
    }) as EventListener);
    rfb.addEventListener(
      'clipboard',
      ((e: CustomEvent<{ text: string }>) =>
        void this.fromRemoteClipboard(String(e.detail.text ?? ''))) as EventListener,
    );
  }

  /**
   * noVNC sizes its canvas to what the server announces (ServerInit, later DesktopSize), up to
   * 65535×65535: a desktop too large to draw (memory) ends the connection in words. The canvas's
   * width and height attributes change with every resize; they are watched, not polled.
   */
  private guardSize(screen: HTMLElement, rfb: RFB, end: VncEnd) {
    const check = () => {
      const c = screen.querySelector('canvas');
      if (!c || this.rfb !== rfb) return;
      const problem = desktopSizeProblem(c.width, c.height, end.where);
      if (problem && !end.refused) {
        end.refused = problem;
        rfb.disconnect();
      }
    };
    const watch = new MutationObserver(check);
    watch.observe(screen, { subtree: true, childList: true, attributes: true, attributeFilter: ['width', 'height'] });
    rfb.addEventListener('disconnect', () => watch.disconnect());
    check();
  }

  private finish(end: VncEnd, message?: string) {
    this.error = message ?? vncEndSentence(end);
    this.phase = end.byUser ? 'idle' : 'ended';
    this.restoreTitle();
  }

  private sendPassword(e: Event) {
    e.preventDefault();
    const input = this.renderRoot.querySelector('#vnc-password') as HTMLInputElement;
    if (!this.rfb || !this.end) return;
    this.end.passwordSent = true;
    this.phase = 'connecting';
    this.rfb.sendCredentials({ password: input.value });
    input.value = '';
  }

  private setFit(fit: boolean) {
    this.fit = fit;
    if (this.rfb) this.rfb.scaleViewport = fit;
  }

  private setViewOnly(v: boolean) {
    this.viewOnly = v;
    if (this.rfb) this.rfb.viewOnly = v;
    if (!v) this.rfb?.focus({ preventScroll: true });
  }

  private sendCombo(e: Event) {
    const sel = e.target as HTMLSelectElement;
    const combo = KEY_COMBOS.find((c) => c.label === sel.value);
    sel.value = '';
    if (!combo || !this.rfb || this.viewOnly) return;
    for (const k of combo.keys) this.rfb.sendKey(k.keysym, k.code, true);
    for (const k of [...combo.keys].reverse()) this.rfb.sendKey(k.keysym, k.code, false);
    this.rfb.focus({ preventScroll: true });
  }

  private text(): HTMLTextAreaElement {
    return this.renderRoot.querySelector('#vnc-text') as HTMLTextAreaElement;
  }

  /** Types the text into the remote desktop, key by key (phones, and text the keyboard cannot make). */
  private typeText() {
    if (!this.rfb || this.viewOnly) return;
    const t = this.text().value.slice(0, MAX_TYPED);
    for (const ch of t) {
      const ks = keysymFor(ch);
      if (ks === undefined) continue;
      this.rfb.sendKey(ks, null, true);
      this.rfb.sendKey(ks, null, false);
    }
    this.clipNote = S.typed([...t].length);
  }

  private sendClipboard() {
    if (!this.rfb || this.viewOnly) return;
    this.rfb.clipboardPasteFrom(this.text().value);
    this.clipNote = S.sent;
  }

  /** This device's clipboard (the browser asks the person, or refuses outside a click). */
  private async pasteFromDevice() {
    try {
      const t = await navigator.clipboard.readText();
      this.text().value = t;
      this.sendClipboard();
    } catch {
      this.clipNote = S.cannotReadClipboard;
    }
  }

  private async fromRemoteClipboard(text: string) {
    this.remoteClip = text;
    try {
      await navigator.clipboard.writeText(text);
      this.clipNote = S.copied;
    } catch {
      this.clipNote = S.cannotCopy;
    }
  }

  private fullscreen() {
    const screen = this.renderRoot.querySelector('.screen') as HTMLElement | null;
    void screen?.requestFullscreen?.().then(
      () => this.rfb?.focus({ preventScroll: true }),
      () => {},
    );
  }

  private submitForm(e: Event) {
    e.preventDefault();
    const host = (this.renderRoot.querySelector('#vnc-host') as HTMLInputElement).value.trim();
    const portText = (this.renderRoot.querySelector('#vnc-port') as HTMLInputElement).value;
    const port = Number(portText);
    const hostSays = hostNameProblem(host);
    if (hostSays) {
      this.error = hostSays;
      return;
    }
    if (portProblem(portText)) {
      this.error = S.badPort;
      return;
    }
    this.host = host;
    this.port = port;
    void this.connect();
  }

  override render() {
    const title = this.target?.name ?? this.host;
    const live = this.phase === 'connecting' || this.phase === 'password' || this.phase === 'connected';
    return html`
      <h2>
        ${S.heading}${title ? S.of(title) : ''}${this.desktopName ? html`: <span class="desktop-name">${this.desktopName}</span>` : ''}
      </h2>
      ${live ? '' : this.renderForm()}
      ${this.phase === 'connecting' ? html`<p class="hint" role="status">${S.connecting(this.where)}</p>` : ''}
      ${
        this.phase === 'password'
          ? html`<form class="row password" @submit=${this.sendPassword} style="align-items: end">
              <div>
                <label for="vnc-password">${S.passwordLabel(this.where)}</label
                ><input id="vnc-password" type="password" autocomplete="off" />
              </div>
              <button class="primary" type="submit">${S.unlock}</button>
              <button type="button" @click=${() => this.disconnect()}>${S.cancel}</button>
            </form>`
          : ''
      }
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      ${this.phase === 'ended' ? html`<div class="row"><button class="primary" @click=${() => this.connect()}>${S.reconnect}</button></div>` : ''}
      ${this.phase === 'connected' ? this.renderToolbar() : ''}
      ${this.phase === 'connected' && this.panel ? this.renderPanel() : ''}
      ${this.clipNote && this.phase === 'connected' ? html`<p class="hint clip-note" role="status">${this.clipNote}</p>` : ''}
      <div class="screen ${live ? '' : 'idle'}" aria-label=${S.screen}></div>
    `;
  }

  private renderForm() {
    return html`<form class="connect" novalidate @submit=${this.submitForm}>
      <div class="row">
        <div>
          <label for="vnc-host">${S.machine}</label
          ><input id="vnc-host" .value=${this.host} placeholder=${S.machinePlaceholder} />
        </div>
        <div>
          <label for="vnc-port">${S.port}</label
          ><input id="vnc-port" type="number" min="1" max="65535" .value=${String(this.port)} />
        </div>
        <button class="primary" type="submit">${S.connect}</button>
      </div>
      ${
        this.probe && this.probe.host === this.host && vncProbeSentence(this.probe, this.target?.name ?? this.host)
          ? html`<p class="hint" role="status" id="vnc-probe">
              ${vncProbeSentence(this.probe, this.target?.name ?? this.host)}
            </p>`
          : ''
      }
      <p class="hint">${S.about}</p>
    </form>`;
  }

  private renderToolbar() {
    return html`<div class="row toolbar" role="toolbar" aria-label=${S.controls}>
      <button aria-pressed=${String(this.fit)} @click=${() => this.setFit(true)}>${S.fit}</button>
      <button aria-pressed=${String(!this.fit)} @click=${() => this.setFit(false)}>${S.actualSize}</button>
      <button aria-pressed=${String(this.viewOnly)} @click=${() => this.setViewOnly(!this.viewOnly)}>
        ${S.viewOnly}
      </button>
      <button
        ?disabled=${this.viewOnly}
        @click=${() => {
          this.rfb?.sendCtrlAltDel();
          this.rfb?.focus({ preventScroll: true });
        }}
      >
        Ctrl+Alt+Del
      </button>
      <select aria-label=${S.sendKeys} ?disabled=${this.viewOnly} @change=${this.sendCombo}>
        <option value="">${S.sendKeysPick}</option>
        ${KEY_COMBOS.map((c) => html`<option value=${c.label}>${c.label}</option>`)}
      </select>
      <button aria-pressed=${String(this.panel)} @click=${() => (this.panel = !this.panel)}>
        ${S.textAndClipboard}
      </button>
      <button @click=${() => this.fullscreen()}>${S.fullScreen}</button>
      <button @click=${() => this.disconnect()}>${S.disconnect}</button>
    </div>`;
  }

  private renderPanel() {
    return html`<div class="panel card">
      <label for="vnc-text">${S.textLabel}</label>
      <textarea id="vnc-text" autocomplete="off" spellcheck="false"></textarea>
      <div class="row">
        <button ?disabled=${this.viewOnly} @click=${() => this.typeText()}>${S.typeIt}</button>
        <button ?disabled=${this.viewOnly} @click=${() => this.sendClipboard()}>${S.sendClipboard}</button>
        <button ?disabled=${this.viewOnly} @click=${() => this.pasteFromDevice()}>${S.pasteFromDevice}</button>
      </div>
      <label>${S.remoteClipboard}</label>
      <!-- white-space: pre-wrap shows the clipboard as it is: no template whitespace inside (prettier-ignore) -->
      <!-- prettier-ignore -->
      <div class="remote-clip mono" aria-live="polite">${this.remoteClip || html`<span class="hint">${S.nothingCopied}</span>`}</div>
    </div>`;
  }
}
