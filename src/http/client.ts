// HttpClient: a fetch-like HTTP/1.1 client (RFC 9112, semantics RFC 9110) over an injected
// dialer — the node's TCP over the tailnet in the app, a loopback socket adapter in tests.
// Keep-alive pooling per host:port, Content-Length and chunked bodies both ways, streamed
// responses with backpressure, gzip/deflate decoding, redirects only where a policy allows
// (by default: the same host), timeouts, and one error type (HttpError).
import { realClock, type Clock } from '../platform/clock.js';
import { readAll } from '../platform/streams.js';
import { HttpError } from './errors.js';
import { ConnectionPool, type PoolStats } from './pool.js';
import type { Dialer, Conn } from './connection.js';
import { decodableCodings, decodeBody } from './decode.js';
import {
  HttpHeaders,
  encodeRequestHead,
  hostHeader,
  toHeaderList,
  type HeadersInput,
  type HeaderList,
} from './wire.js';

export { HttpError } from './errors.js';
export type { HttpErrorCode } from './errors.js';
export type { Dialer, Conn, HeaderList, HeadersInput, PoolStats };
export { HttpHeaders } from './wire.js';

export interface HttpClientOptions {
  dial: Dialer;
  clock?: Clock;
  /** Connections in use at once per host:port (default 6, like browsers). */
  maxConnectionsPerHost?: number;
  /** Close idle keep-alive connections after this long (default 30 s). */
  idleTimeoutMs?: number;
  connectTimeoutMs?: number; // default 10 s
  /** From sending the request to the complete response head (default 30 s). */
  headersTimeoutMs?: number;
  /** Longest silence between body bytes (default 60 s). */
  bodyTimeoutMs?: number;
  maxRedirects?: number; // default 10
  /**
   * Whether a redirect from `from` to `to` may be followed. Default: the same host name (any
   * port). The node passes "is `to.hostname` a tailnet peer or MagicDNS name" here, so a
   * redirect never leads the client out of the tailnet.
   */
  redirectPolicy?: (to: URL, from: URL) => boolean;
  /** User-Agent sent when the request has none (default "tailtab"). */
  userAgent?: string;
  /**
   * Which requests are sent again, once, on a new connection when a reused keep-alive connection
   * closes before any byte of the response (the server closed it as idle while the request was on
   * its way). 'idempotent' (default, RFC 9112 §9.3.1): GET, HEAD, PUT, DELETE, OPTIONS, TRACE.
   * 'any': every request whose body can be sent again, as browsers do (Chromium's
   * HttpNetworkTransaction::ShouldResendRequest and Firefox check only "reused, no response
   * head yet", not the method) — for the web view, which stands in for the browser's own network.
   */
  resendOnStaleConnection?: 'idempotent' | 'any';
}

export interface HttpRequestInit {
  method?: string;
  /** "http://host:port/path?query"; or give host, port and path. */
  url?: string | URL;
  host?: string;
  port?: number;
  path?: string;
  headers?: HeadersInput;
  /** Uint8Array / string: sent with Content-Length; ReadableStream: sent chunked. */
  body?: Uint8Array | string | ReadableStream<Uint8Array> | null;
  /** 'follow' (default) within redirectPolicy; 'manual' returns 3xx responses as they are. */
  redirect?: 'follow' | 'manual';
  /** Decode gzip/deflate (default true; asks for them with Accept-Encoding when the caller did not). */
  decompress?: boolean;
  signal?: AbortSignal;
  /** Overrides the client's headersTimeoutMs for this request. */
  timeoutMs?: number;
  /** Overrides the client's bodyTimeoutMs (longest silence between body bytes) for this request. */
  bodyTimeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  /** The response fields, repeated ones (Set-Cookie) kept apart. When the body was decoded,
   *  Content-Encoding and Content-Length are removed, as they no longer describe it. */
  headers: HttpHeaders;
  /** The final URL (after redirects). */
  url: string;
  redirected: boolean;
  /** True when gzip/deflate was undone. */
  decoded: boolean;
  body: ReadableStream<Uint8Array>;
  bytes(): Promise<Uint8Array>;
  text(): Promise<string>;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
// Framing and connection management are ours (RFC 9112 §6, §9.6; RFC 9110 §7.6.1).
const OWN_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'upgrade',
  'trailer',
  'content-length',
]);

interface Target {
  host: string;
  port: number;
  path: string;
  url: URL;
}

function resolveTarget(init: HttpRequestInit): Target {
  if (init.url !== undefined) {
    let u: URL;
    try {
      u = new URL(String(init.url));
    } catch {
      throw new HttpError('bad-request', `invalid URL ${JSON.stringify(String(init.url))}`);
    }
    if (u.protocol === 'https:')
      throw new HttpError(
        'unsupported',
        'https is not supported: this client speaks plain HTTP over the (already encrypted) tailnet',
      );
    if (u.protocol !== 'http:') throw new HttpError('bad-request', `unsupported URL scheme ${u.protocol}`);
    if (u.username || u.password)
      throw new HttpError('bad-request', 'credentials in the URL are not supported; send an Authorization header');
    const host = u.hostname.replace(/^\[|\]$/g, '');
    return { host, port: u.port ? Number(u.port) : 80, path: (u.pathname || '/') + u.search, url: u };
  }
  if (!init.host) throw new HttpError('bad-request', 'a request needs a url or a host');
  const port = init.port ?? 80;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new HttpError('bad-request', `invalid port ${port}`);
  const path = init.path ?? '/';
  const hostPart = init.host.includes(':') ? `[${init.host}]` : init.host;
  let url: URL;
  try {
    url = new URL(path, `http://${hostPart}:${port}`);
  } catch {
    throw new HttpError('bad-request', `invalid host ${JSON.stringify(init.host)}`);
  }
  return { host: init.host, port, path, url };
}

export class HttpClient {
  private readonly pool: ConnectionPool;
  private readonly clock: Clock;
  private readonly o: Required<Omit<HttpClientOptions, 'dial' | 'clock'>>;

  constructor(opts: HttpClientOptions) {
    this.clock = opts.clock ?? realClock;
    this.o = {
      maxConnectionsPerHost: opts.maxConnectionsPerHost ?? 6,
      idleTimeoutMs: opts.idleTimeoutMs ?? 30_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      headersTimeoutMs: opts.headersTimeoutMs ?? 30_000,
      bodyTimeoutMs: opts.bodyTimeoutMs ?? 60_000,
      maxRedirects: opts.maxRedirects ?? 10,
      redirectPolicy: opts.redirectPolicy ?? ((to, from) => to.hostname === from.hostname),
      userAgent: opts.userAgent ?? 'tailtab',
      resendOnStaleConnection: opts.resendOnStaleConnection ?? 'idempotent',
    };
    this.pool = new ConnectionPool(opts.dial, this.clock, {
      maxPerHost: this.o.maxConnectionsPerHost,
      idleTimeoutMs: this.o.idleTimeoutMs,
      connectTimeoutMs: this.o.connectTimeoutMs,
    });
  }

  stats(): PoolStats {
    return this.pool.stats();
  }

  /** Closes idle connections; later requests fail. Bodies being read finish or fail on their own. */
  close(): void {
    this.pool.close();
  }

  async request(init: HttpRequestInit): Promise<HttpResponse> {
    let target = resolveTarget(init);
    let method = (init.method ?? 'GET').toUpperCase();
    let body: Uint8Array | ReadableStream<Uint8Array> | null =
      typeof init.body === 'string' ? new TextEncoder().encode(init.body) : (init.body ?? null);
    const headers = new HttpHeaders(toHeaderList(init.headers).filter(([k]) => !OWN_HEADERS.has(k.toLowerCase())));
    const decompress = init.decompress ?? true;
    const first = target.url;
    for (let hops = 0; ; hops++) {
      const res = await this.once(target, method, headers, body, init, decompress, hops > 0);
      const loc = res.headers.get('location');
      if (init.redirect === 'manual' || ![301, 302, 303, 307, 308].includes(res.status) || loc === null) {
        return res;
      }
      // RFC 9110 §15.4: follow Location (a URI reference, relative to the current URL).
      await res.body.cancel().catch(() => {});
      if (hops >= this.o.maxRedirects)
        throw new HttpError('redirect', `more than ${this.o.maxRedirects} redirects starting at ${first.href}`);
      let to: URL;
      try {
        to = new URL(loc, target.url);
      } catch {
        throw new HttpError('redirect', `invalid redirect Location ${JSON.stringify(loc.slice(0, 100))}`);
      }
      if (to.protocol === 'https:') {
        // Tailnet hosts are reached over WireGuard; this client has no TLS. Name the http: URL
        // that reaches the same place, so a person can follow it by hand (issue 16).
        const plain = new URL(to.href);
        plain.protocol = 'http:';
        if (plain.port === '443' || to.port === '') plain.port = '';
        if (this.o.redirectPolicy(plain, target.url)) {
          throw new HttpError(
            'redirect',
            `${target.url.href} redirects to ${to.href}, but TLS to tailnet hosts is not supported (the tailnet already encrypts the traffic); use ${plain.href} instead`,
          );
        }
      }
      if (to.protocol !== 'http:' || !this.o.redirectPolicy(to, target.url)) {
        throw new HttpError(
          'redirect',
          `redirect from ${target.url.href} to ${to.href} leaves the allowed tailnet hosts; not followed`,
        );
      }
      // §15.4.4 (303) and the historic POST→GET of 301/302 (§15.4.2, §15.4.3): drop the body.
      if (res.status === 303 ? method !== 'HEAD' : (res.status === 301 || res.status === 302) && method === 'POST') {
        method = 'GET';
        body = null;
        headers.delete('content-type');
      } else if (body instanceof ReadableStream) {
        throw new HttpError('redirect', `a ${res.status} redirect needs the request body again, but it was a stream`);
      }
      if (to.host !== target.url.host) {
        // Credentials are for the host they were given to.
        headers.delete('authorization');
        headers.delete('cookie');
      }
      target = resolveTarget({ url: to });
    }
  }

  private async once(
    t: Target,
    method: string,
    h: HttpHeaders,
    body: Uint8Array | ReadableStream<Uint8Array> | null,
    init: HttpRequestInit,
    decompress: boolean,
    redirected: boolean,
  ): Promise<HttpResponse> {
    const list: HeaderList = [['Host', hostHeader(t.host, t.port)]];
    for (const [k, v] of h.entries()) list.push([k, v]);
    const has = (n: string) => list.some(([k]) => k.toLowerCase() === n);
    if (!has('user-agent') && this.o.userAgent) list.push(['User-Agent', this.o.userAgent]);
    if (decompress && !has('accept-encoding')) list.push(['Accept-Encoding', 'gzip, deflate']);
    if (body instanceof Uint8Array) list.push(['Content-Length', String(body.length)]);
    else if (body) list.push(['Transfer-Encoding', 'chunked']);
    // RFC 9110 §8.6: a body-less POST/PUT/PATCH still says Content-Length: 0.
    else if (['POST', 'PUT', 'PATCH'].includes(method)) list.push(['Content-Length', '0']);

    // Refuse an unencodable request (header injection, bad method or target) before taking a connection.
    encodeRequestHead({ method, target: t.path, headers: list });
    const replayable = !(body instanceof ReadableStream);
    for (let attempt = 0; ; attempt++) {
      const conn = await this.pool.acquire(t.host, t.port, init.signal, attempt > 0);
      const wasReused = conn.uses > 0;
      try {
        const r = await conn.exchange(
          {
            method,
            target: t.path,
            headers: list,
            body,
            headersTimeoutMs: init.timeoutMs ?? this.o.headersTimeoutMs,
            bodyTimeoutMs: init.bodyTimeoutMs ?? this.o.bodyTimeoutMs,
            signal: init.signal,
          },
          (reusable, ka) => this.pool.release(conn, reusable, ka),
        );
        const headers = new HttpHeaders(r.head.headers.map(([k, v]) => [k, v]));
        let stream = r.body;
        let decoded = false;
        // An empty body stays empty whatever its Content-Encoding says (as browsers treat it).
        if (decompress && r.framing !== 'none' && r.contentLength !== 0) {
          const codings = decodableCodings(headers.get('content-encoding'));
          if (codings && codings.length) {
            stream = decodeBody(stream, codings);
            headers.delete('content-encoding');
            headers.delete('content-length');
            decoded = true;
          }
        }
        const s = stream;
        return {
          status: r.head.status,
          statusText: r.head.statusText,
          headers,
          url: t.url.href,
          redirected,
          decoded,
          body: s,
          bytes: () => readAll(s),
          text: async () => new TextDecoder().decode(await readAll(s)),
        };
      } catch (e) {
        // RFC 9112 §9.3.1: a reused connection the server had already closed fails before any
        // response byte; an idempotent request with a replayable body is retried once on a new one.
        const err = e as HttpError & { beforeResponse?: boolean };
        if (
          attempt === 0 &&
          wasReused &&
          err.beforeResponse &&
          err.code === 'closed' &&
          replayable &&
          (this.o.resendOnStaleConnection === 'any' || IDEMPOTENT.has(method))
        )
          continue;
        throw e;
      }
    }
  }
}
