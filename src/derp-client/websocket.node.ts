// Node glue: a WebSocketFactory backed by the `ws` package (Node 20 has no global WebSocket).
import WebSocket from 'ws';
import type { WebSocketFactory, WebSocketLike } from './client.js';

export const nodeWebSocketFactory: WebSocketFactory = (url, protocols) => {
  const ws = new WebSocket(url, protocols);
  ws.binaryType = 'arraybuffer';
  // ws emits 'error' (e.g. closed while connecting) as an EventEmitter event: with no listener left
  // after the client detaches its handlers, Node would throw it. The client learns of errors via onerror/onclose.
  ws.on('error', () => {});
  return ws as unknown as WebSocketLike;
};
