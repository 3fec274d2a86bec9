// 'tailtab/node': everything of 'tailtab' plus the Node.js layers — WebSockets from the `ws`
// package (Node 20 has no global WebSocket), WireGuard's AEAD on node:crypto, and a JSON state file.
export * from './index.js';
export { createNodeLayers, nodeStore } from './node/layers.node.js';
export { FileStore } from './control/storage.node.js';
export { nodeWebSocketFactory } from './derp-client/websocket.node.js';
