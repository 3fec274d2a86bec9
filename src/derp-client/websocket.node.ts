// Node glue: a WebSocketFactory backed by the `ws` package (Node 20 has no global WebSocket).
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { WebSocketFactory, WebSocketLike } from '../platform/websocket.js';

export const nodeWebSocketFactory: WebSocketFactory = (url, protocols) => {
  const ws = new WebSocket(url, protocols);
  ws.binaryType = 'arraybuffer';
  // ws emits 'error' (e.g. closed while connecting) as an EventEmitter event: with no listener left
  // after the client detaches its handlers, Node would throw it. The client learns of errors via onerror/onclose.
  ws.on('error', () => {});
  corkPerTick(ws);
  return ws as unknown as WebSocketLike;
};

/**
 * One write syscall per tick instead of one per packet: ws writes every frame to the socket at once,
 * and in a CPU profile of a download that native write (one per ACK) was a quarter of the busy time.
 * Corking the socket for the rest of the tick keeps every packet its own WebSocket message (derper
 * sees exactly the frames it saw before, at most a tick later), so no burst grows beyond what this
 * tick sent anyway — unlike merging packets into bigger messages, which overflowed derper's queue.
 */
function corkPerTick(ws: WebSocket): void {
  const send = ws.send.bind(ws) as (data: unknown) => void;
  let corked: Socket | undefined;
  (ws as unknown as { send: (data: unknown) => void }).send = (data) => {
    const sock = (ws as unknown as { _socket?: Socket })._socket;
    if (!corked && sock && ws.readyState === WebSocket.OPEN && !sock.destroyed) {
      corked = sock;
      sock.cork();
      process.nextTick(() => {
        const s = corked;
        corked = undefined;
        s?.uncork();
      });
    }
    send(data);
  };
}
