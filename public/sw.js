// tailtab Service Worker: (1) the offline app shell for the installed PWA, (2) the web-view proxy.
//
// Proxy: a frame loads /proxy/<host>/<port>/<path>. This worker cannot reach the tailnet itself;
// the page hands it a MessagePort connected to the node (which runs in a dedicated Worker; the
// node side is serveHttpProxy in src/http/proxy-server.ts), and each request travels over it:
//   → {type:'request', id, method, url, headers:[[k,v]], body?:ArrayBuffer, referrer?:'/proxy/…'}
//   ← {type:'response', id, status, statusText, headers:[[k,v]]}  (headers already rewritten by the node)
//   ← {type:'chunk', id, data:ArrayBuffer} … {type:'end', id} | {type:'error', id, message}
//   → {type:'ack', id, bytes} as the browser takes body bytes (the node sends at most a window ahead)
//   → {type:'cancel', id} when the browser drops the body
// When this worker restarts it has lost the port: it asks its window clients for a new one
// ('tailtab-need-port'; the page answers with {type:'tailtab-node-port'} and the port).
//
// A page served under /proxy/<host>/<port>/ that asks for an absolute path ("/static/app.js") is
// mapped back to its host by the request's Referer (pinned to same-origin by the node) or, when a
// page suppressed it, by the requesting client's URL.
// Not possible this way: WebSockets opened by the proxied app (a Service Worker never sees them),
// absolute http://host/ URLs written into the app's HTML or JS, and https:// targets.

const SHELL_CACHE = 'tailtab-shell-v1';
const PROXY_PREFIX = '/proxy/';
// The node gives up on a response head after 300 s (long polls); if it is silent for 15 s we ask
// whether it is alive at all ('ping'), and a node that does not 'pong' within 5 s is gone.
const HEAD_TIMEOUT_MS = 330000;
const PING_AFTER_MS = 15000;
const PONG_WITHIN_MS = 5000;
let nodePort = null;
let portWaiters = [];
let nextId = 1;
const pending = new Map();

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'tailtab-node-port' && event.ports[0]) {
    // Several tabs may each answer 'tailtab-need-port': the newest port serves new requests, and
    // requests already sent on an older one finish there (a dead one is found by ping/pong).
    nodePort = event.ports[0];
    nodePort.onmessage = onNodeMessage;
    const ws = portWaiters;
    portWaiters = [];
    for (const w of ws) w.resolve(nodePort);
  }
});

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
  let referrer;
  try {
    const r = request.referrer ? new URL(request.referrer) : null;
    if (r && r.origin === self.location.origin) referrer = r.pathname + r.search;
  } catch (_) {
    /* about:client and the like */
  }
  const p = { id, port, queue: [], controller: null, wanted: false, ended: false, closed: false, head: null, lastPong: 0 };
  const head = await new Promise((resolve, reject) => {
    p.resolve = resolve;
    p.reject = reject;
    pending.set(id, p);
    port.postMessage({ type: 'request', id, method: request.method, url: targetUrl(target), headers, body, referrer }, body ? [body] : []);
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

async function proxyTargetForClient(event, url) {
  if (url.pathname.startsWith(PROXY_PREFIX)) return parseProxyPath(url.pathname + url.search);
  // An absolute path ("/app.js") asked for by a proxied page belongs to that page's host.
  let base = null;
  try {
    const ref = event.request.referrer ? new URL(event.request.referrer) : null;
    if (ref && ref.origin === self.location.origin) base = parseProxyPath(ref.pathname);
  } catch (_) {
    /* no usable referrer */
  }
  if (!base && event.clientId) {
    const c = await self.clients.get(event.clientId);
    if (c) base = parseProxyPath(new URL(c.url).pathname);
  }
  if (!base) return null;
  return { host: base.host, port: base.port, rest: url.pathname + url.search };
}

async function shell(request) {
  const cache = await caches.open(SHELL_CACHE);
  try {
    const res = await fetch(request);
    if (res.ok && request.method === 'GET') await cache.put(request, res.clone());
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
  event.respondWith(
    (async () => {
      const target = await proxyTargetForClient(event, url);
      if (target) {
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
