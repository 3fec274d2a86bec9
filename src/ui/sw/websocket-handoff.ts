// A WebSocket of a proxied page (the frame script's shim): its port goes on to the node with the
// target, and the page and the node talk directly from then on (src/http/proxy-websocket.ts).
// The target comes from the /proxy/<host>/<port>/ path the shim built, else (a frame reloaded on
// the app's own path) from the host remembered for the page's client; the node allows only
// tailnet machines, as for any proxied request.
import type { WebSocketToPage } from '../../http/proxy-protocol.js';
import { recall } from './client-map.js';
import type { PageMessage } from './messages.js';
import { getPort, nextMessageId, postToNode } from './node-port.js';
import { BOUND, PROXY_ON } from './scope.js';
import { isBoundTarget, parseProxyPath, targetUrl, type ProxyTarget } from './target.js';

export async function openWebSocket(
  m: Extract<PageMessage, { type: 'tailtab-websocket' }>,
  source: Client | ServiceWorker | MessagePort | null,
): Promise<void> {
  const pagePort = m.port;
  const refuse = () =>
    pagePort.postMessage({ type: 'close', code: 1006, reason: '', wasClean: false } satisfies WebSocketToPage);
  const path = m.path;
  let t: ProxyTarget | null = PROXY_ON && path ? parseProxyPath(path) : null;
  const clientId = source && 'id' in source && typeof source.id === 'string' ? source.id : '';
  if (!t && PROXY_ON && path && clientId) {
    const c = await recall(clientId);
    if (c) t = { host: c.host, port: c.port, rest: path };
  }
  if (!t || !isBoundTarget(BOUND, t)) return refuse();
  try {
    const port = await getPort();
    postToNode(port, { type: 'websocket', id: nextMessageId(), url: targetUrl(t), protocols: m.protocols }, [pagePort]);
  } catch {
    refuse();
  }
}
