// Downloads from tailtab's own pages (the Files view, src/ui/sw-download.ts). The page streams a
// file to disk without holding it: it transfers the ReadableStream here under a random one-time id
// ({type:'tailtab-download', id, name, size?, stream} with a reply port; a message without a stream
// is a probe, answered so the page knows this worker version serves downloads), then navigates a
// hidden frame to /__tailtab/download/<id>/<name>, which this worker answers with the stream as an
// attachment; the browser's download manager writes it to disk as it arrives. An id is served once
// and forgotten (another request for it gets 404), and one not asked for within 30 s is dropped
// and its stream cancelled (the page's SFTP read stops).
import type { DownloadReply, PageMessage } from './messages.js';

export const DOWNLOAD_PREFIX = '/__tailtab/download/';
const DOWNLOAD_TTL_MS = 30000;
const DOWNLOAD_ID = /^[0-9a-f-]{32,64}$/;

interface Download {
  stream: ReadableStream<Uint8Array>;
  name: string;
  size: number | undefined;
  timer: ReturnType<typeof setTimeout>;
  port: MessagePort;
}

const downloads = new Map<string, Download>();

function reply(port: MessagePort, r: DownloadReply): void {
  port.postMessage(r);
}

export function takeDownload(m: Extract<PageMessage, { type: 'tailtab-download' }>): void {
  const { port, stream } = m;
  if (!stream) {
    reply(port, { type: 'ready', id: m.id });
    return;
  }
  const id = m.id;
  if (id === undefined || !DOWNLOAD_ID.test(id) || downloads.has(id)) {
    stream.cancel().catch(() => {});
    reply(port, { type: 'error', id, message: 'refused download id' });
    return;
  }
  const timer = setTimeout(() => {
    if (!downloads.delete(id)) return;
    stream.cancel(new Error('download not taken')).catch(() => {});
    reply(port, { type: 'expired', id });
  }, DOWNLOAD_TTL_MS);
  downloads.set(id, { stream, name: m.name ?? 'download', size: m.size, timer, port });
  reply(port, { type: 'ready', id });
}

/** RFC 6266 §4.3 with an RFC 8187 filename* for names that are not plain ASCII. */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const ext = encodeURIComponent(name).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return `attachment; filename="${ascii}"; filename*=UTF-8''${ext}`;
}

export function serveDownload(request: Request, url: URL): Response {
  const id = url.pathname.slice(DOWNLOAD_PREFIX.length).split('/')[0]!;
  const d = request.method === 'GET' ? downloads.get(id) : undefined;
  if (!d)
    return new Response('This download has already been taken or has expired.\n', {
      status: 404,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
    });
  downloads.delete(id);
  clearTimeout(d.timer);
  reply(d.port, { type: 'taken', id });
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'content-disposition': contentDisposition(d.name),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  };
  if (d.size !== undefined) headers['content-length'] = String(d.size);
  return new Response(d.stream, { headers });
}
