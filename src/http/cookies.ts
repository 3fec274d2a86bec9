// A cookie jar for the web-view proxy (RFC 6265 §5.2–5.4, the parts a homelab app's login needs).
//
// Why the node keeps cookies: a Service Worker never sees the Cookie request header (the browser
// adds cookies below it) and cannot pass Set-Cookie on (a forbidden response header), so the
// browser's own jar is out of the loop for proxied apps. The node stores them per host instead,
// in memory: a session cookie lives as long as the node runs.
//
// Time comes from the injected Clock (monotonic). Expires= is turned into a lifetime relative to
// the same response's Date header, so neither our wall clock nor the server's skew matters.
import { realClock, type Clock } from '../platform/clock.js';

interface StoredCookie {
  name: string;
  value: string;
  /** Host name the cookie was set by (host-only) or the Domain attribute's value. */
  domain: string;
  hostOnly: boolean;
  path: string;
  expiresAt: number | null; // Clock ms; null = session
  secure: boolean;
  seq: number;
}

const MAX_PER_HOST = 60;
const MAX_COOKIE_BYTES = 4096;

/** RFC 6265 §5.1.4 default-path: the request path up to (not including) its last "/". */
function defaultPath(pathname: string): string {
  if (!pathname.startsWith('/')) return '/';
  const i = pathname.lastIndexOf('/');
  return i <= 0 ? '/' : pathname.slice(0, i);
}

/** RFC 6265 §5.1.4 path-match. */
function pathMatch(reqPath: string, cookiePath: string): boolean {
  if (reqPath === cookiePath) return true;
  if (!reqPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || reqPath[cookiePath.length] === '/';
}

/** RFC 6265 §5.1.3 domain-match (no public-suffix list: tailnet names are private anyway). */
function domainMatch(host: string, domain: string): boolean {
  if (host === domain) return true;
  if (/^[0-9.]+$/.test(host) || host.includes(':')) return false; // IP literals match only exactly
  return host.endsWith('.' + domain);
}

export class CookieJar {
  private cookies: StoredCookie[] = [];
  private seq = 0;

  constructor(private readonly clock: Clock = realClock) {}

  /** Stores the Set-Cookie values of a response to `url`. `date` is the response's Date header. */
  setFromResponse(url: URL, setCookies: string[], date: string | null = null): void {
    const host = url.hostname.toLowerCase();
    const serverNow = date ? Date.parse(date) : NaN;
    for (const line of setCookies) {
      if (line.length > MAX_COOKIE_BYTES) continue;
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      // §5.2 steps 2–5: no "=" means ignore the cookie; an empty name is allowed only with "=".
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (!name && !value) continue;
      let path = defaultPath(url.pathname);
      let domain = host;
      let hostOnly = true;
      let expiresAt: number | null = null;
      let maxAgeSeen = false;
      let secure = false;
      for (const a of attrs) {
        const i = a.indexOf('=');
        const k = (i < 0 ? a : a.slice(0, i)).trim().toLowerCase();
        const v = i < 0 ? '' : a.slice(i + 1).trim();
        if (k === 'max-age') {
          // §5.2.2: Max-Age wins over Expires.
          if (!/^-?[0-9]+$/.test(v)) continue;
          maxAgeSeen = true;
          const s = Number(v);
          expiresAt = s <= 0 ? -Infinity : this.clock.now() + s * 1000;
        } else if (k === 'expires' && !maxAgeSeen) {
          const t = Date.parse(v);
          if (Number.isNaN(t)) continue;
          if (!Number.isNaN(serverNow)) expiresAt = t <= serverNow ? -Infinity : this.clock.now() + (t - serverNow);
          else if (t < Date.UTC(2000, 0, 1)) expiresAt = -Infinity; // the "delete me" idiom (Expires in 1970)
        } else if (k === 'domain' && v) {
          const d = v.replace(/^\./, '').toLowerCase();
          if (!domainMatch(host, d)) {
            domain = ''; // §5.3 step 6: a Domain the host is not in → ignore the cookie
          } else {
            domain = d;
            hostOnly = d === host;
          }
        } else if (k === 'path') {
          path = v.startsWith('/') ? v : defaultPath(url.pathname);
        } else if (k === 'secure') {
          secure = true;
        }
      }
      if (!domain) continue;
      const i = this.cookies.findIndex((c) => c.name === name && c.domain === domain && c.path === path);
      if (i >= 0) this.cookies.splice(i, 1);
      if (expiresAt === -Infinity) continue; // deleted
      this.cookies.push({ name, value, domain, hostOnly, path, expiresAt, secure, seq: this.seq++ });
      const mine = this.cookies.filter((c) => c.domain === domain);
      if (mine.length > MAX_PER_HOST) this.cookies.splice(this.cookies.indexOf(mine[0]), 1);
    }
  }

  /** The Cookie header for a request to `url` (RFC 6265 §5.4), or null. */
  cookieHeader(url: URL): string | null {
    const host = url.hostname.toLowerCase();
    const now = this.clock.now();
    this.cookies = this.cookies.filter((c) => c.expiresAt === null || c.expiresAt > now);
    const match = this.cookies
      .filter(
        (c) => (c.hostOnly ? c.domain === host : domainMatch(host, c.domain)) && pathMatch(url.pathname || '/', c.path),
      )
      // Secure cookies are sent too: the tailnet hop is encrypted end to end by WireGuard.
      .sort((a, b) => b.path.length - a.path.length || a.seq - b.seq);
    if (!match.length) return null;
    return match.map((c) => (c.name ? `${c.name}=${c.value}` : c.value)).join('; ');
  }

  /** Forget all cookies (or those of one host). */
  clear(host?: string): void {
    this.cookies = host ? this.cookies.filter((c) => c.domain !== host.toLowerCase()) : [];
  }

  get size(): number {
    return this.cookies.length;
  }
}
