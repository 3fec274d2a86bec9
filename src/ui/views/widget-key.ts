// The widget's "log in with your own key" step (<tailtab-connect ssh-auth="key">): the keys the
// person gave the widget on this site (remembered ones, and this visit's), each usable or
// forgettable, and "Use a key file…": a file picker or paste field, the passphrase and
// "Remember on this device", all inside the widget. The key text goes to the widget's Worker
// (app/ssh-keys.ts, scope 'widget') and is dropped here; no attribute carries a key or a
// passphrase (SECURITY.md "A key in the widget"). Emits 'key-chosen' with the key's id.
import { LitElement, css, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import type { NodeApi, SshKeyView } from '../../app/node-api.js';
import { widgetKeyStrings as K } from '../strings.js';

/** As the Worker's limit (app/ssh-keys.ts): bigger is not a key file. */
const MAX_KEY_FILE = 64 * 1024;

function sentence(s: string): string {
  const t = s.trim();
  return (t.charAt(0).toUpperCase() + t.slice(1)).replace(/([^.!?])$/, '$1.');
}

@customElement('tt-widget-key')
export class WidgetKeyView extends LitElement {
  static override styles = css`
    :host {
      display: block;
    }
    ul {
      list-style: none;
      padding: 0;
      margin: 0 0 0.75rem;
    }
    li {
      display: flex;
      flex-wrap: wrap;
      gap: 0.5rem;
      align-items: center;
      margin: 0.25rem 0;
    }
    code {
      font-size: 12px;
      overflow-wrap: anywhere;
    }
    label {
      display: block;
      margin: 0.4rem 0;
    }
    textarea {
      width: 100%;
      box-sizing: border-box;
      height: 5rem;
      font: 12px monospace;
    }
    .hint {
      color: #556;
      font-size: 13px;
    }
    .problem {
      color: #b00;
    }
    button {
      font: inherit;
      min-height: 36px;
      padding: 0 1rem;
      border-radius: 8px;
    }
  `;

  @property({ attribute: false }) node?: NodeApi;
  /** Who the key logs in as, and where (shown, so the person knows what the key is for). */
  @property() account = '';
  @state() private keys: SshKeyView[] = [];
  @state() private problem = '';
  @state() private busy = false;
  @state() private fileLabel = '';
  private fileText = '';

  override connectedCallback() {
    super.connectedCallback();
    void this.refresh();
  }

  private async refresh() {
    try {
      this.keys = (await this.node?.sshKeys({ scope: 'widget' })) ?? [];
    } catch (e) {
      this.problem = sentence((e as Error).message);
    }
  }

  private q<T extends HTMLElement>(sel: string): T {
    return this.renderRoot.querySelector(sel) as T;
  }

  private use(id: string) {
    this.dispatchEvent(new CustomEvent('key-chosen', { detail: { keyId: id }, bubbles: true, composed: true }));
  }

  private async forget(k: SshKeyView) {
    await this.node!.sshKeyDelete(k.id, { scope: 'widget' });
    await this.refresh();
  }

  private async pickFile(e: Event) {
    const input = e.target as HTMLInputElement;
    const f = input.files?.[0];
    this.fileText = '';
    this.fileLabel = '';
    this.problem = '';
    if (!f) return;
    if (f.size > MAX_KEY_FILE) {
      this.problem = K.tooBig(f.name, f.size);
      input.value = '';
      return;
    }
    this.fileText = await f.text();
    this.fileLabel = K.fileChosen(f.name, f.size);
  }

  private async submit(e: Event) {
    e.preventDefault();
    const pasted = this.q<HTMLTextAreaElement>('#key-text');
    const text = this.fileText || pasted.value;
    if (!text.trim()) {
      this.problem = K.nothingToUse;
      return;
    }
    const pp = this.q<HTMLInputElement>('#key-passphrase');
    const remember = this.q<HTMLInputElement>('#key-remember').checked;
    this.busy = true;
    try {
      const r = await this.node!.sshKeyImport(text, {
        passphrase: pp.value || undefined,
        scope: 'widget',
        remember,
      });
      if (!r.ok) {
        this.problem = sentence(r.message);
        if (r.code === 'passphrase-needed' || r.code === 'wrong-passphrase') {
          pp.value = '';
          pp.focus();
        }
        return;
      }
      // Dropped here: the Worker holds the key now.
      this.fileText = '';
      pasted.value = '';
      pp.value = '';
      this.use(r.key.id);
    } catch (err) {
      this.problem = sentence((err as Error).message);
    } finally {
      this.busy = false;
    }
  }

  override render() {
    return html`<section aria-label=${K.section}>
      <p><strong>${K.heading(this.account)}</strong></p>
      ${
        this.keys.length
          ? html`<ul>
              ${this.keys.map(
                (k) =>
                  html`<li class="widget-key">
                    <span>${k.name}</span> <code>${k.fingerprint}</code>
                    <span class="hint">${k.remembered ? K.remembered : K.thisVisit}</span>
                    <button @click=${() => this.use(k.id)}>${K.use}</button>
                    <button @click=${() => this.forget(k)} aria-label=${K.forgetLabel(k.name)}>${K.forget}</button>
                  </li>`,
              )}
            </ul>`
          : ''
      }
      <form @submit=${(e: Event) => this.submit(e)}>
        <label
          >${K.fileLabel}
          <input id="key-file" type="file" @change=${(e: Event) => this.pickFile(e)} />
        </label>
        ${this.fileLabel ? html`<p class="hint" id="key-file-chosen">${this.fileLabel}</p>` : ''}
        <label
          >${K.pasteLabel}
          <textarea
            id="key-text"
            spellcheck="false"
            autocomplete="off"
            placeholder="-----BEGIN OPENSSH PRIVATE KEY-----"
          ></textarea>
        </label>
        <label>${K.passphraseLabel} <input id="key-passphrase" type="password" autocomplete="off" /></label>
        <label><input id="key-remember" type="checkbox" /> ${K.remember}</label>
        <p class="hint">${K.about}</p>
        <button type="submit" ?disabled=${this.busy}>${this.busy ? K.reading : K.submit}</button>
        <p class="problem" id="key-problem" role="alert">${this.problem}</p>
      </form>
    </section>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'tt-widget-key': WidgetKeyView;
  }
}
