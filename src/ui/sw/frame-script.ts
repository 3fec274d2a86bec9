// The frame script: runs first in every proxied frame document, as /__tailtab/frame.js (the
// Service Worker serves it, built from this file as a script of its own, so it stays a same-origin
// script that a `script-src 'self'` CSP allows; no inline script). The node injects its tag
// (http/proxy-rewrite.ts FrameScriptInjector). It
//  1. shows the app its own path: a frame document loaded from /proxy/<host>/<port>/<path> is
//     replaced (history.replaceState) by <path>, since single-page apps route by location.pathname;
//  2. replaces window.WebSocket with a class that tunnels WebSockets to the proxied host through
//     the node: a Service Worker never sees WebSocket handshakes, and the browser cannot reach
//     tailnet addresses, so the page hands a MessagePort to the worker ('tailtab-websocket'),
//     which passes it to the node (serveHttpProxy → src/http/proxy-websocket.ts, an RFC 6455
//     client over the node's TCP). The page and the node then talk over that port directly.
//     Only URLs of the proxied app (our origin, relative ones, or the app's own http origin) are
//     tunnelled; URLs to other origins get the browser's real WebSocket. WebSockets made before
//     this script ran, or in the app's Workers, are not seen.
// Self-contained: it imports types only, so its bundle is this file alone.
import type { WebSocketToNode, WebSocketToPage } from '../../http/proxy-protocol.js';
import type { WebSocketHandOffMessage } from './messages.js';

// One function on purpose: it runs as the page's first script, and its WebSocket class closes over
// what the steps above it found (the /proxy/ prefix, the app's host and port, the native
// WebSocket, the live sockets); most of its length is that class's body.
// eslint-disable-next-line max-lines-per-function
function frameScript(): void {
  if (window.top === window) return;
  const m = /^\/proxy\/([^/]+)\/(\d{1,5})(?=\/|$)/.exec(location.pathname);
  // A frame that reloads (or navigates) after step 1 has the app's path, not /proxy/…: then the
  // Service Worker knows its host by its client id, and the shim sends plain paths.
  const prefix = m ? m[0] : '';
  let appHost = '';
  const appPort = m ? m[2]! : '';
  if (m) {
    try {
      appHost = decodeURIComponent(m[1]!).toLowerCase();
    } catch {
      /* left empty: the app's own ws:// origin is then not recognised */
    }
    try {
      history.replaceState(
        history.state,
        '',
        (location.pathname.slice(prefix.length) || '/') + location.search + location.hash,
      );
    } catch {
      /* a browser that refuses: the app sees /proxy/… paths */
    }
  }

  const Native = window.WebSocket;
  const sw = navigator.serviceWorker;
  if (!Native || !sw || !window.MessageChannel) return;
  const CONNECT_TIMEOUT_MS = 60000;
  const live = new Set<TunnelledWebSocket>();
  const encoder = new TextEncoder();
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const handlers = ['open', 'message', 'error', 'close'] as const;
  type Handler = (this: TunnelledWebSocket, e: Event) => unknown;

  function domError(message: string, name: string): DOMException {
    return new DOMException("Failed to construct 'WebSocket': " + message, name);
  }

  // The WebSocket URL steps (WHATWG WebSockets §3.1): relative URLs resolve against the document,
  // http(s) become ws(s), fragments are refused. Returns the /proxy/ path to tunnel, or null.
  function tunnelPath(u: URL): string | null {
    if (u.host === location.host) {
      return u.pathname.indexOf('/proxy/') === 0 ? u.pathname + u.search : prefix + u.pathname + u.search;
    }
    const h = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (appHost && u.protocol === 'ws:' && h === appHost && (u.port || '80') === appPort)
      return prefix + u.pathname + u.search;
    return null;
  }

  class TunnelledWebSocket extends EventTarget {
    _url!: string;
    _state!: number;
    _protocol!: string;
    _extensions!: string;
    _binaryType!: BinaryType;
    _buffered!: number;
    /** close() while CONNECTING: the end is a failure (1006), as in browsers. */
    _abandoned!: boolean;
    _queue!: Promise<unknown>;
    _on!: Partial<Record<(typeof handlers)[number], Handler>>;
    _port!: MessagePort;
    _timer!: ReturnType<typeof setTimeout>;

    constructor(url: string | URL, protocols?: string | string[]) {
      let u: URL;
      try {
        u = new URL(String(url), document.baseURI);
      } catch {
        throw domError("The URL '" + String(url) + "' is invalid.", 'SyntaxError');
      }
      if (u.protocol === 'http:') u.protocol = 'ws:';
      else if (u.protocol === 'https:') u.protocol = 'wss:';
      if (u.protocol !== 'ws:' && u.protocol !== 'wss:')
        throw domError("The URL's scheme must be either 'http', 'https', 'ws', or 'wss'.", 'SyntaxError');
      if (u.hash) throw domError("The URL contains a fragment identifier ('" + u.hash + "').", 'SyntaxError');
      const path = tunnelPath(u);
      // Not the proxied app's: the browser's own WebSocket (returned in place of this object).
      if (path === null)
        return (arguments.length > 1 ? new Native(url, protocols) : new Native(url)) as unknown as TunnelledWebSocket;
      super();
      const list =
        protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : Array.from(protocols, String);
      for (let i = 0; i < list.length; i++) {
        if (!TOKEN.test(list[i]!) || list.indexOf(list[i]!) !== i)
          throw domError("The subprotocol '" + list[i] + "' is invalid or duplicated.", 'SyntaxError');
      }
      this._url = u.href;
      this._state = 0;
      this._protocol = '';
      this._extensions = '';
      this._binaryType = 'blob';
      this._buffered = 0;
      this._abandoned = false;
      this._queue = Promise.resolve();
      this._on = {};
      for (const t of handlers) {
        this.addEventListener(t, (e) => {
          const h = this._on[t];
          if (typeof h === 'function') h.call(this, e);
        });
      }
      const ch = new MessageChannel();
      this._port = ch.port1;
      ch.port1.onmessage = (e) => this._receive(e.data as WebSocketToPage);
      this._timer = setTimeout(() => this._end(1006, '', false), CONNECT_TIMEOUT_MS);
      live.add(this);
      const worker = sw.controller ? Promise.resolve(sw.controller) : sw.ready.then((r) => r.active);
      const handOff: WebSocketHandOffMessage = { type: 'tailtab-websocket', path, protocols: list };
      worker
        .then((w) => {
          w!.postMessage(handOff, [ch.port2]);
        })
        .catch(() => this._end(1006, '', false));
    }
    get url() {
      return this._url;
    }
    get readyState() {
      return this._state;
    }
    get protocol() {
      return this._protocol;
    }
    get extensions() {
      return this._extensions;
    }
    get bufferedAmount() {
      return this._buffered;
    }
    get binaryType() {
      return this._binaryType;
    }
    set binaryType(v: BinaryType) {
      if (v === 'blob' || v === 'arraybuffer') this._binaryType = v;
    }
    _post(m: WebSocketToNode, transfer: Transferable[] = []): void {
      this._port.postMessage(m, transfer);
    }
    _receive(m: WebSocketToPage): void {
      if (!m || typeof m !== 'object') return;
      if (m.type === 'open' && this._state === 0) {
        clearTimeout(this._timer);
        this._state = 1;
        this._protocol = String(m.protocol || '');
        this._extensions = String(m.extensions || '');
        this.dispatchEvent(new Event('open'));
      } else if (m.type === 'message') {
        let d: string | ArrayBuffer | Blob = m.data;
        const n = typeof d === 'string' ? d.length : d.byteLength;
        if (this._state === 1) {
          if (typeof d !== 'string') d = this._binaryType === 'blob' ? new Blob([d]) : d;
          this.dispatchEvent(new MessageEvent('message', { data: d, origin: new URL(this._url).origin }));
        }
        // Taken: the node reads on (it pauses its TCP reads while 1 MiB is unacknowledged).
        this._post({ type: 'ack', bytes: n });
      } else if (m.type === 'sent') {
        this._buffered = Math.max(0, this._buffered - (Number(m.bytes) || 0));
      } else if (m.type === 'close') {
        this._end(Number(m.code) || 1006, String(m.reason || ''), !!m.wasClean);
      }
    }
    _end(code: number, reason: string, wasClean: boolean): void {
      if (this._state === 3) return;
      clearTimeout(this._timer);
      if (this._abandoned) {
        code = 1006;
        reason = '';
        wasClean = false;
      }
      this._state = 3;
      live.delete(this);
      try {
        this._port.close();
      } catch {
        /* already closed */
      }
      if (!wasClean) this.dispatchEvent(new Event('error'));
      this.dispatchEvent(new CloseEvent('close', { code, reason, wasClean }));
    }
    send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      if (this._state === 0)
        throw new DOMException(
          "Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.",
          'InvalidStateError',
        );
      let size: number;
      let take: () => string | ArrayBuffer | Promise<ArrayBuffer>;
      if (
        typeof data === 'string' ||
        !(data instanceof Blob || data instanceof ArrayBuffer || ArrayBuffer.isView(data))
      ) {
        const s = String(data);
        size = encoder.encode(s).length;
        take = () => s;
      } else if (data instanceof Blob) {
        size = data.size;
        take = () => data.arrayBuffer();
      } else {
        // A copy now: the caller may reuse its buffer right after send() returns.
        const copy =
          data instanceof ArrayBuffer
            ? data.slice(0)
            : (new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice().buffer as ArrayBuffer);
        size = copy.byteLength;
        take = () => copy;
      }
      // After close() browsers count but do not send (WHATWG WebSockets, send() step 3).
      this._buffered += size;
      if (this._state !== 1) return;
      // One queue keeps the order when a Blob (read asynchronously) comes before other data.
      this._queue = this._queue
        .then(take)
        .then((d) => this._post({ type: 'send', data: d }, typeof d === 'string' ? [] : [d]))
        .catch(() => {});
    }
    close(code?: number, reason?: string): void {
      if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
        throw new DOMException(
          "Failed to execute 'close' on 'WebSocket': The close code must be either 1000, or between 3000 and 4999. " +
            code +
            ' is neither.',
          'InvalidAccessError',
        );
      }
      const r = reason === undefined ? '' : String(reason);
      if (encoder.encode(r).length > 123)
        throw new DOMException(
          "Failed to execute 'close' on 'WebSocket': The close reason must not be greater than 123 UTF-8 bytes.",
          'SyntaxError',
        );
      if (this._state >= 2) return;
      if (this._state === 0) this._abandoned = true;
      this._state = 2;
      const msg: WebSocketToNode = { type: 'close', code: code === undefined ? 1000 : code, reason: r };
      this._queue = this._queue.then(() => this._post(msg));
    }
  }
  for (const t of handlers) {
    Object.defineProperty(TunnelledWebSocket.prototype, 'on' + t, {
      get(this: TunnelledWebSocket) {
        return this._on[t] || null;
      },
      set(this: TunnelledWebSocket, h: unknown) {
        this._on[t] = typeof h === 'function' ? (h as Handler) : undefined;
      },
      configurable: true,
      enumerable: true,
    });
  }
  Object.defineProperty(TunnelledWebSocket.prototype, Symbol.toStringTag, { value: 'WebSocket', configurable: true });
  ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].forEach((n, i) => {
    Object.defineProperty(TunnelledWebSocket, n, { value: i, enumerable: true });
    Object.defineProperty(TunnelledWebSocket.prototype, n, { value: i, enumerable: true });
  });
  // The class is named WebSocket where pages can see it (its name, as with the browser's own).
  Object.defineProperty(TunnelledWebSocket, 'name', { value: 'WebSocket', configurable: true });
  // Leaving the page ends its sockets like a browser does (1001 "going away"); otherwise the
  // node's connection would stay open with no one reading it.
  window.addEventListener('pagehide', () => {
    live.forEach((ws) => {
      try {
        ws._port.postMessage({ type: 'close', code: 1001, reason: '' } satisfies WebSocketToNode);
      } catch {
        /* the port is gone */
      }
    });
  });
  (window as unknown as { WebSocket: unknown }).WebSocket = TunnelledWebSocket;
}

frameScript();
