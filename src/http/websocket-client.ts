// An RFC 6455 WebSocket client over one byte stream (the node's netstack TCP in the app, a
// net.Socket in tests): the opening handshake, then frames both ways (codec in websocket.ts).
// Client frames are masked with fresh random keys (§5.3); pings are answered with pongs
// (§5.5.2); the close handshake (§7.1.2–7.1.4) waits for the server's Close and then for it to
// close TCP (§7.1.1: the server closes first), each bounded by a timeout; anything the decoder
// refuses fails the connection (§7.1.7: Close with 1002/1007/1009 sent, TCP closed) and is
// reported like a browser does, as code 1006 and not clean.
import { realClock, type Clock, type TimerHandle } from '../platform/clock.js';
import type { Conn } from './connection.js';
import { HttpError } from './errors.js';
import { hostHeader, type HeaderList } from './wire.js';
import {
  CLOSE_ABNORMAL,
  CLOSE_NO_STATUS,
  FrameDecoder,
  OP_BINARY,
  OP_CLOSE,
  OP_PONG,
  OP_TEXT,
  checkHandshake,
  closePayload,
  encodeFrame,
  encodeHandshake,
  makeKey,
  parseHandshakeResponse,
  type HandshakeResponse,
  type WsEvent,
} from './websocket.js';

export interface WebSocketConnectOptions {
  conn: Conn;
  /** For the Host field. */
  host: string;
  port: number;
  /** origin-form request target "/path?query". */
  target: string;
  protocols?: string[];
  /** Origin, Cookie, User-Agent … (the handshake's own fields are set here and not overridable). */
  headers?: HeaderList;
  random?: (n: number) => Uint8Array;
  clock?: Clock;
  /** Default 16 MiB; a larger message fails the connection with 1009. */
  maxMessageBytes?: number;
  /** Until the server's 101 (default 30 s). */
  handshakeTimeoutMs?: number;
  /** After our Close, for the server's Close and then its TCP close (default 5 s each). */
  closeTimeoutMs?: number;
}

export interface WsCloseInfo {
  code: number;
  reason: string;
  wasClean: boolean;
  /** Why the connection failed, when it did (not sent to anyone but the log). */
  error?: string;
}

const cryptoRandom = (n: number) => crypto.getRandomValues(new Uint8Array(n));

export class WebSocketClient {
  /** The subprotocol the server chose ('' for none). */
  readonly protocol: string;
  readonly response: HandshakeResponse;
  /** Bytes handed to send() and not yet written to the connection. */
  bufferedAmount = 0;
  onmessage: ((data: string | Uint8Array) => void) | null = null;
  onclose: ((info: WsCloseInfo) => void) | null = null;

  private state: 'open' | 'closing' | 'closed' = 'open';
  private sentClose = false;
  private gotClose: { code: number; reason: string } | null = null;
  private timer: TimerHandle | undefined;
  private paused: { promise: Promise<void>; resolve: () => void } | null = null;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder: FrameDecoder;
  private readonly random: (n: number) => Uint8Array;
  private readonly clock: Clock;
  private readonly closeTimeoutMs: number;
  private readonly conn: Conn;

  /** Use connectWebSocket(). */
  constructor(init: {
    conn: Conn;
    writer: WritableStreamDefaultWriter<Uint8Array>;
    reader: ReadableStreamDefaultReader<Uint8Array>;
    protocol: string;
    response: HandshakeResponse;
    decoder: FrameDecoder;
    random: (n: number) => Uint8Array;
    clock: Clock;
    closeTimeoutMs: number;
  }) {
    this.conn = init.conn;
    this.writer = init.writer;
    this.reader = init.reader;
    this.protocol = init.protocol;
    this.response = init.response;
    this.decoder = init.decoder;
    this.random = init.random;
    this.clock = init.clock;
    this.closeTimeoutMs = init.closeTimeoutMs;
  }

  get readyState(): 'open' | 'closing' | 'closed' {
    return this.state;
  }

  /** Sends one message (text for a string); resolves once written. Ignored unless open. */
  send(data: string | Uint8Array): Promise<void> {
    if (this.state !== 'open') return Promise.resolve();
    const text = typeof data === 'string';
    const payload = text ? new TextEncoder().encode(data) : data;
    this.bufferedAmount += payload.length;
    return this.write(text ? OP_TEXT : OP_BINARY, payload).finally(() => {
      this.bufferedAmount -= payload.length;
    });
  }

  /** Starts the close handshake (§7.1.2); onclose follows when it ends or times out. */
  close(code = 1000, reason = ''): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    // The server's Close may be behind data nobody will read now: read on to find it.
    this.resumeReading();
    this.sendClose(code, reason);
    this.timer = this.clock.setTimeout(
      () =>
        this.finish({
          code: CLOSE_ABNORMAL,
          reason: '',
          wasClean: false,
          error: 'the server did not complete the close handshake',
        }),
      this.closeTimeoutMs,
    );
  }

  /**
   * Stops reading from the connection (after the current read's messages), so a consumer that
   * falls behind holds the server back through TCP's window instead of buffering without bound.
   */
  pauseReading(): void {
    if (this.paused || this.state === 'closed') return;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.paused = { promise, resolve };
  }

  resumeReading(): void {
    const p = this.paused;
    this.paused = null;
    p?.resolve();
  }

  /** Drops the connection without a close handshake (the page is gone). */
  abort(): void {
    this.finish({ code: CLOSE_ABNORMAL, reason: '', wasClean: false, error: 'aborted' });
  }

  private write(op: number, payload: Uint8Array): Promise<void> {
    return this.writer.write(encodeFrame(op, payload, this.random(4))).catch(() => {});
  }

  private sendClose(code: number, reason: string): void {
    if (this.sentClose) return;
    this.sentClose = true;
    let body: Uint8Array;
    try {
      body = closePayload(code, reason);
    } catch {
      body = closePayload(code);
    }
    void this.write(OP_CLOSE, body);
  }

  // A method, not a field comparison: the state changes while a read is awaited.
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Reads until the stream ends; started by connectWebSocket. */
  async run(first: Uint8Array): Promise<void> {
    if (first.length && !this.handle(this.decoder.push(first))) return;
    for (;;) {
      if (this.paused) await this.paused.promise;
      if (this.isClosed()) return;
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await this.reader.read();
      } catch (e) {
        return this.finish(
          this.gotClose && this.sentClose
            ? { ...this.gotClose, wasClean: true }
            : {
                code: CLOSE_ABNORMAL,
                reason: '',
                wasClean: false,
                error: `connection error: ${(e as Error)?.message ?? e}`,
              },
        );
      }
      if (this.isClosed()) return;
      if (r.done) {
        // §7.1.5: clean only if Close frames went both ways before TCP ended.
        return this.finish(
          this.gotClose && this.sentClose
            ? { ...this.gotClose, wasClean: true }
            : {
                code: CLOSE_ABNORMAL,
                reason: '',
                wasClean: false,
                error: 'the connection closed without a close handshake',
              },
        );
      }
      if (!this.handle(this.decoder.push(r.value))) return;
    }
  }

  /** Returns false once reading should stop. */
  private handle(events: WsEvent[]): boolean {
    for (const ev of events) {
      if (this.state === 'closed') return false;
      if (ev.type === 'text' || ev.type === 'binary') {
        if (!this.gotClose) this.onmessage?.(ev.data);
      } else if (ev.type === 'ping') {
        if (!this.sentClose) void this.write(OP_PONG, ev.data);
      } else if (ev.type === 'close') {
        this.gotClose = { code: ev.code, reason: ev.reason };
        // §5.5.1: answer with a Close carrying the same code (none if it had none).
        if (!this.sentClose) this.sendClose(ev.code === CLOSE_NO_STATUS ? CLOSE_NO_STATUS : ev.code, '');
        this.state = 'closing';
        this.clock.clearTimeout(this.timer);
        // §7.1.1: now the server closes TCP; we do if it does not within the timeout.
        this.timer = this.clock.setTimeout(
          () => this.finish({ ...this.gotClose!, wasClean: true }),
          this.closeTimeoutMs,
        );
      } else if (ev.type === 'fail') {
        this.sendClose(ev.code, '');
        this.finish({
          code: CLOSE_ABNORMAL,
          reason: '',
          wasClean: false,
          error: `protocol error (${ev.code}): ${ev.reason}`,
        });
        return false;
      }
    }
    return true;
  }

  private finish(info: WsCloseInfo): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clock.clearTimeout(this.timer);
    this.resumeReading();
    // Let a Close frame just queued go out before the connection closes.
    void this.writer
      .close()
      .catch(() => {})
      .finally(() => {
        this.reader.cancel().catch(() => {});
        Promise.resolve(this.conn.close()).catch(() => {});
      });
    this.onclose?.(info);
  }
}

/**
 * Sends the opening handshake on `conn`, checks the 101 answer and returns the open client.
 * On refusal (not 101, wrong Accept, …) the connection is closed and an HttpError thrown,
 * with the response head in `.response` where there was one.
 */
export async function connectWebSocket(o: WebSocketConnectOptions): Promise<WebSocketClient> {
  const random = o.random ?? cryptoRandom;
  const clock = o.clock ?? realClock;
  const protocols = o.protocols ?? [];
  const key = makeKey(random);
  const writer = o.conn.writable.getWriter();
  const reader = o.conn.readable.getReader();
  const fail = (e: unknown): never => {
    writer.abort().catch(() => {});
    reader.cancel().catch(() => {});
    Promise.resolve(o.conn.close()).catch(() => {});
    throw e;
  };
  let timer: TimerHandle | undefined;
  try {
    const request = encodeHandshake({
      host: hostHeader(o.host, o.port),
      target: o.target,
      key,
      protocols,
      headers: o.headers,
    });
    const timeoutMs = o.handshakeTimeoutMs ?? 30_000;
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(
        () =>
          reject(
            new HttpError('timeout', `no WebSocket handshake answer from ${o.host}:${o.port} within ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
    });
    await Promise.race([writer.write(request), timeout]);
    let buf = new Uint8Array(0);
    for (;;) {
      const r = await Promise.race([reader.read(), timeout]);
      if (r.done)
        throw new HttpError('closed', `${o.host}:${o.port} closed the connection during the WebSocket handshake`);
      const b = new Uint8Array(buf.length + r.value.length);
      b.set(buf, 0);
      b.set(r.value, buf.length);
      buf = b;
      const parsed = parseHandshakeResponse(buf);
      if (!parsed) continue;
      clock.clearTimeout(timer);
      let protocol: string;
      try {
        protocol = checkHandshake(parsed.head, key, protocols).protocol;
      } catch (e) {
        Object.assign(e as object, { response: parsed.head });
        throw e;
      }
      const ws = new WebSocketClient({
        conn: o.conn,
        writer,
        reader,
        protocol,
        response: parsed.head,
        random,
        clock,
        decoder: new FrameDecoder({ maxMessageBytes: o.maxMessageBytes }),
        closeTimeoutMs: o.closeTimeoutMs ?? 5000,
      });
      const first = buf.slice(parsed.rest);
      // Frames that came with the head are decoded after the caller has attached its handlers.
      queueMicrotask(() => void ws.run(first));
      return ws;
    }
  } catch (e) {
    clock.clearTimeout(timer);
    return fail(
      e instanceof HttpError
        ? e
        : new HttpError('connect', `WebSocket to ${o.host}:${o.port}: ${(e as Error)?.message ?? e}`),
    );
  }
}
