// Settings: SSH keys (create, show public, delete), known hosts, profiles, sign out, wipe.
import { LitElement, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { KnownHostView, NodeApi, SshKeyView } from '../../app/node-api.js';
import type { ProfileRecord } from '../../platform/idb.js';
import { shared } from '../styles.js';

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
  @state() private keys: SshKeyView[] = [];
  @state() private hosts: KnownHostView[] = [];
  @state() private error = '';

  override connectedCallback() {
    super.connectedCallback();
    void this.refresh();
  }

  async refresh() {
    if (!this.node) return;
    try {
      [this.keys, this.hosts] = await Promise.all([this.node.sshKeys(), this.node.knownHosts()]);
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  private async createKey() {
    const name = (this.renderRoot.querySelector('#key-name') as HTMLInputElement).value.trim() || 'tailtab';
    await this.node!.sshKeyCreate(name);
    await this.refresh();
  }

  /** The only way a private key leaves this browser: asked for, confirmed, saved as a file. */
  private async exportKey(k: SshKeyView) {
    if (!confirm(`Save the PRIVATE key "${k.name}" to a file? Anyone with that file can log in where this key is authorized.`)) return;
    const text = await this.node!.sshKeyExport(k.id);
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([text], { type: 'application/x-pem-file' }));
    a.download = `id_ed25519_${k.name}`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }

  private emit(name: string, detail?: unknown) {
    this.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
  }

  override render() {
    return html`
      <h2>SSH keys</h2>
      <p class="hint">Keys are made in this browser and never leave it. Paste the public key into <code>~/.ssh/authorized_keys</code> on the host.</p>
      <div class="row">
        <label for="key-name" style="margin:0">Key name</label><input id="key-name" placeholder="laptop-browser" />
        <button class="primary" @click=${this.createKey}>Create key</button>
      </div>
      ${this.keys.map(
        (k) => html`<div class="card" style="margin-top: .5rem">
          <div class="row"><strong>${k.name}</strong><span style="flex:1"></span>
            <button @click=${() => navigator.clipboard.writeText(k.publicKey)} aria-label="Copy public key of ${k.name}">Copy public key</button>
            <button @click=${() => this.exportKey(k)} aria-label="Export private key of ${k.name}">Export private key</button>
            <button class="danger" @click=${async () => { if (confirm(`Delete key ${k.name}?`)) { await this.node!.sshKeyDelete(k.id); await this.refresh(); } }}>Delete</button>
          </div>
          <code class="public-key">${k.publicKey}</code>
        </div>`,
      )}
      <h2 style="margin-top: 1.5rem">Known hosts</h2>
      ${this.hosts.length === 0 ? html`<p class="hint">None yet.</p>` : ''}
      <table><tbody>${this.hosts.map(
        (h) => html`<tr><td>${h.host}</td><td class="mono">${h.fingerprint}</td>
          <td><button class="danger" @click=${async () => { await this.node!.knownHostDelete(h.host); await this.refresh(); }}>Forget</button></td></tr>`,
      )}</tbody></table>
      <h2 style="margin-top: 1.5rem">Profiles</h2>
      <table><tbody>${this.profiles.map(
        (p) => html`<tr><td>${p.name}</td><td class="hint">${p.controlUrl}</td>
          <td><button class="danger" @click=${() => this.emit('delete-profile', p.id)}>Remove</button></td></tr>`,
      )}</tbody></table>
      <h2 style="margin-top: 1.5rem">Session</h2>
      <p class="hint" id="storage-state" role="status">${this.ephemeral
        ? 'Kiosk session: nothing is kept in this browser.'
        : this.storagePersisted === true
          ? 'Storage: this browser keeps your keys and logins until you wipe them.'
          : this.storagePersisted === false
            ? 'Storage: this browser may clear your keys and logins when it runs short of space (it did not grant persistent storage). Export keys you need.'
            : 'Storage: not yet known.'}</p>
      ${this.ephemeral ? '' : html`<label style="margin: .5rem 0"><input type="checkbox" id="reopen-auto" .checked=${this.reopenAuto}
          @change=${(e: Event) => this.emit('reopen-setting', (e.target as HTMLInputElement).checked)} />
          On a new visit, reopen the last visit's terminals by themselves</label>`}
      <div class="row">
        <button @click=${() => this.emit('sign-out')}>Sign out</button>
        <button class="danger" @click=${() => { if (confirm('Delete every key, profile and setting of this app in this browser?')) this.emit('wipe'); }}>Wipe everything</button>
      </div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
    `;
  }
}
