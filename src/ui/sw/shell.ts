// The offline app shell of the installed PWA: network first, and what came is kept in Cache
// Storage for when the network is gone (a navigation then gets the cached index).

export const SHELL_CACHE = 'tailtab-shell-v1';

// Never kept offline: the embedded config (it may hold an auth key) and anything its server said
// not to store. The rest of the shell is code, icons and the manifest.
export const NEVER_CACHED: ReadonlySet<string> = new Set(['/tailtab-config.json']);

export function cacheable(request: Request, res: Response, keepNothing = false): boolean {
  if (keepNothing || !res.ok || request.method !== 'GET') return false;
  if (NEVER_CACHED.has(new URL(request.url).pathname)) return false;
  return !/no-store/i.test(res.headers.get('cache-control') || '');
}

/** Network first; with `keepNothing` (the widget on a vendor's origin) nothing is stored at all. */
export async function shell(request: Request, keepNothing = false): Promise<Response> {
  if (keepNothing) return fetch(request);
  const cache = await caches.open(SHELL_CACHE);
  try {
    const res = await fetch(request);
    if (cacheable(request, res)) await cache.put(request, res.clone());
    return res;
  } catch (e) {
    const hit = await cache.match(request, { ignoreSearch: request.mode === 'navigate' });
    if (hit) return hit;
    if (request.mode === 'navigate') {
      const index = await cache.match('/');
      if (index) return index;
    }
    throw e;
  }
}
