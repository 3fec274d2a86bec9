// Settings: SSH keys (ssh-keys.ts: create, import, list, export, delete), known hosts, profiles,
// sign out, wipe. Its sentences: strings.ts (settingsStrings).
import { LitElement, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { KnownHostView, NodeApi } from '../../app/node-api.js';
import type { ProfileRecord } from '../../platform/idb.js';
import { settingsStrings as S } from '../strings.js';
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
      <h2 style="margin-top: 1.5rem">${S.knownHostsHeading}</h2>
      ${this.hosts.length === 0 ? html`<p class="hint">${S.noKnownHosts}</p>` : ''}
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
                    aria-label=${S.forgetLabel(h.host)}
                    @click=${async () => {
                      await this.node!.knownHostDelete(h.host);
                      await this.refresh();
                    }}
                  >
                    ${S.forget}
                  </button>
                </td>
                <td>
                  ${
                    h.legacyDevice
                      ? html`<span class="legacy-device">${S.legacy}</span>
                          <button
                            aria-label=${S.stopLegacyLabel(h.host)}
                            @click=${async () => {
                              await this.node!.knownHostLegacy(h.host, false);
                              await this.refresh();
                            }}
                          >
                            ${S.stopLegacy}
                          </button>`
                      : ''
                  }
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h2 style="margin-top: 1.5rem">${S.profilesHeading}</h2>
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
                    aria-label=${S.removeLabel(p.name)}
                    @click=${() => this.emit('delete-profile', p.id)}
                  >
                    ${S.remove}
                  </button>
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
      <h2 style="margin-top: 1.5rem">${S.sessionHeading}</h2>
      <p class="hint" id="storage-state" role="status">
        ${
          this.ephemeral
            ? S.kiosk
            : this.storagePersisted === true
              ? S.persisted
              : this.storagePersisted === false
                ? S.notPersisted
                : S.storageUnknown
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
              ${S.reopenAuto}</label
            >`
      }
      <div class="row">
        <button @click=${() => this.emit('sign-out')}>${S.signOut}</button>
        <button
          class="danger"
          @click=${() => {
            if (confirm(S.wipeConfirm)) this.emit('wipe');
          }}
        >
          ${S.wipe}
        </button>
      </div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
    `;
  }
}
