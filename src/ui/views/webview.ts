// Web view: a tailnet host's web app in a frame. The frame loads /proxy/<host>/<port>/<path>,
// which the Service Worker (sw/main.ts, served as /sw.js) answers by asking the node to fetch over the tailnet.
// The proxied app's WebSockets go through the frame script's shim (README "WebSockets in the web
// view"; a Service Worker cannot intercept them itself); absolute links to other origins leave.
import { LitElement, html } from 'lit';
import { webAddressProblem } from '../validate.js';
import { webViewStrings as S } from '../strings.js';
import { customElement, property, state } from 'lit/decorators.js';
import { shared } from '../styles.js';
import { targetOf, type ProxyTarget } from '../proxy-origin.js';

/**
 * What a proxied app may do in its frame: run its scripts on its (proxy) origin, submit forms,
 * open popups and dialogs, download. Not granted: navigating tailtab's top window
 * (allow-top-navigation*) — a same-site frame could otherwise replace the page the person trusts.
 */
export const WEB_VIEW_SANDBOX =
  'allow-scripts allow-same-origin allow-forms allow-popups allow-popups-to-escape-sandbox allow-modals allow-downloads';

export function proxyPath(target: string): string | undefined {
  let u: URL;
  try {
    u = new URL(/^[a-z]+:\/\//i.test(target) ? target : `http://${target}`);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:') return undefined;
  const port = u.port || '80';
  return `/proxy/${encodeURIComponent(u.hostname)}/${port}${u.pathname}${u.search}`;
}

@customElement('tt-webview')
export class WebView extends LitElement {
  static override styles = [shared];
  /** Set once the person chose to show apps on tailtab's own origin: for this page's life only. */
  private static sameOriginAllowed = false;
  @property() target = '';
  @property({ type: Boolean }) proxyReady = false;
  /** The proxy origin whose subdomains the proxied apps run on; '' = none (see src/ui/proxy-origin.ts). */
  @property() proxyOrigin = '';
  /** Starts (or reuses) the target's own origin and resolves with it. */
  @property({ attribute: false }) openProxy?: (t: ProxyTarget) => Promise<string>;
  @state() private error = '';
  /** The origin the current target's frame loads from, once its proxy host is up. */
  @state() private frameOrigin: string | undefined;
  private opening = '';

  private go(e: Event) {
    e.preventDefault();
    const input = this.renderRoot.querySelector('#address') as HTMLInputElement;
    const problem = webAddressProblem(input.value) ?? (proxyPath(input.value.trim()) ? null : S.addressExample);
    if (problem) {
      this.error = problem;
      return;
    }
    this.error = '';
    this.target = input.value.trim();
  }

  override willUpdate(changed: Map<string, unknown>) {
    if (!changed.has('target') && !changed.has('proxyOrigin') && !changed.has('proxyReady')) return;
    const t = this.target ? targetOf(this.target) : null;
    const key = t && this.proxyOrigin && this.proxyReady ? `${this.proxyOrigin} ${t.host}:${t.port}` : '';
    if (key === this.opening) return;
    this.opening = key;
    this.frameOrigin = undefined;
    this.error = '';
    if (!key || !t || !this.openProxy) return;
    this.openProxy(t).then(
      (origin) => {
        if (this.opening === key) this.frameOrigin = origin;
      },
      (err: Error) => {
        if (this.opening === key) this.error = S.couldNotOpen(t.host, t.port, err.message);
      },
    );
  }

  private allowSameOrigin() {
    WebView.sameOriginAllowed = true;
    this.requestUpdate();
  }

  private frame(src: string) {
    if (this.proxyOrigin) {
      return this.frameOrigin !== undefined
        ? this.iframe(this.frameOrigin + src)
        : html`<p class="hint">${S.opening}</p>`;
    }
    if (WebView.sameOriginAllowed) return this.iframe(src);
    return html`<p class="error" role="note">${S.wouldShareOrigin}</p>
      <button @click=${this.allowSameOrigin}>${S.showAnyway}</button>`;
  }

  private iframe(url: string) {
    return html`<iframe
      title=${S.frameTitle(this.target)}
      src=${url}
      sandbox=${WEB_VIEW_SANDBOX}
      style="width:100%; height: calc(100vh - 190px); border: 1px solid var(--border); border-radius: 8px; background: #fff"
    ></iframe>`;
  }

  override render() {
    const src = this.target ? proxyPath(this.target) : undefined;
    return html`
      <form class="row" @submit=${this.go} style="margin-bottom: .5rem">
        <label for="address" style="margin:0">${S.addressLabel}</label>
        <input
          id="address"
          style="flex:1; min-width: 200px"
          .value=${this.target}
          placeholder=${S.addressPlaceholder}
        />
        <button class="primary" type="submit">${S.go}</button>
      </form>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      ${!this.proxyReady ? html`<p class="hint">${S.starting}</p>` : ''}
      ${src && this.proxyReady && !this.error ? this.frame(src) : ''}
      ${
        this.proxyReady && !this.proxyOrigin && WebView.sameOriginAllowed
          ? html`<p class="error" role="note">${S.sharesOrigin}</p>`
          : ''
      }
      <p class="hint">${S.howItWorks}</p>
    `;
  }
}
