// Helpers for tests and benchmarks of our node in the rig: TCP through a tailscaled peer's SOCKS5
// proxy (the native side), HTTP/1.0 over one of our node's TCP connections, and small loopback
// servers (sink, echo) that tailscaled forwards its tailnet ports to.
import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { RigPeer } from '../rig/index.js';
import type { TcpConnectionLike } from '../../src/node/node.js';

/** Opens a TCP connection to host:port through a peer's tailscaled SOCKS5 proxy (RFC 1928, no auth). */
export function socksConnect(peer: RigPeer, host: string, port: number, timeoutMs = 20_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: peer.socks5Port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`SOCKS5 connect to ${host}:${port} timed out`));
    }, timeoutMs);
    let buf = Buffer.alloc(0);
    let stage = 0;
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2) {
        if (buf[0] !== 5 || buf[1] !== 0) {
          clearTimeout(timer);
          s.destroy();
          reject(new Error('SOCKS5: no acceptable auth'));
          return;
        }
        buf = buf.subarray(2);
        stage = 1;
        const p = Buffer.alloc(2);
        p.writeUInt16BE(port);
        const v6 = host.includes(':');
        const addr = v6 ? ipv6Bytes(host) : Buffer.from(host.split('.').map(Number));
        s.write(Buffer.concat([Buffer.from([5, 1, 0, v6 ? 4 : 1]), addr, p]));
      }
      const replyLen = buf[3] === 4 ? 22 : 10;
      if (stage === 1 && buf.length >= replyLen) {
        clearTimeout(timer);
        // Bytes the server sent right behind the reply must reach the caller: pause so nothing is
        // emitted while no 'data' listener is attached, put them back, and resume only after the
        // caller's continuation (a microtask) had the chance to attach its listener.
        s.pause();
        s.off('data', onData);
        if (buf[1] !== 0) {
          s.destroy();
          reject(new Error(`SOCKS5 connect to ${host}:${port} refused (reply ${buf[1]})`));
          return;
        }
        const rest = buf.subarray(replyLen);
        if (rest.length) s.unshift(rest);
        resolve(s);
        setImmediate(() => s.resume());
      }
    };
    s.on('data', onData);
  });
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return b;
}

/** Reads a node TCP connection to its end. */
export async function readAll(conn: TcpConnectionLike, onChunk?: (n: number) => void): Promise<Buffer> {
  const r = conn.readable.getReader();
  const parts: Uint8Array[] = [];
  for (;;) {
    const { value, done } = await r.read();
    if (done) break;
    parts.push(value);
    onChunk?.(value.length);
  }
  return Buffer.concat(parts);
}

export interface HttpResult {
  status: string;
  headers: string;
  body: Buffer;
  sha256: string;
}

export function parseHttp(all: Buffer): HttpResult {
  const sep = all.indexOf('\r\n\r\n');
  if (sep < 0) throw new Error(`no HTTP header in ${all.length} bytes`);
  const head = all.subarray(0, sep).toString('latin1');
  const body = all.subarray(sep + 4);
  return {
    status: head.split('\r\n')[0]!,
    headers: head,
    body,
    sha256: createHash('sha256').update(body).digest('hex'),
  };
}

/** HTTP/1.0 GET over a connection our node dialed (the server closes at the end). */
export async function httpGetOver(
  conn: TcpConnectionLike,
  host: string,
  path: string,
  onChunk?: (n: number) => void,
): Promise<HttpResult> {
  const w = conn.writable.getWriter();
  await w.write(new TextEncoder().encode(`GET ${path} HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
  w.releaseLock();
  return parseHttp(await readAll(conn, onChunk));
}

/** HTTP/1.0 GET through a tailscaled peer's SOCKS5 proxy. */
export async function httpGetVia(peer: RigPeer, ip: string, port: number, path: string): Promise<HttpResult> {
  const s = await socksConnect(peer, ip, port);
  s.write(`GET ${path} HTTP/1.0\r\nHost: ${ip}\r\n\r\n`);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', resolve);
    s.on('error', reject);
  });
  return parseHttp(Buffer.concat(chunks));
}

export interface LoopServer {
  port: number;
  server: Server;
  close(): Promise<void>;
}

function listen(server: Server): Promise<LoopServer> {
  // close() must not wait for connections whose far end vanished (e.g. our node went down first).
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        server,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}

/**
 * Upload sink: the client sends an 8-byte big-endian length, then that many bytes; the sink answers
 * "<bytes> <sha256>\n" and closes. (No half-close: tailscaled's SOCKS5 proxy tears both directions
 * down on the client's FIN.)
 */
export function startSink(): Promise<LoopServer> {
  return listen(
    createServer((s) => {
      const h = createHash('sha256');
      let head = Buffer.alloc(0);
      let want = -1;
      let n = 0;
      s.on('data', (d: Buffer) => {
        if (want < 0) {
          head = Buffer.concat([head, d]);
          if (head.length < 8) return;
          want = Number(head.readBigUInt64BE(0));
          d = head.subarray(8);
        }
        n += d.length;
        h.update(d);
        if (n >= want) s.end(`${n} ${h.digest('hex')}\n`);
      });
      s.on('error', () => {});
    }),
  );
}

export function sinkHeader(n: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** Echoes every byte back. */
export function startEcho(): Promise<LoopServer> {
  return listen(
    createServer((s) => {
      s.pipe(s);
      s.on('error', () => {});
    }),
  );
}
