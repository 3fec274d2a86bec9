// tailtab Service Worker: (1) the offline app shell for the installed PWA, (2) the web-view proxy.
//
// Proxy: a frame loads /proxy/<host>/<port>/<path>. This worker cannot reach the tailnet itself;
// the page hands it a MessagePort connected to the node (which runs in a dedicated Worker), and
// each request travels over that port:
//   → {type:'request', id, method, url, headers:[[k,v]], body?:ArrayBuffer}
//   ← {type:'response', id, status, statusText, headers:[[k,v]]}, {type:'chunk', id, data}, {type:'end', id}
//   ← {type:'error', id, message}
// When this worker restarts it has lost the port: it asks its clients for a new one.
// Not possible this way: WebSockets opened by the proxied app, and links to other origins.

const SHELL_CACHE = 'tailtab-shell-v1';
const PROXY_PREFIX = '/proxy/';
let nodePort = null;
let portWaiters = [];
let nextId = 1;
const pending = new Map();

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'tailtab-node-port' && event.ports[0]) {
    nodePort = event.ports[0];
    nodePort.onmessage = onNodeMessage;
    for (const w of portWaiters) w(nodePort);
    portWaiters = [];
  }
});

function onNodeMessage(event) {
  const m = event.data;
  const p = pending.get(m.id);
  if (!p) return;
  if (m.type === 'response') {
    p.resolve(m);
  } else if (m.type === 'chunk') {
    p.controller && p.controller.enqueue(new Uint8Array(m.data));
  } else if (m.type === 'end') {
    p.controller && p.controller.close();
    pending.delete(m.id);
  } else if (m.type === 'error') {
    if (p.controller) p.controller.error(new Error(m.message));
    else p.reject(new Error(m.message));
    pending.delete(m.id);
  }
}

async function getPort() {
  if (nodePort) return nodePort;
  const all = await self.clients.matchAll({ type: 'window' });
  for (const c of all) c.postMessage({ type: 'tailtab-need-port' });
  return new Promise((resolve, reject) => {
    portWaiters.push(resolve);
    setTimeout(() => reject(new Error('the tailtab node is not running in any open tab')), 10000);
  });
}

/** /proxy/<host>/<port>/<rest> → {host, port, rest} */
function parseProxyPath(pathname) {
  const m = /^\/proxy\/([^/]+)\/(\d{1,5})(\/.*)?$/.exec(pathname);
  if (!m) return null;
  return { host: decodeURIComponent(m[1]), port: m[2], rest: m[3] || '/' };
}

function rewriteLocation(location, base) {
  try {
    const u = new URL(location, `http://${base.host}:${base.port}${base.rest}`);
    if (u.protocol !== 'http:') return location;
    return `${PROXY_PREFIX}${encodeURIComponent(u.hostname)}/${u.port || '80'}${u.pathname}${u.search}`;
  } catch {
    return location;
  }
}

async function proxy(request, target) {
  const port = await getPort();
  const id = nextId++;
  const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
  const headers = [];
  request.headers.forEach((v, k) => headers.push([k, v]));
  let controller;
  const stream = new ReadableStream({
    start(c) {
      controller = c;
    },
    cancel() {
      port.postMessage({ type: 'cancel', id });
      pending.delete(id);
    },
  });
  const head = await new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, controller });
    const url = `http://${target.host}:${target.port}${target.rest}`;
    port.postMessage({ type: 'request', id, method: request.method, url, headers, body }, body ? [body] : []);
  });
  const outHeaders = new Headers();
  for (const [k, v] of head.headers) {
    const key = k.toLowerCase();
    // The body arrives already decoded and re-framed; the frame is same-origin with the app.
    if (['content-encoding', 'content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(key)) continue;
    outHeaders.append(k, key === 'location' ? rewriteLocation(v, target) : v);
  }
  const nullBody = [101, 204, 205, 304].includes(head.status) || request.method === 'HEAD';
  if (nullBody) {
    controller.close();
  }
  return new Response(nullBody ? null : stream, { status: head.status, statusText: head.statusText || '', headers: outHeaders });
}

async function proxyTargetForClient(event, url) {
  // An absolute path ("/app.js") asked for by a proxied page belongs to that page's host.
  if (url.pathname.startsWith(PROXY_PREFIX)) return parseProxyPath(url.pathname + url.search);
  const ref = event.request.referrer ? new URL(event.request.referrer) : null;
  let base = ref && ref.origin === self.location.origin ? parseProxyPath(ref.pathname) : null;
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
          return new Response(`tailtab web view: ${e.message}\n`, { status: 502, headers: { 'content-type': 'text/plain; charset=utf-8' } });
        }
      }
      return shell(event.request);
    })(),
  );
});
