// Save a stream as a browser download without holding it in the page: the stream goes to the
// Service Worker (sw/downloads.ts) under a random one-time id, and a hidden frame
// navigates to /__tailtab/download/<id>/<name>, which the worker answers as an attachment; the
// browser's download manager then writes the bytes to disk as they arrive. (A Blob would keep the
// whole file in the tab's memory first.) Without a controlling Service Worker that serves the
// route, streamDownloadViaServiceWorker returns false and the caller keeps its Blob fallback.

import { canTransferStreams } from '../app/stream-port.js';

export interface StreamDownloadOptions {
  /** Bytes passed on so far (progress). */
  onBytes?: (total: number) => void;
  /** Injected for tests; crypto.randomUUID by default. */
  newId?: () => string;
  /** How long the worker has to answer the probe and the hand-over. */
  answerWithinMs?: number;
}

import type { DownloadKeepAliveMessage, DownloadMessage, DownloadReply } from './sw/messages.js';

const PROBE_MS = 3000;
const KEEPALIVE_MS = 10_000;

type Reply = DownloadReply;

/** Post a message with a reply port; resolve with the first reply, or null after `ms`. */
function ask(
  sw: ServiceWorker,
  msg: DownloadMessage,
  transfer: Transferable[],
  ms: number,
  onLater?: (r: Reply) => void,
): Promise<Reply | null> {
  const ch = new MessageChannel();
  return new Promise((resolve) => {
    let first = true;
    const timer = setTimeout(() => {
      first = false;
      resolve(null);
    }, ms);
    ch.port1.onmessage = (e) => {
      const r = e.data as Reply;
      if (first) {
        first = false;
        clearTimeout(timer);
        resolve(r);
      } else onLater?.(r);
    };
    sw.postMessage(msg, [ch.port2, ...transfer]);
  });
}

/**
 * The worker serving downloads for this page, or null (none, an older version without the route,
 * or a browser that cannot hand it a stream: WebKit cannot transfer a ReadableStream, so there
 * the caller's Blob fallback is used).
 */
export async function downloadWorker(ms = PROBE_MS): Promise<ServiceWorker | null> {
  const sw = typeof navigator !== 'undefined' ? navigator.serviceWorker?.controller : null;
  if (!sw || typeof MessageChannel === 'undefined' || !canTransferStreams()) return null;
  const r = await ask(sw, { type: 'tailtab-download', id: 'probe' }, [], ms);
  return r?.type === 'ready' ? sw : null;
}

/**
 * Hand `data` to the Service Worker and start the browser download. Resolves with the byte count
 * once the browser has read the whole stream; rejects if the worker or the browser gave up.
 */
export async function streamDownloadViaServiceWorker(
  sw: ServiceWorker,
  data: ReadableStream<Uint8Array>,
  name: string,
  size: number | undefined,
  host: ParentNode & Node,
  opts: StreamDownloadOptions = {},
): Promise<number> {
  const id = (opts.newId ?? (() => crypto.randomUUID()))();
  let total = 0;
  let settle!: { resolve: (n: number) => void; reject: (e: Error) => void };
  const finished = new Promise<number>((resolve, reject) => (settle = { resolve, reject }));
  // Passes chunks on one at a time as the browser reads them (pull), so the page holds no more
  // than a chunk, and tells us when the end was read or the reader gave up.
  const reader = data.getReader();
  const counted = new ReadableStream<Uint8Array>(
    {
      async pull(ctl) {
        try {
          const { value, done } = await reader.read();
          if (done) {
            ctl.close();
            settle.resolve(total);
            return;
          }
          total += value.byteLength;
          opts.onBytes?.(total);
          ctl.enqueue(value);
        } catch (e) {
          ctl.error(e);
          settle.reject(e as Error);
        }
      },
      cancel(reason) {
        void reader.cancel(reason).catch(() => {});
        settle.reject(new Error('the download was cancelled'));
      },
    },
    { highWaterMark: 0 },
  );
  const r = await ask(
    sw,
    { type: 'tailtab-download', id, name, size, stream: counted },
    [counted as unknown as Transferable],
    opts.answerWithinMs ?? PROBE_MS,
    (later) => {
      if (later.type === 'expired') settle.reject(new Error('the browser did not start the download'));
    },
  );
  if (r?.type !== 'ready') {
    void reader.cancel().catch(() => {});
    throw new Error(r?.message ?? 'the Service Worker did not take the download');
  }
  const frame = document.createElement('iframe');
  frame.hidden = true;
  frame.title = 'download';
  frame.src = `/__tailtab/download/${id}/${encodeURIComponent(name)}`;
  host.appendChild(frame);
  // A message from the page extends an idle Service Worker's life (Chromium stops one ~30 s after
  // its last event); a long download would otherwise risk losing the worker mid-stream.
  const keepAlive = setInterval(
    () => sw.postMessage({ type: 'tailtab-download-keepalive' } satisfies DownloadKeepAliveMessage),
    KEEPALIVE_MS,
  );
  try {
    return await finished;
  } finally {
    clearInterval(keepAlive);
    frame.remove();
  }
}
