// Node glue: a WebSocketFactory backed by the `ws` package (Node 20 has no global WebSocket).
import WebSocket from 'ws';
import type { WebSocketFactory, WebSocketLike } from './client.js';

export const nodeWebSocketFactory: WebSocketFactory = (url, protocols) => {
  const ws = new WebSocket(url, protocols);
  ws.binaryType = 'arraybuffer';
  return ws as unknown as WebSocketLike;
};
