// The messages between tailtab's pages and its Service Worker (the node↔worker proxy protocol is
// http/proxy-protocol.ts). Each carries at most one MessagePort, as the event's first port.
//
// Page → Service Worker (navigator.serviceWorker.controller.postMessage):
//   {type:'tailtab-node-port'} + the node's port    (app.ts, widget.ts, public/proxy-host.js)
//   {type:'tailtab-download', id, name?, size?, stream?} + a reply port   (sw-download.ts; without a
//                                                   stream it is a probe: "do you serve downloads?")
//   {type:'tailtab-download-keepalive'}             keeps an idle worker alive during a download
//   {type:'tailtab-websocket', path, protocols} + the socket's port   (the frame script's shim)
// Service Worker → its window clients:
//   {type:'tailtab-need-port'}                     it restarted and lost the node's port
// Service Worker → a download's reply port: DownloadReply.
// The proxy-host frame (public/proxy-host.js) → tailtab's page: ProxyHostToApp.

export const NODE_PORT = 'tailtab-node-port';
export const NEED_PORT = 'tailtab-need-port';

export interface NodePortMessage {
  type: 'tailtab-node-port';
}
export interface DownloadMessage {
  type: 'tailtab-download';
  id: string;
  name?: string;
  size?: number;
  stream?: ReadableStream<Uint8Array>;
}
export interface DownloadKeepAliveMessage {
  type: 'tailtab-download-keepalive';
}
export interface WebSocketHandOffMessage {
  type: 'tailtab-websocket';
  path: string;
  protocols: string[];
}

/** What a page posts to the Service Worker. */
export type PageToSw = NodePortMessage | DownloadMessage | DownloadKeepAliveMessage | WebSocketHandOffMessage;

/** What the Service Worker posts to its window clients. */
export interface NeedPortMessage {
  type: 'tailtab-need-port';
}

/** The Service Worker's answers on a download's reply port. */
export interface DownloadReply {
  type: 'ready' | 'taken' | 'expired' | 'error';
  id?: string;
  message?: string;
}

/** What the proxy-host frame tells tailtab's page. */
export type ProxyHostToApp =
  { type: 'tailtab-proxy-host-ready' } | NeedPortMessage | { type: 'tailtab-proxy-host-error'; message?: string };

/** A page message as the Service Worker acts on it: fields checked, the port attached. */
export type PageMessage =
  | { type: 'tailtab-node-port'; port: MessagePort }
  | {
      type: 'tailtab-download';
      port: MessagePort;
      id: string | undefined;
      name: string | undefined;
      size: number | undefined;
      stream: ReadableStream<Uint8Array> | undefined;
    }
  | { type: 'tailtab-download-keepalive' }
  /** `path` null when it is not an absolute path: the socket is refused (closed 1006). */
  | { type: 'tailtab-websocket'; port: MessagePort; path: string | null; protocols: string[] };

function isPort(x: unknown): x is MessagePort {
  return !!x && typeof x === 'object' && typeof (x as { postMessage?: unknown }).postMessage === 'function';
}

/**
 * A page's message, or null for anything else (ignored, as a worker ignores a message it does not
 * know). Never throws. Lenient where the handler answers a bad field itself: a download with a bad
 * id is refused on its reply port, a WebSocket with a bad path is closed (1006).
 */
export function decodePageMessage(data: unknown, ports: readonly unknown[]): PageMessage | null {
  if (!data || typeof data !== 'object') return null;
  const m = data as Record<string, unknown>;
  const port = ports[0];
  switch (m.type) {
    case 'tailtab-node-port':
      return isPort(port) ? { type: 'tailtab-node-port', port } : null;
    case 'tailtab-download':
      if (!isPort(port)) return null;
      return {
        type: 'tailtab-download',
        port,
        id: typeof m.id === 'string' ? m.id : undefined,
        name: typeof m.name === 'string' && m.name ? m.name : undefined,
        size: Number.isSafeInteger(m.size) && (m.size as number) >= 0 ? (m.size as number) : undefined,
        stream:
          typeof ReadableStream !== 'undefined' && m.stream instanceof ReadableStream
            ? (m.stream as ReadableStream<Uint8Array>)
            : undefined,
      };
    case 'tailtab-download-keepalive':
      return { type: 'tailtab-download-keepalive' };
    case 'tailtab-websocket':
      if (!isPort(port)) return null;
      return {
        type: 'tailtab-websocket',
        port,
        path: typeof m.path === 'string' && m.path[0] === '/' ? m.path : null,
        protocols: Array.isArray(m.protocols) ? m.protocols.filter((p): p is string => typeof p === 'string') : [],
      };
    default:
      return null;
  }
}
