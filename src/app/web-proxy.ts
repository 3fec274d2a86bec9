// The web-view proxy's wiring: the Service Worker's proxy protocol (http/proxy-server.ts) served on
// a port it hands the node's Worker, its requests made by one HTTP client per node (connection
// pool, cookie jar) over node.dial, and only towards machines of the tailnet.
import { HttpClient, type Conn } from '../http/client.js';
import { serveHttpProxy } from '../http/proxy-server.js';
import type { MessagePortLike } from '../platform/port.js';
import { proxyTargetFilter, type ProxyBinding } from '../http/proxy-target.js';
import type { NodeLike } from './context.js';

/** The target a proxy port is bound to, checked where it crosses from a window (plain data). */
export function proxyBinding(v: unknown): ProxyBinding {
  const t = v as Partial<ProxyBinding> | null;
  if (!t || typeof t.host !== 'string' || !t.host || !Number.isInteger(t.port) || t.port! < 1 || t.port! > 65535) {
    throw new Error('a web-view proxy target is a host name and a TCP port');
  }
  return { host: t.host, port: t.port! };
}

/** A NodeServiceDeps.httpProxy: serves each port it is given over the node it is given. */
export function webProxy(): (port: MessagePort, node: NodeLike, bound?: ProxyBinding) => void {
  // One HTTP client (connection pool, cookie jar) per node, for every port the Service Worker gets.
  const clients = new WeakMap<NodeLike, HttpClient>();
  return (port, node, bound) => {
    let client = clients.get(node);
    if (!client)
      clients.set(
        node,
        (client = new HttpClient({
          dial: (host, p) => node.dial(host, p) as Promise<Conn>,
          // The web view stands in for the browser's network: a form POST on a keep-alive
          // connection the app's server just closed as idle is sent again, as the browser would.
          resendOnStaleConnection: 'any',
        })),
      );
    serveHttpProxy(port as unknown as MessagePortLike, client, {
      // WebSockets of proxied pages (the frame script's shim) get their own TCP connections.
      dial: (host, p) => node.dial(host, p) as Promise<Conn>,
      // Only machines of the tailnet: the Service Worker proxy is no way out to anywhere else. A
      // port bound to a target (handed to that target's own origin) reaches that one only.
      allowTarget: proxyTargetFilter((host) => node.resolve?.(host), bound),
    });
  };
}
