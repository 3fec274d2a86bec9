// The WebSocket seam: the part of the browser WebSocket API control/ (ts2021) and derp-client/
// speak through. A browser's or Worker's WebSocket fits as it is; Node.js passes `ws` sockets
// (control/transport.node.ts, derp-client/websocket.node.ts), tests pass scripted ones.

export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  /** Bytes queued by send() and not yet written (the `ws` package and browsers have it). */
  readonly bufferedAmount?: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  /** Both layers send bytes only; binary messages arrive as ArrayBuffer (binaryType 'arraybuffer'). */
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** Opens a WebSocket to `url` offering `protocols`; binary messages should arrive as ArrayBuffer. */
export type WebSocketFactory = (url: string, protocols: string[]) => WebSocketLike;
