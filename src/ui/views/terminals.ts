// Terminal tabs: several SSH sessions at once, and the dialog that asks how to log in.
import { LitElement, css, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { repeat } from 'lit/directives/repeat.js';
import type { NodeApi, PeerView, SshKeyView, SshOpenOptions, SshSessionListing } from '../../app/node-api.js';
import { sessionTitle, shortName } from '../format.js';
import { shared } from '../styles.js';
import { portProblem, sshUserProblem } from '../validate.js';
import type { SavedConnection } from '../saved-connections.js';
import { initialMethod, loginMethods, type LoginMethod } from '../login-methods.js';
import { sshDialogStrings as D, terminalsStrings as S } from '../strings.js';
import './terminal.js';

interface Tab {
  id: number;
  title: string;
  options: SshOpenOptions;
  /** The Worker's session id, once open: a reload attaches to it again. */
  sessionId?: string;
  /** Set on a tab restored after a reload: its tt-terminal attaches instead of logging in. */
  attachId?: string;
}

/** This tab's terminals across a reload (sessionStorage: per tab, gone with it; never a password). */
const TABS_KEY = 'tailtab.terminals';

/** The options as they may be written down: the password left out. */
export function withoutSecret(o: SshOpenOptions): SshOpenOptions {
  return o.auth.type === 'password' ? { ...o, auth: { type: 'password', password: '' } } : o;
}

function readTabs(): { title: string; options: SshOpenOptions; sessionId?: string }[] | undefined {
  try {
    const raw = sessionStorage.getItem(TABS_KEY);
    if (raw === null) return undefined;
    const v = JSON.parse(raw) as unknown;
    if (!Array.isArray(v)) return [];
    return v.filter(
      (t): t is { title: string; options: SshOpenOptions; sessionId?: string } =>
        !!t &&
        typeof t.title === 'string' &&
        !!t.options &&
        typeof t.options.host === 'string' &&
        typeof t.options.username === 'string' &&
        !!t.options.auth &&
        typeof t.options.auth.type === 'string',
    );
  } catch {
    return [];
  }
}

/** Whether this page is a reload of a tab that already ran tailtab (not a new visit). */
export function isReload(): boolean {
  try {
    return sessionStorage.getItem(TABS_KEY) !== null;
  } catch {
    return false;
  }
}

@customElement('tt-ssh-dialog')
export class SshDialog extends LitElement {
  static override styles = [
    shared,
    // Fields as wide as the dialog (a percentage width lets the long option text shrink on a phone).
    css`
      :host {
        display: block;
      }
      select {
        width: 100%;
      }
    `,
  ];
  @property({ attribute: false }) peer?: PeerView;
  @property({ attribute: false }) keys: SshKeyView[] = [];
  /** What the login is for: a terminal, or the file browser (same login, same host-key checks). */
  @property() purpose: 'ssh' | 'files' = 'ssh';
  /** How this host was reached last time (user, port, method): the form starts from it. */
  @property({ attribute: false }) preset?: SavedConnection;
  /** What a connect to the SSH port found, when one was tried. */
  @property({ attribute: false }) probe?: { port: number; open: boolean; reason?: string };
  @state() private method: LoginMethod = 'password';
  /** What is wrong with the form as typed, in words (shown, and nothing is opened). */
  @state() private problem = '';

  override willUpdate(changed: Map<string, unknown>) {
    if (changed.has('peer') && this.peer) {
      this.method = initialMethod(this.peer, this.keys.length, this.preset?.method);
    }
  }

  override updated(changed: Map<string, unknown>) {
    // Keyboard users land in the dialog: the first field takes focus when it opens.
    if (changed.has('peer') && this.peer)
      (this.renderRoot.querySelector('#ssh-user') as HTMLInputElement | null)?.focus();
  }

  /** Tailscale SSH answers on port 22 only: the method follows the port on such a machine. */
  private portChanged = (e: Event) => {
    if (!this.peer?.tailscaleSsh) return;
    const port = (e.target as HTMLInputElement).value.trim();
    if (port === '22') this.method = 'none';
    else if (this.method === 'none') this.method = this.keys.length ? 'key' : 'password';
  };

  private submit(e: Event) {
    e.preventDefault();
    const q = (id: string) => (this.renderRoot.querySelector(`#${id}`) as HTMLInputElement | HTMLSelectElement).value;
    const host = this.peer!.ips[0] ?? this.peer!.fqdn;
    const username = q('ssh-user').trim();
    this.problem = sshUserProblem(username) ?? portProblem(q('ssh-port')) ?? '';
    if (this.problem) return;
    const auth =
      this.method === 'none'
        ? ({ type: 'none' } as const)
        : this.method === 'password'
          ? ({ type: 'password', password: q('ssh-password') } as const)
          : ({ type: 'key', keyId: q('ssh-key') || undefined } as const);
    const options: SshOpenOptions = {
      host,
      port: Number(q('ssh-port')),
      username,
      auth,
      cols: 80,
      rows: 24,
      tailnetAuthenticated: this.method === 'none',
    };
    this.dispatchEvent(
      new CustomEvent('ssh-start', {
        detail: {
          options,
          title: `${username}@${shortName(this.peer!.fqdn || this.peer!.name)}`,
          purpose: this.purpose,
        },
        bubbles: true,
        composed: true,
      }),
    );
  }

  override render() {
    if (!this.peer) return html``;
    return html`<form
      novalidate
      class="card"
      @submit=${this.submit}
      aria-label=${D.label(this.purpose === 'files')}
      style="max-width: 460px"
    >
      <h2>${D.heading(this.purpose === 'files', shortName(this.peer.fqdn || this.peer.name))}</h2>
      <label for="ssh-user">User</label>
      <input id="ssh-user" value=${this.preset?.user ?? 'root'} autocomplete="username" />
      <label for="ssh-port">Port</label>
      <input
        id="ssh-port"
        type="number"
        value=${String(this.preset?.port ?? 22)}
        min="1"
        max="65535"
        @input=${this.portChanged}
      />
      ${
        this.probe && !this.probe.open
          ? html`<p class="hint" role="status" id="ssh-probe">
              ${D.noServer(this.probe.port, shortName(this.peer.fqdn || this.peer.name), this.probe.reason)}
            </p>`
          : ''
      }
      <label for="ssh-method">Log in with</label>
      <select
        id="ssh-method"
        .value=${this.method}
        @change=${(e: Event) => (this.method = (e.target as HTMLSelectElement).value as never)}
      >
        ${loginMethods(this.peer, this.keys.length).map(
          (c) =>
            html`<option value=${c.value} ?disabled=${c.disabled} ?selected=${c.value === this.method}>
              ${c.label}
            </option>`,
        )}
      </select>
      ${this.method === 'password' ? html`<label for="ssh-password">Password</label><input id="ssh-password" type="password" autocomplete="current-password" />` : ''}
      ${
        this.method === 'key'
          ? html`<label for="ssh-key">Key</label
              ><select id="ssh-key">
                <option value="">${D.allKeys}</option>
                ${this.keys.map((k) => html`<option value=${k.id} ?selected=${k.id === this.preset?.keyId}>${k.name}</option>`)}
              </select>`
          : ''
      }
      ${this.problem ? html`<p class="error" role="alert" id="ssh-problem">${this.problem}</p>` : ''}
      <div class="row" style="margin-top: 1rem">
        <button class="primary" type="submit">${D.submit(this.purpose === 'files')}</button>
        <button
          type="button"
          @click=${() => this.dispatchEvent(new CustomEvent('cancel', { bubbles: true, composed: true }))}
        >
          Cancel
        </button>
      </div>
    </form>`;
  }
}

/** The options a listed session was opened with, as a tab keeps them (its Reconnect logs in so again). */
function listedOptions(l: SshSessionListing): SshOpenOptions {
  const auth =
    l.method === 'none'
      ? ({ type: 'none' } as const)
      : l.method === 'password'
        ? ({ type: 'password', password: '' } as const)
        : ({ type: 'key' } as const);
  return {
    host: l.host,
    port: l.port,
    username: l.username,
    auth,
    cols: 80,
    rows: 24,
    tailnetAuthenticated: l.method === 'none',
  };
}

@customElement('tt-terminals')
export class TerminalsView extends LitElement {
  protected override createRenderRoot() {
    return this;
  }
  @property({ attribute: false }) node?: NodeApi;
  /** The tailnet's machines, to name a session another tab opened. */
  @property({ attribute: false }) peers: PeerView[] = [];
  /** Whether the view is on screen: the sessions other tabs run are listed afresh each time it is. */
  @property({ type: Boolean }) shown = false;
  @state() tabs: Tab[] = [];
  @state() active = 0;
  /** Sessions running in the node's Worker that this tab does not show (another tab's). */
  @state() private elsewhere: SshSessionListing[] = [];
  private seq = 1;
  private readonly onFocus = () => void this.refreshElsewhere();

  override disconnectedCallback() {
    super.disconnectedCallback();
    removeEventListener('focus', this.onFocus);
  }

  override willUpdate(changed: Map<string, unknown>) {
    if (changed.has('shown') && this.shown) void this.refreshElsewhere();
  }

  /** Asks the Worker which sessions run there; keeps those no tab of this page shows. */
  async refreshElsewhere(): Promise<void> {
    if (!this.node?.sshList) return;
    try {
      const mine = new Set(this.tabs.map((t) => t.sessionId ?? t.attachId));
      this.elsewhere = (await this.node.sshList()).filter((l) => !mine.has(l.id));
    } catch {
      this.elsewhere = []; // the node is not up (yet): nothing runs
    }
  }

  private titleOf(l: SshSessionListing): string {
    return sessionTitle(l, this.peers);
  }

  /** Shows another tab's session here too: its scrollback redrawn, then live; both tabs type into it. */
  private attachElsewhere(l: SshSessionListing) {
    const tab: Tab = {
      id: this.seq++,
      title: this.titleOf(l),
      options: listedOptions(l),
      sessionId: l.id,
      attachId: l.id,
    };
    this.tabs = [...this.tabs, tab];
    this.active = tab.id;
    this.elsewhere = this.elsewhere.filter((x) => x.id !== l.id);
    this.persist();
  }

  override connectedCallback() {
    super.connectedCallback();
    addEventListener('focus', this.onFocus);
    // A reload: the terminals this tab had, each attaching to its session in the Worker.
    const saved = readTabs();
    if (saved && !this.tabs.length) {
      this.tabs = saved.map((t) => ({
        id: this.seq++,
        title: t.title,
        options: t.options,
        sessionId: t.sessionId,
        attachId: t.sessionId,
      }));
      this.active = this.tabs.at(-1)?.id ?? 0;
    }
    this.persist();
  }

  open(options: SshOpenOptions, title: string) {
    const tab = { id: this.seq++, title, options };
    this.tabs = [...this.tabs, tab];
    this.active = tab.id;
    this.persist();
  }

  private closeTab(id: number) {
    this.tabs = this.tabs.filter((t) => t.id !== id);
    if (this.active === id) this.active = this.tabs.at(-1)?.id ?? 0;
    this.persist();
    // Another tab may still show the session (it then goes on there): list it again.
    void this.updateComplete.then(() => this.refreshElsewhere());
  }

  /** Writes the tabs down for a reload, and tells the app (which remembers the visit's terminals). */
  private persist() {
    const list = this.tabs.map((t) => ({ title: t.title, options: withoutSecret(t.options), sessionId: t.sessionId }));
    try {
      sessionStorage.setItem(TABS_KEY, JSON.stringify(list));
    } catch {
      /* storage refused: no reattach after a reload */
    }
    this.dispatchEvent(
      new CustomEvent('terminals-changed', {
        detail: list.map(({ title, options }) => ({ title, options })),
        bubbles: true,
        composed: true,
      }),
    );
  }

  private onSession(t: Tab, id: string) {
    t.sessionId = id;
    t.attachId = undefined;
    this.persist();
  }

  private renderElsewhere() {
    if (!this.elsewhere.length) return '';
    return html`<section class="card" aria-labelledby="elsewhere-h" data-elsewhere>
      <h2 id="elsewhere-h">${S.elsewhereHeading}</h2>
      <p class="hint">${S.elsewhereHint}</p>
      <ul style="list-style: none; padding: 0; margin: 0">
        ${this.elsewhere.map((l) => {
          const title = this.titleOf(l);
          return html`<li class="row" data-running=${title} data-windows=${l.windows} style="margin: 0.25rem 0">
            <span>${title}</span>
            <span class="hint">${S.windowsShowing(l.windows)}</span>
            <button aria-label=${S.showHereLabel(title)} @click=${() => this.attachElsewhere(l)}>${S.showHere}</button>
          </li>`;
        })}
      </ul>
    </section>`;
  }

  override render() {
    if (!this.tabs.length)
      return html`${this.renderElsewhere()}
        <p class="hint">${S.noTerminal}</p>`;
    return html`
      ${this.renderElsewhere()}
      <!-- A toolbar, not a tablist: each terminal has a close button beside its own (a tablist may hold tabs only). -->
      <div class="tabs row" role="toolbar" aria-label="Terminals">
        ${this.tabs.map(
          (t) =>
            html`<span class="tab ${t.id === this.active ? 'active' : ''}">
              <button
                data-tab
                aria-pressed=${t.id === this.active ? 'true' : 'false'}
                @click=${() => (this.active = t.id)}
              >
                ${t.title}
              </button>
              <button aria-label=${S.close(t.title)} @click=${() => this.closeTab(t.id)}>×</button>
            </span>`,
        )}
      </div>
      ${repeat(
        this.tabs,
        (t) => t.id,
        // Keyed: closing one tab must not hand its element (and session) to the next.
        (t) =>
          html`<tt-terminal
            role="region"
            class="term"
            ?hidden=${t.id !== this.active}
            aria-label=${t.title}
            .node=${this.node}
            .options=${t.options}
            .attachId=${t.attachId}
            @session=${(e: CustomEvent<string>) => this.onSession(t, e.detail)}
          ></tt-terminal>`,
      )}
    `;
  }
}
