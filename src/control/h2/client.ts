// HTTP/2 client with prior knowledge (RFC 9113 §3.3) over any byte duplex.
// Connection preface and SETTINGS (§3.4, §6.5), stream states (§5.1), concurrency (§5.1.2),
// flow control (§5.2, §6.9), PING (§6.7), GOAWAY (§6.8), RST_STREAM (§6.4), header blocks with
// CONTINUATION (§4.3, §6.10), errors (§5.4). Bad frames from the peer become connection or
// stream errors and are counted in stats; nothing throws out of the read loop.

import type { Clock } from '../../platform/clock.js';
import { realClock } from '../../platform/clock.js';
import { readAll } from '../../platform/streams.js';
import {
  CONNECTION_PREFACE,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  ErrorCode,
  FrameError,
  FrameReader,
  FrameType,
  MAX_WINDOW,
  Setting,
  encodeFrame,
  type Frame,
} from './frames.js';
import { HpackDecoder, HpackEncoder, HpackError, type HeaderField } from './hpack.js';
import type { ByteDuplex } from '../../platform/duplex.js';

export interface Http2Response {
  status: number;
  headers: [string, string][];
  body: ReadableStream<Uint8Array>;
  text(): Promise<string>;
  bytes(): Promise<Uint8Array>;
}

export interface Http2Request {
  method: string;
  path: string;
  authority?: string;
  scheme?: string;
  headers?: [string, string][];
  body?: Uint8Array | ReadableStream<Uint8Array>;
}

export interface Http2ClientOptions {
  clock?: Clock;
  /** Our own ceiling on concurrently open streams (the peer's SETTINGS may lower it further). */
  maxConcurrentStreams?: number;
  onGoAway?: (lastStreamId: number, code: number, debug: string) => void;
  onClose?: (err?: Error) => void;
  /** Per-stream receive window we advertise (default 1 MiB). */
  streamWindow?: number;
  /** Connection receive window (default 16 MiB). */
  connectionWindow?: number;
}

/** A failure of one request; `code` is the RFC 9113 §7 error code. */
export class Http2Error extends Error {
  override name = 'Http2Error';
  constructor(
    message: string,
    readonly code: number,
    readonly retryable = false,
  ) {
    super(message);
  }
}

const ERROR_NAMES = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [v, k]));
export function errorCodeName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

const MAX_HEADER_BLOCK = 1 << 20; // refuse header blocks (with CONTINUATIONs) above 1 MiB
const decoder = new TextDecoder();

type StreamPhase = 'open' | 'half-closed-local' | 'half-closed-remote' | 'closed';

interface Stream {
  id: number;
  phase: StreamPhase;
  sendWindow: number;
  /** Bytes the peer may still send before we credit more. */
  recvWindow: number;
  /** Bytes read by the consumer but not yet credited back to the peer. */
  unacked: number;
  gotHeaders: boolean;
  resolve: (r: Http2Response) => void;
  reject: (e: Error) => void;
  queue: Uint8Array[];
  queuedBytes: number;
  ended: boolean;
  error?: Error;
  pullWaiter?: () => void;
  windowWaiters: (() => void)[];
  bodyCancelled: boolean;
}

export class Http2Client {
  readonly stats: Record<string, number> = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    streamsOpened: 0,
    streamsActive: 0,
    rstReceived: 0,
    rstSent: 0,
    pingsAnswered: 0,
    pingsSent: 0,
    goawayReceived: 0,
    windowUpdatesSent: 0,
    windowUpdatesReceived: 0,
    settingsReceived: 0,
    connectionErrors: 0,
    streamErrors: 0,
    hpackErrors: 0,
    unknownFrames: 0,
    dataBytesIn: 0,
    dataBytesOut: 0,
  };
  readonly closed: Promise<void>;

  private clock: Clock;
  private writer: WritableStreamDefaultWriter<Uint8Array>;
  private reader: ReadableStreamDefaultReader<Uint8Array>;
  private frames = new FrameReader(DEFAULT_MAX_FRAME_SIZE);
  private enc = new HpackEncoder();
  private dec: HpackDecoder;
  private streams = new Map<number, Stream>();
  private nextStreamId = 1;
  private highestStreamId = 0;
  private peerMaxConcurrent = Infinity;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private connSendWindow = DEFAULT_WINDOW;
  private connRecvWindow: number;
  private connUnacked = 0;
  private connWindowWaiters: (() => void)[] = [];
  private slotWaiters: (() => void)[] = [];
  private pings = new Map<string, { start: number; resolve: (ms: number) => void; reject: (e: Error) => void }>();
  private pingSeq = 0;
  private continuation: { streamId: number; parts: Uint8Array[]; size: number; endStream: boolean } | undefined;
  private goAway: { lastStreamId: number; code: number } | undefined;
  private isClosed = false;
  private resolveClosed!: () => void;
  private readonly streamWindow: number;
  private readonly connectionWindow: number;
  private readonly ourMaxConcurrent: number;

  constructor(
    conn: ByteDuplex,
    private o: Http2ClientOptions = {},
  ) {
    this.clock = o.clock ?? realClock;
    this.streamWindow = o.streamWindow ?? 1 << 20;
    this.connectionWindow = o.connectionWindow ?? 16 << 20;
    this.ourMaxConcurrent = o.maxConcurrentStreams ?? 1000;
    this.connRecvWindow = DEFAULT_WINDOW;
    this.dec = new HpackDecoder(4096, 256 * 1024);
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.writer = conn.writable.getWriter();
    this.reader = conn.readable.getReader();

    // §3.4: preface, then our SETTINGS as the first frame. No server push.
    this.writeRaw(CONNECTION_PREFACE);
    this.send({
      type: FrameType.SETTINGS,
      ack: false,
      settings: [
        [Setting.ENABLE_PUSH, 0],
        [Setting.INITIAL_WINDOW_SIZE, this.streamWindow],
        [Setting.MAX_HEADER_LIST_SIZE, 256 * 1024],
      ],
    });
    const connIncrement = this.connectionWindow - DEFAULT_WINDOW;
    if (connIncrement > 0) {
      this.send({ type: FrameType.WINDOW_UPDATE, streamId: 0, increment: connIncrement });
      this.connRecvWindow += connIncrement;
    }
    void this.readLoop();
  }

  // ---------- public API ----------

  async request(r: Http2Request): Promise<Http2Response> {
    await this.acquireSlot();
    if (this.isClosed) throw new Http2Error('connection closed', ErrorCode.REFUSED_STREAM, true);
    if (this.goAway) throw new Http2Error('connection is going away', ErrorCode.REFUSED_STREAM, true);
    if (this.nextStreamId > MAX_WINDOW) throw new Http2Error('stream ids exhausted', ErrorCode.REFUSED_STREAM, true);

    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const hasBody = r.body !== undefined && !(r.body instanceof Uint8Array && r.body.length === 0);
    let resolve!: (r: Http2Response) => void;
    let reject!: (e: Error) => void;
    const responseP = new Promise<Http2Response>((a, b) => {
      resolve = a;
      reject = b;
    });
    const s: Stream = {
      id,
      phase: hasBody ? 'open' : 'half-closed-local',
      sendWindow: this.peerInitialWindow,
      recvWindow: this.streamWindow,
      unacked: 0,
      gotHeaders: false,
      resolve,
      reject,
      queue: [],
      queuedBytes: 0,
      ended: false,
      windowWaiters: [],
      bodyCancelled: false,
    };
    this.streams.set(id, s);
    this.stats.streamsOpened++;
    this.stats.streamsActive = this.streams.size;

    const fields: HeaderField[] = [
      [':method', r.method],
      [':scheme', r.scheme ?? 'http'],
      [':authority', r.authority ?? 'localhost'],
      [':path', r.path],
    ];
    for (const [k, v] of r.headers ?? []) {
      const name = k.toLowerCase();
      // §8.2.2: connection-specific fields are forbidden in HTTP/2.
      if (['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host'].includes(name))
        continue;
      fields.push([name, v]);
    }
    // Encode and emit HEADERS + CONTINUATIONs synchronously: HPACK state and frame order must agree,
    // and no other frame may come between them (§6.10).
    const block = this.enc.encode(fields);
    this.sendHeaderBlock(id, block, !hasBody);

    if (hasBody) {
      this.sendBody(s, r.body!).catch((e) => {
        if (s.phase !== 'closed') this.resetStream(s, ErrorCode.CANCEL, e instanceof Error ? e : new Error(String(e)));
      });
    }
    return responseP;
  }

  /** Round-trip time of a PING in milliseconds (§6.7). */
  ping(): Promise<number> {
    if (this.isClosed) return Promise.reject(new Http2Error('connection closed', ErrorCode.INTERNAL_ERROR));
    const data = new Uint8Array(8);
    let n = ++this.pingSeq;
    for (let i = 7; i >= 0; i--) {
      data[i] = n & 0xff;
      n = Math.floor(n / 256);
    }
    const key = hexKey(data);
    return new Promise((resolve, reject) => {
      this.pings.set(key, { start: this.clock.now(), resolve, reject });
      this.stats.pingsSent++;
      this.send({ type: FrameType.PING, ack: false, data });
    });
  }

  /** Graceful close: GOAWAY(NO_ERROR), then the transport is closed. */
  close(): void {
    if (this.isClosed) return;
    this.send({ type: FrameType.GOAWAY, lastStreamId: 0, code: ErrorCode.NO_ERROR, debug: new Uint8Array(0) });
    this.teardown(new Http2Error('connection closed by client', ErrorCode.CANCEL), undefined);
  }

  // ---------- sending ----------

  private writeRaw(b: Uint8Array): void {
    if (this.isClosed) return;
    this.stats.bytesOut += b.length;
    // The writer queues in order; errors surface through the read side or the next write.
    this.writer.write(b).catch((e) => this.teardown(asError(e, 'write failed'), undefined));
  }

  private send(f: Exclude<Frame, { type: 'unknown' }>): void {
    this.stats.framesOut++;
    this.writeRaw(encodeFrame(f));
  }

  private sendHeaderBlock(streamId: number, block: Uint8Array, endStream: boolean): void {
    const max = this.peerMaxFrameSize;
    const first = block.subarray(0, max);
    this.send({ type: FrameType.HEADERS, streamId, endStream, endHeaders: block.length <= max, block: first });
    for (let off = max; off < block.length; off += max) {
      this.send({
        type: FrameType.CONTINUATION,
        streamId,
        endHeaders: off + max >= block.length,
        block: block.subarray(off, off + max),
      });
    }
  }

  private async sendBody(s: Stream, body: Uint8Array | ReadableStream<Uint8Array>): Promise<void> {
    if (body instanceof Uint8Array) {
      await this.sendData(s, body, true);
      return;
    }
    const reader = body.getReader();
    try {
      let pending: Uint8Array | undefined;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (pending) await this.sendData(s, pending, false);
        pending = value;
        if (s.phase === 'closed') return;
      }
      await this.sendData(s, pending ?? new Uint8Array(0), true);
    } finally {
      reader.releaseLock();
    }
  }

  private async sendData(s: Stream, data: Uint8Array, endStream: boolean): Promise<void> {
    let off = 0;
    do {
      if (s.phase === 'closed' || this.isClosed)
        throw s.error ?? new Http2Error('stream closed', ErrorCode.STREAM_CLOSED);
      const want = data.length - off;
      let n = Math.min(want, this.peerMaxFrameSize);
      if (n > 0) {
        while (s.sendWindow <= 0 || this.connSendWindow <= 0) {
          await new Promise<void>((r) => (s.sendWindow <= 0 ? s.windowWaiters : this.connWindowWaiters).push(r));
          if ((s.phase as StreamPhase) === 'closed' || this.isClosed)
            throw s.error ?? new Http2Error('stream closed', ErrorCode.STREAM_CLOSED);
        }
        n = Math.min(n, s.sendWindow, this.connSendWindow);
      }
      const chunk = data.subarray(off, off + n);
      off += n;
      const last = endStream && off >= data.length;
      s.sendWindow -= n;
      this.connSendWindow -= n;
      this.stats.dataBytesOut += n;
      this.send({ type: FrameType.DATA, streamId: s.id, endStream: last, data: chunk, flowLength: n });
      if (last) this.onLocalEnd(s);
      // Transport backpressure: wait until the duplex accepts more.
      await this.writer.ready.catch(() => undefined);
    } while (off < data.length);
  }

  private onLocalEnd(s: Stream): void {
    if (s.phase === 'open') s.phase = 'half-closed-local';
    else if (s.phase === 'half-closed-remote') this.finishStream(s);
  }

  // ---------- concurrency ----------

  private activeCount(): number {
    return this.streams.size;
  }

  private async acquireSlot(): Promise<void> {
    while (
      !this.isClosed &&
      !this.goAway &&
      this.activeCount() >= Math.min(this.peerMaxConcurrent, this.ourMaxConcurrent)
    ) {
      await new Promise<void>((r) => this.slotWaiters.push(r));
    }
  }

  private releaseSlot(): void {
    const w = this.slotWaiters.shift();
    if (w) w();
  }

  // ---------- receiving ----------

  private async readLoop(): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await this.reader.read();
        if (done) {
          this.teardown(new Http2Error('connection closed by peer', ErrorCode.CANCEL, true), undefined);
          return;
        }
        if (this.isClosed) return;
        this.stats.bytesIn += value.length;
        this.frames.push(value);
        for (;;) {
          const f = this.frames.next();
          if (f === undefined) break;
          if (f instanceof FrameError) {
            if (f.streamId === 0) {
              this.connectionError(f.code, f.message);
              return;
            }
            this.streamError(f.streamId, f.code, f.message);
            continue;
          }
          this.stats.framesIn++;
          this.handleFrame(f);
          if (this.isClosed) return;
        }
      }
    } catch (e) {
      this.teardown(asError(e, 'read failed'), undefined);
    }
  }

  private handleFrame(f: Frame): void {
    // §6.10: while a header block is open, only its CONTINUATION frames may arrive.
    if (this.continuation && (f.type !== FrameType.CONTINUATION || f.streamId !== this.continuation.streamId)) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, 'expected CONTINUATION');
      return;
    }
    switch (f.type) {
      case FrameType.SETTINGS:
        return this.onSettings(f);
      case FrameType.PING:
        if (f.ack) {
          const p = this.pings.get(hexKey(f.data));
          if (p) {
            this.pings.delete(hexKey(f.data));
            p.resolve(this.clock.now() - p.start);
          }
        } else {
          this.stats.pingsAnswered++;
          this.send({ type: FrameType.PING, ack: true, data: f.data });
        }
        return;
      case FrameType.GOAWAY:
        return this.onGoAway(f.lastStreamId, f.code, decoder.decode(f.debug));
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(f.streamId, f.increment);
      case FrameType.HEADERS:
        if (f.streamId % 2 === 0) {
          this.connectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on a server stream id');
          return;
        }
        if (f.endHeaders) return this.onHeaderBlock(f.streamId, f.block, f.endStream);
        this.continuation = { streamId: f.streamId, parts: [f.block], size: f.block.length, endStream: f.endStream };
        return;
      case FrameType.CONTINUATION: {
        const c = this.continuation;
        if (!c) {
          this.connectionError(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without HEADERS');
          return;
        }
        c.parts.push(f.block);
        c.size += f.block.length;
        if (c.size > MAX_HEADER_BLOCK) {
          this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'header block too large');
          return;
        }
        if (f.endHeaders) {
          this.continuation = undefined;
          const block = new Uint8Array(c.size);
          let o = 0;
          for (const p of c.parts) {
            block.set(p, o);
            o += p.length;
          }
          this.onHeaderBlock(c.streamId, block, c.endStream);
        }
        return;
      }
      case FrameType.DATA:
        return this.onData(f.streamId, f.data, f.flowLength, f.endStream);
      case FrameType.RST_STREAM: {
        if (f.streamId > this.highestOpened()) {
          this.connectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on idle stream');
          return;
        }
        this.stats.rstReceived++;
        const s = this.streams.get(f.streamId);
        if (s) {
          const retry = f.code === ErrorCode.REFUSED_STREAM;
          // §8.1: NO_ERROR after the response started means "response complete, stop sending";
          // nghttp2 (Node) ends long responses this way. Keep the body already received.
          if (f.code === ErrorCode.NO_ERROR && s.gotHeaders) s.ended = true;
          this.failStream(s, new Http2Error(`stream reset by server: ${errorCodeName(f.code)}`, f.code, retry));
        }
        return;
      }
      case FrameType.PUSH_PROMISE:
        // We sent ENABLE_PUSH=0 (§8.4).
        this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE with push disabled');
        return;
      case FrameType.PRIORITY:
        return; // deprecated signal (§5.3.2): ignored
      case 'unknown':
        this.stats.unknownFrames++;
        return;
    }
  }

  private highestOpened(): number {
    return this.nextStreamId - 2;
  }

  private onSettings(f: Extract<Frame, { type: FrameType.SETTINGS }>): void {
    if (f.ack) return;
    this.stats.settingsReceived++;
    for (const [id, v] of f.settings) {
      switch (id) {
        case Setting.HEADER_TABLE_SIZE:
          this.enc.setPeerMaxTableSize(v);
          break;
        case Setting.MAX_CONCURRENT_STREAMS:
          this.peerMaxConcurrent = v;
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          // §6.9.2: adjust every open stream's send window by the difference.
          const delta = v - this.peerInitialWindow;
          this.peerInitialWindow = v;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) {
              this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'window overflow after SETTINGS');
              return;
            }
            if (s.sendWindow > 0) wake(s.windowWaiters);
          }
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          this.peerMaxFrameSize = v;
          break;
        default:
          break; // unknown settings are ignored (§6.5.2)
      }
    }
    this.send({ type: FrameType.SETTINGS, ack: true, settings: [] });
    // A raised concurrency limit may free waiting requests.
    for (let i = this.activeCount(); i < Math.min(this.peerMaxConcurrent, this.ourMaxConcurrent); i++)
      this.releaseSlot();
  }

  private onWindowUpdate(streamId: number, inc: number): void {
    this.stats.windowUpdatesReceived++;
    if (streamId === 0) {
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW) {
        this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
        return;
      }
      wake(this.connWindowWaiters);
      return;
    }
    const s = this.streams.get(streamId);
    if (!s) return; // closed streams may still get updates (§6.9)
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) {
      this.streamError(streamId, ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
      return;
    }
    wake(s.windowWaiters);
  }

  private onHeaderBlock(streamId: number, block: Uint8Array, endStream: boolean): void {
    // Decode even for unknown streams: the HPACK table must stay in step (§4.3).
    const fields = this.dec.decode(block);
    if (fields instanceof HpackError) {
      this.stats.hpackErrors++;
      this.connectionError(ErrorCode.COMPRESSION_ERROR, fields.message);
      return;
    }
    const s = this.streams.get(streamId);
    if (!s) {
      if (streamId > this.highestOpened()) this.connectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on idle stream');
      return;
    }
    if (s.phase === 'half-closed-remote') {
      this.streamError(streamId, ErrorCode.STREAM_CLOSED, 'HEADERS after END_STREAM');
      return;
    }
    if (!s.gotHeaders) {
      const statusField = fields.find(([k]) => k === ':status');
      const status = statusField ? Number(statusField[1]) : NaN;
      if (!Number.isInteger(status) || status < 100 || status > 999) {
        this.streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'response without valid :status');
        return;
      }
      if (status >= 100 && status < 200) {
        if (endStream) this.streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'informational response ended stream');
        return; // 1xx: wait for the final response (§8.1)
      }
      s.gotHeaders = true;
      const headers = fields.filter(([k]) => !k.startsWith(':')) as [string, string][];
      s.resolve(this.makeResponse(s, status, headers));
    }
    // Trailers (or the headers) with END_STREAM end the response body.
    if (endStream) this.onRemoteEnd(s);
  }

  private onData(streamId: number, data: Uint8Array, flowLength: number, endStream: boolean): void {
    this.stats.dataBytesIn += data.length;
    // Connection-level accounting applies to every DATA frame, even for streams we dropped (§6.9).
    if (flowLength > this.connRecvWindow) {
      this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection receive window exceeded');
      return;
    }
    this.connRecvWindow -= flowLength;
    const s = this.streams.get(streamId);
    if (!s) {
      this.creditConnection(flowLength);
      if (streamId > this.highestOpened()) this.connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on idle stream');
      else this.send({ type: FrameType.RST_STREAM, streamId, code: ErrorCode.STREAM_CLOSED });
      return;
    }
    if (!s.gotHeaders || s.phase === 'half-closed-remote') {
      this.creditConnection(flowLength);
      this.streamError(streamId, s.gotHeaders ? ErrorCode.STREAM_CLOSED : ErrorCode.PROTOCOL_ERROR, 'unexpected DATA');
      return;
    }
    if (flowLength > s.recvWindow) {
      this.creditConnection(flowLength);
      this.streamError(streamId, ErrorCode.FLOW_CONTROL_ERROR, 'stream receive window exceeded');
      return;
    }
    s.recvWindow -= flowLength;
    // Padding is never delivered: credit it back at once.
    const padding = flowLength - data.length;
    if (padding) {
      this.creditConnection(padding);
      this.creditStream(s, padding);
    }
    if (s.bodyCancelled) {
      this.creditConnection(data.length);
    } else if (data.length) {
      if (s.pullWaiter) {
        // A read is waiting: hand over directly; it counts as consumed.
        s.queue.push(data);
        s.queuedBytes += data.length;
        const w = s.pullWaiter;
        s.pullWaiter = undefined;
        w();
      } else {
        s.queue.push(data);
        s.queuedBytes += data.length;
      }
    }
    if (endStream) this.onRemoteEnd(s);
  }

  private creditConnection(n: number): void {
    if (this.isClosed || n <= 0) return;
    this.connUnacked += n;
    if (this.connUnacked >= this.connectionWindow / 4) {
      this.send({ type: FrameType.WINDOW_UPDATE, streamId: 0, increment: this.connUnacked });
      this.stats.windowUpdatesSent++;
      this.connRecvWindow += this.connUnacked;
      this.connUnacked = 0;
    }
  }

  private creditStream(s: Stream, n: number): void {
    if (n <= 0) return;
    s.unacked += n;
    // Only streams still expecting data need credit; batch to a quarter window.
    if (s.phase !== 'half-closed-remote' && s.phase !== 'closed' && s.unacked >= this.streamWindow / 4) {
      this.send({ type: FrameType.WINDOW_UPDATE, streamId: s.id, increment: s.unacked });
      this.stats.windowUpdatesSent++;
      s.recvWindow += s.unacked;
      s.unacked = 0;
    }
  }

  private makeResponse(s: Stream, status: number, headers: [string, string][]): Http2Response {
    const body = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          for (;;) {
            const chunk = s.queue.shift();
            if (chunk) {
              s.queuedBytes -= chunk.length;
              controller.enqueue(chunk);
              // Consumed: now the peer may send more (backpressure through flow control).
              this.creditConnection(chunk.length);
              this.creditStream(s, chunk.length);
              return;
            }
            if (s.error) {
              controller.error(s.error);
              return;
            }
            if (s.ended) {
              controller.close();
              return;
            }
            await new Promise<void>((r) => (s.pullWaiter = r));
          }
        },
        cancel: () => {
          s.bodyCancelled = true;
          this.creditConnection(s.queuedBytes);
          s.queue = [];
          s.queuedBytes = 0;
          if (s.phase !== 'closed' && !s.ended)
            this.resetStream(s, ErrorCode.CANCEL, new Http2Error('response body cancelled', ErrorCode.CANCEL));
        },
      },
      { highWaterMark: 0 },
    );
    const bytes = () => readAll(body);
    return { status, headers, body, bytes, text: async () => decoder.decode(await bytes()) };
  }

  private onRemoteEnd(s: Stream): void {
    s.ended = true;
    if (s.pullWaiter) {
      const w = s.pullWaiter;
      s.pullWaiter = undefined;
      w();
    }
    if (s.phase === 'open') s.phase = 'half-closed-remote';
    else this.finishStream(s);
  }

  /** Both directions done: forget the stream (the body queue keeps its data). */
  private finishStream(s: Stream): void {
    s.phase = 'closed';
    if (this.streams.delete(s.id)) {
      this.stats.streamsActive = this.streams.size;
      this.releaseSlot();
      this.maybeFinishGoAway();
    }
  }

  private failStream(s: Stream, err: Error): void {
    s.error = err;
    if (!s.gotHeaders) s.reject(err);
    if (s.pullWaiter) {
      const w = s.pullWaiter;
      s.pullWaiter = undefined;
      w();
    }
    wake(s.windowWaiters);
    // Unread data no longer matters to the peer's connection window.
    this.creditConnection(s.queuedBytes);
    if (!s.ended) {
      s.queue = [];
      s.queuedBytes = 0;
    } else s.error = undefined; // body complete before the reset: let the reader finish
    this.finishStream(s);
  }

  private resetStream(s: Stream, code: number, err: Error): void {
    this.stats.rstSent++;
    this.send({ type: FrameType.RST_STREAM, streamId: s.id, code });
    this.failStream(s, err);
  }

  private streamError(streamId: number, code: number, message: string): void {
    this.stats.streamErrors++;
    const s = this.streams.get(streamId);
    if (s) this.resetStream(s, code, new Http2Error(`stream error: ${message}`, code));
    else {
      this.stats.rstSent++;
      this.send({ type: FrameType.RST_STREAM, streamId, code });
    }
  }

  private connectionError(code: number, message: string): void {
    if (this.isClosed) return;
    this.stats.connectionErrors++;
    this.send({
      type: FrameType.GOAWAY,
      lastStreamId: 0,
      code,
      debug: new TextEncoder().encode(message.slice(0, 200)),
    });
    const err = new Http2Error(`HTTP/2 connection error ${errorCodeName(code)}: ${message}`, code);
    this.teardown(err, err);
  }

  private onGoAway(lastStreamId: number, code: number, debug: string): void {
    this.stats.goawayReceived++;
    this.goAway = { lastStreamId, code };
    // §6.8: streams above lastStreamId were not processed and may be retried elsewhere.
    for (const s of [...this.streams.values()]) {
      if (s.id > lastStreamId) {
        this.failStream(
          s,
          new Http2Error(
            `server going away (${errorCodeName(code)}); request not processed`,
            ErrorCode.REFUSED_STREAM,
            true,
          ),
        );
      }
    }
    wake(this.slotWaiters);
    try {
      this.o.onGoAway?.(lastStreamId, code, debug);
    } catch {
      /* caller's problem */
    }
    this.maybeFinishGoAway();
  }

  private maybeFinishGoAway(): void {
    if (this.goAway && this.streams.size === 0 && !this.isClosed) {
      const err =
        this.goAway.code === ErrorCode.NO_ERROR
          ? undefined
          : new Http2Error(`server sent GOAWAY ${errorCodeName(this.goAway.code)}`, this.goAway.code, true);
      this.teardown(err ?? new Http2Error('connection closed after GOAWAY', ErrorCode.NO_ERROR, true), err);
    }
  }

  /** Stop everything: fail open streams and pings, close the transport, report once. */
  private teardown(streamErr: Error, reported: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const s of [...this.streams.values()]) this.failStream(s, streamErr);
    for (const p of this.pings.values()) p.reject(streamErr);
    this.pings.clear();
    wake(this.slotWaiters);
    wake(this.connWindowWaiters);
    this.writer.close().catch(() => undefined);
    this.reader.cancel().catch(() => undefined);
    try {
      this.o.onClose?.(reported);
    } catch {
      /* ignore */
    }
    this.resolveClosed();
  }
}

function wake(ws: (() => void)[]): void {
  const all = ws.splice(0);
  for (const w of all) w();
}

function hexKey(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function asError(e: unknown, what: string): Error {
  return e instanceof Error ? e : new Error(`${what}: ${String(e)}`);
}
