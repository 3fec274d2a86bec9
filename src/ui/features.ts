// What this browser gives tailtab, found by feature detection (never by the user agent): what it
// cannot run without, and what works less well without (private windows refuse storage and
// Service Workers; Chrome on Android has no SharedWorker). Each answer is one sentence a person
// can act on; the app and the widget show it instead of a blank page or a raw exception.

/** The one thing missing that tailtab cannot run without, as a sentence; undefined if nothing is. */
export function missingRequirement(g: typeof globalThis = globalThis): string | undefined {
  if (g.isSecureContext === false)
    return 'tailtab needs a secure page (https:// or localhost): this browser withholds the cryptography it needs here.';
  if (!g.crypto?.subtle)
    return "tailtab needs the browser's Web Cryptography (crypto.subtle), which this browser does not offer here.";
  if (typeof g.Worker !== 'function') return 'tailtab needs Web Workers, which this browser does not offer here.';
  if (typeof g.WebSocket !== 'function') return 'tailtab needs WebSockets, which this browser does not offer here.';
  return undefined;
}

/** Whether windows of this origin can share one node (a SharedWorker). */
export function canShareNode(g: typeof globalThis = globalThis): boolean {
  return typeof (g as { SharedWorker?: unknown }).SharedWorker === 'function';
}

/** Whether this browser lets the page keep anything in IndexedDB (a private window may refuse). */
export async function storageUsable(g: typeof globalThis = globalThis, timeoutMs = 3000): Promise<boolean> {
  const idb = (g as { indexedDB?: IDBFactory }).indexedDB;
  if (!idb || typeof idb.open !== 'function') return false;
  return new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    try {
      const req = idb.open('tailtab-probe');
      req.onsuccess = () => {
        clearTimeout(t);
        req.result.close();
        // Leave nothing behind: a wiped or kiosk browser must show no database of ours.
        try {
          idb.deleteDatabase('tailtab-probe');
        } catch {
          /* nothing to delete */
        }
        resolve(true);
      };
      req.onerror = () => {
        clearTimeout(t);
        resolve(false);
      };
    } catch {
      clearTimeout(t);
      resolve(false);
    }
  });
}

/** Said when the browser has no Service Worker for tailtab, or refuses to register one. */
export const NO_SERVICE_WORKER =
  'This browser gives tailtab no Service Worker here (a private window?): web views of tailnet sites will not open, and downloads are held in memory until saved.';

/** What works less well in this browser, one sentence each (empty when nothing). */
export async function limitations(
  o: { sharedNode: boolean; ephemeral: boolean },
  g: typeof globalThis = globalThis,
): Promise<string[]> {
  const out: string[] = [];
  if (!o.sharedNode)
    out.push('Windows of tailtab do not share the node here: each window runs its own, with its own sessions.');
  if (!o.ephemeral && !(await storageUsable(g))) {
    out.push(
      'This browser gives tailtab no storage here (a private window?): your login and keys are forgotten when this window closes.',
    );
  }
  const sw = (g.navigator as Navigator | undefined)?.serviceWorker;
  if (!sw || typeof sw.register !== 'function') {
    out.push(NO_SERVICE_WORKER);
  }
  return out;
}
