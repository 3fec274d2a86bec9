// The web-view proxy's wiring: the Service Worker's proxy protocol (http/proxy-server.ts) served on
// a port it hands the node's Worker, its requests made by one HTTP client per node (connection
// pool, cookie jar) over node.dial, and only towards machines of the tailnet.
import { HttpClient, type Conn } from '../http/client.js';
import { serveHttpProxy } from '../http/proxy-server.js';
import type { MessagePortLike } from '../platform/port.js';
import type { NodeLike } from './context.js';

/** A NodeServiceDeps.httpProxy: serves each port it is given over the node it is given. */
export function webProxy(): (port: MessagePort, node: NodeLike) => void {
  // One HTTP client (connection pool, cookie jar) per node, for every port the Service Worker gets.
  const clients = new WeakMap<NodeLike, HttpClient>();
  return (port, node) => {
    let client = clients.get(node);
    if (!client) clients.set(node, (client = new HttpClient({ dial: (host, p) => node.dial(host, p) as Promise<Conn> })));
    serveHttpProxy(port as unknown as MessagePortLike, client, {
      // WebSockets of proxied pages (the frame script's shim) get their own TCP connections.
      dial: (host, p) => node.dial(host, p) as Promise<Conn>,
      // Only machines of the tailnet: the Service Worker proxy is no way out to anywhere else.
      allowTarget: (host) => {
        try {
          return !!node.resolve?.(host);
        } catch {
          return false;
        }
      },
    });
  };
}
