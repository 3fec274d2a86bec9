// Dedicated-Worker entry for the node: the page talks to it only through rpc.ts over the worker's
// port. The Worker owns keys (storage) and sockets (WebSocket); nothing here touches the DOM.

import { TailnetNode, type NodeLayers, type UpConfig } from './node.js';
import { serveNode, type PlainUpConfig, type PortLike } from './rpc.js';

export interface WorkerEnvironment {
  layers: NodeLayers;
  /** Storage for a profile (IndexedDB in a browser Worker; memory when ephemeral). */
  storageFor(profileId: string | undefined, ephemeral: boolean): unknown;
  webSocketFactory: unknown;
}

/** Serves one TailnetNode on `scope` (a DedicatedWorkerGlobalScope or any MessagePort). */
export function runNodeWorker(scope: PortLike, env: WorkerEnvironment): TailnetNode {
  const node = new TailnetNode(env.layers);
  serveNode(scope, node, (c: PlainUpConfig, onAuthUrl): UpConfig => ({
    ...c,
    storage: env.storageFor(c.profileId, !!c.ephemeral),
    webSocketFactory: env.webSocketFactory,
    wallClockMs: () => Date.now(),
    onAuthUrl,
  }));
  return node;
}
