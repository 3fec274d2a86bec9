// The node Worker: one TailnetNode (node/node.ts over the real layers of node/layers.ts) serving
// NodeApi to every page attached. As a SharedWorker each window connects through `connect`, and
// all share one node, one login and one set of SSH sessions; as a dedicated Worker the global
// scope itself is the port. Keys and sockets live here; nothing here touches the DOM.
/// <reference lib="webworker" />
import { TailnetNode } from '../../node/node.js';
import { loadDefaultLayers } from '../../node/layers.js';
import type { PortLike } from '../rpc.js';
import { NodeService } from './node-service.js';
import { IdbWorkerStore } from './store.js';

const service = new NodeService({
  createNode: async () => new TailnetNode(await loadDefaultLayers()),
  persistentStore: new IdbWorkerStore(),
});

const scope = globalThis as unknown as { addEventListener(t: string, cb: (e: MessageEvent) => void): void; onconnect?: unknown };
if ('onconnect' in scope) {
  scope.addEventListener('connect', (e: MessageEvent) => service.attach(e.ports[0]! as PortLike));
} else {
  service.attach(globalThis as unknown as PortLike);
}
