// The package's main entry (`import … from 'tailtab'`): the tailnet node and its browser-safe
// layers. Nothing here imports a Node-only module, so a browser bundler takes it as it is; under
// Node.js it works too when given a WebSocket (Node >= 22 has a global one), but the Node.js
// layers (`ws`, node:crypto ChaCha20-Poly1305, a state file) are in 'tailtab/node'.
export {
  TailnetNode,
  type UpConfig,
  type NodeState,
  type NodeStatus,
  type PeerStatus,
  type NodeEventMap,
  type NodeLayers,
  type NodeNetMap,
  type NetMapPeer,
  type TcpConnectionLike,
  type TcpListenerLike,
} from './node/node.js';
export {
  createLayers,
  loadDefaultLayers,
  defaultStore,
  globalWebSocketFactory,
  fetchLatencyProbe,
  LayersMissingError,
  type LayerPlatform,
} from './node/layers.js';
export { MemoryStore, IdbStore, type ControlStore, type ControlState } from './control/storage.js';
export type { StaticX25519Key, StoredX25519Key, KeyCustody } from './crypto/static-key.js';
export { ControlError } from './control/client.js';
export type { WebSocketFactory, WebSocketLike } from './platform/websocket.js';
export { realClock, VirtualClock, type Clock } from './platform/clock.js';
export { secureRandom, type RandomSource } from './crypto/random.js';
export type { ByteDuplex } from './platform/duplex.js';
