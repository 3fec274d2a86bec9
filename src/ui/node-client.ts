// The page's handle on the node: a module Worker (ui/worker/node-worker.ts) that owns the node,
// its keys and every SSH session (the app layer, src/app/); this side only forwards calls and
// terminal bytes (app/node-client.ts).
import type { NodeApi } from '../app/node-api.js';
import { createNodeClientOnPort } from '../app/node-client.js';
import type { PortLike } from '../platform/port.js';
import { hostPeerConnections } from './rtc-host.js';

/** Offers the Worker this page's RTCPeerConnection for its WebRTC path (ui/rtc-host.ts, app/rtc-relay.ts). */
function offerRtcHost(port: { postMessage(m: unknown, t: Transferable[]): void }): void {
  if (typeof RTCPeerConnection !== 'function' || typeof MessageChannel !== 'function') return;
  const ch = new MessageChannel();
  hostPeerConnections(ch.port1);
  port.postMessage({ kind: 'rtc-host', port: ch.port2 }, [ch.port2]);
}

/** Not in TypeScript's lib.dom yet (SharedWorkerOptions.extendedLifetime). */
const EXTENDED_LIFETIME = { extendedLifetime: true };

/**
 * A SharedWorker where the browser has one, so several windows of the app share one node (one
 * node key, one set of sessions) instead of fighting over it; a dedicated Worker otherwise (or
 * when asked: `?worker=dedicated`). `name` separates nodes: the widget runs its own.
 *
 * `extendedLifetime` (HTML "SharedWorkerOptions", Chrome ≥ 148; ignored where unknown) keeps the
 * SharedWorker running for a while after its last window is gone. Without it a closed kiosk tab
 * takes the Worker down before the ephemeral node's logout has left (its 'release' is received,
 * but the Worker is terminated with the page), and control keeps the node until its ephemeral
 * inactivity timeout; with it the logout completes (e2e/kiosk-close.test.ts, Chromium 156: node
 * deleted by Headscale 0.3–0.6 s after the tab closed; without it still there after 20 s). Every
 * window must ask the same: Chrome refuses to join a SharedWorker started with the other setting.
 */
export function createNodeClient(o: { name?: string; dedicated?: boolean } = {}): NodeApi {
  const name = o.name ?? 'tailtab-node';
  if (!sharesNodeAcrossWindows(o)) {
    const worker = new Worker(new URL('./worker/node-worker.ts', import.meta.url), { type: 'module', name });
    offerRtcHost(worker);
    return { ...createNodeClientOnPort(worker as unknown as PortLike), workerKind: 'dedicated' };
  }
  // Spread before `type`: Vite reads `type` from this literal to bundle the Worker as a module.
  const shared = new SharedWorker(new URL('./worker/node-worker.ts', import.meta.url), {
    ...EXTENDED_LIFETIME,
    type: 'module',
    name,
  });
  // Chrome fires 'error' when it cannot connect this window, e.g. a window of an older tailtab
  // (no extendedLifetime) still runs the node: say so rather than wait forever.
  const failed = new Promise<string>((resolve) =>
    shared.addEventListener('error', () =>
      resolve(
        'tailtab could not start its node in this window. If another tailtab window is open (perhaps an older version), close it and reload this one.',
      ),
    ),
  );
  const client = createNodeClientOnPort(shared.port, { failed });
  offerRtcHost(shared.port);
  return { ...client, workerKind: 'shared' };
}

/** Whether createNodeClient gives this window a node shared with the origin's other windows (a SharedWorker). */
export function sharesNodeAcrossWindows(o: { dedicated?: boolean } = {}): boolean {
  const dedicated =
    o.dedicated ??
    (typeof location !== 'undefined' && new URLSearchParams(location.search).get('worker') === 'dedicated');
  return !dedicated && typeof SharedWorker === 'function';
}
