// Pure helpers of the Service Worker's proxy: which tailnet host and port a /proxy/ path names,
// and which one a worker bound to a target's own origin may serve. No worker state here.

/** A tailnet host and port as the proxy paths carry them (the port as written in the path). */
import { parseTargetLabel } from '../proxy-origin.js';

export interface Target {
  host: string;
  port: string;
}

/** A target and the path and query asked of it. */
export interface ProxyTarget extends Target {
  rest: string;
}

/** The one host and port a worker registered as /sw.js?proxy=host serves. */
export interface BoundTarget {
  host: string;
  port: number;
}

export const PROXY_PREFIX = '/proxy/';

/**
 * The target a proxy-host origin is for, from its first DNS label (p<port>-<machine>, see
 * src/ui/proxy-origin.ts targetLabel). A proxy-host origin without a target label serves nothing.
 */
export function boundTarget(hostname: string): BoundTarget {
  // The label is the one the page made (proxy-origin.ts targetLabel); read back by its own parser.
  return parseTargetLabel(hostname.split('.')[0] ?? '') ?? { host: '', port: 0 };
}

/** Whether a /proxy/ target is this origin's own (a MagicDNS name matches by its machine label). */
export function isBoundTarget(bound: BoundTarget | null, t: Target): boolean {
  if (!bound) return true;
  if (Number(t.port) !== bound.port) return false;
  const h = String(t.host).toLowerCase().replace(/\.$/, '');
  return h === bound.host || (!/^\d+(\.\d+){3}$/.test(h) && h.split('.')[0] === bound.host);
}

/** /proxy/<host>/<port>/<rest> → {host, port, rest} */
export function parseProxyPath(pathAndQuery: string): ProxyTarget | null {
  const m = /^\/proxy\/([^/?#]+)\/(\d{1,5})(\/[^#]*|\?[^#]*)?$/.exec(pathAndQuery);
  if (!m) return null;
  let host: string;
  try {
    host = decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
  let rest = m[3] || '/';
  if (rest[0] === '?') rest = '/' + rest;
  return { host, port: m[2]!, rest };
}

export function targetUrl(t: ProxyTarget): string {
  const h = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `http://${h}:${t.port}${t.rest}`;
}

/** `s` as a URL when it is one on `origin`, else null. */
export function sameOriginUrl(s: string | null | undefined, origin: string): URL | null {
  try {
    const u = s ? new URL(s) : null;
    return u && u.origin === origin ? u : null;
  } catch {
    return null;
  }
}

/** The Referer for the app: the page's own URL, under /proxy/ (the node translates it back). */
export function proxiedReferrer(referrer: string, origin: string, target: Target): string | undefined {
  const r = sameOriginUrl(referrer, origin);
  if (!r) return undefined;
  if (r.pathname.startsWith(PROXY_PREFIX)) return r.pathname + r.search;
  if (r.pathname.startsWith('/__tailtab/')) return undefined;
  return `${PROXY_PREFIX}${encodeURIComponent(target.host)}/${target.port}${r.pathname}${r.search}`;
}
