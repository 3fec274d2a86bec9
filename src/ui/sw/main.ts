// tailtab's Service Worker, served as /sw.js (built from here by vite-sw-plugin.ts; registered as
// /sw.js, /sw.js?proxy=off or /sw.js?proxy=host, see scope.ts). Two jobs:
//  1. the offline app shell of the installed PWA (shell.ts);
//  2. the web-view proxy: a frame loads /proxy/<host>/<port>/<path>; each fetch travels to the
//     node over a MessagePort a page handed here (node-port.ts, proxy-fetch.ts; the protocol is
//     http/proxy-protocol.ts), its host found by client-map.ts. The frame script (frame-script.ts,
//     served as /__tailtab/frame.js) gives the app its own paths and tunnels its WebSockets
//     (websocket-handoff.ts). Not possible this way: absolute http://host/ URLs in the app's
//     JavaScript, and https:// targets.
// And streamed downloads for tailtab's own pages (downloads.ts).
import FRAME_SCRIPT from 'virtual:tailtab-frame-script';
import { isFrameNavigation, proxyTargetForClient, remember, rememberFrameTarget } from './client-map.js';
import { DOWNLOAD_PREFIX, serveDownload, takeDownload } from './downloads.js';
import { errorPage } from './error-page.js';
import { decodePageMessage, type PageMessage } from './messages.js';
import { acceptNodePort, proxy } from './proxy-fetch.js';
import { BOUND, FRAME_SCRIPT_PATH, KEEP_NOTHING, PROXY_HOST_PATH, PROXY_ON, sw } from './scope.js';
import { shell } from './shell.js';
import { isBoundTarget, PROXY_PREFIX } from './target.js';
import { openWebSocket } from './websocket-handoff.js';

sw.addEventListener('install', () => void sw.skipWaiting());
sw.addEventListener('activate', (event) => event.waitUntil(sw.clients.claim()));

/** Whether a message came from this origin's proxy-host frame (public/proxy-host.html). */
function fromProxyHostFrame(source: ExtendableMessageEvent['source']): boolean {
  const url = source && (source as { url?: unknown }).url;
  return typeof url === 'string' && !!url && new URL(url).pathname === PROXY_HOST_PATH;
}

// One small function per message a page may post (messages.ts).
const onPageMessage: {
  [K in PageMessage['type']]: (m: Extract<PageMessage, { type: K }>, event: ExtendableMessageEvent) => void;
} = {
  'tailtab-node-port'(m, event) {
    // On a target's own origin only the proxy-host frame hands ports (a page of the proxied app
    // is on the same origin and could post one of its own making).
    if (BOUND && !fromProxyHostFrame(event.source)) return;
    acceptNodePort(m.port);
  },
  'tailtab-download': (m) => takeDownload(m),
  // The message itself was the point: it extends an idle worker's life during a download.
  'tailtab-download-keepalive': () => {},
  'tailtab-websocket': (m, event) => event.waitUntil(openWebSocket(m, event.source)),
};

sw.addEventListener('message', (event) => {
  const m = decodePageMessage(event.data, event.ports);
  if (m) (onPageMessage[m.type] as (m: PageMessage, e: ExtendableMessageEvent) => void)(m, event);
});

const FRAME_SCRIPT_HEADERS = { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' };

async function proxyOrShell(event: FetchEvent, url: URL): Promise<Response> {
  const target = await proxyTargetForClient(event, url);
  if (target && !isBoundTarget(BOUND, target)) {
    return errorPage(
      403,
      `this frame shows ${BOUND!.host}:${BOUND!.port} only; open ${target.host}:${target.port} from tailtab's web view`,
    );
  }
  if (!target) return shell(event.request, KEEP_NOTHING);
  // A document or worker loaded through the proxy: its later requests belong to this host.
  if (event.resultingClientId) await remember(event.resultingClientId, target);
  if (isFrameNavigation(event.request)) await rememberFrameTarget(target);
  try {
    return await proxy(event.request, target);
  } catch (e) {
    const message = (e as Error).message;
    return errorPage(/within/.test(message) ? 504 : 502, message);
  }
}

sw.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== sw.location.origin) return;
  // Before the proxy: in either mode this path belongs to tailtab, never to a proxied app.
  if (url.pathname.startsWith(DOWNLOAD_PREFIX)) {
    event.respondWith(serveDownload(event.request, url));
    return;
  }
  if (!PROXY_ON) {
    if (url.pathname.startsWith(PROXY_PREFIX) || url.pathname === FRAME_SCRIPT_PATH) {
      event.respondWith(
        errorPage(
          404,
          'on this origin the web view is off; open it from tailtab, which shows it on its separate proxy origin',
        ),
      );
    } else {
      event.respondWith(shell(event.request, KEEP_NOTHING));
    }
    return;
  }
  if (url.pathname === FRAME_SCRIPT_PATH) {
    event.respondWith(new Response(FRAME_SCRIPT, { headers: FRAME_SCRIPT_HEADERS }));
    return;
  }
  event.respondWith(proxyOrShell(event, url));
});
