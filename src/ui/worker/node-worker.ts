// The node Worker: one TailnetNode (node/node.ts over the real layers of node/layers.ts) serving
// NodeApi to every page attached. As a SharedWorker each window connects through `connect`, and
// all share one node, one login and one set of SSH sessions; as a dedicated Worker the global
// scope itself is the port. Keys and sockets live here; nothing here touches the DOM.
/// <reference lib="webworker" />
import { HttpClient, type Conn } from '../../http/client.js';
import { serveHttpProxy } from '../../http/proxy-server.js';
import type { MessagePortLike, PortLike } from '../../platform/port.js';
import { TailnetNode, type NodeLayers } from '../../node/node.js';
import { loadDefaultLayers } from '../../node/layers.js';
import { NodeService, type NodeLike } from './node-service.js';
import { IdbWorkerStore } from './store.js';

// One HTTP client (connection pool, cookie jar) per node, for every port the Service Worker gets.
const clients = new WeakMap<NodeLike, HttpClient>();

/**
 * TailnetNode plus logout: the control session made by the layers (layers.ts RealControlSession)
 * carries the ControlClient, whose logout() expires the node key at control (Headscale then
 * deletes an ephemeral node at once).
 */
async function createNode(): Promise<NodeLike> {
  const base = await loadDefaultLayers();
  let session: { client?: { logout(): Promise<void> } } | undefined;
  const layers: NodeLayers = {
    ...base,
    startControl: async (o) => {
      const s = await base.startControl(o);
      session = s as typeof session;
      return s;
    },
  };
  const node = new TailnetNode(layers);
  return Object.assign(node, {
    async logout() {
      const s = session;
      session = undefined;
      try {
        await s?.client?.logout();
      } finally {
        await node.down();
      }
    },
  });
}

const service = new NodeService({
  createNode,
  persistentStore: new IdbWorkerStore(),
  httpProxy: (port, node) => {
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
  },
});

const scope = globalThis as unknown as { addEventListener(t: string, cb: (e: MessageEvent) => void): void; onconnect?: unknown };
if ('onconnect' in scope) {
  scope.addEventListener('connect', (e: MessageEvent) => service.attach(e.ports[0]! as PortLike));
} else {
  service.attach(globalThis as unknown as PortLike);
}
