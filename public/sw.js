// tailtab Service Worker: (1) the offline app shell for the installed PWA, (2) the web-view proxy.
//
// Proxy: a frame loads /proxy/<host>/<port>/<path>. This worker cannot reach the tailnet itself;
// the page hands it a MessagePort connected to the node (which runs in a dedicated Worker; the
// node side is serveHttpProxy in src/http/proxy-server.ts), and each request travels over it:
//   → {type:'request', id, method, url, headers:[[k,v]], body?:ArrayBuffer, referrer?:'/proxy/…', destination}
//   ← {type:'response', id, status, statusText, headers:[[k,v]]}  (headers already rewritten by the node)
//   ← {type:'chunk', id, data:ArrayBuffer} … {type:'end', id} | {type:'error', id, message}
//   → {type:'ack', id, bytes} as the browser takes body bytes (the node sends at most a window ahead)
//   → {type:'cancel', id} when the browser drops the body
// When this worker restarts it has lost the port: it asks its window clients for a new one
// ('tailtab-need-port'; the page answers with {type:'tailtab-node-port'} and the port).
//
// Mapping requests to tailnet hosts. A frame document loaded from /proxy/<host>/<port>/<path>
// starts with the frame script (/__tailtab/frame.js, injected by the node), which replaces the
// frame's URL by the app's own path (<path>): single-page apps route by location.pathname and
// would not recognise /proxy/… . From then on the frame's requests are tied to the host by their
// client: each document or worker loaded through the proxy is remembered by its client id
// (persisted in Cache Storage, so a restart of this worker keeps it). Order of rules:
//   1. /proxy/<host>/<port>/… names its target;
//   2. a Referer under /proxy/ (a stylesheet's url(/x), a page without the frame script);
//   3. the requesting client's remembered host (any request of a proxied document or worker);
//   4. a frame navigation (link, form post, reload) started from our origin: the host of the
//      frame document it comes from (nested window clients by URL), else the last host shown in
//      a frame.
// WebSockets of the proxied app never reach this worker as fetches; the frame script tunnels them
// through the node instead (see frameScript). Not possible this way: absolute http://host/ URLs
// in the app's JavaScript, and https:// targets.

const SHELL_CACHE = 'tailtab-shell-v1';
// Registered as /sw.js?proxy=off on tailtab's own origin when the web view runs on a separate
// origin (src/ui/proxy-origin.ts): then this origin never serves /proxy/, so no tailnet app can be
// loaded next to tailtab's keys.
const PROXY_MODE = new URL(self.location.href).searchParams.get('proxy');
const PROXY_ON = PROXY_MODE !== 'off';
const PROXY_PREFIX = '/proxy/';
// Registered as /sw.js?proxy=host by the proxy-host frame on a target's own origin
// (p<port>-<machine>.<proxy origin>, src/ui/proxy-origin.ts targetLabel): this worker then serves
// that one host and port, and takes node ports only from its proxy-host frame. (The node binds
// each such port to the same target, so this is the second of two locks, not the only one.)
const BOUND = PROXY_MODE === 'host' ? boundTarget(self.location.hostname) : null;
const PROXY_HOST_PATH = '/proxy-host.html';

function boundTarget(hostname) {
  const m = /^p(\d{1,5})-([a-z0-9-]{1,57})\./.exec(hostname);
  if (!m) return { host: '', port: 0 }; // a proxy-host origin without a target label serves nothing
  const host = /^\d{1,3}(-\d{1,3}){3}$/.test(m[2]) ? m[2].replace(/-/g, '.') : m[2];
  return { host, port: Number(m[1]) };
}

/** Whether a /proxy/ target is this origin's own (a MagicDNS name matches by its machine label). */
function isBoundTarget(t) {
  if (!BOUND) return true;
  if (Number(t.port) !== BOUND.port) return false;
  const h = String(t.host).toLowerCase().replace(/\.$/, '');
  return h === BOUND.host || (!/^\d+(\.\d+){3}$/.test(h) && h.split('.')[0] === BOUND.host);
}
// The node gives up on a response head after 300 s (long polls); if it is silent for 15 s we ask
// whether it is alive at all ('ping'), and a node that does not 'pong' within 5 s is gone.
const HEAD_TIMEOUT_MS = 330000;
const PING_AFTER_MS = 15000;
const PONG_WITHIN_MS = 5000;
const MAP_CACHE = 'tailtab-proxy-clients-v1';
const FRAME_SCRIPT_PATH = '/__tailtab/frame.js';
// Runs first in a proxied frame document (served from the source of frameScript below, so it
// stays a same-origin script that a `script-src 'self'` CSP allows; no inline script):
//  1. shows the app its own path (see above);
//  2. replaces window.WebSocket with a class that tunnels WebSockets to the proxied host through
//     the node: a Service Worker never sees WebSocket handshakes, and the browser cannot reach
//     tailnet addresses, so the page hands a MessagePort to this worker ('tailtab-websocket'),
//     which passes it to the node (serveHttpProxy → src/http/proxy-websocket.ts, an RFC 6455
//     client over the node's TCP). The page and the node then talk over that port directly.
//     Only URLs of the proxied app (our origin, relative ones, or the app's own http origin) are
//     tunnelled; URLs to other origins get the browser's real WebSocket. WebSockets made before
//     this script ran, or in the app's Workers, are not seen.
function frameScript() {
  if (window.top === window) return;
  var m = /^\/proxy\/([^\/]+)\/(\d{1,5})(?=\/|$)/.exec(location.pathname);
  // A frame that reloads (or navigates) after step 1 has the app's path, not /proxy/…: then the
  // Service Worker knows its host by its client id, and the shim sends plain paths.
  var prefix = m ? m[0] : '';
  var appHost = '';
  var appPort = m ? m[2] : '';
  if (m) {
    try {
      appHost = decodeURIComponent(m[1]).toLowerCase();
    } catch (e) {}
    try {
      history.replaceState(history.state, '', (location.pathname.slice(prefix.length) || '/') + location.search + location.hash);
    } catch (e) {}
  }

  var Native = window.WebSocket;
  var sw = navigator.serviceWorker;
  if (!Native || !sw || !window.MessageChannel) return;
  var CONNECT_TIMEOUT_MS = 60000;
  var live = new Set();
  var encoder = new TextEncoder();
  var TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

  function domError(message, name) {
    return new DOMException("Failed to construct 'WebSocket': " + message, name);
  }

  // The WebSocket URL steps (WHATWG WebSockets §3.1): relative URLs resolve against the document,
  // http(s) become ws(s), fragments are refused. Returns the /proxy/ path to tunnel, or null.
  function tunnelPath(u) {
    if (u.host === location.host) {
      return u.pathname.indexOf('/proxy/') === 0 ? u.pathname + u.search : prefix + u.pathname + u.search;
    }
    var h = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (appHost && u.protocol === 'ws:' && h === appHost && (u.port || '80') === appPort) return prefix + u.pathname + u.search;
    return null;
  }

  var handlers = ['open', 'message', 'error', 'close'];

  class WebSocket extends EventTarget {
    constructor(url, protocols) {
      var u;
      try {
        u = new URL(String(url), document.baseURI);
      } catch (e) {
        throw domError("The URL '" + url + "' is invalid.", 'SyntaxError');
      }
      if (u.protocol === 'http:') u.protocol = 'ws:';
      else if (u.protocol === 'https:') u.protocol = 'wss:';
      if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw domError("The URL's scheme must be either 'http', 'https', 'ws', or 'wss'.", 'SyntaxError');
      if (u.hash) throw domError("The URL contains a fragment identifier ('" + u.hash + "').", 'SyntaxError');
      var path = tunnelPath(u);
      if (path === null) return arguments.length > 1 ? new Native(url, protocols) : new Native(url);
      super();
      var list = protocols === undefined ? [] : typeof protocols === 'string' ? [protocols] : Array.from(protocols, String);
      for (var i = 0; i < list.length; i++) {
        if (!TOKEN.test(list[i]) || list.indexOf(list[i]) !== i) throw domError("The subprotocol '" + list[i] + "' is invalid or duplicated.", 'SyntaxError');
      }
      var self = this;
      this._url = u.href;
      this._state = 0;
      this._protocol = '';
      this._extensions = '';
      this._binaryType = 'blob';
      this._buffered = 0;
      this._abandoned = false; // close() while CONNECTING: the end is a failure (1006), as in browsers
      this._queue = Promise.resolve();
      this._on = {};
      handlers.forEach(function (t) {
        self.addEventListener(t, function (e) {
          var h = self._on[t];
          if (typeof h === 'function') h.call(self, e);
        });
      });
      var ch = new MessageChannel();
      this._port = ch.port1;
      ch.port1.onmessage = function (e) {
        self._receive(e.data);
      };
      this._timer = setTimeout(function () {
        self._end(1006, '', false);
      }, CONNECT_TIMEOUT_MS);
      live.add(this);
      var worker = sw.controller ? Promise.resolve(sw.controller) : sw.ready.then(function (r) { return r.active; });
      worker.then(function (w) {
        w.postMessage({ type: 'tailtab-websocket', path: path, protocols: list }, [ch.port2]);
      }).catch(function () {
        self._end(1006, '', false);
      });
    }
    get url() { return this._url; }
    get readyState() { return this._state; }
    get protocol() { return this._protocol; }
    get extensions() { return this._extensions; }
    get bufferedAmount() { return this._buffered; }
    get binaryType() { return this._binaryType; }
    set binaryType(v) {
      if (v === 'blob' || v === 'arraybuffer') this._binaryType = v;
    }
    _receive(m) {
      if (!m || typeof m !== 'object') return;
      if (m.type === 'open' && this._state === 0) {
        clearTimeout(this._timer);
        this._state = 1;
        this._protocol = String(m.protocol || '');
        this._extensions = String(m.extensions || '');
        this.dispatchEvent(new Event('open'));
      } else if (m.type === 'message') {
        var d = m.data;
        var n = typeof d === 'string' ? d.length : d.byteLength;
        if (this._state === 1) {
          if (typeof d !== 'string') d = this._binaryType === 'blob' ? new Blob([d]) : d;
          this.dispatchEvent(new MessageEvent('message', { data: d, origin: new URL(this._url).origin }));
        }
        // Taken: the node reads on (it pauses its TCP reads while 1 MiB is unacknowledged).
        this._port.postMessage({ type: 'ack', bytes: n });
      } else if (m.type === 'sent') {
        this._buffered = Math.max(0, this._buffered - (Number(m.bytes) || 0));
      } else if (m.type === 'close') {
        this._end(Number(m.code) || 1006, String(m.reason || ''), !!m.wasClean);
      }
    }
    _end(code, reason, wasClean) {
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
      } catch (e) {}
      if (!wasClean) this.dispatchEvent(new Event('error'));
      this.dispatchEvent(new CloseEvent('close', { code: code, reason: reason, wasClean: wasClean }));
    }
    send(data) {
      if (this._state === 0) throw new DOMException("Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.", 'InvalidStateError');
      var port = this._port;
      var size;
      var take;
      if (typeof data === 'string' || !(data instanceof Blob || data instanceof ArrayBuffer || ArrayBuffer.isView(data))) {
        var s = String(data);
        size = encoder.encode(s).length;
        take = function () { return s; };
      } else if (data instanceof Blob) {
        size = data.size;
        take = function () { return data.arrayBuffer(); };
      } else {
        // A copy now: the caller may reuse its buffer right after send() returns.
        var copy = data instanceof ArrayBuffer ? data.slice(0) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice().buffer;
        size = copy.byteLength;
        take = function () { return copy; };
      }
      // After close() browsers count but do not send (WHATWG WebSockets, send() step 3).
      this._buffered += size;
      if (this._state !== 1) return;
      // One queue keeps the order when a Blob (read asynchronously) comes before other data.
      this._queue = this._queue.then(take).then(function (d) {
        port.postMessage({ type: 'send', data: d }, typeof d === 'string' ? [] : [d]);
      }).catch(function () {});
    }
    close(code, reason) {
      if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
        throw new DOMException("Failed to execute 'close' on 'WebSocket': The close code must be either 1000, or between 3000 and 4999. " + code + ' is neither.', 'InvalidAccessError');
      }
      var r = reason === undefined ? '' : String(reason);
      if (encoder.encode(r).length > 123) throw new DOMException("Failed to execute 'close' on 'WebSocket': The close reason must not be greater than 123 UTF-8 bytes.", 'SyntaxError');
      if (this._state >= 2) return;
      if (this._state === 0) this._abandoned = true;
      this._state = 2;
      var port = this._port;
      var msg = { type: 'close', code: code === undefined ? 1000 : code, reason: r };
      this._queue = this._queue.then(function () {
        port.postMessage(msg);
      });
    }
  }
  handlers.forEach(function (t) {
    Object.defineProperty(WebSocket.prototype, 'on' + t, {
      get: function () { return this._on[t] || null; },
      set: function (h) { this._on[t] = typeof h === 'function' ? h : null; },
      configurable: true,
      enumerable: true,
    });
  });
  Object.defineProperty(WebSocket.prototype, Symbol.toStringTag, { value: 'WebSocket', configurable: true });
  ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].forEach(function (n, i) {
    Object.defineProperty(WebSocket, n, { value: i, enumerable: true });
    Object.defineProperty(WebSocket.prototype, n, { value: i, enumerable: true });
  });
  // Leaving the page ends its sockets like a browser does (1001 "going away"); otherwise the
  // node's connection would stay open with no one reading it.
  window.addEventListener('pagehide', function () {
    live.forEach(function (ws) {
      try {
        ws._port.postMessage({ type: 'close', code: 1001, reason: '' });
      } catch (e) {}
    });
  });
  window.WebSocket = WebSocket;
}
const FRAME_SCRIPT = '(' + frameScript.toString() + ')();\n';
const clientTargets = new Map();
let lastFrameTarget = null;
let remembered = 0;
let nodePort = null;
let portWaiters = [];
let nextId = 1;
const pending = new Map();

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'tailtab-node-port' && event.ports[0]) {
    // On a target's own origin only the proxy-host frame hands ports (a page of the proxied app
    // is on the same origin and could post one of its own making).
    if (BOUND && !(event.source && event.source.url && new URL(event.source.url).pathname === PROXY_HOST_PATH)) return;
    // Several tabs may each answer 'tailtab-need-port': the newest port serves new requests, and
    // requests already sent on an older one finish there (a dead one is found by ping/pong).
    nodePort = event.ports[0];
    nodePort.onmessage = onNodeMessage;
    const ws = portWaiters;
    portWaiters = [];
    for (const w of ws) w.resolve(nodePort);
  } else if (event.data && event.data.type === 'tailtab-download' && event.ports[0]) {
    takeDownload(event.data, event.ports[0]);
  } else if (event.data && event.data.type === 'tailtab-websocket' && event.ports[0]) {
    event.waitUntil(openWebSocket(event.data, event.ports[0], event.source));
  }
});

// A WebSocket of a proxied page (frameScript's shim): its port goes on to the node with the
// target, and the page and the node talk directly from then on (src/http/proxy-websocket.ts).
// The target comes from the /proxy/<host>/<port>/ path the shim built, else (a frame reloaded on
// the app's own path) from the host remembered for the page's client; the node allows only
// tailnet machines, as for any proxied request.
async function openWebSocket(m, pagePort, source) {
  const refuse = () => pagePort.postMessage({ type: 'close', code: 1006, reason: '', wasClean: false });
  const path = typeof m.path === 'string' && m.path[0] === '/' ? m.path : null;
  let t = PROXY_ON && path ? parseProxyPath(path) : null;
  if (!t && PROXY_ON && path && source && source.id) {
    const c = await recall(source.id);
    if (c) t = { host: c.host, port: c.port, rest: path };
  }
  const protocols = Array.isArray(m.protocols) ? m.protocols.filter((p) => typeof p === 'string') : [];
  if (!t || !isBoundTarget(t)) return refuse();
  try {
    const port = await getPort();
    port.postMessage({ type: 'websocket', id: nextId++, url: targetUrl(t), protocols }, [pagePort]);
  } catch (_) {
    refuse();
  }
}

// Downloads from tailtab's own pages (the Files view, src/ui/sw-download.ts). The page streams a
// file to disk without holding it: it transfers the ReadableStream here under a random one-time id
// ({type:'tailtab-download', id, name, size?, stream} with a reply port; a message without a stream
// is a probe, answered so the page knows this worker version serves downloads), then navigates a
// hidden frame to /__tailtab/download/<id>/<name>, which this worker answers with the stream as an
// attachment; the browser's download manager writes it to disk as it arrives. An id is served once
// and forgotten (another request for it gets 404), and one not asked for within 30 s is dropped
// and its stream cancelled (the page's SFTP read stops).
const DOWNLOAD_PREFIX = '/__tailtab/download/';
const DOWNLOAD_TTL_MS = 30000;
const downloads = new Map();

function takeDownload(m, port) {
  if (!(m.stream instanceof ReadableStream)) {
    port.postMessage({ type: 'ready', id: m.id });
    return;
  }
  if (typeof m.id !== 'string' || !/^[0-9a-f-]{32,64}$/.test(m.id) || downloads.has(m.id)) {
    m.stream.cancel().catch(() => {});
    port.postMessage({ type: 'error', id: m.id, message: 'refused download id' });
    return;
  }
  const name = typeof m.name === 'string' && m.name ? m.name : 'download';
  const size = Number.isSafeInteger(m.size) && m.size >= 0 ? m.size : undefined;
  const timer = setTimeout(() => {
    if (!downloads.delete(m.id)) return;
    m.stream.cancel(new Error('download not taken')).catch(() => {});
    port.postMessage({ type: 'expired', id: m.id });
  }, DOWNLOAD_TTL_MS);
  downloads.set(m.id, { stream: m.stream, name, size, timer, port });
  port.postMessage({ type: 'ready', id: m.id });
}

/** RFC 6266 §4.3 with an RFC 8187 filename* for names that are not plain ASCII. */
function contentDisposition(name) {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const ext = encodeURIComponent(name).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return `attachment; filename="${ascii}"; filename*=UTF-8''${ext}`;
}

function serveDownload(request, url) {
  const id = url.pathname.slice(DOWNLOAD_PREFIX.length).split('/')[0];
  const d = request.method === 'GET' ? downloads.get(id) : undefined;
  if (!d) return new Response('This download has already been taken or has expired.\n', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
  downloads.delete(id);
  clearTimeout(d.timer);
  d.port.postMessage({ type: 'taken', id });
  const headers = { 'content-type': 'application/octet-stream', 'content-disposition': contentDisposition(d.name), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
  if (d.size !== undefined) headers['content-length'] = String(d.size);
  return new Response(d.stream, { headers });
}

function fail(p, message) {
  if (p.head) {
    if (!p.controller) p.error = message; // the stream is about to be made; it starts errored
    else if (!p.closed) {
      p.closed = true;
      try {
        p.controller.error(new Error(message));
      } catch (_) {
        /* already closed */
      }
    }
  } else {
    p.reject(new Error(message));
  }
}

function onNodeMessage(event) {
  const m = event.data;
  const p = m && pending.get(m.id);
  if (!p) return;
  if (m.type === 'pong') {
    p.lastPong = Date.now();
  } else if (m.type === 'response') {
    p.head = m;
    p.resolve(m);
  } else if (m.type === 'chunk') {
    p.queue.push(new Uint8Array(m.data));
    deliver(p);
  } else if (m.type === 'end') {
    p.ended = true;
    pending.delete(m.id);
    deliver(p);
  } else if (m.type === 'error') {
    pending.delete(m.id);
    fail(p, m.message);
  }
}

// Hand one queued chunk to the stream when it asks (pull), acknowledging it to the node: the
// node's window then advances only as fast as the browser consumes.
function deliver(p) {
  if (!p.controller || p.closed) return;
  if (p.wanted && p.queue.length) {
    const c = p.queue.shift();
    p.wanted = false;
    p.controller.enqueue(c);
    if (p.port) p.port.postMessage({ type: 'ack', id: p.id, bytes: c.byteLength });
  }
  if (p.ended && !p.queue.length) {
    p.closed = true;
    p.controller.close();
  }
}

async function getPort() {
  if (nodePort) return nodePort;
  const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  for (const c of all) c.postMessage({ type: 'tailtab-need-port' });
  return new Promise((resolve, reject) => {
    const w = { resolve };
    portWaiters.push(w);
    setTimeout(() => {
      if (!portWaiters.includes(w)) return;
      portWaiters = portWaiters.filter((x) => x !== w);
      reject(new Error('the tailtab node is not running in any open tab'));
    }, 10000);
  });
}

/** /proxy/<host>/<port>/<rest> → {host, port, rest} */
function parseProxyPath(pathAndQuery) {
  const m = /^\/proxy\/([^/?#]+)\/(\d{1,5})(\/[^#]*|\?[^#]*)?$/.exec(pathAndQuery);
  if (!m) return null;
  let host;
  try {
    host = decodeURIComponent(m[1]);
  } catch (_) {
    return null;
  }
  let rest = m[3] || '/';
  if (rest[0] === '?') rest = '/' + rest;
  return { host, port: m[2], rest };
}

function targetUrl(t) {
  const h = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `http://${h}:${t.port}${t.rest}`;
}

async function proxy(request, target) {
  const port = await getPort();
  const id = nextId++;
  const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
  const headers = [];
  request.headers.forEach((v, k) => headers.push([k, v]));
  const referrer = proxiedReferrer(request, target);
  const p = { id, port, queue: [], controller: null, wanted: false, ended: false, closed: false, head: null, lastPong: 0 };
  const head = await new Promise((resolve, reject) => {
    p.resolve = resolve;
    p.reject = reject;
    pending.set(id, p);
    port.postMessage({ type: 'request', id, method: request.method, url: targetUrl(target), headers, body, referrer, destination: request.destination }, body ? [body] : []);
    const started = Date.now();
    const giveUp = (message) => {
      pending.delete(id);
      // A node that does not answer is likely gone (its Worker restarted): ask for a new port next time.
      if (nodePort === port) nodePort = null;
      reject(new Error(message));
    };
    const check = () => {
      if (p.head || !pending.has(id)) return;
      if (Date.now() - started >= HEAD_TIMEOUT_MS) return giveUp(`no answer from the tailtab node within ${HEAD_TIMEOUT_MS / 1000} s`);
      const asked = Date.now();
      port.postMessage({ type: 'ping', id });
      setTimeout(() => {
        if (p.head || !pending.has(id)) return;
        if (!(p.lastPong >= asked)) return giveUp('the tailtab node stopped answering');
        setTimeout(check, PING_AFTER_MS);
      }, PONG_WITHIN_MS);
    };
    setTimeout(check, PING_AFTER_MS);
  });
  if (!(head.status >= 200 && head.status <= 599)) {
    port.postMessage({ type: 'cancel', id });
    pending.delete(id);
    throw new Error(`the server answered with status ${head.status}`);
  }
  const outHeaders = new Headers();
  for (const [k, v] of head.headers) {
    const key = k.toLowerCase();
    if (['set-cookie', 'transfer-encoding', 'connection', 'keep-alive'].includes(key)) continue;
    try {
      outHeaders.append(k, v);
    } catch (_) {
      /* a value the Headers class refuses: leave it out */
    }
  }
  const isRedirect = [301, 302, 303, 307, 308].includes(head.status) && outHeaders.has('location');
  // Null-body responses (and redirects, whose bodies nobody reads): stop the node's stream now
  // so it does not hold a tailnet connection waiting for acknowledgements.
  if ([204, 205, 304].includes(head.status) || request.method === 'HEAD' || isRedirect) {
    if (!p.ended) port.postMessage({ type: 'cancel', id });
    pending.delete(id);
    return makeResponse(null, head, outHeaders);
  }
  const stream = new ReadableStream(
    {
      start(c) {
        p.controller = c;
        if (p.error) {
          p.closed = true;
          c.error(new Error(p.error));
          return;
        }
        deliver(p);
      },
      pull() {
        p.wanted = true;
        deliver(p);
      },
      cancel() {
        p.closed = true;
        if (pending.has(id)) port.postMessage({ type: 'cancel', id });
        pending.delete(id);
      },
    },
    { highWaterMark: 0 },
  );
  return makeResponse(stream, head, outHeaders);
}

function makeResponse(body, head, headers) {
  try {
    return new Response(body, { status: head.status, statusText: head.statusText || '', headers });
  } catch (_) {
    // A reason phrase the Response constructor refuses: it carries no meaning (RFC 9112 §4).
    return new Response(body, { status: head.status, headers });
  }
}

function mapKey(name) {
  return new Request(`${self.location.origin}/__tailtab/map/${encodeURIComponent(name)}`);
}

async function store(name, t) {
  try {
    const c = await caches.open(MAP_CACHE);
    await c.put(mapKey(name), new Response(JSON.stringify({ host: t.host, port: t.port })));
  } catch (_) {
    /* storage refused: the in-memory map still works until this worker stops */
  }
}

async function load(name) {
  try {
    const c = await caches.open(MAP_CACHE);
    const r = await c.match(mapKey(name));
    return r ? await r.json() : null;
  } catch (_) {
    return null;
  }
}

async function remember(clientId, t) {
  if (!clientId || !t) return;
  const old = clientTargets.get(clientId);
  if (old && old.host === t.host && old.port === t.port) return;
  clientTargets.set(clientId, { host: t.host, port: t.port });
  await store('client:' + clientId, t);
  if (++remembered % 50 === 0) void prune();
}

async function recall(clientId) {
  if (!clientId) return null;
  if (clientTargets.has(clientId)) return clientTargets.get(clientId);
  const t = await load('client:' + clientId);
  if (t) clientTargets.set(clientId, t);
  return t;
}

/** Forget clients that no longer exist. */
async function prune() {
  try {
    const c = await caches.open(MAP_CACHE);
    for (const req of await c.keys()) {
      const name = decodeURIComponent(new URL(req.url).pathname.slice('/__tailtab/map/'.length));
      if (!name.startsWith('client:')) continue;
      const id = name.slice('client:'.length);
      if (!(await self.clients.get(id))) {
        clientTargets.delete(id);
        await c.delete(req);
      }
    }
  } catch (_) {
    /* best effort */
  }
}

function sameOriginUrl(s) {
  try {
    const u = s ? new URL(s) : null;
    return u && u.origin === self.location.origin ? u : null;
  } catch (_) {
    return null;
  }
}

async function proxyTargetForClient(event, url) {
  const req = event.request;
  const rest = url.pathname + url.search;
  // 1. The path names the target.
  if (url.pathname.startsWith(PROXY_PREFIX)) return parseProxyPath(rest);
  // 2. A Referer under /proxy/ (pinned to same-origin by the node, so it is there).
  const ref = sameOriginUrl(req.referrer);
  const byRef = ref && parseProxyPath(ref.pathname);
  if (byRef) return { host: byRef.host, port: byRef.port, rest };
  // 3. The requesting document or worker was loaded through the proxy.
  if (event.clientId) {
    let t = await recall(event.clientId);
    if (!t) {
      // Not clients.get(): in Firefox it waits until the client is execution-ready, and a module
      // Worker is not until every import is fetched — through this very handler, so a reload of
      // tailtab (controlled now) never got its node SharedWorker running. matchAll does not wait.
      const all = await self.clients.matchAll({ type: 'all', includeUncontrolled: true });
      const c = all.find((x) => x.id === event.clientId);
      const p = c && parseProxyPath(new URL(c.url).pathname);
      if (p) await remember(event.clientId, (t = { host: p.host, port: p.port }));
    }
    if (t) return { host: t.host, port: t.port, rest };
  }
  // 4. A frame navigating itself (links, form posts, reload) has no client id here. Only for
  //    navigations started from our origin: a page elsewhere framing a tailtab URL is not a web view.
  if (ref && req.mode === 'navigate' && (req.destination === 'iframe' || req.destination === 'frame')) {
    const frames = (await self.clients.matchAll({ type: 'window' })).filter((c) => c.frameType === 'nested' && c.url === ref.href);
    const known = [];
    for (const c of frames) {
      const t = await recall(c.id);
      if (t && !known.some((k) => k.host === t.host && k.port === t.port)) known.push(t);
    }
    if (known.length === 1) return { host: known[0].host, port: known[0].port, rest };
    const last = lastFrameTarget || (lastFrameTarget = await load('last-frame'));
    if (last) return { host: last.host, port: last.port, rest };
  }
  return null;
}

/** The Referer for the app: the page's own URL, under /proxy/ (the node translates it back). */
function proxiedReferrer(req, target) {
  const r = sameOriginUrl(req.referrer);
  if (!r) return undefined;
  if (r.pathname.startsWith(PROXY_PREFIX)) return r.pathname + r.search;
  if (r.pathname.startsWith('/__tailtab/')) return undefined;
  return `${PROXY_PREFIX}${encodeURIComponent(target.host)}/${target.port}${r.pathname}${r.search}`;
}

// Never kept offline: the embedded config (it may hold an auth key) and anything its server said
// not to store. The rest of the shell is code, icons and the manifest.
const NEVER_CACHED = new Set(['/tailtab-config.json']);

function cacheable(request, res) {
  if (!res.ok || request.method !== 'GET') return false;
  if (NEVER_CACHED.has(new URL(request.url).pathname)) return false;
  return !/no-store/i.test(res.headers.get('cache-control') || '');
}

async function shell(request) {
  const cache = await caches.open(SHELL_CACHE);
  try {
    const res = await fetch(request);
    if (cacheable(request, res)) await cache.put(request, res.clone());
    return res;
  } catch (e) {
    const hit = await cache.match(request, { ignoreSearch: request.mode === 'navigate' });
    if (hit) return hit;
    if (request.mode === 'navigate') {
      const index = await cache.match('/');
      if (index) return index;
    }
    throw e;
  }
}

function errorPage(status, message) {
  const esc = String(message).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  return new Response(`<!doctype html><meta charset="utf-8"><title>tailtab web view</title><p>tailtab web view: ${esc}</p>\n`, {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8' },
  });
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin) return;
  // Before the proxy: in either mode this path belongs to tailtab, never to a proxied app.
  if (url.pathname.startsWith(DOWNLOAD_PREFIX)) {
    event.respondWith(serveDownload(event.request, url));
    return;
  }
  if (!PROXY_ON) {
    if (url.pathname.startsWith(PROXY_PREFIX) || url.pathname === FRAME_SCRIPT_PATH) {
      event.respondWith(errorPage(404, 'on this origin the web view is off; open it from tailtab, which shows it on its separate proxy origin'));
    } else {
      event.respondWith(shell(event.request));
    }
    return;
  }
  if (url.pathname === FRAME_SCRIPT_PATH) {
    event.respondWith(new Response(FRAME_SCRIPT, { headers: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' } }));
    return;
  }
  event.respondWith(
    (async () => {
      const target = await proxyTargetForClient(event, url);
      if (target && !isBoundTarget(target)) {
        return errorPage(403, `this frame shows ${BOUND.host}:${BOUND.port} only; open ${target.host}:${target.port} from tailtab's web view`);
      }
      if (target) {
        // A document or worker loaded through the proxy: its later requests belong to this host.
        if (event.resultingClientId) await remember(event.resultingClientId, target);
        if (event.request.mode === 'navigate' && (event.request.destination === 'iframe' || event.request.destination === 'frame')) {
          lastFrameTarget = { host: target.host, port: target.port };
          await store('last-frame', lastFrameTarget);
        }
        try {
          return await proxy(event.request, target);
        } catch (e) {
          return errorPage(/within/.test(e.message) ? 504 : 502, e.message);
        }
      }
      return shell(event.request);
    })(),
  );
});
