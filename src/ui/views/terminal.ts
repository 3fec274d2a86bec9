// One SSH terminal: xterm.js fitted to its box, bytes to and from the node's SSH session (which
// runs in the Worker), host-key verdict, exit status, reconnect, font size, copy/paste, and a key
// bar for touch devices (Esc, Ctrl, Alt, Tab, arrows) that also raises the on-screen keyboard.
import { LitElement, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { hostKeyNote, hostKeyPromptTemplate, type PendingHostKeyPrompt } from './host-key.js';
import type { HostKeyPrompt, NodeApi, SshOpenOptions, SshSessionHandle } from '../../app/node-api.js';

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

@customElement('tt-terminal')
export class TerminalView extends LitElement {
  // Light DOM: xterm.js needs its stylesheet, which is global.
  protected override createRenderRoot() {
    return this;
  }

  @property({ attribute: false }) node?: NodeApi;
  @property({ attribute: false }) options?: SshOpenOptions;
  @property({ type: Number }) fontSize = 14;
  @state() private phase: 'connecting' | 'open' | 'ended' = 'connecting';
  @state() private message = '';
  @state() private hostNote = '';
  @state() private ctrlArmed = false;
  @state() private altArmed = false;
  @state() private hostPrompt?: PendingHostKeyPrompt;

  private term?: Terminal;
  private fit?: FitAddon;
  private session?: SshSessionHandle;
  private resizeObserver?: ResizeObserver;

  override firstUpdated() {
    const box = this.querySelector('.term-box') as HTMLElement;
    this.term = new Terminal({ fontSize: this.fontSize, cursorBlink: true, convertEol: false, scrollback: 5000, allowProposedApi: false });
    this.fit = new FitAddon();
    this.term.loadAddon(this.fit);
    this.term.open(box);
    this.fit.fit();
    this.term.onData((d) => this.send(d));
    this.term.onResize(({ cols, rows }) => this.session?.resize(cols, rows));
    this.resizeObserver = new ResizeObserver(() => this.fit?.fit());
    this.resizeObserver.observe(box);
    void this.connect();
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

  /** Starts (or restarts, after an exit) the SSH session. */
  async connect() {
    if (!this.node || !this.options || !this.term) return;
    this.phase = 'connecting';
    this.message = '';
    this.term.writeln(`\x1b[2mConnecting to ${this.options.username}@${this.options.host}…\x1b[0m`);
    try {
      const s = await this.node.sshOpen(
        { ...this.options, cols: this.term.cols, rows: this.term.rows },
        { confirmHostKey: (p) => this.askHostKey(p) },
      );
      this.session = s;
      this.phase = 'open';
      this.hostNote = hostKeyNote(s.hostKey);
      this.term.focus();
      const pumped = this.pump(s);
      const exit = await s.exit;
      // The last bytes (a shell's "logout") may still be on their way: show them before the verdict.
      await Promise.race([pumped, new Promise((r) => setTimeout(r, 1000))]);
      this.phase = 'ended';
      this.message = exit.error
        ? `Session ended: ${exit.error}`
        : exit.signal
          ? `Session ended by signal ${exit.signal}.`
          : `Session ended with exit status ${exit.code ?? 'unknown'}.`;
    } catch (e) {
      this.phase = 'ended';
      this.message = (e as Error).message || String(e);
    }
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
      void this.updateComplete.then(() => (this.querySelector('.host-prompt button.primary') as HTMLButtonElement | null)?.focus());
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
          if (resume && pending <= PENDING_LOW) { resume(); resume = undefined; }
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
        <span class="term-state" role="status" style="overflow-wrap: anywhere; min-width: 0">${this.phase === 'open' ? this.hostNote : this.phase === 'connecting' ? 'Connecting…' : this.message}</span>
        <span style="flex:1"></span>
        <button @click=${() => (this.fontSize = Math.max(8, this.fontSize - 1))} aria-label="Smaller text">A−</button>
        <button @click=${() => (this.fontSize = Math.min(32, this.fontSize + 1))} aria-label="Larger text">A+</button>
        <button @click=${this.copy} aria-label="Copy selection">Copy</button>
        <button @click=${this.paste} aria-label="Paste">Paste</button>
        ${this.phase === 'ended' ? html`<button class="primary" @click=${() => this.connect()}>Reconnect</button>` : ''}
      </div>
      ${hostKeyPromptTemplate(this.hostPrompt, 'hk')}
      <div class="term-box" style="flex: 1; min-height: 200px;"></div>
      ${touch || this.hasAttribute('keybar')
        ? html`<div class="key-bar row" role="toolbar" aria-label="Terminal keys"
            @pointerdown=${(e: Event) => e.preventDefault() /* keep the focus (and the on-screen keyboard) in the terminal */}
            @click=${() => this.term?.focus()}>
            ${KEYS.map((k) => html`<button aria-label=${k.aria} @click=${() => this.send(k.seq)}>${k.label}</button>`)}
            <button aria-pressed=${this.ctrlArmed} @click=${() => (this.ctrlArmed = !this.ctrlArmed)}>Ctrl</button>
            <button aria-pressed=${this.altArmed} @click=${() => (this.altArmed = !this.altArmed)}>Alt</button>
            <button aria-label="Show keyboard" @click=${this.raiseKeyboard}>⌨</button>
          </div>`
        : ''}
    `;
  }
}
