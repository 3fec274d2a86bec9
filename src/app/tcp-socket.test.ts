import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { TcpStreamHandle } from './node-api.js';
import { TcpCloseEvent, TcpErrorEvent, TcpSocket } from './tcp-socket.js';

/** A handle whose host side the test drives: `host.send` delivers bytes, `host.sent` collects what the socket wrote. */
function fakeHandle(o: { stallWrites?: boolean } = {}) {
  let pulls = 0;
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const queued: Uint8Array[] = [];
  let waiting: (() => void) | undefined;
  const readable = new ReadableStream<Uint8Array>(
    {
      start: (c) => {
        ctl = c;
      },
      pull: async (c) => {
        pulls++;
        while (!queued.length) await new Promise<void>((r) => (waiting = r));
        const q = queued.shift()!;
        if (q.length === 0) c.close();
        else c.enqueue(q);
      },
    },
    { highWaterMark: 0 },
  );
  const sent: Uint8Array[] = [];
  const writable = new WritableStream<Uint8Array>({
    write: (b) => (o.stallWrites ? new Promise<void>(() => {}) : void sent.push(b)),
  });
  let closed = 0;
  const handle: TcpStreamHandle = {
    id: 'x',
    remote: 'desk:5901',
    readable,
    writable,
    close: () => {
      closed++;
    },
  };
  return {
    handle,
    host: {
      send(b: Uint8Array) {
        queued.push(b);
        waiting?.();
      },
      end() {
        queued.push(new Uint8Array(0));
        waiting?.();
      },
      fail(e: Error) {
        ctl.error(e);
      },
      sent,
      pulls: () => pulls,
      closed: () => closed,
    },
  };
}

const until = async (what: () => boolean) => {
  for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(what()).toBe(true);
};

describe('TcpSocket: a WebSocket-shaped object over tcpDial streams', () => {
  it("open at once on an open handle; chunks arrive as ArrayBuffers; sends are copies of the caller's bytes", async () => {
    const { handle, host } = fakeHandle();
    const ws = new TcpSocket(handle);
    expect(ws.readyState).toBe(TcpSocket.OPEN);
    expect(ws.url).toBe('tcp://desk:5901');
    const got: string[] = [];
    ws.onmessage = (e) => got.push(new TextDecoder().decode(e.data as ArrayBuffer));
    const seen: string[] = [];
    ws.addEventListener('message', (e) => seen.push(typeof (e as MessageEvent).data));
    host.send(new TextEncoder().encode('RFB 003.008\n'));
    await until(() => got.length === 1);
    expect(got).toEqual(['RFB 003.008\n']);
    expect(seen).toEqual(['object']);
    // noVNC sends a view into its one send buffer and then reuses it.
    const buf = new Uint8Array([1, 2, 3, 4]);
    ws.send(new Uint8Array(buf.buffer, 1, 2));
    buf.fill(9);
    ws.send('é');
    await until(() => host.sent.length === 2);
    expect(host.sent.map((b) => [...b])).toEqual([
      [2, 3],
      [0xc3, 0xa9],
    ]);
  });

  it('reads the next chunk only after the message listeners returned (back-pressure)', async () => {
    const { handle, host } = fakeHandle();
    const ws = new TcpSocket(handle);
    const pullsAtMessage: number[] = [];
    ws.onmessage = () => pullsAtMessage.push(host.pulls());
    host.send(new Uint8Array([1]));
    host.send(new Uint8Array([2]));
    host.send(new Uint8Array([3]));
    await until(() => pullsAtMessage.length === 3);
    // One pull per message, never ahead of the page.
    expect(pullsAtMessage).toEqual([1, 2, 3]);
  });

  it('the host closing is a clean close (1000); close() closes the connection and says so once', async () => {
    const a = fakeHandle();
    const ws = new TcpSocket(a.handle);
    const closes: TcpCloseEvent[] = [];
    ws.onclose = (e) => closes.push(e);
    a.host.end();
    await until(() => closes.length === 1);
    expect([closes[0]!.code, closes[0]!.wasClean, ws.readyState]).toEqual([1000, true, TcpSocket.CLOSED]);
    expect(a.host.closed()).toBe(1);

    const b = fakeHandle();
    const ws2 = new TcpSocket(b.handle);
    const order: string[] = [];
    ws2.addEventListener('close', (e) => order.push(`close ${(e as TcpCloseEvent).code}`));
    ws2.close(4000, 'bye');
    ws2.close();
    expect(ws2.readyState).toBe(TcpSocket.CLOSING);
    ws2.send(new Uint8Array([1])); // dropped, as a closing WebSocket drops it
    await until(() => order.length === 1);
    expect(order).toEqual(['close 4000']);
    expect(b.host.closed()).toBe(1);
  });

  it('a dial that fails: connecting, then error with the reason, then close 1006', async () => {
    let reject!: (e: Error) => void;
    const ws = new TcpSocket(new Promise<TcpStreamHandle>((_, r) => (reject = r)), { url: 'tcp://desk:5999' });
    expect(ws.readyState).toBe(TcpSocket.CONNECTING);
    expect(() => ws.send(new Uint8Array([1]))).toThrow(/still connecting/);
    const order: string[] = [];
    ws.onerror = (e) => order.push(`error: ${e.message}`);
    ws.onclose = (e) => order.push(`close ${e.code} ${e.wasClean}`);
    ws.onopen = () => order.push('open');
    reject(new Error('Nothing is listening on desk:5999 (connection refused).'));
    await until(() => order.length === 2);
    expect(order).toEqual(['error: Nothing is listening on desk:5999 (connection refused).', 'close 1006 false']);
  });

  it('a dial that succeeds fires open, then messages', async () => {
    const { handle, host } = fakeHandle();
    const ws = new TcpSocket(Promise.resolve(handle));
    const order: string[] = [];
    ws.onopen = () => order.push('open');
    ws.onmessage = (e) => order.push(`message ${(e.data as ArrayBuffer).byteLength}`);
    host.send(new Uint8Array(5));
    await until(() => order.length === 2);
    expect(order).toEqual(['open', 'message 5']);
  });

  it('more than maxBuffered bytes waiting to be sent fails the connection instead of growing', async () => {
    const { handle, host } = fakeHandle({ stallWrites: true });
    const ws = new TcpSocket(handle, { maxBuffered: 1000 });
    const errors: TcpErrorEvent[] = [];
    ws.onerror = (e) => errors.push(e);
    ws.send(new Uint8Array(600));
    expect(ws.bufferedAmount).toBe(600);
    ws.send(new Uint8Array(600));
    expect(errors.map((e) => e.message)).toEqual([
      'more than 1000 bytes are waiting to be sent; the connection was closed',
    ]);
    expect(ws.readyState).toBe(TcpSocket.CLOSED);
    expect(host.closed()).toBe(1);
  });

  it('a message listener that throws (noVNC: receive queue full) ends the connection with its words', async () => {
    const { handle, host } = fakeHandle();
    const ws = new TcpSocket(handle);
    ws.onmessage = () => {
      throw new Error('Receive queue buffer exceeded 41943040 bytes');
    };
    const closes: TcpCloseEvent[] = [];
    ws.onclose = (e) => closes.push(e);
    host.send(new Uint8Array(3));
    await until(() => closes.length === 1);
    expect([closes[0]!.code, closes[0]!.reason]).toEqual([
      1006,
      'the data could not be handled: Receive queue buffer exceeded 41943040 bytes',
    ]);
  });

  it("noVNC 1.7.0's Websock attaches to it as a raw channel and reads its bytes", async () => {
    // websock.js reads WebSocket's state constants at import (Node.js 20 has no WebSocket), and
    // its logging reads window.console.
    const g = globalThis as { WebSocket?: unknown; window?: unknown };
    const had = g.WebSocket,
      hadWindow = g.window;
    g.WebSocket ??= { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };
    g.window ??= globalThis;
    try {
      // (The package exports only core/rfb.js, which needs a DOM; websock.js is the channel part.)
      const file = pathToFileURL(
        fileURLToPath(new URL('../../node_modules/@novnc/novnc/core/websock.js', import.meta.url)),
      ).href;
      const { default: Websock } = (await import(/* @vite-ignore */ file)) as {
        default: new () => {
          attach(c: unknown): void;
          on(ev: string, f: () => void): void;
          readyState: string;
          rQlen: number;
          rQshiftStr(n: number): string;
          sQpushString(s: string): void;
          flush(): void;
        };
      };
      const { handle, host } = fakeHandle();
      const sock = new Websock();
      let messages = 0;
      sock.on('message', () => messages++);
      sock.attach(new TcpSocket(handle));
      expect(sock.readyState).toBe('open');
      host.send(new TextEncoder().encode('RFB 003.008\n'));
      await until(() => messages === 1);
      expect(sock.rQshiftStr(12)).toBe('RFB 003.008\n');
      sock.sQpushString('RFB 003.008\n');
      sock.flush();
      await until(() => host.sent.length === 1);
      expect(new TextDecoder().decode(host.sent[0])).toBe('RFB 003.008\n');
    } finally {
      g.WebSocket = had;
      g.window = hadWindow;
    }
  });
});
