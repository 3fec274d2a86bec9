// Files: move files to and from a machine over SFTP (the Worker runs the session; see
// NodeApi.sftpOpen). Remote names are untrusted text: they only ever go into Lit text bindings,
// never into markup, and a download's name is given to <a download> as a property (Blob fallback)
// or to the Service Worker as data (streamed downloads, src/ui/sw-download.ts).
import { LitElement, css, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { hostKeyNote, hostKeyPromptTemplate, type PendingHostKeyPrompt } from './host-key.js';
import {
  authPromptTemplate,
  legacyPromptTemplate,
  type PendingAuthPrompt,
  type PendingLegacyPrompt,
} from './login-prompt.js';
import type { FileEntryView, HostKeyPrompt, NodeApi, SftpOpenOptions, SftpSessionHandle } from '../../app/node-api.js';
import { formatBytes } from '../format.js';
import { formatMtime, joinPath, parentPath } from '../remote-path.js';
import { filesStrings as S } from '../strings.js';
import { shared } from '../styles.js';
import { downloadWorker, streamDownloadViaServiceWorker } from '../sw-download.js';
import { readChunks } from '../../platform/streams.js';

export interface FilesTarget {
  options: SftpOpenOptions;
  title: string;
}

/** A stream that passes bytes through and reports the running total (upload progress). */
function counting(onBytes: (total: number) => void): TransformStream<Uint8Array, Uint8Array> {
  let total = 0;
  return new TransformStream({
    transform(chunk, ctl) {
      total += chunk.byteLength;
      onBytes(total);
      ctl.enqueue(chunk);
    },
  });
}

@customElement('tt-files')
export class FilesView extends LitElement {
  static override styles = [
    shared,
    css`
      :host([hidden]) {
        display: none;
      }
      .name-btn {
        border: none;
        background: none;
        padding: 0;
        min-height: 0;
        color: var(--link, var(--accent));
        text-decoration: underline;
        text-align: left;
      }
      td.num,
      th.num {
        text-align: right;
        white-space: nowrap;
      }
      .toolbar {
        margin: 0.5rem 0 0.75rem;
        gap: 1rem;
        align-items: end;
      }
      .toolbar label {
        margin: 0 0 0.2rem;
      }
      h2:focus {
        outline: none;
      }
    `,
  ];

  @property({ attribute: false }) node?: NodeApi;
  @property({ attribute: false }) target?: FilesTarget;
  @state() private phase: 'idle' | 'connecting' | 'open' | 'failed' = 'idle';
  @state() private path = '';
  @state() private entries: FileEntryView[] = [];
  @state() private progress = '';
  @state() private error = '';
  @state() private hostNote = '';
  @state() private busy = false;
  @state() private hostPrompt?: PendingHostKeyPrompt;
  @state() private authPrompt?: PendingAuthPrompt;
  @state() private legacyPrompt?: PendingLegacyPrompt;
  private session?: SftpSessionHandle;

  override updated(changed: Map<string, unknown>) {
    if (changed.has('target') && this.target) void this.connect();
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    this.session?.close();
    this.session = undefined;
  }

  private askHostKey(p: HostKeyPrompt): Promise<boolean> {
    return new Promise((resolve) => {
      this.hostPrompt = {
        ...p,
        answer: (ok) => {
          this.hostPrompt = undefined;
          resolve(ok);
        },
      };
      void this.updateComplete.then(() =>
        (this.renderRoot.querySelector('.host-prompt button.primary') as HTMLButtonElement | null)?.focus(),
      );
    });
  }

  private async connect() {
    if (!this.node || !this.target) return;
    this.session?.close();
    this.session = undefined;
    this.phase = 'connecting';
    this.error = '';
    this.progress = '';
    this.entries = [];
    try {
      const s = await this.node.sftpOpen(this.target.options, {
        confirmHostKey: (p) => this.askHostKey(p),
        // The same login questions as the terminal's (login-prompt.ts); no terminal for a banner here.
        askAuth: (p) =>
          new Promise(
            (resolve) =>
              (this.authPrompt = {
                ...p,
                answer: (a) => {
                  this.authPrompt = undefined;
                  resolve(a);
                },
              }),
          ),
        confirmLegacy: (p) =>
          new Promise(
            (resolve) =>
              (this.legacyPrompt = {
                ...p,
                answer: (ok) => {
                  this.legacyPrompt = undefined;
                  resolve(ok);
                },
              }),
          ),
      });
      this.session = s;
      this.hostNote = hostKeyNote(s.hostKey);
      this.phase = 'open';
      await this.go(s.home);
    } catch (e) {
      this.phase = 'failed';
      this.error = S.couldNotOpen(this.target.title, (e as Error).message);
    }
    this.authPrompt?.answer(undefined);
    this.legacyPrompt?.answer(false);
  }

  /** Lists `path`; on failure the current folder stays and the reason is shown. */
  private async go(path: string) {
    if (!this.session) return;
    this.busy = true;
    this.error = '';
    try {
      const r = await this.session.list(path);
      this.path = r.path;
      this.entries = r.entries;
      await this.updateComplete;
      (this.renderRoot.querySelector('#files-title') as HTMLElement | null)?.focus();
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.busy = false;
    }
  }

  private async download(entry: FileEntryView) {
    if (!this.session) return;
    const path = joinPath(this.path, entry.name);
    this.error = '';
    this.busy = true;
    try {
      const { size, data } = await this.session.download(path);
      const show = (got: number) =>
        (this.progress = S.downloading(
          entry.name,
          formatBytes(got),
          size !== undefined ? formatBytes(size) : undefined,
        ));
      // Streamed to disk by the Service Worker when one serves this page (a multi-GB file never
      // sits in the tab); otherwise collected into a Blob below.
      const sw = await downloadWorker();
      if (sw) {
        const got = await streamDownloadViaServiceWorker(sw, data, entry.name, size, this.renderRoot, {
          onBytes: show,
        });
        this.progress = S.downloaded(entry.name, formatBytes(got));
        return;
      }
      const { parts, total: got } = await readChunks(data, show);
      const url = URL.createObjectURL(new Blob(parts as BlobPart[]));
      const a = document.createElement('a');
      a.href = url;
      a.download = entry.name;
      a.hidden = true;
      this.renderRoot.appendChild(a);
      a.click();
      a.remove();
      // The browser reads the object URL after click() returns: revoke once it has had the chance.
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      this.progress = S.downloaded(entry.name, formatBytes(got));
    } catch (e) {
      this.progress = '';
      this.error = (e as Error).message;
    } finally {
      this.busy = false;
    }
  }

  private async upload(e: Event) {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    if (!file || !this.session) return;
    const path = joinPath(this.path, file.name);
    this.error = '';
    // SFTP OPEN with TRUNC replaces a file silently: ask first, as a file manager does.
    const existing = this.entries.find((x) => x.name === file.name);
    if (existing && (existing.dir || !confirm(S.replace(file.name, this.path)))) {
      this.progress = existing.dir ? '' : S.kept(file.name);
      if (existing.dir) this.error = S.isFolder(file.name, this.path);
      input.value = '';
      return;
    }
    this.busy = true;
    this.progress = S.uploading(file.name, formatBytes(0), formatBytes(file.size));
    try {
      const data = file
        .stream()
        .pipeThrough(counting((n) => (this.progress = S.uploading(file.name, formatBytes(n), formatBytes(file.size)))));
      const written = await this.session.upload(path, data);
      this.progress = S.uploaded(file.name, formatBytes(written));
      input.value = '';
      await this.go(this.path);
    } catch (err) {
      this.progress = '';
      this.error = (err as Error).message;
    } finally {
      this.busy = false;
    }
  }

  private goTo(e: Event) {
    e.preventDefault();
    const v = (this.renderRoot.querySelector('#files-path') as HTMLInputElement).value.trim();
    if (v) void this.go(v.startsWith('/') ? v : joinPath(this.path, v));
  }

  override render() {
    if (!this.target) return html`<p class="hint">${S.noneOpen}</p>`;
    return html`
      <h2 id="files-title" tabindex="-1">
        ${S.heading(this.target.title)}${this.path ? html`: <span class="mono">${this.path}</span>` : ''}
      </h2>
      ${hostKeyPromptTemplate(this.hostPrompt, 'fhk')} ${legacyPromptTemplate(this.legacyPrompt, 'flg')}
      ${authPromptTemplate(this.authPrompt, 'fap')}
      ${this.phase === 'connecting' && !this.hostPrompt ? html`<p class="hint" role="status">${S.connecting(this.target.title)}</p>` : ''}
      ${this.phase === 'open' ? html`<p class="hint files-host">${this.hostNote}</p>` : ''}
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      ${this.phase === 'failed' ? html`<button @click=${() => this.connect()}>${S.tryAgain}</button>` : ''}
      ${this.phase === 'open' ? this.renderListing() : ''}
    `;
  }

  private renderListing() {
    return html`
      <div class="row toolbar">
        <form class="row" @submit=${this.goTo} style="align-items: end">
          <div>
            <label for="files-path">${S.goToLabel}</label
            ><input id="files-path" class="mono" placeholder=${S.goToPlaceholder} />
          </div>
          <button type="submit" ?disabled=${this.busy}>${S.go}</button>
        </form>
        <div>
          <label for="files-upload">${S.uploadLabel}</label
          ><input id="files-upload" type="file" ?disabled=${this.busy} @change=${this.upload} />
        </div>
      </div>
      <p class="hint" role="status" aria-live="polite">${this.progress}</p>
      <table aria-labelledby="files-title">
        <thead>
          <tr>
            <th>${S.name}</th>
            <th class="num">${S.size}</th>
            <th class="wide-only">${S.modified}</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${
            this.path !== '/'
              ? html`<tr>
                  <td colspan="4">
                    <button
                      class="name-btn"
                      aria-label=${S.up(parentPath(this.path))}
                      @click=${() => this.go(parentPath(this.path))}
                    >
                      ..
                    </button>
                  </td>
                </tr>`
              : ''
          }
          ${this.entries.map(
            (e) =>
              html`<tr data-name=${e.name}>
                <td>
                  ${
                    e.dir
                      ? html`<button
                          class="name-btn"
                          aria-label=${S.openFolder(e.name)}
                          @click=${() => this.go(joinPath(this.path, e.name))}
                        >
                          ${e.name}/
                        </button>`
                      : html`<span class="mono">${e.name}</span>`
                  }
                </td>
                <td class="num" title=${e.dir || e.size === undefined ? '' : S.bytes(e.size)}>
                  ${e.dir || e.size === undefined ? '' : formatBytes(e.size)}
                </td>
                <td class="wide-only">${formatMtime(e.mtime)}</td>
                <td>
                  ${e.dir ? '' : html`<button ?disabled=${this.busy} aria-label=${S.downloadLabel(e.name)} @click=${() => this.download(e)}>${S.download}</button>`}
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
      ${this.entries.length ? '' : html`<p class="hint">${S.empty}</p>`}
    `;
  }
}
