// Browser side of e2e/http-proxy.test.ts. The node Worker's role is played by this page: it runs
// HttpClient + serveHttpProxy and hands the port to the Service Worker. The dialer reaches the
// test web server through the test's loopback WebSocket→TCP bridge (a stand-in for the node's
// tailnet TCP, which is not the subject of this component test).
import { HttpClient, type Conn } from '../src/http/client.js';
import { serveHttpProxy } from '../src/http/proxy-server.js';

const bridge = new URLSearchParams(location.search).get('bridge')!;
const status = document.getElementById('status')!;

function wsDial(host: string, port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
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

const client = new HttpClient({ dial: wsDial });
const w = window as unknown as { proxyStats: unknown[]; proxyReady: boolean; portsHanded: number; stopNode: () => void };
w.proxyStats = [];
const handles: { close(): void }[] = [];
// Simulates a node Worker that died: its ports stay open but nothing answers any more.
w.stopNode = () => {
  for (const h of handles.splice(0)) h.close();
};
w.portsHanded = 0;

async function start() {
  await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  const reg = await navigator.serviceWorker.ready;
  // Exactly what the app does (src/ui/app.ts startProxy), with our node side in this page.
  const hand = () => {
    const ch = new MessageChannel();
    const h = serveHttpProxy(ch.port1, client);
    handles.push(h);
    w.proxyStats.push(h.stats);
    w.portsHanded++;
    (navigator.serviceWorker.controller ?? reg.active)?.postMessage({ type: 'tailtab-node-port' }, [ch.port2]);
  };
  navigator.serviceWorker.addEventListener('message', (e) => {
    if ((e.data as { type?: string })?.type === 'tailtab-need-port') hand();
  });
  hand();
  w.proxyReady = true;
  status.textContent = 'ready';
}
start().catch((e) => (status.textContent = 'failed: ' + (e as Error).message));
