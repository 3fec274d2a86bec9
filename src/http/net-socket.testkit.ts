// Test-only: a Node net.Socket as the dialer's byte duplex, so unit tests run HttpClient against a
// real node:http server on loopback. Reads are paused while the web stream's queue is full, so a
// slow reader pushes back into the kernel's TCP window exactly as the netstack socket would.
import net from 'node:net';
import type { Conn, Dialer } from './connection.js';

export function socketConn(sock: net.Socket): Conn {
  sock.pause();
  let closed = false;
  const readable = new ReadableStream<Uint8Array>(
    {
      start(c) {
        sock.on('data', (d: Buffer) => {
          c.enqueue(new Uint8Array(d.buffer, d.byteOffset, d.length));
          if ((c.desiredSize ?? 0) <= 0) sock.pause();
        });
        const end = () => {
          if (closed) return;
          closed = true;
          try {
            c.close();
          } catch {
            /* already errored */
          }
        };
        sock.on('end', end);
        sock.on('close', end);
        sock.on('error', (e) => {
          if (closed) return;
          closed = true;
          try {
            c.error(e);
          } catch {
            /* already closed */
          }
        });
      },
      pull() {
        sock.resume();
      },
      cancel() {
        sock.destroy();
      },
    },
    { highWaterMark: 65536, size: (c) => c.byteLength },
  );
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      return new Promise((resolve, reject) => {
        if (sock.destroyed) return reject(new Error('socket closed'));
        sock.write(chunk, (err) => (err ? reject(err) : resolve()));
      });
    },
    close() {
      sock.end();
    },
    abort() {
      sock.destroy();
    },
  });
  return { readable, writable, close: () => void sock.destroy() };
}

/** Dials real TCP on loopback; `opened` counts connections for keep-alive assertions. */
export function netDialer(): Dialer & { opened: number } {
  const d = ((host: string, port: number) =>
    new Promise<Conn>((resolve, reject) => {
      const s = net.connect(port, host, () => {
        s.off('error', reject);
        d.opened++;
        resolve(socketConn(s));
      });
      s.once('error', reject);
    })) as Dialer & { opened: number };
  d.opened = 0;
  return d;
}
