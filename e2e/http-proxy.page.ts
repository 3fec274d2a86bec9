// Browser side of e2e/http-proxy.test.ts: the page registers /sw.js and, exactly like the app
// (src/ui/app.ts startProxy), gives one end of a MessageChannel to the "node" Worker
// (e2e/http-proxy.worker.ts: HttpClient + serveHttpProxy) and the other to the Service Worker,
// again whenever the Service Worker asks ('tailtab-need-port').
const bridge = new URLSearchParams(location.search).get('bridge')!;
const status = document.getElementById('status')!;
const w = window as unknown as { proxyReady: boolean; portsHanded: number; stopNode: () => void };
w.portsHanded = 0;

const worker = new Worker(new URL('./http-proxy.worker.ts', import.meta.url), { type: 'module' });
worker.postMessage({ type: 'init', bridge });
w.stopNode = () => worker.postMessage({ type: 'stop' });

async function start() {
  await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  const reg = await navigator.serviceWorker.ready;
  const hand = () => {
    const ch = new MessageChannel();
    worker.postMessage({ type: 'port' }, [ch.port1]);
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
