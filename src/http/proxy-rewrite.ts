// Pure rewriting for the web-view proxy: mapping between tailnet URLs and our /proxy/ paths, and
// what a proxied app's headers must become so it renders inside our frame without reaching
// beyond it. The proxied app runs on OUR origin (that is how the Service Worker can serve it), so
// headers that would act on the whole origin are removed (see each rule below).
import { HttpError } from './errors.js';
import type { HeaderList } from './wire.js';

export const PROXY_PREFIX = '/proxy/';

/** http://host:port/path?q → /proxy/<host>/<port>/path?q (the form the Service Worker serves). */
export function toProxyPath(u: URL, prefix = PROXY_PREFIX): string {
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return `${prefix}${encodeURIComponent(host)}/${u.port || '80'}${u.pathname || '/'}${u.search}${u.hash}`;
}

/** /proxy/<host>/<port>/rest → http://host:port/rest, or null if it is not a proxy path. */
export function fromProxyPath(pathAndQuery: string, prefix = PROXY_PREFIX): URL | null {
  if (!pathAndQuery.startsWith(prefix)) return null;
  const m = /^([^/?#]+)\/(\d{1,5})(\/[^#]*|\?[^#]*)?$/.exec(pathAndQuery.slice(prefix.length));
  if (!m) return null;
  let host: string;
  try {
    host = decodeURIComponent(m[1]);
  } catch {
    return null;
  }
  // A host name or an IP literal only: no "@", "/" or ":" tricks that would make URL() pick another host.
  if (!/^[A-Za-z0-9.-]+$/.test(host) && !/^[0-9A-Fa-f:.]+$/.test(host)) return null;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return null;
  let rest = m[3] ?? '/';
  if (rest.startsWith('?')) rest = '/' + rest;
  try {
    // Concatenated, not resolved: a rest of "//x" is a path here, not a network-path reference.
    return new URL(`http://${host.includes(':') ? `[${host}]` : host}:${port}${rest}`);
  } catch {
    return null;
  }
}

/** A URL reference found in a response header, resolved against the request URL and mapped into the proxy if it is http. */
export function rewriteUrlRef(ref: string, base: URL, prefix = PROXY_PREFIX): string {
  let u: URL;
  try {
    u = new URL(ref, base);
  } catch {
    return ref;
  }
  // https and other schemes leave the tailnet view: the frame goes there directly (if it can).
  if (u.protocol !== 'http:') return ref;
  return toProxyPath(u, prefix);
}

// Hop-by-hop (RFC 9110 §7.6.1) and framing fields: the Service Worker's Response re-frames the body.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);
// Fields that would act on our whole origin (the tailtab app and its stored keys), not on the frame:
//  - Set-Cookie: consumed by the node's CookieJar (a Service Worker cannot set cookies anyway).
//  - Strict-Transport-Security, Clear-Site-Data: would pin or wipe tailtab's own origin.
//  - Service-Worker-Allowed: would widen what a script could register as a worker on our origin.
//  - X-Frame-Options: the whole point is to show the app in our frame.
//  - Alt-Svc: points at the tailnet host's own endpoints, meaningless for our origin.
const DROP = new Set([
  'set-cookie',
  'set-cookie2',
  'strict-transport-security',
  'clear-site-data',
  'service-worker-allowed',
  'x-frame-options',
  'alt-svc',
]);

/**
 * Response fields for the Service Worker's Response: hop-by-hop and origin-wide fields removed,
 * Location / Content-Location / Refresh mapped into /proxy/, CSP frame-ancestors removed and the
 * app's own origin in CSP source lists replaced by 'self' (which is now our origin, where every
 * proxied resource is served), Referrer-Policy pinned to same-origin so that absolute-path
 * requests of the page still carry the Referer the Service Worker maps them by.
 */
export function rewriteResponseHeaders(headers: HeaderList, requestUrl: URL, prefix = PROXY_PREFIX): HeaderList {
  const out: HeaderList = [];
  const appOrigin = requestUrl.origin;
  for (const [k, v] of headers) {
    const n = k.toLowerCase();
    if (HOP.has(n) || DROP.has(n)) continue;
    if (n === 'location' || n === 'content-location') {
      out.push([k, rewriteUrlRef(v, requestUrl, prefix)]);
    } else if (n === 'refresh') {
      // "5; url=/next" (HTML's refresh syntax, also sent as a header).
      out.push([
        k,
        v.replace(
          /(url\s*=\s*['"]?)([^'";]+)/i,
          (_m, a: string, url: string) => a + rewriteUrlRef(url.trim(), requestUrl, prefix),
        ),
      ]);
    } else if (n === 'content-security-policy' || n === 'content-security-policy-report-only') {
      const csp = rewriteCsp(v, appOrigin);
      if (csp) out.push([k, csp]);
    } else if (n === 'referrer-policy') {
      continue;
    } else {
      out.push([k, v]);
    }
  }
  out.push(['Referrer-Policy', 'same-origin']);
  return out;
}

/** CSP (W3C CSP3): drop frame-ancestors (we are the ancestor) and map the app's origin to 'self'. */
export function rewriteCsp(policy: string, appOrigin: string): string {
  const esc = appOrigin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return policy
    .split(',')
    .map((p) =>
      p
        .split(';')
        .map((d) => d.trim())
        .filter((d) => d && !/^frame-ancestors(\s|$)/i.test(d))
        .map((d) => d.replace(new RegExp(`(^|\\s)${esc}(/\\S*)?(?=\\s|$)`, 'g'), "$1'self'"))
        .join('; '),
    )
    .filter((p) => p)
    .join(', ');
}

// Request fields the browser set for our origin that must not reach the tailnet host, or that the
// client sets itself (Host, framing, Accept-Encoding matching what it can decode).
const REQ_DROP = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'cookie',
  'origin',
  'referer',
  'accept-encoding',
  'service-worker',
  'service-worker-navigation-preload',
]);

export interface ProxiedRequestHeaders {
  headers: HeaderList;
}

/**
 * Request fields for the tailnet host: the page's own fields, with Referer and Origin translated
 * from our /proxy/ URLs back to the app's URLs (apps check Origin against CSRF), and the node's
 * cookies for that host.
 */
export function proxiedRequestHeaders(
  incoming: HeaderList,
  target: URL,
  method: string,
  referrerPath: string | null,
  cookie: string | null,
  prefix = PROXY_PREFIX,
): HeaderList {
  const out: HeaderList = incoming.filter(([k]) => !REQ_DROP.has(k.toLowerCase()));
  const ref = referrerPath ? fromProxyPath(referrerPath, prefix) : null;
  if (ref) out.push(['Referer', ref.href]);
  if (method !== 'GET' && method !== 'HEAD') out.push(['Origin', (ref ?? target).origin]);
  if (cookie) out.push(['Cookie', cookie]);
  return out;
}

/** The target of a proxy request message: only http:// URLs. */
export function parseTarget(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HttpError('bad-request', `invalid URL ${JSON.stringify(url.slice(0, 100))}`);
  }
  if (u.protocol !== 'http:')
    throw new HttpError('unsupported', `the web view only proxies http:// URLs, not ${u.protocol}`);
  return u;
}

/**
 * Absolute links to the app's own origin written into its HTML or CSS ("http://nas:8080/x", or
 * "http://nas/x" for port 80) would take the frame out of the proxy; they become "/proxy/nas/8080/x".
 * A streaming rewriter: bytes are handled as latin1 so UTF-8 passes through untouched, and a
 * tail shorter than one match is held back between chunks, so a link split across chunks is
 * found too. Other hosts' URLs and everything else pass unchanged.
 */
export class OriginLinkRewriter {
  private carry = '';
  private readonly re: RegExp;
  private readonly hold: number;

  constructor(
    private readonly target: URL,
    private readonly prefix = PROXY_PREFIX,
  ) {
    const host = target.hostname.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // The name must end where it ends: not "http://nas.evil" or "http://nas:80800".
    this.re = new RegExp(`http://${host}(?::(\\d+))?(?![\\w.:-])`, 'gi');
    this.hold = `http://${target.hostname}:65535`.length + 1;
  }

  private replace(text: string, cut: number): { out: string; rest: string } {
    const port = Number(this.target.port || 80);
    const base = `${this.prefix}${encodeURIComponent(this.target.hostname.replace(/^\[|\]$/g, ''))}/${port}`;
    let out = '';
    let emitted = 0;
    this.re.lastIndex = 0;
    for (let m = this.re.exec(text); m; m = this.re.exec(text)) {
      if (m.index >= cut) break;
      const p = m[1] === undefined ? 80 : Number(m[1]);
      out += text.slice(emitted, m.index) + (p === port ? base : m[0]);
      emitted = m.index + m[0].length;
    }
    const until = Math.max(cut, emitted);
    out += text.slice(emitted, until);
    return { out, rest: text.slice(until) };
  }

  push(chunk: Uint8Array): Uint8Array {
    let s = this.carry;
    for (let i = 0; i < chunk.length; i += 8192)
      s += String.fromCharCode(...chunk.subarray(i, Math.min(chunk.length, i + 8192)));
    const cut = s.length - this.hold;
    if (cut <= 0) {
      this.carry = s;
      return new Uint8Array(0);
    }
    const { out, rest } = this.replace(s, cut);
    this.carry = rest;
    return latin1(out);
  }

  flush(): Uint8Array {
    const { out } = this.replace(this.carry, this.carry.length);
    this.carry = '';
    return latin1(out);
  }

  /** The same as a TransformStream. */
  static stream(target: URL, prefix = PROXY_PREFIX): TransformStream<Uint8Array, Uint8Array> {
    const r = new OriginLinkRewriter(target, prefix);
    return new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        const o = r.push(chunk);
        if (o.length) c.enqueue(o);
      },
      flush(c) {
        const o = r.flush();
        if (o.length) c.enqueue(o);
      },
    });
  }
}

function latin1(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/** Whether a response body is markup or a stylesheet whose links we rewrite. */
export function rewritesLinks(contentType: string | null): boolean {
  const t = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return t === 'text/html' || t === 'application/xhtml+xml' || t === 'text/css';
}

/** Served by the Service Worker itself; loaded first by every proxied frame document. */
export const FRAME_SCRIPT_PATH = '/__tailtab/frame.js';
const FRAME_TAG = `<script src="${FRAME_SCRIPT_PATH}"></script>`;

/**
 * Puts the frame script first in a proxied HTML document: right after `<!doctype …>` if the
 * document starts with one (so the document mode is unchanged), else at the very start. The HTML
 * parser places a script met before `<html>`/`<head>` in the implied head, and later `<html>`
 * attributes still apply (HTML § "before html" / "in head" insertion modes). Holds back at most
 * 1 KiB while looking for the doctype's end.
 */
export class FrameScriptInjector {
  private buf = '';
  private done = false;

  push(chunk: Uint8Array): Uint8Array {
    if (this.done) return chunk;
    for (let i = 0; i < chunk.length; i += 8192)
      this.buf += String.fromCharCode(...chunk.subarray(i, Math.min(chunk.length, i + 8192)));
    return this.decide(false);
  }

  flush(): Uint8Array {
    if (this.done) return new Uint8Array(0);
    return this.decide(true);
  }

  private decide(final: boolean): Uint8Array {
    const s = this.buf;
    // Optional UTF-8 BOM (as latin1) and whitespace before the doctype.
    const lead = /^(\xef\xbb\xbf)?[\t\n\f\r ]*/.exec(s)![0].length;
    const rest = s.slice(lead);
    const probe = '<!doctype';
    if (rest.length < probe.length && probe.startsWith(rest.toLowerCase()) && !final && s.length < 1024)
      return new Uint8Array(0);
    let at = 0;
    if (rest.slice(0, probe.length).toLowerCase() === probe) {
      const gt = rest.indexOf('>');
      if (gt < 0) {
        if (!final && s.length < 1024) return new Uint8Array(0);
        at = 0; // not a doctype we understand: put the script first anyway
      } else {
        at = lead + gt + 1;
      }
    }
    this.done = true;
    this.buf = '';
    return latin1(s.slice(0, at) + FRAME_TAG + s.slice(at));
  }

  static stream(): TransformStream<Uint8Array, Uint8Array> {
    const r = new FrameScriptInjector();
    return new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        const o = r.push(chunk);
        if (o.length) c.enqueue(o);
      },
      flush(c) {
        const o = r.flush();
        if (o.length) c.enqueue(o);
      },
    });
  }
}
