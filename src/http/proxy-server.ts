// The node side of the web-view proxy. The Service Worker (src/ui/sw/) turns each fetch of a
// /proxy/<host>/<port>/… frame into a message on a MessagePort; this answers them with the
// HttpClient over the tailnet and streams the body back. The messages both ways, and the decoder
// every incoming one passes, are in proxy-protocol.ts.
//
// Flow control: a MessagePort has no backpressure, so the node keeps at most `windowBytes` of
// body un-acknowledged per response; a slow frame therefore slows the tailnet TCP connection
// instead of filling the Service Worker's memory.
import { realClock, type Clock, type TimerHandle } from '../platform/clock.js';
import type { MessagePortLike } from '../platform/port.js';
import type { HttpClient } from './client.js';
import { HttpError } from './errors.js';
import { CookieJar } from './cookies.js';
import {
  FrameScriptInjector,
  OriginLinkRewriter,
  parseTarget,
  proxiedRequestHeaders,
  rewriteResponseHeaders,
  rewritesLinks,
  PROXY_PREFIX,
} from './proxy-rewrite.js';
import type { Dialer } from './connection.js';
import { bridgeWebSocket } from './proxy-websocket.js';
import { decodeToNode, type ProxyFromNode, type ProxyToNodeDecoded, type Refused } from './proxy-protocol.js';

export interface HttpProxyOptions {
  /** Shared by every port of one node, so logins survive a Service Worker restart. Default: one jar per HttpClient. */
  cookies?: CookieJar;
  /** Which targets may be fetched (the node passes "is a tailnet peer"); refused ones get an error. */
  allowTarget?: (host: string, port: number) => boolean;
  /** Un-acknowledged body bytes per response, and message bytes per WebSocket (default 1 MiB). */
  windowBytes?: number;
  /** Give up on a response whose frame stopped acknowledging for this long (default 120 s). */
  stallTimeoutMs?: number;
  /**
   * Wait this long for a response head (default 300 s, like a browser: long-polling apps hold
   * requests open) and for the next body bytes (default 300 s: Server-Sent Events streams idle).
   */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** The TCP dialer for WebSockets of proxied pages (the node's); without it they are refused. */
  dial?: Dialer;
  /** Largest WebSocket message taken from a server (default 16 MiB; beyond it: close 1009). */
  maxWebSocketMessageBytes?: number;
  clock?: Clock;
  /** Optional log line per request and failure (no cookies or bodies in it). */
  log?: (line: string) => void;
}

export interface HttpProxyHandle {
  /** Cancels every request in flight and stops answering the port. */
  close(): void;
  readonly stats: {
    requests: number;
    errors: number;
    malformed: number;
    bytes: number;
    active: number;
    websockets: number;
  };
}

const jars = new WeakMap<HttpClient, CookieJar>();

interface Pending {
  ac: AbortController;
  inflight: number;
  wake: (() => void) | null;
  cancelled: boolean;
}

/** What the requests of one port share: the client, its options, the cookie jar, the bookkeeping. */
interface ProxyContext {
  client: HttpClient;
  opts: HttpProxyOptions;
  cookies: CookieJar;
  pending: Map<number, Pending>;
  stats: HttpProxyHandle['stats'];
  post: (m: ProxyFromNode, transfer?: Transferable[]) => void;
  windowBytes: number;
  stallMs: number;
  clock: Clock;
}

export function serveHttpProxy(
  port: MessagePortLike,
  client: HttpClient,
  opts: HttpProxyOptions = {},
): HttpProxyHandle {
  const clock = opts.clock ?? realClock;
  let jar = opts.cookies ?? jars.get(client);
  if (!jar) jars.set(client, (jar = new CookieJar(clock)));
  const cookies = jar;
  const windowBytes = opts.windowBytes ?? 1 << 20;
  const stallMs = opts.stallTimeoutMs ?? 120_000;
  const pending = new Map<number, Pending>();
  const stats = { requests: 0, errors: 0, malformed: 0, bytes: 0, active: 0, websockets: 0 };
  let closed = false;

  const post = (m: ProxyFromNode, transfer?: Transferable[]) => {
    if (closed) return;
    try {
      port.postMessage(m, transfer ?? []);
    } catch {
      /* the other side is gone; in-flight requests end through their stall timeout */
    }
  };
  const ctx: ProxyContext = { client, opts, cookies, pending, stats, post, windowBytes, stallMs, clock };

  // One small function per message type; what arrives was decoded first (proxy-protocol.ts).
  const handlers: { [K in ProxyToNodeDecoded['type']]: (m: Extract<ProxyToNodeDecoded, { type: K }>) => void } = {
    request(m) {
      if (pending.has(m.id))
        return refuse({ ok: false, id: m.id, type: 'request', reason: 'request id already in flight' });
      void handle(ctx, m);
    },
    ack(m) {
      const p = pending.get(m.id);
      if (p && m.bytes > 0) {
        p.inflight = Math.max(0, p.inflight - m.bytes);
        p.wake?.();
      }
    },
    websocket: (m) => openWebSocket(ctx, m.page, m.url, m.protocols),
    // The Service Worker checks the node is alive while a response is slow to come.
    ping: (m) => post({ type: 'pong', id: m.id }),
    cancel(m) {
      const p = pending.get(m.id);
      if (p) {
        p.cancelled = true;
        p.ac.abort();
        p.wake?.();
      }
    },
  };

  // Malformed messages are counted and, where they carry an id, answered; never thrown.
  function refuse(bad: Refused): void {
    stats.malformed++;
    if (bad.type === 'request' && bad.id !== undefined)
      post({ type: 'error', id: bad.id, message: 'malformed proxy request message' });
    else if (bad.type === 'websocket')
      bad.page?.postMessage({ type: 'close', code: 1006, reason: '', wasClean: false });
  }

  port.onmessage = (ev: MessageEvent) => {
    if (closed) return;
    const d = decodeToNode(ev.data, ev.ports ?? []);
    if (!d.ok) return refuse(d);
    (handlers[d.msg.type] as (m: ProxyToNodeDecoded) => void)(d.msg);
  };
  port.start?.();

  return {
    stats,
    close() {
      closed = true;
      port.onmessage = null;
      // WebSockets live on their own ports and outlive a replaced Service Worker port; they end
      // only with the page (its close) or with the node.
      for (const p of pending.values()) {
        p.cancelled = true;
        p.ac.abort();
        p.wake?.();
      }
    },
  };
}

/** One proxied request: fetched over the tailnet, its body streamed back within the window. */
async function handle(ctx: ProxyContext, m: Extract<ProxyToNodeDecoded, { type: 'request' }>): Promise<void> {
  const { client, opts, cookies, pending, stats, post, windowBytes, stallMs, clock } = ctx;
  const id = m.id;
  const p: Pending = { ac: new AbortController(), inflight: 0, wake: null, cancelled: false };
  pending.set(id, p);
  stats.requests++;
  stats.active++;
  let target: URL | undefined;
  try {
    target = parseTarget(m.url);
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const tport = Number(target.port || 80);
    if (opts.allowTarget && !opts.allowTarget(host, tport)) {
      throw new HttpError(
        'bad-request',
        `${host}:${tport} is not a machine this web view may reach (not in the tailnet, or another app's host and port)`,
      );
    }
    const method = String(m.method ?? 'GET').toUpperCase();
    const referrer = m.referrer ?? null;
    const headers = proxiedRequestHeaders(
      m.headers,
      target,
      method,
      referrer,
      cookies.cookieHeader(target),
      PROXY_PREFIX,
    );
    const reqBody = m.body && method !== 'GET' && method !== 'HEAD' ? new Uint8Array(m.body) : null;
    // Redirects are passed to the frame (rewritten into /proxy/), so its URL stays the app's URL.
    const res = await client.request({
      method,
      url: target,
      headers,
      body: reqBody,
      redirect: 'manual',
      signal: p.ac.signal,
      timeoutMs: opts.headersTimeoutMs ?? 300_000,
      bodyTimeoutMs: opts.bodyTimeoutMs ?? 300_000,
    });
    cookies.setFromResponse(target, res.headers.getAll('set-cookie'), res.headers.get('date'));
    let outHeaders = rewriteResponseHeaders(res.headers.entries(), target, PROXY_PREFIX);
    let body = res.body;
    // Absolute links to the app's own origin in its HTML/CSS are mapped into the proxy too
    // (only on bodies we can read: decoded or never encoded). Their length changes.
    if (rewritesLinks(res.headers.get('content-type')) && !res.headers.has('content-encoding')) {
      body = body.pipeThrough(OriginLinkRewriter.stream(target, PROXY_PREFIX));
      outHeaders = outHeaders.filter(([k]) => k.toLowerCase() !== 'content-length');
      // A document loaded into the web-view frame gets the frame script first (src/ui/sw/frame-script.ts):
      // it gives the app its own paths back, which single-page apps' routers need.
      const ct = (res.headers.get('content-type') ?? '').toLowerCase();
      if (
        (m.destination === 'iframe' || m.destination === 'frame') &&
        ct.startsWith('text/html') &&
        method !== 'HEAD'
      ) {
        body = body.pipeThrough(FrameScriptInjector.stream());
      }
    }
    post({ type: 'response', id, status: res.status, statusText: res.statusText, headers: outHeaders });
    opts.log?.(`web view ${method} ${target.host}${target.pathname} → ${res.status}`);
    const reader = body.getReader();
    try {
      for (;;) {
        while (p.inflight >= windowBytes && !p.cancelled) {
          await new Promise<void>((resolve, reject) => {
            let t: TimerHandle | undefined = undefined;
            p.wake = () => {
              clock.clearTimeout(t);
              p.wake = null;
              resolve();
            };
            t = clock.setTimeout(() => {
              p.wake = null;
              reject(new HttpError('timeout', `the frame stopped reading for ${stallMs} ms`));
            }, stallMs);
          });
        }
        if (p.cancelled) {
          await reader.cancel().catch(() => {});
          return;
        }
        const { done, value } = await reader.read();
        if (done) break;
        if (p.cancelled) {
          await reader.cancel().catch(() => {});
          return;
        }
        // A copy of exactly this chunk, so the transfer does not detach a shared read buffer.
        const data = value.slice().buffer;
        p.inflight += value.length;
        stats.bytes += value.length;
        post({ type: 'chunk', id, data }, [data]);
      }
    } catch (e) {
      reader.cancel().catch(() => {});
      throw e;
    }
    post({ type: 'end', id });
  } catch (e) {
    if (p.cancelled) return;
    stats.errors++;
    const msg = e instanceof HttpError ? e.message : `internal error: ${(e as Error)?.message ?? String(e)}`;
    opts.log?.(`web view ${target?.host ?? '?'}: ${msg}`);
    post({ type: 'error', id, message: msg, code: e instanceof HttpError ? e.code : 'internal' });
  } finally {
    pending.delete(id);
    stats.active--;
  }
}

/** A proxied page's WebSocket, bridged to the target over the node's TCP (proxy-websocket.ts), or refused. */
function openWebSocket(ctx: ProxyContext, page: MessagePortLike, url: string, protocols: string[]): void {
  const { opts, cookies, stats, windowBytes, clock } = ctx;
  const refuse = (why: string) => {
    stats.errors++;
    opts.log?.(`web view WebSocket refused: ${why}`);
    try {
      page.postMessage({ type: 'close', code: 1006, reason: '', wasClean: false });
    } catch {
      /* the page is gone */
    }
  };
  let target: URL;
  try {
    target = parseTarget(url);
  } catch (e) {
    return refuse((e as Error).message);
  }
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const tport = Number(target.port || 80);
  if (opts.allowTarget && !opts.allowTarget(host, tport))
    return refuse(
      `${host}:${tport} is not a machine this web view may reach (not in the tailnet, or another app's host and port)`,
    );
  if (!opts.dial) return refuse('this node has no dialer for WebSockets');
  stats.websockets++;
  bridgeWebSocket(page, {
    dial: opts.dial,
    target,
    protocols,
    cookies,
    maxMessageBytes: opts.maxWebSocketMessageBytes,
    windowBytes,
    clock,
    log: opts.log,
  });
}
