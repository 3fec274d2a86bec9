// The node side of a WebSocket opened by a proxied web-view page. The page's `WebSocket` is
// replaced by the frame script's shim (ui/sw/frame-script.ts); the shim hands a MessagePort
// to the Service Worker, which passes it with the target URL to serveHttpProxy, which calls
// this. From then on the page and the node talk directly over that port:
//   node → page: {type:'open', protocol, extensions:''}
//                {type:'message', data: string | ArrayBuffer (transferred)}
//                {type:'sent', bytes}        `bytes` of earlier sends are written (bufferedAmount)
//                {type:'close', code, reason, wasClean}
//   page → node: {type:'send', data: string | ArrayBuffer}   {type:'close', code?, reason?}
//                {type:'ack', bytes}   the page dispatched messages of this size (string length
//                                      for text, byteLength for binary)
// Flow control: a MessagePort has no backpressure, so the node stops reading the server's
// TCP once `windowBytes` of messages are un-acknowledged; a page that falls behind (a console
// flooding output) slows the server instead of filling the page's memory.
// Why the node speaks RFC 6455 itself: a Service Worker never sees WebSocket handshakes, and the
// browser cannot reach tailnet addresses, so the only socket to the app is the node's TCP.
import type { Dialer } from './connection.js';
import type { CookieJar } from './cookies.js';
import { HttpError } from './errors.js';
import { hostHeader, type HeaderList } from './wire.js';
import { connectWebSocket, type WebSocketClient } from './websocket-client.js';
import { CLOSE_ABNORMAL, isValidWireCloseCode, validProtocols } from './websocket.js';
import type { Clock } from '../platform/clock.js';
import type { MessagePortLike } from '../platform/port.js';

export interface WebSocketBridgeOptions {
  dial: Dialer;
  /** http://host:port/path?query of the app (already checked by the caller). */
  target: URL;
  protocols: string[];
  cookies: CookieJar;
  maxMessageBytes?: number;
  /** Un-acknowledged message bytes towards the page before reading pauses (default 1 MiB). */
  windowBytes?: number;
  clock?: Clock;
  random?: (n: number) => Uint8Array;
  log?: (line: string) => void;
}

export interface WebSocketBridge {
  close(): void;
}

export function bridgeWebSocket(page: MessagePortLike, o: WebSocketBridgeOptions): WebSocketBridge {
  const host = o.target.hostname.replace(/^\[|\]$/g, '');
  const port = Number(o.target.port || 80);
  let ws: WebSocketClient | null = null;
  let ended = false;
  // Page messages that arrive before the handshake is done: a close ends it early; sends are
  // impossible (the shim throws InvalidStateError while CONNECTING, as browsers do).
  let earlyClose = false;
  const windowBytes = o.windowBytes ?? 1 << 20;
  let inflight = 0;
  const post = (m: unknown, transfer: Transferable[] = []) => {
    try {
      page.postMessage(m, transfer);
    } catch {
      /* the page is gone */
    }
  };
  const end = (code: number, reason: string, wasClean: boolean) => {
    if (ended) return;
    ended = true;
    post({ type: 'close', code, reason, wasClean });
    page.onmessage = null;
    page.close?.();
  };

  page.onmessage = (ev: MessageEvent) => {
    const m = ev.data as { type?: unknown; data?: unknown; code?: unknown; reason?: unknown; bytes?: unknown } | null;
    if (!m || typeof m !== 'object') return;
    if (m.type === 'send' && ws) {
      const data = typeof m.data === 'string' ? m.data : m.data instanceof ArrayBuffer ? new Uint8Array(m.data) : null;
      if (data === null) return;
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data).length : data.length;
      void ws.send(data).then(() => post({ type: 'sent', bytes }));
    } else if (m.type === 'ack' && typeof m.bytes === 'number' && m.bytes > 0) {
      inflight = Math.max(0, inflight - m.bytes);
      if (inflight < windowBytes) ws?.resumeReading();
    } else if (m.type === 'close') {
      // The shim allows 1000, 3000–4999 and 1001 (page going away); anything else from a page
      // that bypassed it is sent as 1000 rather than as a code the RFC forbids on the wire.
      const code = typeof m.code === 'number' && isValidWireCloseCode(m.code) ? m.code : 1000;
      const reason = typeof m.reason === 'string' ? m.reason : '';
      if (ws) ws.close(code, reason);
      else earlyClose = true;
    }
  };
  page.start?.();

  void (async () => {
    const path = o.target.pathname + o.target.search;
    try {
      if (!validProtocols(o.protocols)) throw new HttpError('bad-request', 'invalid WebSocket subprotocol list');
      const conn = await o.dial(host, port);
      // What a browser would send for the app's own page: its Origin (apps check it against
      // Host, e.g. Grafana, Home Assistant), the node's cookies for the host (session logins).
      const headers: HeaderList = [
        ['Origin', o.target.origin],
        ['User-Agent', 'tailtab'],
        ['Pragma', 'no-cache'],
        ['Cache-Control', 'no-cache'],
      ];
      const cookie = o.cookies.cookieHeader(o.target);
      if (cookie) headers.push(['Cookie', cookie]);
      ws = await connectWebSocket({
        conn,
        host,
        port,
        target: path,
        protocols: o.protocols,
        headers,
        maxMessageBytes: o.maxMessageBytes,
        clock: o.clock,
        random: o.random,
      });
      const rh = ws.response.headers;
      o.cookies.setFromResponse(
        o.target,
        rh.filter(([k]) => k.toLowerCase() === 'set-cookie').map(([, v]) => v),
        rh.find(([k]) => k.toLowerCase() === 'date')?.[1] ?? null,
      );
      o.log?.(
        `web view WebSocket ${hostHeader(host, port)}${o.target.pathname} open${ws.protocol ? ` (${ws.protocol})` : ''}`,
      );
      if (ended) return ws.abort();
      ws.onmessage = (d) => {
        inflight += typeof d === 'string' ? d.length : d.byteLength;
        if (inflight >= windowBytes) ws?.pauseReading();
        if (typeof d === 'string') post({ type: 'message', data: d });
        else {
          const buf =
            d.byteOffset === 0 && d.byteLength === d.buffer.byteLength
              ? (d.buffer as ArrayBuffer)
              : (d.slice().buffer as ArrayBuffer);
          post({ type: 'message', data: buf }, [buf]);
        }
      };
      ws.onclose = (info) => {
        if (info.error) o.log?.(`web view WebSocket ${hostHeader(host, port)}${o.target.pathname}: ${info.error}`);
        end(info.code, info.reason, info.wasClean);
      };
      post({ type: 'open', protocol: ws.protocol, extensions: '' });
      if (earlyClose) ws.close(1000, '');
    } catch (e) {
      // The browser API tells the page nothing more than "1006" (no reason: it could leak cross-origin details).
      o.log?.(
        `web view WebSocket ${hostHeader(host, port)}${o.target.pathname}: ${e instanceof HttpError ? e.message : ((e as Error)?.message ?? e)}`,
      );
      end(CLOSE_ABNORMAL, '', false);
    }
  })();

  return {
    close() {
      ws?.abort();
      end(CLOSE_ABNORMAL, '', false);
    },
  };
}
