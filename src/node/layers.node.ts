// Node.js entry for the node's layers: WebSockets from the `ws` package (Node 20 has no global
// WebSocket), latency probes via fetch, and the file store for --state. Browser code must import
// layers.ts instead (no Node-only module is reachable from there).

import { FileStore } from '../control/storage.node.js';
import { MemoryStore, type ControlStore } from '../control/storage.js';
import { nodeWebSocketFactory } from '../derp-client/websocket.node.js';
import { nodeCryptoEngine } from './aead.node.js';
import { createLayers, type LayerPlatform } from './layers.js';
import type { NodeLayers } from './node.js';

/** The real layers for Node.js. `ws` sockets with binaryType 'arraybuffer' and a swallowed 'error' event. */
export function createNodeLayers(platform: LayerPlatform = {}): NodeLayers {
  const engine = nodeCryptoEngine();
  return createLayers({ webSocketFactory: nodeWebSocketFactory, aeadEngine: () => engine, ...platform });
}

/** Control state for the CLI: a JSON file (0600) when a path is given, else memory. */
export function nodeStore(stateFile?: string): ControlStore {
  return stateFile ? new FileStore(stateFile) : new MemoryStore();
}
