// The rig's real HTTP server, listening on 127.0.0.1 in the rig's network namespace. Every peer's
// userspace tailscaled forwards tailnet TCP to 127.0.0.1:<port>, so this is what an HTTP view of a
// peer shows. It serves a small static web app (HTML + script + image + form POST echo) and
// deterministic downloads of any size with a known SHA-256 for data-path tests.
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { deflateSync, gzipSync } from 'node:zlib';
import { WebSocketServer } from 'ws';

/** Deterministic byte stream (xorshift32, fixed seed): byte i of /bytes/<n> for any n. */
export function deterministicBytes(offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = 0x9e3779b9 >>> 0;
  // Each 4-byte word w is a fresh xorshift of (seed ^ w): random access without replaying the stream.
  for (let i = 0; i < length; i++) {
    const pos = offset + i;
    if (i === 0 || pos % 4 === 0) {
      x = (0x9e3779b9 ^ Math.imul(Math.floor(pos / 4) + 1, 0x85ebca6b)) >>> 0;
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
    }
    out[i] = (x >>> ((pos % 4) * 8)) & 0xff;
  }
  return out;
}

/** SHA-256 (hex) of the body of GET /bytes/<n>. */
export function bytesSha256(n: number): string {
  const h = createHash('sha256');
  const chunk = 1 << 16;
  for (let off = 0; off < n; off += chunk) h.update(deterministicBytes(off, Math.min(chunk, n - off)));
  return h.digest('hex');
}

function crc32(buf: Uint8Array): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A 16×16 RGB PNG (a blue/orange checkerboard), built at start-up: a real image for the web view. */
export function testPng(): Buffer {
  const w = 16,
    h = 16;
  const raw = Buffer.alloc(h * (1 + w * 3));
  for (let y = 0; y < h; y++) {
    raw[y * (1 + w * 3)] = 0;
    for (let x = 0; x < w; x++) {
      const o = y * (1 + w * 3) + 1 + x * 3;
      const on = ((x >> 2) + (y >> 2)) % 2 === 0;
      raw[o] = on ? 0x1f : 0xf0;
      raw[o + 1] = on ? 0x6f : 0x8c;
      raw[o + 2] = on ? 0xeb : 0x1e;
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export const INDEX_TITLE = 'tailtab rig web app';
const INDEX_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>${INDEX_TITLE}</title><link rel="stylesheet" href="/style.css"></head>
<body>
<h1 id="title">Hello from the tailnet</h1>
<p id="script-status">script not run</p>
<img id="img" src="/image.png" alt="checkerboard" width="64" height="64">
<form id="form" method="POST" action="/echo"><input name="message" value="hi"><button type="submit">Send</button></form>
<p><a id="bytes-link" href="/bytes/1048576">1 MiB download</a></p>
<script src="/app.js"></script>
</body></html>
`;
const APP_JS = `document.getElementById('script-status').textContent = 'script ran';\n`;
const STYLE_CSS = `body { font-family: sans-serif; } h1 { color: rgb(31, 111, 235); }\n`;
// The /app/ test web app for the web-view proxy: like a real self-hosted app it references its
// assets by absolute path (/app/app.js), sends gzip/deflate-encoded assets, forbids framing
// (X-Frame-Options, CSP frame-ancestors) and keeps a cookie across a POST → 303 → GET form flow.
export const APP_TITLE = 'tailtab test app';
const APP_HTML_HEAD = `<!doctype html>
<html><head><meta charset="utf-8"><title>${APP_TITLE}</title><link rel="stylesheet" href="/app/style.css"></head>
<body>
<h1 id="title">Test app on a tailnet host</h1>
<p id="script-status">script not run</p>
<p id="api-status">api not called</p>
<p id="path"></p>
<p><button id="spa-nav" type="button">client-side route</button> <span id="spa-status"></span></p>
`;
const APP_HTML_TAIL = `<img id="img" src="/app/image.png" alt="checkerboard" width="64" height="64">
<form id="form" method="POST" action="/app/submit"><input id="message" name="message" value="hi"><button id="send" type="submit">Send</button></form>
<p><a id="download" href="/bytes/20971520">20 MiB download</a></p>
<script src="/app/app.js"></script>
</body></html>
`;
// Runs only if the proxy served it (script-src 'self'); also calls an API by absolute path.
const APP_APP_JS = `document.getElementById('script-status').textContent = 'script ran';
// What a single-page app's router would route by.
document.getElementById('path').textContent = location.pathname;
fetch('/app/api/info').then((r) => r.json()).then((j) => { document.getElementById('api-status').textContent = 'api says ' + j.greeting; },
  (e) => { document.getElementById('api-status').textContent = 'api failed: ' + e; });
// A single-page app's client-side route: the URL changes without a request, then an API call.
document.getElementById('spa-nav').addEventListener('click', () => {
  history.pushState({}, '', '/app/spa/page2');
  fetch('/app/api/info').then((r) => r.json()).then((j) => { document.getElementById('spa-status').textContent = location.pathname + ' ' + j.greeting; },
    (e) => { document.getElementById('spa-status').textContent = 'failed: ' + e; });
});
`;
// /app/ws/: a page whose script opens a WebSocket relative to itself (ws://<its host>/app/ws/echo,
// as apps build them from location), sends text, bytes, a Blob and 100 kB, shows the echoes,
// then asks for a 2 MiB flood (more than the proxy's 1 MiB flow-control window) and closes. Through the web view the page's origin is tailtab's proxy origin: only the frame
// script's WebSocket shim makes this reach the tailnet host.
export const WS_TITLE = 'tailtab WebSocket test';
const WS_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>${WS_TITLE}</title></head>
<body>
<h1>WebSocket echo</h1>
<p id="ws-state">not started</p>
<p id="ws-text"></p>
<p id="ws-binary"></p>
<p id="ws-blob"></p>
<p id="ws-big"></p>
<p id="ws-flood"></p>
<p id="ws-closed"></p>
<p id="ws-error"></p>
<script src="/app/ws/page.js"></script>
</body></html>
`;
const WS_PAGE_JS = `const show = (id, t) => { document.getElementById(id).textContent = t; };
const url = new URL('echo', location.href);
url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
const ws = new WebSocket(url.href, ['echo.v1']);
ws.binaryType = 'arraybuffer';
show('ws-state', 'connecting to ' + url.pathname);
let got = 0;
let flood = 0;
ws.onopen = () => {
  show('ws-state', 'open, protocol ' + ws.protocol);
  ws.send('hello über tailnet');
  ws.send(new Uint8Array([0, 1, 2, 253, 254, 255]));
  ws.send(new Blob(['blob says hi']));
  ws.send(new Uint8Array(100000).fill(7));
};
ws.onmessage = (e) => {
  if (e.data === 'flood done') { show('ws-flood', 'flood: ' + flood + ' bytes'); ws.close(1000, 'done'); return; }
  if (typeof e.data === 'string') show('ws-text', 'text: ' + e.data);
  else {
    const b = new Uint8Array(e.data);
    if (b.length === 65536) { flood += b.length; return; }
    if (b.length === 100000) show('ws-big', 'big: ' + b.length + ' bytes, sum ' + b.reduce((a, x) => a + x, 0));
    else if (b[0] === 0) show('ws-binary', 'binary: ' + Array.from(b).join(','));
    else show('ws-blob', 'blob: ' + new TextDecoder().decode(b));
  }
  if (++got === 4) ws.send('flood');
};
ws.onerror = () => show('ws-error', 'error');
ws.onclose = (e) => show('ws-closed', 'closed ' + e.code + ' ' + e.reason + ' clean=' + e.wasClean);
`;
const APP_STYLE_CSS = `body { font-family: sans-serif; } h1 { color: rgb(31, 111, 235); }\n`;
const APP_FRAME_DENY = {
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
};
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return null;
}

/** Serves /app/…; returns false for other paths. */
function serveApp(
  req: import('node:http').IncomingMessage,
  res: import('node:http').ServerResponse,
  path: string,
  png: Buffer,
): boolean {
  // /app/spa/… is the single-page app's fallback: the same page for any client-side route.
  if (req.method === 'GET' && (path === '/app' || path === '/app/' || path.startsWith('/app/spa/'))) {
    // Sent chunked in two writes: exercises Transfer-Encoding: chunked through the proxy.
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...APP_FRAME_DENY });
    res.write(APP_HTML_HEAD);
    // Like apps that build absolute links from the Host they were asked for.
    const host = escapeHtml(String(req.headers.host ?? '127.0.0.1'));
    res.write(`<p><a id="abs-link" href="http://${host}/app/result?message=absolute%20link">absolute link</a></p>\n`);
    res.end(APP_HTML_TAIL);
  } else if (req.method === 'GET' && (path === '/app/ws' || path === '/app/ws/')) {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...APP_FRAME_DENY }).end(WS_HTML);
  } else if (req.method === 'GET' && path === '/app/ws/page.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(WS_PAGE_JS);
  } else if (req.method === 'GET' && path === '/app/app.js') {
    res.writeHead(200, { 'content-type': 'text/javascript', 'content-encoding': 'gzip' }).end(gzipSync(APP_APP_JS));
  } else if (req.method === 'GET' && path === '/app/style.css') {
    res.writeHead(200, { 'content-type': 'text/css', 'content-encoding': 'deflate' }).end(deflateSync(APP_STYLE_CSS));
  } else if (req.method === 'GET' && path === '/app/image.png') {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length }).end(png);
  } else if (req.method === 'GET' && path === '/app/api/info') {
    res
      .writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
      .end(gzipSync(JSON.stringify({ greeting: 'hello from the api' })));
  } else if (req.method === 'POST' && path === '/app/submit') {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const message = new URLSearchParams(Buffer.concat(parts).toString('utf8')).get('message') ?? '';
      res
        .writeHead(303, {
          location: `/app/result?message=${encodeURIComponent(message)}`,
          'set-cookie': `last=${encodeURIComponent(message)}; Path=/app; HttpOnly`,
        })
        .end();
    });
  } else if (req.method === 'GET' && path === '/app/result') {
    const url = new URL(req.url ?? '/', 'http://x');
    const html = `<!doctype html><html><head><meta charset="utf-8"><title>${APP_TITLE}: result</title></head><body>
<p id="posted">${escapeHtml(url.searchParams.get('message') ?? '')}</p>
<p id="cookie">${escapeHtml(cookieValue(req.headers.cookie, 'last') ?? '(no cookie)')}</p>
<a id="back" href="/app/">back</a></body></html>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...APP_FRAME_DENY }).end(html);
  } else {
    return false;
  }
  return true;
}

/** Largest /bytes/<n> served (1 GiB). */
export const MAX_BYTES = 1 << 30;

export interface WebServer {
  port: number;
  server: Server;
  close(): Promise<void>;
}

export function startWebServer(port = 0): Promise<WebServer> {
  const png = testPng();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (path === '/app' || path.startsWith('/app/')) {
      if (serveApp(req, res, path, png)) return;
    }
    if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(INDEX_HTML);
    } else if (req.method === 'GET' && path === '/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(APP_JS);
    } else if (req.method === 'GET' && path === '/style.css') {
      res.writeHead(200, { 'content-type': 'text/css' }).end(STYLE_CSS);
    } else if (req.method === 'GET' && path === '/image.png') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length }).end(png);
    } else if (req.method === 'GET' && path === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (req.method === 'POST' && path === '/echo') {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const body = Buffer.concat(parts).toString('utf8');
        const out = JSON.stringify({
          method: req.method,
          contentType: req.headers['content-type'] ?? null,
          body,
          fields: Object.fromEntries(new URLSearchParams(body)),
        });
        res.writeHead(200, { 'content-type': 'application/json' }).end(out);
      });
    } else if (req.method === 'GET' && path.startsWith('/bytes/')) {
      const n = Number(path.slice('/bytes/'.length));
      if (!Number.isInteger(n) || n < 0 || n > MAX_BYTES) {
        res.writeHead(400).end('bad size\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
      let off = 0;
      const pump = () => {
        while (off < n) {
          const len = Math.min(1 << 16, n - off);
          const ok = res.write(deterministicBytes(off, len));
          off += len;
          if (!ok) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  // /app/ws/echo: a WebSocket echo (the `ws` package), text as text and binary as binary (the
  // text "flood" is answered with 2 MiB in 32 binary messages and "flood done"); subprotocol
  // echo.v1 when offered. Other upgrade paths are refused.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 16 << 20,
    handleProtocols: (ps) => (ps.has('echo.v1') ? 'echo.v1' : false),
  });
  server.on('upgrade', (req, sock, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== '/app/ws/echo') {
      sock.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, sock, head, (ws) =>
      ws.on('message', (data, isBinary) => {
        if (!isBinary && data.toString() === 'flood') {
          // 2 MiB in 64 KiB messages, then a marker: for flow control towards a page.
          for (let i = 0; i < 32; i++) ws.send(Buffer.alloc(65536, i));
          ws.send('flood done');
        } else {
          ws.send(data, { binary: isBinary });
        }
      }),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const a = server.address();
      const p = typeof a === 'object' && a ? a.port : port;
      resolve({
        port: p,
        server,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}
