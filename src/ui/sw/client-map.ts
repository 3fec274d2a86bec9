// Which tailnet host a request is for, when its URL does not say. A frame document loaded from
// /proxy/<host>/<port>/<path> starts with the frame script (frame-script.ts), which replaces the
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
import { sw } from './scope.js';
import { parseProxyPath, sameOriginUrl, PROXY_PREFIX, type ProxyTarget, type Target } from './target.js';

const MAP_CACHE = 'tailtab-proxy-clients-v1';
const MAP_PATH = '/__tailtab/map/';

const clientTargets = new Map<string, Target>();
let lastFrameTarget: Target | null = null;
let remembered = 0;

function mapKey(name: string): Request {
  return new Request(`${sw.location.origin}${MAP_PATH}${encodeURIComponent(name)}`);
}

async function store(name: string, t: Target): Promise<void> {
  try {
    const c = await caches.open(MAP_CACHE);
    await c.put(mapKey(name), new Response(JSON.stringify({ host: t.host, port: t.port })));
  } catch {
    /* storage refused: the in-memory map still works until this worker stops */
  }
}

async function load(name: string): Promise<Target | null> {
  try {
    const c = await caches.open(MAP_CACHE);
    const r = await c.match(mapKey(name));
    return r ? ((await r.json()) as Target) : null;
  } catch {
    return null;
  }
}

/** A document or worker loaded through the proxy: its later requests belong to this host. */
export async function remember(clientId: string, t: Target): Promise<void> {
  if (!clientId || !t) return;
  const old = clientTargets.get(clientId);
  if (old && old.host === t.host && old.port === t.port) return;
  clientTargets.set(clientId, { host: t.host, port: t.port });
  await store('client:' + clientId, t);
  if (++remembered % 50 === 0) void prune();
}

/** The host remembered for a client, or null. */
export async function recall(clientId: string): Promise<Target | null> {
  if (!clientId) return null;
  if (clientTargets.has(clientId)) return clientTargets.get(clientId)!;
  const t = await load('client:' + clientId);
  if (t) clientTargets.set(clientId, t);
  return t;
}

/** The host a frame navigation just went to: rule 4's last resort. */
export async function rememberFrameTarget(t: Target): Promise<void> {
  lastFrameTarget = { host: t.host, port: t.port };
  await store('last-frame', lastFrameTarget);
}

/** A client by id without waiting for it to be execution-ready (see proxyTargetForClient). */
async function clientById(id: string): Promise<Client | undefined> {
  const all = await sw.clients.matchAll({ type: 'all', includeUncontrolled: true });
  return all.find((x) => x.id === id);
}

/** Forget clients that no longer exist. */
async function prune(): Promise<void> {
  try {
    const c = await caches.open(MAP_CACHE);
    for (const req of await c.keys()) {
      const name = decodeURIComponent(new URL(req.url).pathname.slice(MAP_PATH.length));
      if (!name.startsWith('client:')) continue;
      const id = name.slice('client:'.length);
      if (!(await clientById(id))) {
        clientTargets.delete(id);
        await c.delete(req);
      }
    }
  } catch {
    /* best effort */
  }
}

export function isFrameNavigation(req: Request): boolean {
  return req.mode === 'navigate' && (req.destination === 'iframe' || req.destination === 'frame');
}

/** The target of a fetch by rules 1–4, or null (not a proxied request: the shell's). */
export async function proxyTargetForClient(event: FetchEvent, url: URL): Promise<ProxyTarget | null> {
  const req = event.request;
  const rest = url.pathname + url.search;
  // 1. The path names the target.
  if (url.pathname.startsWith(PROXY_PREFIX)) return parseProxyPath(rest);
  // 2. A Referer under /proxy/ (pinned to same-origin by the node, so it is there).
  const ref = sameOriginUrl(req.referrer, sw.location.origin);
  const byRef = ref && parseProxyPath(ref.pathname);
  if (byRef) return { host: byRef.host, port: byRef.port, rest };
  // 3. The requesting document or worker was loaded through the proxy.
  if (event.clientId) {
    let t = await recall(event.clientId);
    if (!t) {
      // Not clients.get(): in Firefox it waits until the client is execution-ready, and a module
      // Worker is not until every import is fetched — through this very handler, so a reload of
      // tailtab (controlled now) never got its node SharedWorker running. matchAll does not wait.
      const c = await clientById(event.clientId);
      const p = c && parseProxyPath(new URL(c.url).pathname);
      if (p) await remember(event.clientId, (t = { host: p.host, port: p.port }));
    }
    if (t) return { host: t.host, port: t.port, rest };
  }
  // 4. A frame navigating itself (links, form posts, reload) has no client id here. Only for
  //    navigations started from our origin: a page elsewhere framing a tailtab URL is not a web view.
  if (ref && isFrameNavigation(req)) {
    const frames = (await sw.clients.matchAll({ type: 'window' })).filter(
      (c) => c.frameType === 'nested' && c.url === ref.href,
    );
    const known: Target[] = [];
    for (const c of frames) {
      const t = await recall(c.id);
      if (t && !known.some((k) => k.host === t.host && k.port === t.port)) known.push(t);
    }
    if (known.length === 1) return { host: known[0]!.host, port: known[0]!.port, rest };
    const last = lastFrameTarget || (lastFrameTarget = await load('last-frame'));
    if (last) return { host: last.host, port: last.port, rest };
  }
  return null;
}
