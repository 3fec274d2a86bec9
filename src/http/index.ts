// 'tailtab/http': the HTTP/1.1 client and the WebSocket client over an injected dialer (a
// TailnetNode's dial in practice), and the node side of the web-view proxy. See README.md beside
// this file.
export {
  HttpClient,
  HttpError,
  HttpHeaders,
  type HttpClientOptions,
  type HttpRequestInit,
  type HttpResponse,
  type HttpErrorCode,
  type Dialer,
  type Conn,
  type HeaderList,
  type HeadersInput,
  type PoolStats,
} from './client.js';
export { CookieJar } from './cookies.js';
export {
  connectWebSocket,
  WebSocketClient,
  type WebSocketConnectOptions,
  type WsCloseInfo,
} from './websocket-client.js';
export { serveHttpProxy, type HttpProxyOptions, type HttpProxyHandle } from './proxy-server.js';
export type { MessagePortLike } from '../platform/port.js';
