// The message-port seam: the part of MessagePort (DOM or node:worker_threads) — also a Worker, or a
// dedicated Worker's own global scope — that the app's RPC (app/rpc.ts) and the web-view proxy
// (http/proxy-server.ts) post through. Only structured-clonable data and transferables cross.

/** What every port here has: posting, and (MessagePort) start/close. */
export interface PostingPort {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  start?(): void;
  close?(): void;
}

/** A port listened to with addEventListener: several listeners may share it (the RPC). */
export interface PortLike extends PostingPort {
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
}

/** A port with a single onmessage handler: whoever holds it owns it (the proxy protocol). */
export interface MessagePortLike extends PostingPort {
  onmessage: ((ev: MessageEvent) => void) | null;
}
