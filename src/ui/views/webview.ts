// Web view: a tailnet host's web app in a frame. The frame loads /proxy/<host>/<port>/<path>,
// which the Service Worker (public/sw.js) answers by asking the node to fetch over the tailnet.
// The proxied app's WebSockets go through the frame script's shim (README "WebSockets in the web
// view"; a Service Worker cannot intercept them itself); absolute links to other origins leave.
import { LitElement, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { shared } from '../styles.js';

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
  @property() target = '';
  @property({ type: Boolean }) proxyReady = false;
  /** Origin the proxied app runs on; '' = tailtab's own (see src/ui/proxy-origin.ts). */
  @property() proxyOrigin = '';
  @state() private error = '';

  private go(e: Event) {
    e.preventDefault();
    const input = this.renderRoot.querySelector('#address') as HTMLInputElement;
    const p = proxyPath(input.value.trim());
    if (!p) {
      this.error = 'Enter an http:// address of a machine in your tailnet, e.g. http://nas:8080/';
      return;
    }
    this.error = '';
    this.target = input.value.trim();
  }

  override render() {
    const src = this.target ? proxyPath(this.target) : undefined;
    return html`
      <form class="row" @submit=${this.go} style="margin-bottom: .5rem">
        <label for="address" style="margin:0">Address</label>
        <input id="address" style="flex:1; min-width: 200px" .value=${this.target} placeholder="http://machine:port/" />
        <button class="primary" type="submit">Go</button>
      </form>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : ''}
      ${!this.proxyReady ? html`<p class="hint">Starting the web proxy…</p>` : ''}
      ${src && this.proxyReady
        ? html`<iframe title="Web view of ${this.target}" src=${this.proxyOrigin + src} style="width:100%; height: calc(100vh - 190px); border: 1px solid var(--border); border-radius: 8px; background: #fff"></iframe>`
        : ''}
      ${this.proxyReady && !this.proxyOrigin
        ? html`<p class="error" role="note">This web view shares tailtab's own origin: the app shown here could read tailtab's keys and act as you. Open only hosts you trust, or serve tailtab with a separate proxy origin (README, "Web view isolation").</p>`
        : ''}
      <p class="hint">Pages, scripts, styles, images and form posts go through the tailnet. WebSockets inside the app do not.</p>
    `;
  }
}
