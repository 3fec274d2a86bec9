// Connect: control server, login by pre-auth key or interactively (link + QR code, moving on by
// itself once approved), ephemeral mode for kiosks, remembered profiles otherwise.
import { LitElement, html } from 'lit';
import { controlUrlProblem, machineNameProblem } from '../validate.js';
import { connectStrings as S } from '../strings.js';
import { customElement, property, state } from 'lit/decorators.js';
import type { NodeStatusView, UpConfig } from '../../app/node-api.js';
import type { ProfileRecord } from '../../platform/idb.js';
import { loginUrlProblem } from '../../control/urls.js';
import { shared } from '../styles.js';
import '../qr.js';

export const TAILSCALE_CONTROL = 'https://controlplane.tailscale.com';

export interface ConnectDefaults {
  controlUrl?: string;
  authKey?: string;
  hostname?: string;
  allowInsecureDerp?: boolean;
  ephemeral?: boolean;
  /** false: the "relays only" box starts ticked. */
  webrtc?: boolean;
}

@customElement('tt-connect')
export class ConnectView extends LitElement {
  static override styles = [shared];

  @property({ attribute: false }) status?: NodeStatusView;
  @property({ attribute: false }) profiles: ProfileRecord[] = [];
  @property({ attribute: false }) defaults: ConnectDefaults = {};
  @state() private busy = false;
  @state() private localError = '';

  private value(id: string): string {
    return (this.renderRoot.querySelector(`#${id}`) as HTMLInputElement | null)?.value.trim() ?? '';
  }

  private checked(id: string): boolean {
    return (this.renderRoot.querySelector(`#${id}`) as HTMLInputElement | null)?.checked ?? false;
  }

  private submit(e: Event) {
    e.preventDefault();
    const controlUrl = this.value('control-url');
    const hostname = this.value('hostname') || this.defaults.hostname || 'tailtab';
    const problem = controlUrlProblem(controlUrl) ?? machineNameProblem(hostname);
    if (problem) {
      this.localError = problem;
      return;
    }
    this.localError = '';
    const cfg: UpConfig = {
      controlUrl,
      authKey: this.value('auth-key') || undefined,
      hostname,
      ephemeral: this.checked('ephemeral'),
      profileId: '',
      allowInsecureDerp: this.checked('insecure-derp'),
      webrtc: !this.checked('no-webrtc'),
      controlKey: this.value('control-key') || undefined,
    };
    this.dispatchEvent(new CustomEvent<UpConfig>('connect', { detail: cfg, bubbles: true, composed: true }));
  }

  private useProfile(p: ProfileRecord) {
    this.dispatchEvent(new CustomEvent<ProfileRecord>('use-profile', { detail: p, bubbles: true, composed: true }));
  }

  override render() {
    const st = this.status;
    const d = this.defaults;
    // The control client already refuses other links; checked again where it becomes an href.
    const waiting = st?.state === 'needs-login' && st.authUrl && loginUrlProblem(st.authUrl) === null;
    const starting = st?.state === 'starting';
    return html`
      <div class="card" style="max-width: 560px; margin: 1.5rem auto;">
        <h2>${S.heading}</h2>
        ${
          this.profiles.length
            ? html`<div role="group" aria-label=${S.profilesLabel}>
                <p class="hint">${S.remembered}</p>
                ${this.profiles.map(
                  (p) =>
                    html`<div class="row" style="margin-bottom: .4rem">
                      <button class="primary" @click=${() => this.useProfile(p)} ?disabled=${starting}>
                        ${p.name}
                      </button>
                      <span class="hint">${S.profileWhere(p.hostname, p.controlUrl)}</span>
                    </div>`,
                )}
                <h3>${S.loginAgain}</h3>
              </div>`
            : ''
        }
        <form novalidate @submit=${this.submit} aria-busy=${starting ? 'true' : 'false'}>
          <label for="control-url">${S.controlLabel}</label>
          <input
            id="control-url"
            type="url"
            required
            style="width: 100%"
            .value=${d.controlUrl ?? TAILSCALE_CONTROL}
            autocomplete="url"
          />
          <div class="hint">${S.controlHint}</div>

          <label for="auth-key">${S.keyLabel}</label>
          <input
            id="auth-key"
            type="password"
            style="width: 100%"
            .value=${d.authKey ?? ''}
            autocomplete="off"
            placeholder=${S.keyPlaceholder}
          />
          <div class="hint">${S.keyHint}</div>

          <label for="hostname">${S.nameLabel}</label>
          <input id="hostname" .value=${d.hostname ?? ''} placeholder="tailtab" />

          <div class="row" style="margin-top: .8rem">
            <input id="ephemeral" type="checkbox" .checked=${d.ephemeral ?? false} />
            <label for="ephemeral" style="display:inline; margin:0; font-weight: normal"> ${S.kiosk} </label>
          </div>
          <details style="margin-top: .6rem">
            <summary>${S.advanced}</summary>
            <div class="row" style="margin-top: .5rem">
              <input id="insecure-derp" type="checkbox" .checked=${d.allowInsecureDerp ?? false} />
              <label for="insecure-derp" style="display:inline; margin:0; font-weight: normal">
                ${S.insecureDerp}
              </label>
            </div>
            <div class="row" style="margin-top: .5rem">
              <input id="no-webrtc" type="checkbox" .checked=${d.webrtc === false} />
              <label for="no-webrtc" style="display:inline; margin:0; font-weight: normal"> ${S.relaysOnly} </label>
            </div>
            <label for="control-key">${S.controlKeyLabel}</label>
            <input id="control-key" style="width: 100%" placeholder="mkey:…" />
          </details>

          ${this.localError ? html`<p class="error" role="alert">${this.localError}</p>` : ''}
          ${st?.error ? html`<p class="error" role="alert">${st.error}</p>` : ''}
          <div class="row" style="margin-top: 1rem">
            <button class="primary" type="submit" ?disabled=${starting || !!waiting}>
              ${starting ? S.connecting : S.connect}
            </button>
          </div>
        </form>
        ${
          waiting
            ? html`<div role="status" style="margin-top: 1rem">
                <h3>${S.approveHeading}</h3>
                <p>${S.approveText}</p>
                <p><a href=${st!.authUrl!} target="_blank" rel="noopener noreferrer" class="mono">${st!.authUrl}</a></p>
                <tt-qr .text=${st!.authUrl!} label=${S.qrLabel}></tt-qr>
              </div>`
            : ''
        }
      </div>
    `;
  }
}
