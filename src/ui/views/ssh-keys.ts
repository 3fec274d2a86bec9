// Settings → SSH keys: make a key here, import the person's own key file (picked or pasted;
// OpenSSH, PEM, PKCS#8; a passphrase asked when the file has one), list them with type,
// fingerprint and public line, export (only keys kept with "allow export", only from a click,
// optionally passphrase-protected), delete. Private keys never reach this page except in an
// export the person clicked for; the key file's text goes to the Worker and is dropped here.
import { LitElement, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { NodeApi, SshKeyView } from '../../app/node-api.js';
import { sshKeysStrings as S } from '../strings.js';
import { shared } from '../styles.js';

/** As the Worker's limit (app/ssh-keys.ts): bigger is not a key file. */
const MAX_KEY_FILE = 64 * 1024;

const TYPE_NAMES: Record<string, string> = {
  'ssh-ed25519': 'Ed25519',
  'ecdsa-sha2-nistp256': 'ECDSA P-256',
  'ecdsa-sha2-nistp384': 'ECDSA P-384',
  'ecdsa-sha2-nistp521': 'ECDSA P-521',
  'ssh-rsa': 'RSA',
};

@customElement('tt-ssh-keys')
export class SshKeysView extends LitElement {
  static override styles = [shared];
  @property({ attribute: false }) node?: NodeApi;
  @state() private keys: SshKeyView[] = [];
  @state() private error = '';
  /** Import: the picked file's text (kept only until imported or replaced), and what went wrong. */
  private fileText = '';
  @state() private fileLabel = '';
  @state() private importProblem = '';
  @state() private askPassphrase = false;
  @state() private importBusy = false;
  /** The key whose export panel is open, and what went wrong there. */
  @state() private exportFor = '';
  @state() private exportProblem = '';

  override connectedCallback() {
    super.connectedCallback();
    void this.refresh();
  }

  async refresh() {
    if (!this.node) return;
    try {
      this.keys = await this.node.sshKeys();
    } catch (e) {
      this.error = (e as Error).message;
    }
  }

  private q<T extends HTMLElement>(sel: string): T {
    return this.renderRoot.querySelector(sel) as T;
  }

  private async createKey() {
    const name = this.q<HTMLInputElement>('#key-name').value.trim() || 'tailtab';
    const allowExport = this.q<HTMLInputElement>('#key-allow-export').checked;
    try {
      await this.node!.sshKeyCreate(name, { allowExport });
      this.error = '';
    } catch (e) {
      this.error = (e as Error).message;
    }
    await this.refresh();
  }

  private async pickFile(e: Event) {
    const input = e.target as HTMLInputElement;
    const f = input.files?.[0];
    this.fileText = '';
    this.fileLabel = '';
    this.askPassphrase = false;
    this.importProblem = '';
    if (!f) return;
    if (f.size > MAX_KEY_FILE) {
      this.importProblem = S.tooBig(f.name, f.size);
      input.value = '';
      return;
    }
    this.fileText = await f.text();
    this.fileLabel = S.fileChosen(f.name, f.size);
  }

  private async importKey() {
    const pasted = this.q<HTMLTextAreaElement>('#key-text');
    const text = this.fileText || pasted.value;
    if (!text.trim()) {
      this.importProblem = S.nothingToImport;
      return;
    }
    const passphrase = this.askPassphrase ? this.q<HTMLInputElement>('#key-passphrase').value : undefined;
    const name = this.q<HTMLInputElement>('#import-name').value.trim() || undefined;
    const allowExport = this.q<HTMLInputElement>('#import-allow-export').checked;
    this.importBusy = true;
    try {
      const r = await this.node!.sshKeyImport(text, { name, passphrase, allowExport });
      if (r.ok) {
        this.fileText = '';
        this.fileLabel = '';
        pasted.value = '';
        this.q<HTMLInputElement>('#key-file').value = '';
        this.q<HTMLInputElement>('#import-name').value = '';
        this.askPassphrase = false;
        this.importProblem = '';
        await this.refresh();
        return;
      }
      if (r.code === 'passphrase-needed' || r.code === 'wrong-passphrase') {
        this.askPassphrase = true;
        await this.updateComplete;
        const pp = this.q<HTMLInputElement>('#key-passphrase');
        pp.value = '';
        pp.focus();
      }
      this.importProblem = sentence(r.message);
    } catch (e) {
      this.importProblem = sentence((e as Error).message);
    } finally {
      this.importBusy = false;
    }
  }

  /**
   * Runs in the click handler: sshKeyExport checks the click's transient activation before
   * anything is awaited (app/gesture.ts), so this must call it synchronously.
   */
  private saveExport(k: SshKeyView) {
    const p1 = this.q<HTMLInputElement>('#export-passphrase').value;
    const p2 = this.q<HTMLInputElement>('#export-passphrase2').value;
    if (p1 !== p2) {
      this.exportProblem = S.passphrasesDiffer;
      return;
    }
    const pending = this.node!.sshKeyExport(k.id, { passphrase: p1 || undefined });
    pending.then(
      (text) => {
        const a = document.createElement('a');
        a.href = URL.createObjectURL(new Blob([text], { type: 'application/x-pem-file' }));
        a.download = `id_${(TYPE_NAMES[k.type] ?? 'key').split(' ')[0].toLowerCase()}_${k.name}`;
        a.click();
        setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
        this.exportFor = '';
        this.exportProblem = '';
      },
      (e: Error) => (this.exportProblem = e.message),
    );
  }

  private async deleteKey(k: SshKeyView) {
    if (!confirm(S.deleteConfirm(k.name))) return;
    await this.node!.sshKeyDelete(k.id);
    await this.refresh();
  }

  private renderExport(k: SshKeyView) {
    return html`<div class="card" style="margin-top:.5rem" role="group" aria-label=${S.exportGroup(k.name)}>
      <p class="hint">${S.exportWarning}</p>
      <label for="export-passphrase">${S.exportPassphrase}</label>
      <input id="export-passphrase" type="password" autocomplete="new-password" />
      <label for="export-passphrase2">${S.exportPassphrase2}</label>
      <input id="export-passphrase2" type="password" autocomplete="new-password" />
      ${this.exportProblem ? html`<p class="error" role="alert" id="export-problem">${this.exportProblem}</p>` : ''}
      <div class="row" style="margin-top:.5rem">
        <button class="primary" @click=${() => this.saveExport(k)}>${S.saveFile}</button>
        <button
          @click=${() => {
            this.exportFor = '';
            this.exportProblem = '';
          }}
        >
          ${S.cancel}
        </button>
      </div>
    </div>`;
  }

  private renderKey(k: SshKeyView) {
    return html`<div class="card ssh-key" style="margin-top: .5rem" data-key=${k.name}>
      <div class="row">
        <strong>${k.name}</strong
        ><span class="hint key-type">${TYPE_NAMES[k.type] ?? k.type}${k.source === 'imported' ? S.imported : ''}</span
        ><span style="flex:1"></span>
        <button @click=${() => navigator.clipboard.writeText(k.publicKey)} aria-label=${S.copyPublicLabel(k.name)}>
          ${S.copyPublic}
        </button>
        ${
          k.exportable
            ? html`<button
                @click=${() => {
                  this.exportFor = k.id;
                  this.exportProblem = '';
                }}
                aria-label=${S.exportPrivateLabel(k.name)}
              >
                ${S.exportPrivate}
              </button>`
            : ''
        }
        <button class="danger" @click=${() => this.deleteKey(k)} aria-label=${S.deleteLabel(k.name)}>
          ${S.delete}
        </button>
      </div>
      <div class="mono key-fingerprint">${k.fingerprint}</div>
      <code class="public-key">${k.publicKey}</code>
      <p class="hint custody">
        ${k.custody === 'webcrypto' ? S.heldWebCrypto : S.heldBytes} ${k.exportable ? S.exportable : S.notExportable}
      </p>
      ${this.exportFor === k.id ? this.renderExport(k) : ''}
    </div>`;
  }

  override render() {
    return html`
      <h2>${S.heading}</h2>
      <p class="hint">${S.intro}</p>
      <div class="row">
        <label for="key-name" style="margin:0">${S.nameLabel}</label
        ><input id="key-name" placeholder=${S.namePlaceholder} />
        <label style="margin:0;font-weight:normal"
          ><input id="key-allow-export" type="checkbox" /> ${S.allowExport}</label
        >
        <button class="primary" @click=${this.createKey}>${S.create}</button>
      </div>
      <section aria-label=${S.importSection}>
        <h3>${S.importHeading} <span class="hint">${S.importFormats}</span></h3>
        <label for="key-file">${S.fileLabel}</label>
        <input id="key-file" type="file" @change=${this.pickFile} />
        ${this.fileLabel ? html`<span class="hint" id="key-file-chosen">${this.fileLabel}</span>` : ''}
        <label for="key-text">${S.pasteLabel}</label>
        <textarea
          id="key-text"
          rows="4"
          style="width:100%;font-family:ui-monospace,monospace"
          spellcheck="false"
          autocomplete="off"
          placeholder="-----BEGIN OPENSSH PRIVATE KEY-----"
          @input=${() => {
            this.fileText = '';
            this.fileLabel = '';
          }}
        ></textarea>
        ${
          this.askPassphrase
            ? html`<label for="key-passphrase">${S.passphraseLabel}</label>
                <input
                  id="key-passphrase"
                  type="password"
                  autocomplete="off"
                  @keydown=${(e: KeyboardEvent) => {
                    if (e.key === 'Enter') void this.importKey();
                  }}
                />`
            : ''
        }
        <label for="import-name">${S.importNameLabel}</label>
        <input id="import-name" placeholder=${S.importNamePlaceholder} />
        <div class="row" style="margin-top:.5rem">
          <label style="margin:0;font-weight:normal"
            ><input id="import-allow-export" type="checkbox" /> ${S.allowExport}</label
          >
          <button class="primary" ?disabled=${this.importBusy} @click=${this.importKey}>
            ${this.importBusy ? S.importing : S.import}
          </button>
        </div>
        ${this.importProblem ? html`<p class="error" role="alert" id="import-problem">${this.importProblem}</p>` : ''}
      </section>
      ${this.keys.map((k) => this.renderKey(k))}
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
    `;
  }
}

/** The parser's words as a sentence: capital first letter, full stop. */
function sentence(s: string): string {
  const t = s.trim();
  return (t.charAt(0).toUpperCase() + t.slice(1)).replace(/([^.!?])$/, '$1.');
}
