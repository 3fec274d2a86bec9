// The state an Http2Client shares between its roles, and the sending side: preface and SETTINGS
// (RFC 9113 §3.4), HEADERS + CONTINUATION, DATA under flow control (§5.2, §6.9) and the WINDOW_UPDATE
// credit we give back, concurrency slots (§5.1.2), ending and resetting streams, connection errors
// and teardown. The client is one object whose methods live in files by role: Http2ClientCore (this
// file) <- Http2ClientReceive (client-receive.ts: the read loop and frame handlers) <- Http2Client
// (client.ts: request, ping, close).
import type { Clock } from '../../platform/clock.js';
import { realClock } from '../../platform/clock.js';
import type { ByteDuplex } from '../../platform/duplex.js';
import {
  CONNECTION_PREFACE,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  ErrorCode,
  FrameReader,
  FrameType,
  Setting,
  encodeFrame,
  type Frame,
} from './frames.js';
import { HpackDecoder, HpackEncoder } from './hpack.js';
import {
  asError,
  errorCodeName,
  Http2Error,
  type Http2ClientOptions,
  type Stream,
  type StreamPhase,
  wake,
} from './client-types.js';

export abstract class Http2ClientCore {
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

  protected clock: Clock;
  protected writer: WritableStreamDefaultWriter<Uint8Array>;
  protected reader: ReadableStreamDefaultReader<Uint8Array>;
  protected frames = new FrameReader(DEFAULT_MAX_FRAME_SIZE);
  protected enc = new HpackEncoder();
  protected dec: HpackDecoder;
  protected streams = new Map<number, Stream>();
  protected nextStreamId = 1;
  protected highestStreamId = 0;
  protected peerMaxConcurrent = Infinity;
  protected peerInitialWindow = DEFAULT_WINDOW;
  protected peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  protected connSendWindow = DEFAULT_WINDOW;
  protected connRecvWindow: number;
  protected connUnacked = 0;
  protected connWindowWaiters: (() => void)[] = [];
  protected slotWaiters: (() => void)[] = [];
  protected pings = new Map<string, { start: number; resolve: (ms: number) => void; reject: (e: Error) => void }>();
  protected pingSeq = 0;
  protected continuation: { streamId: number; parts: Uint8Array[]; size: number; endStream: boolean } | undefined;
  protected goAway: { lastStreamId: number; code: number } | undefined;
  protected isClosed = false;
  protected resolveClosed!: () => void;
  protected readonly streamWindow: number;
  protected readonly connectionWindow: number;
  protected readonly ourMaxConcurrent: number;

  constructor(
    conn: ByteDuplex,
    protected o: Http2ClientOptions = {},
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

  // ---------- sending ----------

  protected writeRaw(b: Uint8Array): void {
    if (this.isClosed) return;
    this.stats.bytesOut += b.length;
    // The writer queues in order; errors surface through the read side or the next write.
    this.writer.write(b).catch((e) => this.teardown(asError(e, 'write failed'), undefined));
  }

  protected send(f: Exclude<Frame, { type: 'unknown' }>): void {
    this.stats.framesOut++;
    this.writeRaw(encodeFrame(f));
  }

  protected sendHeaderBlock(streamId: number, block: Uint8Array, endStream: boolean): void {
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

  protected async sendBody(s: Stream, body: Uint8Array | ReadableStream<Uint8Array>): Promise<void> {
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

  protected async sendData(s: Stream, data: Uint8Array, endStream: boolean): Promise<void> {
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

  protected onLocalEnd(s: Stream): void {
    if (s.phase === 'open') s.phase = 'half-closed-local';
    else if (s.phase === 'half-closed-remote') this.finishStream(s);
  }

  // ---------- concurrency ----------

  protected activeCount(): number {
    return this.streams.size;
  }

  protected async acquireSlot(): Promise<void> {
    while (
      !this.isClosed &&
      !this.goAway &&
      this.activeCount() >= Math.min(this.peerMaxConcurrent, this.ourMaxConcurrent)
    ) {
      await new Promise<void>((r) => this.slotWaiters.push(r));
    }
  }

  protected releaseSlot(): void {
    const w = this.slotWaiters.shift();
    if (w) w();
  }

  protected creditConnection(n: number): void {
    if (this.isClosed || n <= 0) return;
    this.connUnacked += n;
    if (this.connUnacked >= this.connectionWindow / 4) {
      this.send({ type: FrameType.WINDOW_UPDATE, streamId: 0, increment: this.connUnacked });
      this.stats.windowUpdatesSent++;
      this.connRecvWindow += this.connUnacked;
      this.connUnacked = 0;
    }
  }

  protected creditStream(s: Stream, n: number): void {
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

  /** Both directions done: forget the stream (the body queue keeps its data). */
  protected finishStream(s: Stream): void {
    s.phase = 'closed';
    if (this.streams.delete(s.id)) {
      this.stats.streamsActive = this.streams.size;
      this.releaseSlot();
      this.maybeFinishGoAway();
    }
  }

  protected failStream(s: Stream, err: Error): void {
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

  protected resetStream(s: Stream, code: number, err: Error): void {
    this.stats.rstSent++;
    this.send({ type: FrameType.RST_STREAM, streamId: s.id, code });
    this.failStream(s, err);
  }

  protected streamError(streamId: number, code: number, message: string): void {
    this.stats.streamErrors++;
    const s = this.streams.get(streamId);
    if (s) this.resetStream(s, code, new Http2Error(`stream error: ${message}`, code));
    else {
      this.stats.rstSent++;
      this.send({ type: FrameType.RST_STREAM, streamId, code });
    }
  }

  protected connectionError(code: number, message: string): void {
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

  protected maybeFinishGoAway(): void {
    if (this.goAway && this.streams.size === 0 && !this.isClosed) {
      const err =
        this.goAway.code === ErrorCode.NO_ERROR
          ? undefined
          : new Http2Error(`server sent GOAWAY ${errorCodeName(this.goAway.code)}`, this.goAway.code, true);
      this.teardown(err ?? new Http2Error('connection closed after GOAWAY', ErrorCode.NO_ERROR, true), err);
    }
  }

  /** Stop everything: fail open streams and pings, close the transport, report once. */
  protected teardown(streamErr: Error, reported: Error | undefined): void {
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

  protected abstract readLoop(): Promise<void>;
}
