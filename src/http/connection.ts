// One HTTP/1.1 connection (RFC 9112 §9): one exchange at a time, no pipelining. The response
// body is a pull-driven ReadableStream: the socket is read only when the consumer asks, so a slow
// reader slows the sender through the transport's own flow control (TCP window) — backpressure
// end to end. After a complete, reusable exchange the connection goes back to its pool.
import type { Clock, TimerHandle } from '../platform/clock.js';
import { HttpError, asHttpError } from './errors.js';
import { ResponseParser, type ParserEvent, type ResponseHead, type Framing } from './parser.js';
import { encodeChunk, encodeRequestHead, LAST_CHUNK, type HeaderList } from './wire.js';

/** What the dialer returns: a byte duplex (the node's TCP socket over the tailnet, or a test adapter). */
export interface Conn {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  close(): Promise<void> | void;
}
export type Dialer = (host: string, port: number) => Promise<Conn>;

export interface ExchangeRequest {
  method: string;
  target: string;
  headers: HeaderList;
  body: Uint8Array | ReadableStream<Uint8Array> | null;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  signal?: AbortSignal;
}

export interface ExchangeResult {
  head: ResponseHead;
  framing: Framing;
  contentLength: number | null;
  body: ReadableStream<Uint8Array>;
}

export class HttpConnection {
  closed = false;
  /** Exchanges completed on this connection (0 = fresh). */
  uses = 0;
  idleTimer: TimerHandle | undefined;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private pendingRead: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;

  constructor(
    readonly key: string,
    private readonly conn: Conn,
    private readonly clock: Clock,
  ) {
    this.reader = conn.readable.getReader();
    this.writer = conn.writable.getWriter();
    // A rejected write or read is surfaced where it is awaited; never as an unhandled rejection.
    this.writer.closed.catch(() => {});
    this.reader.closed.catch(() => {});
  }

  private read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    const p = this.pendingRead ?? this.reader.read();
    this.pendingRead = null;
    return p;
  }

  /**
   * While idle in the pool, keep one read outstanding: if the server closes (or sends stray
   * bytes), the connection is dropped at once instead of failing the next request on it.
   */
  watchIdle(onDead: () => void): void {
    const p = this.reader.read();
    this.pendingRead = p;
    const dead = () => {
      if (this.pendingRead !== p) return; // taken by a new exchange meanwhile
      this.pendingRead = null;
      this.close();
      onDead();
    };
    p.then(dead, dead);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pendingRead?.catch(() => {});
    this.pendingRead = null;
    this.reader.cancel().catch(() => {});
    this.writer.abort().catch(() => {});
    try {
      const r = this.conn.close();
      if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(() => {});
    } catch {
      /* already closed */
    }
  }

  private async write(b: Uint8Array): Promise<void> {
    try {
      await this.writer.write(b);
    } catch (e) {
      throw asHttpError(e, 'closed', 'the connection closed while sending the request');
    }
  }

  /** A read that gives up after `ms` (closing the connection) or when `signal` fires; the error names `budgetMs`, the whole allowance. */
  private timedRead(
    ms: number,
    what: string,
    signal?: AbortSignal,
    budgetMs = ms,
  ): Promise<ReadableStreamReadResult<Uint8Array>> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = () => {
        settled = true;
        this.clock.clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        if (settled) return;
        finish();
        this.close();
        reject(new HttpError('aborted', 'the request was aborted'));
      };
      const t = this.clock.setTimeout(() => {
        if (settled) return;
        finish();
        this.close();
        reject(new HttpError('timeout', `no ${what} from the server within ${budgetMs} ms`));
      }, ms);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort);
      this.read().then(
        (r) => {
          if (settled) return;
          finish();
          resolve(r);
        },
        (e) => {
          if (settled) return;
          finish();
          reject(asHttpError(e, 'closed', 'reading from the connection failed'));
        },
      );
    });
  }

  /** onDone, run at most once: the connection is closed first unless it is reusable. */
  private doneOnce(
    onDone: (reusable: boolean, keepAliveMs: number | null) => void,
  ): (reusable: boolean, ka: number | null) => void {
    let doneCalled = false;
    return (reusable, ka) => {
      if (doneCalled) return;
      doneCalled = true;
      if (!reusable) this.close();
      else this.uses++;
      onDone(reusable && !this.closed, ka);
    };
  }

  /** The request head, then the body by Content-Length or chunked (RFC 9112 §6, §7.1). */
  private async writeRequest(head: Uint8Array, body: ExchangeRequest['body']): Promise<void> {
    if (body instanceof Uint8Array) {
      if (body.length <= 16384) {
        const both = new Uint8Array(head.length + body.length);
        both.set(head);
        both.set(body, head.length);
        await this.write(both);
      } else {
        await this.write(head);
        await this.write(body);
      }
    } else if (body) {
      await this.write(head);
      const r = body.getReader();
      try {
        for (;;) {
          const { done, value } = await r.read();
          if (done) break;
          if (value.length) await this.write(encodeChunk(value));
        }
      } catch (e) {
        r.cancel().catch(() => {});
        throw asHttpError(e, 'aborted', 'the request body stream failed');
      }
      await this.write(LAST_CHUNK);
    } else {
      await this.write(head);
    }
  }

  /** Reads until the complete response head (1xx skipped); what the parser gave after it is queued. */
  private async readHead(
    parser: ResponseParser,
    req: ExchangeRequest,
    headDeadline: number,
  ): Promise<{ first: Extract<ParserEvent, { kind: 'head' }>; queued: ParserEvent[] }> {
    const queued: ParserEvent[] = [];
    let first: Extract<ParserEvent, { kind: 'head' }> | undefined;
    while (!first) {
      const left = Math.max(0, headDeadline - this.clock.now());
      const what =
        parser.bytesSeen === 0 ? 'response' : `complete response head (${parser.bytesSeen} bytes of it came)`;
      const r = await this.timedRead(left, what, req.signal, req.headersTimeoutMs);
      const evs = r.done ? parser.finish() : parser.push(r.value);
      for (const ev of evs) {
        if (!first && ev.kind === 'head') first = ev;
        else if (first) queued.push(ev);
      }
    }
    return { first, queued };
  }

  /**
   * Sends one request and resolves with the response head and a body stream. `onDone(reusable)`
   * runs exactly once: when the body has been read to its end, or failed, or was cancelled.
   */
  async exchange(
    req: ExchangeRequest,
    onDone: (reusable: boolean, keepAliveMs: number | null) => void,
  ): Promise<ExchangeResult> {
    const parser = new ResponseParser({ method: req.method });
    const done = this.doneOnce(onDone);

    // Request: head, then the body by Content-Length or chunked (RFC 9112 §6, §7.1).
    let head: Uint8Array;
    try {
      head = encodeRequestHead({ method: req.method, target: req.target, headers: req.headers });
    } catch (e) {
      done(false, null);
      throw e;
    }
    const headDeadline = this.clock.now() + req.headersTimeoutMs;
    let sendDone = false;
    let sendError: HttpError | null = null;
    const sending = this.writeRequest(head, req.body).then(
      () => {
        sendDone = true;
      },
      (e) => {
        sendError = asHttpError(e, 'closed', 'sending the request failed');
      },
    );

    // Response head (skipping 1xx, RFC 9110 §15.2). One deadline from sending the request to the
    // complete head: a server dribbling its head a byte at a time cannot restart it with each read.
    let h: Extract<ParserEvent, { kind: 'head' }>;
    let queued: ParserEvent[];
    try {
      ({ first: h, queued } = await this.readHead(parser, req, headDeadline));
    } catch (e) {
      // A write failure explains a closed connection better than the read that noticed it.
      await Promise.race([sending, new Promise((r) => queueMicrotask(() => r(undefined)))]);
      const err =
        parser.bytesSeen === 0 && sendError ? sendError : asHttpError(e, 'closed', 'reading the response failed');
      done(false, null);
      throw Object.assign(err, { beforeResponse: parser.bytesSeen === 0 });
    }

    const kaMatch = /timeout=(\d+)/i.exec(h.head.headers.find(([k]) => k.toLowerCase() === 'keep-alive')?.[1] ?? '');
    const keepAliveMs = kaMatch ? Number(kaMatch[1]) * 1000 : null;
    // Called as soon as the parser has seen the end of the message (its data may still be queued
    // for the reader): the connection is free again from that moment.
    let finishing = false;
    const finishOk = async () => {
      if (finishing) return;
      finishing = true;
      if (!sendDone && !sendError) {
        // The response may overtake the write's completion; wait briefly. A server that answered
        // without taking the whole request body leaves the connection unusable.
        let t: TimerHandle | undefined;
        await Promise.race([sending, new Promise((r) => (t = this.clock.setTimeout(() => r(undefined), 1000)))]);
        this.clock.clearTimeout(t);
      }
      const reusable = h.keepAlive && parser.extraBytes === 0 && sendDone && !sendError;
      done(reusable, keepAliveMs);
    };
    if (queued.some((e) => e.kind === 'end')) void finishOk();

    let bodyRead = 0;
    const signal = req.signal;
    let ended = false;
    let onAbort: (() => void) | undefined;
    const body = new ReadableStream<Uint8Array>(
      {
        start: (ctrl) => {
          if (signal) {
            onAbort = () => {
              if (ended) return;
              ended = true;
              done(false, null);
              try {
                ctrl.error(new HttpError('aborted', 'the request was aborted'));
              } catch {
                /* already closed */
              }
            };
            signal.addEventListener('abort', onAbort, { once: true });
          }
        },
        pull: async (ctrl) => {
          try {
            for (;;) {
              if (ended) return;
              const ev = queued.shift();
              if (ev) {
                if (ev.kind === 'data') {
                  if (ev.data.length === 0) continue;
                  bodyRead += ev.data.length;
                  // A view into the chunk the transport enqueued, which the Streams standard makes
                  // ours once read; passed on without a copy.
                  ctrl.enqueue(ev.data);
                  return;
                }
                if (ev.kind === 'end') {
                  ended = true;
                  if (onAbort) signal?.removeEventListener('abort', onAbort);
                  ctrl.close();
                  void finishOk();
                  return;
                }
                continue; // trailers, informational: nothing for the body
              }
              const r = await this.timedRead(req.bodyTimeoutMs, `body bytes (after ${bodyRead})`, signal);
              if (ended) return;
              const evs = r.done ? parser.finish() : parser.push(r.value);
              queued.push(...evs);
              if (evs.some((e) => e.kind === 'end')) void finishOk();
            }
          } catch (e) {
            if (ended) return;
            ended = true;
            if (onAbort) signal?.removeEventListener('abort', onAbort);
            done(false, null);
            ctrl.error(asHttpError(e, 'closed', 'reading the response body failed'));
          }
        },
        cancel: () => {
          if (ended) return;
          ended = true;
          if (onAbort) signal?.removeEventListener('abort', onAbort);
          // Abandoning a body mid-way leaves unread bytes on the wire: the connection cannot be reused.
          done(false, null);
        },
      },
      { highWaterMark: 0 },
    );
    return { head: h.head, framing: h.framing, contentLength: h.contentLength, body };
  }
}
