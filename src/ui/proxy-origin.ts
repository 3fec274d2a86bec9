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

import { NEED_PORT, NODE_PORT, type NodePortMessage, type ProxyHostToApp } from './sw/messages.js';

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
export function chooseProxyOrigin(
  configured: string | undefined,
  here: { protocol: string; hostname: string; port: string; origin: string },
): string | undefined {
  if (configured) {
    let u: URL;
    try {
      u = new URL(configured);
    } catch {
      throw new Error(`proxyOrigin "${configured}" is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new Error(`proxyOrigin "${configured}" must be http(s)`);
    if (u.origin === here.origin) throw new Error('proxyOrigin must differ from the origin tailtab is served from');
    return u.origin;
  }
  const h = here.hostname;
  if (!h.endsWith('.localhost') || h.startsWith('proxy.')) return undefined;
  return `${here.protocol}//proxy.${h}${here.port ? `:${here.port}` : ''}`;
}

/** A tailnet target of the web view: a MagicDNS name (short or full) or IPv4 literal, and a port. */
export interface ProxyTarget {
  host: string;
  port: number;
}

/**
 * The DNS label of a target's own origin: `p<port>-<machine>` (`p8080-nas`, `p80-100-64-0-5`).
 * One origin per host and port, so one proxied app cannot read another's pages or cookies, nor
 * script another's frames. A full MagicDNS name contributes its machine label (unique in a tailnet).
 * Port first: a label may not have "--" in its 3rd and 4th characters (IDNA), which "db--80" would.
 */
export function targetLabel(t: ProxyTarget): string {
  if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new Error(`port ${t.port} is not a TCP port`);
  const host = t.host.toLowerCase().replace(/\.$/, '');
  let name: string;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) name = host.replace(/\./g, '-');
  else if (host.includes(':'))
    throw new Error(`the isolated web view needs a machine name, not the IPv6 address ${t.host}`);
  else name = host.split('.')[0]!;
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name))
    throw new Error(`"${t.host}" is not a machine name the web view can give its own origin`);
  const label = `p${t.port}-${name}`;
  if (label.length > 63)
    throw new Error(`"${t.host}" is too long a name for the web view's own origin (63 characters per DNS label)`);
  return label;
}

/** Parses a label made by targetLabel back into {host, port} (host: machine name or IPv4). */
export function parseTargetLabel(label: string): ProxyTarget | null {
  const m = /^p(\d{1,5})-([a-z0-9-]{1,57})$/.exec(label);
  if (!m) return null;
  const port = Number(m[1]);
  if (port < 1 || port > 65535) return null;
  const host = /^\d{1,3}(-\d{1,3}){3}$/.test(m[2]!) ? m[2]!.replace(/-/g, '.') : m[2]!;
  return { host, port };
}

/** The origin a target's app runs on: `<label>.<proxy origin's host>`, same scheme and port. */
export function targetProxyOrigin(proxyOrigin: string, t: ProxyTarget): string {
  const base = new URL(proxyOrigin);
  return `${base.protocol}//${targetLabel(t)}.${base.host}`;
}

/** The target of a web-view address (http://host:port/…), or null. */
export function targetOf(address: string): ProxyTarget | null {
  let u: URL;
  try {
    u = new URL(/^[a-z]+:\/\//i.test(address) ? address : `http://${address}`);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:') return null;
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) };
}

const USED_KEY = 'tailtab-proxy-origins';
const MAX_USED = 500;

/**
 * The per-target origins this browser has shown apps on, kept (bounded) so that "Wipe everything"
 * can reach those of earlier visits too, not only the ones this page opened.
 */
export function rememberProxyOrigin(origin: string): void {
  try {
    const used = usedProxyOrigins().filter((o) => o !== origin);
    localStorage.setItem(USED_KEY, JSON.stringify([origin, ...used].slice(0, MAX_USED)));
  } catch {
    /* storage refused (private window): this visit's frames are still forgotten */
  }
}

export function usedProxyOrigins(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem(USED_KEY) ?? '[]') as unknown;
    return Array.isArray(v) ? v.filter((o): o is string => typeof o === 'string' && /^https?:\/\/[^/]+$/.test(o)) : [];
  } catch {
    return [];
  }
}

export function clearUsedProxyOrigins(): void {
  try {
    localStorage.removeItem(USED_KEY);
  } catch {
    /* nothing kept */
  }
}

/**
 * Wipe for an origin no frame of this page has open: load its proxy host, ask it to forget (its
 * Service Worker, caches and storage), and remove the frame; bounded by `timeoutMs`.
 */
export function forgetProxyOrigin(proxyOrigin: string, timeoutMs = 5000): Promise<void> {
  const frame = document.createElement('iframe');
  frame.hidden = true;
  frame.setAttribute('aria-hidden', 'true');
  frame.tabIndex = -1;
  frame.src = `${proxyOrigin}${PROXY_HOST_PATH}#app=${encodeURIComponent(location.origin)}`;
  return new Promise<void>((done) => {
    const finish = () => {
      clearTimeout(timer);
      window.removeEventListener('message', onMessage);
      frame.remove();
      done();
    };
    const timer = setTimeout(finish, timeoutMs);
    const onMessage = (e: MessageEvent) => {
      if (e.origin !== proxyOrigin || e.source !== frame.contentWindow) return;
      const type = (e.data as { type?: string } | null)?.type;
      if (type === 'tailtab-proxy-host-ready' || type === NEED_PORT)
        frame.contentWindow?.postMessage({ type: 'tailtab-proxy-host-forget' }, proxyOrigin);
      else if (type === 'tailtab-proxy-host-forgotten' || type === 'tailtab-proxy-host-error') finish();
    };
    window.addEventListener('message', onMessage);
    document.body.append(frame);
  });
}

export interface ProxyHostHandle {
  frame: HTMLIFrameElement;
  close(): void;
  /** Unregisters that origin's Service Worker and clears its caches and storage (tailtab's Wipe); bounded. */
  forget(timeoutMs?: number): Promise<void>;
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
      forget(timeoutMs = 3000) {
        return new Promise<void>((done) => {
          const t = setTimeout(done, timeoutMs);
          const onDone = (e: MessageEvent) => {
            if (
              e.origin !== proxyOrigin ||
              e.source !== frame.contentWindow ||
              (e.data as { type?: string })?.type !== 'tailtab-proxy-host-forgotten'
            )
              return;
            clearTimeout(t);
            window.removeEventListener('message', onDone);
            done();
          };
          window.addEventListener('message', onDone);
          frame.contentWindow?.postMessage({ type: 'tailtab-proxy-host-forget' }, proxyOrigin);
        });
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
        frame.contentWindow?.postMessage({ type: NODE_PORT } satisfies NodePortMessage, proxyOrigin, [port]);
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
      const m = e.data as ProxyHostToApp | null;
      if (m?.type === 'tailtab-proxy-host-ready' || m?.type === NEED_PORT) void hand();
      else if (m?.type === 'tailtab-proxy-host-error')
        fail(`web view proxy on ${proxyOrigin}: ${String(m.message ?? 'failed')}`);
    };
    window.addEventListener('message', onMessage);
    const timer = setTimeout(
      () => fail(`web view proxy on ${proxyOrigin} did not start within ${(o.timeoutMs ?? 15000) / 1000} s`),
      o.timeoutMs ?? 15000,
    );
    document.body.append(frame);
  });
}
