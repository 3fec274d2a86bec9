// Settings: SSH keys (ssh-keys.ts: create, import, list, export, delete), known hosts, profiles,
// sign out, wipe.
import { LitElement, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { KnownHostView, NodeApi } from '../../app/node-api.js';
import type { ProfileRecord } from '../../platform/idb.js';
import { shared } from '../styles.js';
import './ssh-keys.js';

@customElement('tt-settings')
export class SettingsView extends LitElement {
  static override styles = [shared];
  @property({ attribute: false }) node?: NodeApi;
  @property({ attribute: false }) profiles: ProfileRecord[] = [];
  @property({ attribute: false }) ephemeral = false;
  /** The browser's answer to navigator.storage.persist(); undefined while not asked. */
  @property({ attribute: false }) storagePersisted: boolean | undefined;
  /** Reopen the last visit's terminals by themselves on a returning visit. */
  @property({ attribute: false }) reopenAuto = false;
  @state() private hosts: KnownHostView[] = [];
  @state() private error = '';

  override connectedCallback() {
    super.connectedCallback();
    void this.refresh();
  }

  async refresh() {
    if (!this.node) return;
    try {
      this.hosts = await this.node.knownHosts();
      await (this.renderRoot.querySelector('tt-ssh-keys') as { refresh(): Promise<void> } | null)?.refresh();
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  private emit(name: string, detail?: unknown) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  override render() {
    return html`
      <tt-ssh-keys .node=${this.node}></tt-ssh-keys>
      <h2 style="margin-top: 1.5rem">Known hosts</h2>
      ${this.hosts.length === 0 ? html`<p class="hint">None yet.</p>` : ''}
      <table>
        <tbody>
          ${this.hosts.map(
            (h) =>
              html`<tr>
                <td>${h.host}</td>
                <td class="mono">${h.fingerprint}</td>
                <td>
                  <button
                    class="danger"
                    @click=${async () => {
                      await this.node!.knownHostDelete(h.host);
                      await this.refresh();
                    }}
                  >
                    Forget
                  </button>
                </td>
                <td>
                  ${
                    h.legacyDevice
                      ? html`<span class="legacy-device">Legacy device (SHA-1 allowed)</span>
                          <button
                            aria-label=${`Stop allowing SHA-1 for ${h.host}`}
                            @click=${async () => {
                              await this.node!.knownHostLegacy(h.host, false);
                              await this.refresh();
                            }}
                          >
                            Stop allowing
                          </button>`
                      : ''
                  }
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h2 style="margin-top: 1.5rem">Profiles</h2>
      <table>
        <tbody>
          ${this.profiles.map(
            (p) =>
              html`<tr>
                <td style="overflow-wrap: anywhere">${p.name}</td>
                <td class="hint wide-only" style="overflow-wrap: anywhere">${p.controlUrl}</td>
                <td>
                  <button
                    class="danger"
                    aria-label="Remove profile ${p.name}"
                    @click=${() => this.emit('delete-profile', p.id)}
                  >
                    Remove
                  </button>
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h2 style="margin-top: 1.5rem">Session</h2>
      <p class="hint" id="storage-state" role="status">
        ${
          this.ephemeral
            ? 'Kiosk session: nothing is kept in this browser.'
            : this.storagePersisted === true
              ? 'Storage: this browser keeps your keys and logins until you wipe them.'
              : this.storagePersisted === false
                ? 'Storage: this browser may clear your keys and logins when it runs short of space (it did not grant persistent storage). Keep a copy of SSH keys you cannot replace (made or imported with "Allow export").'
                : 'Storage: not yet known.'
        }
      </p>
      ${
        this.ephemeral
          ? ''
          : html`<label style="margin: .5rem 0"
              ><input
                type="checkbox"
                id="reopen-auto"
                .checked=${this.reopenAuto}
                @change=${(e: Event) => this.emit('reopen-setting', (e.target as HTMLInputElement).checked)}
              />
              On a new visit, reopen the last visit's terminals by themselves</label
            >`
      }
      <div class="row">
        <button @click=${() => this.emit('sign-out')}>Sign out</button>
        <button
          class="danger"
          @click=${() => {
            if (confirm('Delete every key, profile and setting of this app in this browser?')) this.emit('wipe');
          }}
        >
          Wipe everything
        </button>
      </div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
    `;
  }
}
