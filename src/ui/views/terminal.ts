// One SSH terminal: xterm.js fitted to its box, bytes to and from the node's SSH session (which
// runs in the Worker), host-key verdict, the login's questions (keyboard-interactive prompts, the
// legacy-device choice) and the server's banner, exit status, reconnect, font size, copy/paste, and
// a key bar for touch devices (Esc, Ctrl, Alt, Tab, arrows) that also raises the on-screen keyboard.
import { LitElement, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { hostKeyNote, hostKeyPromptTemplate, type PendingHostKeyPrompt } from './host-key.js';
import {
  authPromptTemplate,
  legacyPromptTemplate,
  type PendingAuthPrompt,
  type PendingLegacyPrompt,
} from './login-prompt.js';
import type {
  AuthPrompt,
  HostKeyPrompt,
  LegacyPrompt,
  NodeApi,
  SshOpenOptions,
  SshSessionHandle,
} from '../../app/node-api.js';
import { terminalStrings as S } from '../strings.js';

const enc = new TextEncoder();
/** Bytes handed to xterm.js and not yet parsed, at most (then reading pauses until PENDING_LOW). */
const PENDING_HIGH = 128 * 1024;
const PENDING_LOW = 16 * 1024;

const KEYS: { label: string; seq: string; aria: string }[] = [
  { label: 'Esc', seq: '\x1b', aria: 'Escape' },
  { label: 'Tab', seq: '\t', aria: 'Tab' },
  { label: '←', seq: '\x1b[D', aria: 'Left arrow' },
  { label: '↑', seq: '\x1b[A', aria: 'Up arrow' },
  { label: '↓', seq: '\x1b[B', aria: 'Down arrow' },
  { label: '→', seq: '\x1b[C', aria: 'Right arrow' },
];

/** Ctrl+<key> as the byte a terminal sends (Ctrl-C = 0x03). */
export function ctrlByte(key: string): string | undefined {
  const c = key.toUpperCase().charCodeAt(0);
  if (c >= 64 && c <= 95) return String.fromCharCode(c - 64);
  if (key === '?') return '\x7f';
  return undefined;
}

let terminalSeq = 0;

@customElement('tt-terminal')
export class TerminalView extends LitElement {
  // Light DOM: xterm.js needs its stylesheet, which is global.
  protected override createRenderRoot() {
    return this;
  }

  @property({ attribute: false }) node?: NodeApi;
  @property({ attribute: false }) options?: SshOpenOptions;
  /** A session still running in the node's Worker (this page was reloaded): shown again, not opened anew. */
  @property({ attribute: false }) attachId?: string;
  @property({ type: Number }) fontSize = 14;
  @state() private phase: 'connecting' | 'open' | 'ended' = 'connecting';
  @state() private message = '';
  @state() private hostNote = '';
  @state() private ctrlArmed = false;
  @state() private altArmed = false;
  @state() private hostPrompt?: PendingHostKeyPrompt;
  @state() private authPrompt?: PendingAuthPrompt;
  @state() private legacyPrompt?: PendingLegacyPrompt;

  /** Unique within the page (several terminals share one shadow root): the prompts' ids. */
  private readonly uid = `t${++terminalSeq}`;
  private term?: Terminal;
  private fit?: FitAddon;
  private session?: SshSessionHandle;
  private resizeObserver?: ResizeObserver;

  override firstUpdated() {
    const box = this.querySelector('.term-box') as HTMLElement;
    this.term = new Terminal({
      fontSize: this.fontSize,
      cursorBlink: true,
      convertEol: false,
      scrollback: 5000,
      allowProposedApi: false,
    });
    this.fit = new FitAddon();
    this.term.loadAddon(this.fit);
    this.term.open(box);
    this.fit.fit();
    this.term.onData((d) => this.send(d));
    // A terminal takes every key (Tab, Esc) for the shell, so a keyboard alone could not leave it
    // (WCAG 2.1.2, no keyboard trap): Ctrl+] (telnet's escape key) moves the focus out, to the tabs.
    this.term.attachCustomKeyEventHandler((e) => {
      if (!(
        e.type === 'keydown' &&
        e.ctrlKey &&
        !e.altKey &&
        !e.metaKey &&
        (e.key === ']' || e.code === 'BracketRight')
      ))
        return true;
      e.preventDefault();
      this.leaveTerminal();
      return false;
    });
    this.term.onResize(({ cols, rows }) => this.session?.resize(cols, rows));
    this.resizeObserver = new ResizeObserver(() => this.fit?.fit());
    this.resizeObserver.observe(box);
    this.scrollByTouch(box);
    void this.connect();
  }

  /** Moves the keyboard focus out of the terminal: to its tab, else to the first of its own buttons. */
  private leaveTerminal() {
    const to =
      (this.closest('tt-terminals')?.querySelector('[data-tab][aria-pressed="true"]') as HTMLElement | null) ??
      (this.querySelector('.term-head button') as HTMLElement | null);
    to?.focus();
  }

  /**
   * A finger dragged over the terminal scrolls its history, as on a phone. xterm.js has touch
   * scrolling of its own, but it listens on the document and matches the event's target against
   * its element; inside a shadow root (this terminal is in the app's and the widget's) the target
   * it sees is the shadow host, so it never scrolls (Chromium and Firefox, e2e/engines-journeys).
   */
  private scrollByTouch(box: HTMLElement) {
    let lastY: number | undefined;
    let rest = 0;
    box.addEventListener(
      'touchstart',
      (e) => {
        lastY = e.touches.length === 1 ? e.touches[0]!.clientY : undefined;
        rest = 0;
      },
      { passive: true },
    );
    box.addEventListener(
      'touchmove',
      (e) => {
        const term = this.term;
        if (lastY === undefined || e.touches.length !== 1 || !term || term.rows === 0) return;
        const y = e.touches[0]!.clientY;
        rest += lastY - y;
        lastY = y;
        const lineHeight = box.clientHeight / term.rows;
        const lines = Math.trunc(rest / lineHeight);
        if (lines !== 0) {
          term.scrollLines(lines);
          rest -= lines * lineHeight;
        }
        // The drag is the terminal's, not the page's.
        e.preventDefault();
      },
      { passive: false },
    );
    box.addEventListener('touchend', () => (lastY = undefined), { passive: true });
    box.addEventListener('touchcancel', () => (lastY = undefined), { passive: true });
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    this.resizeObserver?.disconnect();
    this.session?.close();
    this.term?.dispose();
  }

  override updated(changed: Map<string, unknown>) {
    if (changed.has('fontSize') && this.term) {
      this.term.options.fontSize = this.fontSize;
      this.fit?.fit();
    }
  }

  private send(text: string) {
    if (!this.session || this.phase !== 'open') return;
    let out = text;
    if (this.ctrlArmed && text.length === 1) {
      out = ctrlByte(text) ?? text;
      this.ctrlArmed = false;
    }
    if (this.altArmed) {
      out = '\x1b' + out;
      this.altArmed = false;
    }
    this.session.write(enc.encode(out));
  }

  /** Starts (or restarts, after an exit) the SSH session; or attaches to the one still running. */
  async connect() {
    if (!this.node || !this.options || !this.term) return;
    this.phase = 'connecting';
    this.message = '';
    const attachId = this.attachId;
    this.attachId = undefined;
    // A password is never kept, not even for this tab: a reopened password login has an empty one,
    // and the server's password question is then put to the person (ssh-connect.ts).
    if (!attachId) this.term.writeln(`\x1b[2m${S.connectingTo(this.options.username, this.options.host)}\x1b[0m`);
    try {
      let s: SshSessionHandle;
      try {
        s = attachId
          ? await this.node.sshAttach(attachId)
          : await this.node.sshOpen(
              { ...this.options, cols: this.term.cols, rows: this.term.rows },
              {
                confirmHostKey: (p) => this.askHostKey(p),
                askAuth: (p) => this.askAuth(p),
                confirmLegacy: (p) => this.askLegacy(p),
                // The banner (RFC 4252 §5.4) is the server's text, sequences already removed: shown as is.
                banner: (text) => this.term?.write(text.replace(/\n/g, '\r\n') + (text.endsWith('\n') ? '' : '\r\n')),
              },
            );
      } catch (e) {
        if (!attachId) throw e;
        throw new Error(this.node.workerKind === 'dedicated' ? S.endedWithDedicatedWorker : S.endedWhileAway);
      }
      this.session = s;
      this.dispatchEvent(new CustomEvent('session', { detail: s.id, bubbles: true, composed: true }));
      // Attached: the host's idea of the window size may be another tab's; tell it ours (a full-screen program redraws).
      if (attachId) s.resize(this.term.cols, this.term.rows);
      this.phase = 'open';
      this.hostNote = hostKeyNote(s.hostKey);
      this.term.focus();
      const pumped = this.pump(s);
      const exit = await s.exit;
      // The last bytes (a shell's "logout") may still be on their way: show them before the verdict.
      await Promise.race([pumped, new Promise((r) => setTimeout(r, 1000))]);
      this.phase = 'ended';
      this.message = S.ended(exit);
    } catch (e) {
      this.phase = 'ended';
      this.message = (e as Error).message || String(e);
    }
    // A question still shown belongs to a login that is over.
    this.authPrompt?.answer(undefined);
    this.legacyPrompt?.answer(false);
    this.term.writeln(`\r\n\x1b[33m${this.message}\x1b[0m`);
  }

  /** ssh(1)'s first-contact question, asked in the page; the Worker waits for the answer. */
  private askHostKey(p: HostKeyPrompt): Promise<boolean> {
    return new Promise((resolve) => {
      this.hostPrompt = {
        ...p,
        answer: (ok) => {
          this.hostPrompt = undefined;
          resolve(ok);
          if (ok) this.term?.focus();
        },
      };
      void this.updateComplete.then(() =>
        (this.querySelector('.host-prompt button.primary') as HTMLButtonElement | null)?.focus(),
      );
    });
  }

  /** What the server asks during login (a password, a verification code), as a small form. */
  private askAuth(p: AuthPrompt): Promise<string[] | undefined> {
    return new Promise((resolve) => {
      this.authPrompt = {
        ...p,
        answer: (a) => {
          this.authPrompt = undefined;
          resolve(a);
          if (a) this.term?.focus();
        },
      };
      void this.updateComplete.then(() =>
        (this.querySelector('.auth-prompt input') as HTMLInputElement | null)?.focus(),
      );
    });
  }

  /** The library refused the device for SHA-1 or a short RSA key: connect anyway? */
  private askLegacy(p: LegacyPrompt): Promise<boolean> {
    return new Promise((resolve) => {
      this.legacyPrompt = {
        ...p,
        answer: (ok) => {
          this.legacyPrompt = undefined;
          resolve(ok);
        },
      };
      void this.updateComplete.then(() =>
        (this.querySelector('.legacy-prompt button.primary') as HTMLButtonElement | null)?.focus(),
      );
    });
  }

  /**
   * Output → xterm.js with its write callback as the brake (xterm.js "flow control" guide): at
   * most PENDING_HIGH bytes handed over and not yet parsed; above it, no more is read from the
   * stream until xterm has caught up to PENDING_LOW. The stream's own queue (in the Worker) and
   * the SSH window then fill and the server stops sending, so a flood cannot overflow xterm's
   * write buffer, and Ctrl-C (sent on the other direction, never queued behind output) is
   * followed by at most these bounded queues' worth of old output.
   */
  private async pump(s: SshSessionHandle) {
    const reader = s.output.getReader();
    let pending = 0;
    let resume: (() => void) | undefined;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const term = this.term;
        if (!term) continue;
        pending += value.byteLength;
        term.write(value, () => {
          pending -= value.byteLength;
          if (resume && pending <= PENDING_LOW) {
            resume();
            resume = undefined;
          }
        });
        if (pending > PENDING_HIGH) await new Promise<void>((r) => (resume = r));
      }
    } catch {
      /* the exit promise reports why */
    }
  }

  private async copy() {
    const sel = this.term?.getSelection();
    if (sel) await navigator.clipboard.writeText(sel);
  }

  private async paste() {
    const text = await navigator.clipboard.readText();
    if (text) this.send(text);
  }

  private raiseKeyboard() {
    // xterm.js keeps a hidden textarea; focusing it opens the on-screen keyboard on touch devices.
    this.term?.focus();
  }

  override render() {
    const touch = matchMedia('(pointer: coarse)').matches;
    return html`
      <div class="term-head row">
        <!-- Fingerprints are one long word: let them wrap, or a phone page scrolls sideways. -->
        <span class="term-state" role="status" style="overflow-wrap: anywhere; min-width: 0"
          >${this.phase === 'open' ? this.hostNote : this.phase === 'connecting' ? S.connecting : this.message}</span
        >
        <span style="flex:1"></span>
        ${touch ? '' : html`<span class="hint leave-hint">${S.leaveHint}</span>`}
        <button @click=${() => (this.fontSize = Math.max(8, this.fontSize - 1))} aria-label="A− smaller text">
          A−
        </button>
        <button @click=${() => (this.fontSize = Math.min(32, this.fontSize + 1))} aria-label="A+ larger text">
          A+
        </button>
        <button @click=${this.copy} aria-label="Copy selection">Copy</button>
        <button @click=${this.paste} aria-label="Paste">Paste</button>
        ${this.phase === 'ended' ? html`<button class="primary" @click=${() => this.connect()}>${S.reconnect}</button>` : ''}
      </div>
      ${hostKeyPromptTemplate(this.hostPrompt, 'hk')} ${legacyPromptTemplate(this.legacyPrompt, `lg-${this.uid}`)}
      ${authPromptTemplate(this.authPrompt, `ap-${this.uid}`)}
      <div class="term-box" style="flex: 1; min-height: 200px;"></div>
      ${
        touch || this.hasAttribute('keybar')
          ? html`<div
              class="key-bar row"
              role="toolbar"
              aria-label="Terminal keys"
              @pointerdown=${(e: Event) => e.preventDefault() /* keep the focus (and the on-screen keyboard) in the terminal */}
              @click=${() => this.term?.focus()}
            >
              ${KEYS.map((k) => html`<button aria-label=${k.aria} @click=${() => this.send(k.seq)}>${k.label}</button>`)}
              <button aria-pressed=${this.ctrlArmed} @click=${() => (this.ctrlArmed = !this.ctrlArmed)}>Ctrl</button>
              <button aria-pressed=${this.altArmed} @click=${() => (this.altArmed = !this.altArmed)}>Alt</button>
              <button aria-label="Show keyboard" @click=${this.raiseKeyboard}>⌨</button>
            </div>`
          : ''
      }
    `;
  }
}
