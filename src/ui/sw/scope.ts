// The Service Worker's global scope and how it was registered. Only the worker's own modules
// import this (it reads `self` as a ServiceWorkerGlobalScope); the pure ones do not.
import { boundTarget, type BoundTarget } from './target.js';

export const sw = self as unknown as ServiceWorkerGlobalScope;

const PROXY_MODE = new URL(sw.location.href).searchParams.get('proxy');

/**
 * Registered as /sw.js?proxy=off on tailtab's own origin when the web view runs on a separate
 * origin (src/ui/proxy-origin.ts): then this origin never serves /proxy/, so no tailnet app can be
 * loaded next to tailtab's keys.
 */
export const PROXY_ON = PROXY_MODE !== 'off';

/**
 * Registered as /sw.js?proxy=host by the proxy-host frame on a target's own origin
 * (p<port>-<machine>.<proxy origin>, src/ui/proxy-origin.ts targetLabel): this worker then serves
 * that one host and port, and takes node ports only from its proxy-host frame. (The node binds
 * each such port to the same target, so this is the second of two locks, not the only one.)
 */
export const BOUND: BoundTarget | null = PROXY_MODE === 'host' ? boundTarget(sw.location.hostname) : null;

/**
 * Registered as /sw.js?proxy=widget with scope /proxy/ by the widget on a vendor's origin
 * (src/ui/widget.ts): it keeps nothing in Cache Storage — the origin is the vendor's.
 */
export const KEEP_NOTHING = PROXY_MODE === 'widget';

export const PROXY_HOST_PATH = '/proxy-host.html';
export const FRAME_SCRIPT_PATH = '/__tailtab/frame.js';
