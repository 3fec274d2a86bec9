// Node glue: a control WebSocketFactory backed by the `ws` package (Node 20 has no global WebSocket).
import WebSocket from 'ws';
import type { WebSocketFactory, WebSocketLike } from '../platform/websocket.js';

export const nodeControlWebSocketFactory: WebSocketFactory = (url, protocols) => {
  const ws = new WebSocket(url, protocols);
  ws.binaryType = 'arraybuffer';
  // Errors reach the transport through onerror/onclose; without a listener ws would throw them.
  ws.on('error', () => {});
  return ws as unknown as WebSocketLike;
};
