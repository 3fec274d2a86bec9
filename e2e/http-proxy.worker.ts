// The node Worker's stand-in for e2e/http-proxy.test.ts: HttpClient + serveHttpProxy run in a
// dedicated Worker, as in the app (NodeApi.httpProxyPort). Its dialer reaches the test web server
// through the test's loopback WebSocket→TCP bridge instead of the tailnet.
/// <reference lib="webworker" />
import { HttpClient, type Conn } from '../src/http/client.js';
import { serveHttpProxy, type HttpProxyHandle } from '../src/http/proxy-server.js';
import type { MessagePortLike } from '../src/platform/port.js';

let client: HttpClient | undefined;
const handles: HttpProxyHandle[] = [];

function wsDial(bridge: string) {
  return (host: string, port: number): Promise<Conn> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`${bridge}/?host=${encodeURIComponent(host)}&port=${port}`);
      ws.binaryType = 'arraybuffer';
      let ctrl!: ReadableStreamDefaultController<Uint8Array>;
      let done = false;
      const readable = new ReadableStream<Uint8Array>({ start: (c) => void (ctrl = c) });
      const end = (err?: Error) => {
        if (done) return;
        done = true;
        try {
          if (err) ctrl.error(err);
          else ctrl.close();
        } catch {
          /* closed */
        }
      };
      ws.onmessage = (e) => {
        if (!done) ctrl.enqueue(new Uint8Array(e.data as ArrayBuffer));
      };
      ws.onclose = () => end();
      ws.onerror = () => {
        reject(new Error(`bridge to ${host}:${port} failed`));
        end(new Error('bridge error'));
      };
      const writable = new WritableStream<Uint8Array>({
        async write(chunk) {
          if (ws.readyState !== WebSocket.OPEN) throw new Error('bridge closed');
          ws.send(chunk);
          while (ws.bufferedAmount > 1 << 20) await new Promise((r) => setTimeout(r, 5));
        },
        close: () => ws.close(),
        abort: () => ws.close(),
      });
      ws.onopen = () => resolve({ readable, writable, close: () => ws.close() });
    });
}

self.onmessage = (e: MessageEvent) => {
  const m = e.data as { type: string; bridge?: string };
  if (m.type === 'init') {
    client = new HttpClient({ dial: wsDial(m.bridge!) });
  } else if (m.type === 'port' && client) {
    // What NodeApi.httpProxyPort does with the port the page made.
    handles.push(serveHttpProxy(e.ports[0] as unknown as MessagePortLike, client));
  } else if (m.type === 'stop') {
    // Simulates a node that died: its ports stay open but nothing answers any more.
    for (const h of handles.splice(0)) h.close();
  }
};
