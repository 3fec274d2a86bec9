// Node-only glue: a net.Socket (or any Duplex) as a ByteDuplex of web streams, for tests and CLI use.

import type { Socket } from 'node:net';
import type { ByteDuplex } from '../../platform/duplex.js';

export function socketToByteDuplex(sock: Socket): ByteDuplex {
  const readable = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        sock.on('data', (d: Buffer) => {
          controller.enqueue(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
          // Backpressure: stop reading while the consumer lags.
          if ((controller.desiredSize ?? 1) <= 0) sock.pause();
        });
        sock.on('end', () => {
          try {
            controller.close();
          } catch {
            /* already closed */
          }
        });
        sock.on('error', (e) => {
          try {
            controller.error(e);
          } catch {
            /* already closed */
          }
        });
        sock.on('close', () => {
          try {
            controller.close();
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
    { highWaterMark: 4 },
  );
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      return new Promise((resolve, reject) => {
        sock.write(chunk, (err) => (err ? reject(err) : resolve()));
      });
    },
    close() {
      return new Promise((resolve) => sock.end(() => resolve()));
    },
    abort() {
      sock.destroy();
    },
  });
  return { readable, writable };
}
