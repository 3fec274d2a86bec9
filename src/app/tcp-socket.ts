// A WebSocket-shaped object over a raw TCP connection to a tailnet host (NodeApi.tcpDial's web
// streams). Code written for a WebSocket — noVNC's RFB (core/websock.js `attach()` wants send,
// close, binaryType, onopen/onmessage/onclose/onerror, protocol and readyState), or anything that
// speaks a TCP protocol "over a WebSocket" through websockify — can use a tailnet host's port
// directly, with nothing installed on the host:
//
//   const ws = new TcpSocket(node.tcpDial('desktop', 5901));   // or TailnetNode.dial(…)
//   ws.onmessage = (e) => handle(new Uint8Array(e.data));   // each chunk as it arrived
//   ws.onopen = () => ws.send(bytes);
//
// Differences from a WebSocket, on purpose: there are no message boundaries (a message is
// whatever bytes TCP delivered); `close()` closes the TCP connection (code and reason are only
// echoed in the close event); strings are sent as UTF-8 bytes.
//
// Back-pressure: the next chunk is read from the stream only after the message listeners of the
// previous one returned, so a slow page slows the host, not the page's memory. Sends are queued
// on the stream; more than `maxBuffered` bytes waiting (default 8 MiB) closes the connection
// with an error instead of growing without bound. No DOM: only EventTarget, Event, MessageEvent.

/**
 * What a TcpSocket runs over: NodeApi.tcpDial's TcpStreamHandle in a page, or TailnetNode.dial's
 * connection (node.ts TcpConnectionLike) wherever the node itself runs.
 */
export interface TcpSocketStreams {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  close(): void | Promise<void>;
  /** "host:port", for `url`. */
  remote?: string;
}

export interface TcpSocketOptions {
  /** What `url` says (for logs and code that reads it); default "tcp://<host>:<port>" once known. */
  url?: string;
  /** Bytes that may wait to be sent before the connection is failed (default 8 MiB). */
  maxBuffered?: number;
  /** Sees every chunk each way (e.g. rfb-handshake.ts); must not keep or change them. */
  tap?: { received?(b: Uint8Array): void; sent?(b: Uint8Array): void };
}

/** The close event: as a WebSocket's CloseEvent (which Node.js lacks). */
export class TcpCloseEvent extends Event {
  constructor(
    readonly code: number,
    readonly reason: string,
    readonly wasClean: boolean,
  ) {
    super('close');
  }
}

/** The error event; `message` says why (a WebSocket's error event says nothing). */
export class TcpErrorEvent extends Event {
  constructor(readonly message: string) {
    super('error');
  }
}

type Handler<E extends Event> = ((ev: E) => unknown) | null;

const DEFAULT_MAX_BUFFERED = 8 * 1024 * 1024;

export class TcpSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  /** 'arraybuffer' (the default here, and what noVNC sets) or 'blob'. */
  binaryType: BinaryType = 'arraybuffer';
  /** No sub-protocol: this is TCP. */
  readonly protocol = '';
  readonly extensions = '';
  url: string;
  readyState = TcpSocket.CONNECTING;
  /** Bytes given to send() and not yet taken by the connection. */
  bufferedAmount = 0;
  /** Who ended it, once it ended: close() here, the host (end of stream), or an error. */
  endedBy?: 'local' | 'host' | 'error';
  onopen: Handler<Event> = null;
  onmessage: Handler<MessageEvent> = null;
  onclose: Handler<TcpCloseEvent> = null;
  onerror: Handler<TcpErrorEvent> = null;

  private handle?: TcpSocketStreams;
  private writer?: WritableStreamDefaultWriter<Uint8Array>;
  private reader?: ReadableStreamDefaultReader<Uint8Array>;
  private readonly maxBuffered: number;
  private readonly tap: TcpSocketOptions['tap'];
  private closeSent = false;

  /** `dial`: a connection being made (NodeApi.tcpDial: 'open' when it is) or one already open (OPEN at once, no 'open'). */
  constructor(dial: Promise<TcpSocketStreams> | TcpSocketStreams, o: TcpSocketOptions = {}) {
    super();
    this.url = o.url ?? '';
    this.maxBuffered = o.maxBuffered ?? DEFAULT_MAX_BUFFERED;
    this.tap = o.tap;
    if (dial instanceof Promise) {
      dial.then(
        (h) => {
          if (this.readyState !== TcpSocket.CONNECTING) {
            void Promise.resolve(h.close()).catch(() => {});
            return;
          }
          this.attach(h);
          this.fire(new Event('open'), this.onopen);
          void this.readLoop();
        },
        (e: unknown) => this.fail((e as Error)?.message ?? String(e)),
      );
    } else {
      // Already open: readyState is OPEN at once and there is no 'open' event (noVNC's RFB then
      // starts its handshake itself; a second 'open' would fail it). Reading starts in a
      // microtask, so listeners set right after construction hear the first message.
      this.attach(dial);
      queueMicrotask(() => {
        if (this.readyState === TcpSocket.OPEN) void this.readLoop();
      });
    }
  }

  private attach(h: TcpSocketStreams): void {
    this.handle = h;
    this.url ||= h.remote ? `tcp://${h.remote}` : '';
    this.writer = h.writable.getWriter();
    this.reader = h.readable.getReader();
    this.readyState = TcpSocket.OPEN;
  }

  send(data: ArrayBuffer | ArrayBufferView | string | Blob): void {
    if (this.readyState === TcpSocket.CONNECTING)
      throw new DOMException('TcpSocket is still connecting', 'InvalidStateError');
    if (this.readyState !== TcpSocket.OPEN) return; // as a WebSocket: silently dropped once closing
    if (typeof Blob !== 'undefined' && data instanceof Blob) {
      void data.arrayBuffer().then((b) => this.send(b));
      return;
    }
    // A copy: callers reuse their buffers (noVNC sends views into its one send queue).
    const bytes =
      typeof data === 'string'
        ? new TextEncoder().encode(data)
        : ArrayBuffer.isView(data)
          ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice()
          : new Uint8Array(data as ArrayBuffer).slice();
    if (!bytes.length) return;
    if (this.bufferedAmount + bytes.length > this.maxBuffered) {
      this.fail(`more than ${this.maxBuffered} bytes are waiting to be sent; the connection was closed`);
      return;
    }
    this.tap?.sent?.(bytes);
    this.bufferedAmount += bytes.length;
    this.writer!.write(bytes).then(
      () => {
        this.bufferedAmount -= bytes.length;
      },
      (e: unknown) => this.fail(`sending failed: ${(e as Error)?.message ?? e}`),
    );
  }

  /** Closes the TCP connection; 'close' follows (code and reason are only echoed). */
  close(code = 1000, reason = ''): void {
    if (this.readyState === TcpSocket.CLOSING || this.readyState === TcpSocket.CLOSED) return;
    this.readyState = TcpSocket.CLOSING;
    this.endedBy ??= 'local';
    this.shutdown();
    queueMicrotask(() => this.finish(code, reason, true));
  }

  private shutdown(): void {
    this.reader?.cancel().catch(() => {});
    this.writer?.close().catch(() => {});
    try {
      void Promise.resolve(this.handle?.close()).catch(() => {});
    } catch {
      /* closing anyway */
    }
  }

  private async readLoop(): Promise<void> {
    const reader = this.reader!;
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (e) {
        if (this.readyState === TcpSocket.OPEN) this.fail(`the connection failed: ${(e as Error)?.message ?? e}`);
        return;
      }
      if (this.readyState !== TcpSocket.OPEN) return;
      if (r.done) {
        // The host closed its side: as a WebSocket whose server went away cleanly.
        this.readyState = TcpSocket.CLOSING;
        this.endedBy ??= 'host';
        this.shutdown();
        this.finish(1000, 'the host closed the connection', true);
        return;
      }
      const chunk = r.value;
      if (!chunk.length) continue;
      this.tap?.received?.(chunk);
      const exact =
        chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength
          ? (chunk.buffer as ArrayBuffer)
          : chunk.slice().buffer;
      const data = this.binaryType === 'blob' && typeof Blob !== 'undefined' ? new Blob([exact]) : exact;
      try {
        this.fire(new MessageEvent('message', { data }), this.onmessage, true);
      } catch (e) {
        // A listener that cannot take the data (noVNC: a receive queue over 40 MiB) ends the connection.
        this.fail(`the data could not be handled: ${(e as Error)?.message ?? e}`);
        return;
      }
    }
  }

  /** 'error' then 'close' (1006), as a WebSocket that fails. */
  private fail(message: string): void {
    if (this.readyState === TcpSocket.CLOSED) return;
    this.readyState = TcpSocket.CLOSING;
    this.endedBy ??= 'error';
    this.shutdown();
    this.fire(new TcpErrorEvent(message), this.onerror);
    this.finish(1006, message, false);
  }

  private finish(code: number, reason: string, wasClean: boolean): void {
    if (this.closeSent) return;
    this.closeSent = true;
    this.readyState = TcpSocket.CLOSED;
    this.fire(new TcpCloseEvent(code, reason, wasClean), this.onclose);
  }

  /** The on<type> handler, then addEventListener's listeners. A throwing handler is reported, not thrown (unless `rethrow`). */
  private fire<E extends Event>(ev: E, handler: Handler<E>, rethrow = false): void {
    if (handler) {
      try {
        handler.call(this, ev);
      } catch (e) {
        if (rethrow) throw e;
        report(e);
      }
    }
    this.dispatchEvent(ev);
  }
}

function report(e: unknown): void {
  const r = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (r) r(e);
  else console.error(e);
}
