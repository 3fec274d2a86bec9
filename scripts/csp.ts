// The Content-Security-Policy tailtab's pages are served with (dev server, `vite preview`, and the
// production headers/nginx examples written from it). What it keeps out: any script that is not one
// of our files (an injected <script>, an inline handler, javascript: URLs), plugins, a <base> that
// re-points our relative URLs, and framing of tailtab by other sites (clickjacking).
//
// What it must let in, and why:
//  - style-src 'unsafe-inline': xterm.js and Lit's fallback write style attributes and <style>
//    elements; styles cannot run code.
//  - connect-src https: wss:: the node talks to the control server and DERP relays the person
//    chose (any host); plain http/ws only to this machine (test rigs, the demo).
//  - frame-src: our own origin (downloads, same-origin web view) and the web view's proxy origin.
//  - worker-src 'self' blob:: the node's (Shared)Worker and the Service Worker.

// (CSP host sources cannot name an IPv6 literal, so [::1] is not listed.)
const LOCAL = ['127.0.0.1:*', 'localhost:*', '*.localhost:*'];

export interface AppCspOptions {
  /** Sources the web view frames besides our own origin: each app's own origin under the proxy origin. */
  frameOrigins?: string[];
}

/** The policy for the app, the widget demo and everything else served on tailtab's own origin. */
export function appCsp(o: AppCspOptions = {}): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self' https: wss: ${LOCAL.flatMap((h) => [`http://${h}`, `ws://${h}`]).join(' ')}`,
    "worker-src 'self' blob:",
    `frame-src 'self' ${(o.frameOrigins ?? []).join(' ')}`.trim(),
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * The policy for what the server itself answers on the proxy origin (proxy-host.html, its script,
 * sw.js): only tailtab's own app origin may frame it, and the vendor pages named as embedding the
 * widget with `proxy-origin` (src/ui/widget.ts), whose proxy-host frame and device frame live here. Proxied apps are answered by the Service
 * Worker with their own headers, not this.
 */
export function proxyOriginCsp(appOrigins: string[]): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    `frame-ancestors ${appOrigins.length ? appOrigins.join(' ') : "'none'"}`,
  ].join('; ');
}

/**
 * Which policy a request gets, from its Host header. The web view runs each app on its own origin
 * `<label>.<proxy host>` (src/ui/proxy-origin.ts): those hosts (and the proxy host itself) get the
 * proxy policy, framed only by the app; every other host gets the app policy, framing them. The
 * proxy host is the configured proxy origin's, or `proxy.<name>` for an app on `<name>.localhost`
 * (the demo).
 */
export function cspForHost(
  host: string | undefined,
  o: { scheme?: string; proxyOrigin?: string; appOrigin?: string; widgetOrigins?: string[] } = {},
): string {
  const scheme = o.scheme ?? 'http';
  const h = (host ?? '').toLowerCase();
  const configured = o.proxyOrigin ? new URL(o.proxyOrigin) : undefined;
  // Vendors' pages that embed <tailtab-connect proxy-origin=…> frame the proxy origin like the app does.
  const widgets = (o.widgetOrigins ?? []).map((w) => new URL(w).origin);
  if (configured && (h === configured.host || h.endsWith(`.${configured.host}`))) {
    return proxyOriginCsp([...(o.appOrigin ? [new URL(o.appOrigin).origin] : []), ...widgets]);
  }
  const demo = /^(?:[^.:]+\.)?proxy\.([^:]+\.localhost(?::\d+)?)$/.exec(h);
  if (demo) return proxyOriginCsp([`${scheme}://${demo[1]}`, ...widgets]);
  const frames: string[] = [];
  if (configured) frames.push(`${configured.protocol}//*.${configured.host}`);
  if (/^[^:]+\.localhost(:\d+)?$/.test(h)) frames.push(`${scheme}://*.proxy.${h}`);
  return appCsp({ frameOrigins: frames });
}
