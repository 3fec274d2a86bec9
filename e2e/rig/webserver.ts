// The rig's real HTTP server, listening on 127.0.0.1 in the rig's network namespace. Every peer's
// userspace tailscaled forwards tailnet TCP to 127.0.0.1:<port>, so this is what an HTTP view of a
// peer shows. It serves a small static web app (HTML + script + image + form POST echo) and
// deterministic downloads of any size with a known SHA-256 for data-path tests.
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';

/** Deterministic byte stream (xorshift32, fixed seed): byte i of /bytes/<n> for any n. */
export function deterministicBytes(offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = 0x9e3779b9 >>> 0;
  // Each 4-byte word w is a fresh xorshift of (seed ^ w): random access without replaying the stream.
  for (let i = 0; i < length; i++) {
    const pos = offset + i;
    if (i === 0 || pos % 4 === 0) {
      x = (0x9e3779b9 ^ Math.imul(Math.floor(pos / 4) + 1, 0x85ebca6b)) >>> 0;
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
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
  const w = 16, h = 16;
  const raw = Buffer.alloc(h * (1 + w * 3));
  for (let y = 0; y < h; y++) {
    raw[y * (1 + w * 3)] = 0;
    for (let x = 0; x < w; x++) {
      const o = y * (1 + w * 3) + 1 + x * 3;
      const on = ((x >> 2) + (y >> 2)) % 2 === 0;
      raw[o] = on ? 0x1f : 0xf0; raw[o + 1] = on ? 0x6f : 0x8c; raw[o + 2] = on ? 0xeb : 0x1e;
    }
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
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
/** Largest /bytes/<n> served (1 GiB). */
export const MAX_BYTES = 1 << 30;

export interface WebServer { port: number; server: Server; close(): Promise<void> }

export function startWebServer(port = 0): Promise<WebServer> {
  const png = testPng();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
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
        const out = JSON.stringify({ method: req.method, contentType: req.headers['content-type'] ?? null, body, fields: Object.fromEntries(new URLSearchParams(body)) });
        res.writeHead(200, { 'content-type': 'application/json' }).end(out);
      });
    } else if (req.method === 'GET' && path.startsWith('/bytes/')) {
      const n = Number(path.slice('/bytes/'.length));
      if (!Number.isInteger(n) || n < 0 || n > MAX_BYTES) { res.writeHead(400).end('bad size\n'); return; }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
      let off = 0;
      const pump = () => {
        while (off < n) {
          const len = Math.min(1 << 16, n - off);
          const ok = res.write(deterministicBytes(off, len));
          off += len;
          if (!ok) { res.once('drain', pump); return; }
        }
        res.end();
      };
      pump();
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const a = server.address();
      const p = typeof a === 'object' && a ? a.port : port;
      resolve({ port: p, server, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) });
    });
  });
}
