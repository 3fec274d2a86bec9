// The web view's proxy host (see src/ui/proxy-origin.ts): runs on the proxy origin, inside a
// hidden frame of the tailtab page whose origin is given as #app=<origin>. Messages are taken
// only from that parent window and origin, and sent only to it.
(function () {
  const app = new URLSearchParams(location.hash.slice(1)).get('app');
  if (!app || window.parent === window || !('serviceWorker' in navigator)) return;
  const say = (m) => window.parent.postMessage(m, app);
  async function forget() {
    for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
    for (const k of await caches.keys()) await caches.delete(k);
    try {
      localStorage.clear();
      sessionStorage.clear();
    } catch (_) {
      /* storage may be blocked */
    }
    if (indexedDB.databases) for (const d of await indexedDB.databases()) if (d.name) indexedDB.deleteDatabase(d.name);
  }
  navigator.serviceWorker
    .register('/sw.js?proxy=host', { scope: '/' })
    .then(() => navigator.serviceWorker.ready)
    .then((reg) => {
      navigator.serviceWorker.addEventListener('message', (e) => {
        if (e.data && e.data.type === 'tailtab-need-port') say({ type: 'tailtab-need-port' });
      });
      window.addEventListener('message', (e) => {
        if (e.origin !== app || e.source !== window.parent) return;
        if (e.data && e.data.type === 'tailtab-proxy-host-forget') {
          // tailtab's Wipe: nothing of this app's origin stays either — its Service Worker, its
          // caches, and what the app kept in this origin's storage.
          forget().then(
            () => say({ type: 'tailtab-proxy-host-forgotten' }),
            () => say({ type: 'tailtab-proxy-host-forgotten' }),
          );
          return;
        }
        if (e.data && e.data.type === 'tailtab-node-port' && e.ports[0]) {
          const sw = navigator.serviceWorker.controller || reg.active;
          if (sw) sw.postMessage({ type: 'tailtab-node-port' }, [e.ports[0]]);
          else say({ type: 'tailtab-proxy-host-error', message: 'no active Service Worker' });
        }
      });
      say({ type: 'tailtab-proxy-host-ready' });
    })
    .catch((e) => say({ type: 'tailtab-proxy-host-error', message: String((e && e.message) || e) }));
})();
