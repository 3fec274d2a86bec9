// The web-view proxy's message protocol between the Service Worker (src/ui/sw/) and the node
// (serveHttpProxy, proxy-server.ts), over one MessagePort the page hands to both. One set of
// types for both ends, and a decoder for each direction: whatever arrives is untrusted (a port
// can be posted anything), so a message is either decoded into exactly one of these shapes or
// refused; the decoders never throw.
//
// Service Worker → node:
//   {type:'request', id, method, url:'http://host:port/path', headers:[[k,v]], body?:ArrayBuffer,
//    referrer?:'/proxy/…', destination?:'iframe'|…}   (destination as in Fetch's Request.destination)
//   {type:'ack', id, bytes}      the SW handed `bytes` of body to the browser: credit for more
//   {type:'cancel', id}          the browser no longer wants the body
//   {type:'ping', id}            is the node still there? (answered with {type:'pong', id})
//   {type:'websocket', id, url:'http://host:port/path', protocols:string[]} with a MessagePort
//                                a WebSocket of the proxied page (the frame script's shim); the
//                                port then carries that socket (proxy-websocket.ts).
// Node → Service Worker:
//   {type:'response', id, status, statusText, headers:[[k,v]]}  (headers already rewritten)
//   {type:'chunk', id, data:ArrayBuffer} (transferred)   {type:'end', id}
//   {type:'error', id, message, code?}                  {type:'pong', id}
//
// The port a 'websocket' message carries speaks WebSocketToPage / WebSocketToNode below.
import type { HeaderList } from './wire.js';
import type { MessagePortLike } from '../platform/port.js';

export interface ProxyRequestMessage {
  type: 'request';
  id: number;
  /** Absent means GET. */
  method?: string;
  url: string;
  headers: HeaderList;
  body?: ArrayBuffer;
  /** The page's URL under /proxy/ (the node turns it back into the app's own). */
  referrer?: string;
  destination?: string;
}
export interface ProxyAckMessage {
  type: 'ack';
  id: number;
  bytes: number;
}
export interface ProxyCancelMessage {
  type: 'cancel';
  id: number;
}
export interface ProxyPingMessage {
  type: 'ping';
  id: number;
}
/** Posted with the page's MessagePort as the one transferred port. */
export interface ProxyWebSocketMessage {
  type: 'websocket';
  id: number;
  url: string;
  protocols: string[];
}

/** What the Service Worker posts to the node. */
export type ProxyToNode =
  ProxyRequestMessage | ProxyAckMessage | ProxyCancelMessage | ProxyPingMessage | ProxyWebSocketMessage;

export interface ProxyResponseMessage {
  type: 'response';
  id: number;
  status: number;
  statusText: string;
  headers: HeaderList;
}
export interface ProxyChunkMessage {
  type: 'chunk';
  id: number;
  data: ArrayBuffer;
}
export interface ProxyEndMessage {
  type: 'end';
  id: number;
}
export interface ProxyErrorMessage {
  type: 'error';
  id: number;
  message: string;
  code?: string;
}
export interface ProxyPongMessage {
  type: 'pong';
  id: number;
}

/** What the node posts to the Service Worker. */
export type ProxyFromNode =
  ProxyResponseMessage | ProxyChunkMessage | ProxyEndMessage | ProxyErrorMessage | ProxyPongMessage;

/** A decoded 'websocket' message: the page's port travels beside it. */
export interface ProxyWebSocketOpen extends ProxyWebSocketMessage {
  page: MessagePortLike;
}
/** What the node acts on: ProxyToNode with a 'websocket' message's port attached. */
export type ProxyToNodeDecoded = Exclude<ProxyToNode, ProxyWebSocketMessage> | ProxyWebSocketOpen;

/**
 * A refused message: `id` and `type` when it had them (so the receiver can answer a request by id
 * and close a WebSocket's port), and why, for a log line.
 */
export interface Refused {
  ok: false;
  reason: string;
  id?: number;
  type?: string;
  /** A 'websocket' message's port, when one came: the page waiting on it is told no (1006). */
  page?: MessagePortLike;
}
export type Decoded<T> = { ok: true; msg: T } | Refused;

export function isHeaderList(x: unknown): x is HeaderList {
  return (
    Array.isArray(x) &&
    x.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string')
  );
}

type Fields = Record<string, unknown>;

function isPort(x: unknown): x is MessagePortLike {
  return !!x && typeof x === 'object' && typeof (x as { postMessage?: unknown }).postMessage === 'function';
}

/** Both directions' envelope: an object with a numeric id and a type its table has a decoder for. */
function envelope<D>(
  data: unknown,
  table: Readonly<Record<string, D>>,
): { ok: true; m: Fields; id: number; type: string; decode: D } | Refused {
  if (!data || typeof data !== 'object') return { ok: false, reason: 'not an object' };
  const m = data as Fields;
  if (typeof m.id !== 'number') return { ok: false, reason: 'no numeric id' };
  const id = m.id;
  const type = m.type;
  const decode = typeof type === 'string' && Object.hasOwn(table, type) ? table[type] : undefined;
  if (!decode) return { ok: false, id, reason: `unknown type ${typeof type === 'string' ? type : typeof type}` };
  return { ok: true, m, id, type: type as string, decode };
}

const toNode: {
  [K in ProxyToNode['type']]: (m: Fields, id: number, ports: readonly unknown[]) => ProxyToNodeDecoded | string;
} = {
  request(m, id) {
    if (typeof m.url !== 'string') return 'request without a url';
    if (!isHeaderList(m.headers)) return 'request headers are not a list of [name, value] strings';
    if (m.body !== undefined && !(m.body instanceof ArrayBuffer)) return 'request body is not an ArrayBuffer';
    if (m.method !== undefined && m.method !== null && typeof m.method !== 'string')
      return 'request method is not a string';
    return {
      type: 'request',
      id,
      method: typeof m.method === 'string' ? m.method : undefined,
      url: m.url,
      headers: m.headers,
      body: m.body as ArrayBuffer | undefined,
      referrer: typeof m.referrer === 'string' ? m.referrer : undefined,
      destination: typeof m.destination === 'string' ? m.destination : undefined,
    };
  },
  ack(m, id) {
    if (typeof m.bytes !== 'number') return 'ack without a byte count';
    return { type: 'ack', id, bytes: m.bytes };
  },
  cancel: (_m, id) => ({ type: 'cancel', id }),
  ping: (_m, id) => ({ type: 'ping', id }),
  websocket(m, id, ports) {
    const page = ports[0];
    const protocols = m.protocols === undefined ? [] : m.protocols;
    if (!isPort(page)) return 'websocket without a port';
    if (typeof m.url !== 'string') return 'websocket without a url';
    if (!Array.isArray(protocols) || !protocols.every((p) => typeof p === 'string'))
      return 'websocket protocols are not strings';
    return { type: 'websocket', id, url: m.url, protocols: protocols as string[], page };
  },
};

/** Decodes what the node receives on a Service Worker's port (`ports`: the event's ports). */
export function decodeToNode(data: unknown, ports: readonly unknown[] = []): Decoded<ProxyToNodeDecoded> {
  const e = envelope(data, toNode);
  if (!e.ok) return e;
  const { m, id, type, decode } = e;
  const r = decode(m, id, ports);
  if (typeof r !== 'string') return { ok: true, msg: r };
  return {
    ok: false,
    id,
    type,
    reason: r,
    page: type === 'websocket' && isPort(ports[0]) ? ports[0] : undefined,
  };
}

const fromNode: { [K in ProxyFromNode['type']]: (m: Fields, id: number) => ProxyFromNode | string } = {
  response(m, id) {
    if (typeof m.status !== 'number') return 'response without a status';
    if (m.statusText !== undefined && typeof m.statusText !== 'string') return 'response status text is not a string';
    if (!isHeaderList(m.headers)) return 'response headers are not a list of [name, value] strings';
    return { type: 'response', id, status: m.status, statusText: m.statusText ?? '', headers: m.headers };
  },
  chunk(m, id) {
    if (!(m.data instanceof ArrayBuffer)) return 'chunk without an ArrayBuffer';
    return { type: 'chunk', id, data: m.data };
  },
  end: (_m, id) => ({ type: 'end', id }),
  error(m, id) {
    if (typeof m.message !== 'string') return 'error without a message';
    return { type: 'error', id, message: m.message, code: typeof m.code === 'string' ? m.code : undefined };
  },
  pong: (_m, id) => ({ type: 'pong', id }),
};

/** Decodes what the Service Worker receives on the node's port. */
export function decodeFromNode(data: unknown): Decoded<ProxyFromNode> {
  const e = envelope(data, fromNode);
  if (!e.ok) return e;
  const { m, id, type, decode } = e;
  const r = decode(m, id);
  return typeof r === 'string' ? { ok: false, id, type, reason: r } : { ok: true, msg: r };
}

// A proxied page's WebSocket, on the port the 'websocket' message carried (proxy-websocket.ts is
// the node's end, the frame script's shim the page's).

/** Node → page. */
export type WebSocketToPage =
  | { type: 'open'; protocol: string; extensions: string }
  | { type: 'message'; data: string | ArrayBuffer }
  | { type: 'sent'; bytes: number }
  | { type: 'close'; code: number; reason: string; wasClean: boolean };

/** Page → node (`ack`: the page dispatched messages of this size, string length or byteLength). */
export type WebSocketToNode =
  | { type: 'send'; data: string | ArrayBuffer }
  | { type: 'ack'; bytes: number }
  | { type: 'close'; code?: number; reason?: string };
