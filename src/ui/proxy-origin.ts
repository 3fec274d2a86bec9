// Where the web view's proxied apps run. A proxied app's scripts get the origin of the page that
// serves /proxy/…; on tailtab's own origin they could read tailtab's IndexedDB (SSH keys, the
// node's machine and node keys, profiles), call its SharedWorker and script the tailtab page
// itself. So the web view lives on a separate origin (configured as `proxyOrigin`, e.g.
// https://proxy.tailtab.example): a hidden frame of that origin (public/proxy-host.html)
// registers the same Service Worker there and relays the MessagePort to the node, and the web
// view's frame loads <proxyOrigin>/proxy/<host>/<port>/<path>. Browsers partition a cross-site
// frame's Service Worker and storage by the top-level site, so a foreign page that embeds
// proxy-host.html gets its own worker and never sees ours.
// Without a separate origin the web view still works on tailtab's own origin, and says plainly
// that the app it shows can reach tailtab's data.

export const PROXY_HOST_PATH = '/proxy-host.html';

/**
 * The origin for proxied apps: the configured one (an http(s) origin other than ours), else, when
 * tailtab is served from a name under .localhost (the demo's tailtab.localhost), the sibling
 * proxy.<that name> on the same port, else undefined (same origin, with a warning).
 * It must be the same *site* as tailtab (a sibling subdomain, e.g. app.example.com and
 * proxy.example.com): browsers refuse a Service Worker to a cross-site frame when third-party
 * storage is blocked (Chromium: "The user denied permission to use Service Worker"), which is
 * why 127.0.0.1 and localhost, two different sites, cannot isolate each other.
 */
export function chooseProxyOrigin(configured: string | undefined, here: { protocol: string; hostname: string; port: string; origin: string }): string | undefined {
  if (configured) {
    let u: URL;
    try {
      u = new URL(configured);
    } catch {
      throw new Error(`proxyOrigin "${configured}" is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`proxyOrigin "${configured}" must be http(s)`);
    if (u.origin === here.origin) throw new Error('proxyOrigin must differ from the origin tailtab is served from');
    return u.origin;
  }
  const h = here.hostname;
  if (!h.endsWith('.localhost') || h.startsWith('proxy.')) return undefined;
  return `${here.protocol}//proxy.${h}${here.port ? `:${here.port}` : ''}`;
}

export interface ProxyHostHandle {
  frame: HTMLIFrameElement;
  close(): void;
}

/**
 * Start the proxy host frame on `proxyOrigin` and keep it supplied with node ports: `newPort` is
 * called for the first port and again whenever that origin's Service Worker has lost its port
 * (it restarted). Resolves once the first port is handed over.
 */
export function startProxyHost(
  proxyOrigin: string,
  newPort: () => Promise<MessagePort>,
  o: { timeoutMs?: number; onError?: (message: string) => void } = {},
): Promise<ProxyHostHandle> {
  const frame = document.createElement('iframe');
  frame.hidden = true;
  frame.title = 'tailtab web view proxy';
  frame.setAttribute('aria-hidden', 'true');
  frame.tabIndex = -1;
  frame.src = `${proxyOrigin}${PROXY_HOST_PATH}#app=${encodeURIComponent(location.origin)}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const handle: ProxyHostHandle = {
      frame,
      close() {
        window.removeEventListener('message', onMessage);
        frame.remove();
      },
    };
    const fail = (message: string) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        handle.close();
        reject(new Error(message));
      } else o.onError?.(message);
    };
    const hand = async () => {
      try {
        const port = await newPort();
        frame.contentWindow?.postMessage({ type: 'tailtab-node-port' }, proxyOrigin, [port]);
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          resolve(handle);
        }
      } catch (e) {
        fail(`web view proxy: ${(e as Error).message}`);
      }
    };
    // Only the frame we made, from the origin we chose, may ask for ports.
    const onMessage = (e: MessageEvent) => {
      if (e.origin !== proxyOrigin || e.source !== frame.contentWindow) return;
      const m = e.data as { type?: string; message?: string } | null;
      if (m?.type === 'tailtab-proxy-host-ready' || m?.type === 'tailtab-need-port') void hand();
      else if (m?.type === 'tailtab-proxy-host-error') fail(`web view proxy on ${proxyOrigin}: ${String(m.message ?? 'failed')}`);
    };
    window.addEventListener('message', onMessage);
    const timer = setTimeout(() => fail(`web view proxy on ${proxyOrigin} did not start within ${(o.timeoutMs ?? 15000) / 1000} s`), o.timeoutMs ?? 15000);
    document.body.append(frame);
  });
}
