// The web-streams face of one connection: the RFC 9293 §3.10.2 SEND and §3.10.3 RECEIVE calls as a
// WritableStream (backpressure while the send buffer is full) and a ReadableStream (its queue is the
// receive buffer the window advertises, RFC 9293 §3.8.6.2.2), plus the promises that report the
// connection's end (§3.10.4 CLOSE, §3.10.5 ABORT). The state machine lives in tcp.ts; this file only
// moves bytes and settles promises.
import { NetStackError } from './errors.js';
import type { TcpConn } from './tcp.js';

/** Receive batch buffer size (see deliver). */
const RX_BATCH = 64 * 1024;

interface PendingWrite {
  chunk: Uint8Array;
  pos: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class TcpSocket {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly closed: Promise<void>;
  /** Resolves with the connection once ESTABLISHED (active open), rejects if it fails before. */
  readonly opened: Promise<TcpConn>;

  readCancelled = false;
  /** The reader got its end (our peer's FIN, or the connection ended). */
  readClosed = false;
  readCtrl!: ReadableStreamDefaultController<Uint8Array>;
  /** A write larger than the free send buffer: the rest moves in as ACKs free space. */
  pendingWrite?: PendingWrite;
  /** close() called while a write was still pending: the FIN follows that write. */
  finRequested = false;
  finAckedWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** `closed` is settled. */
  finished = false;
  /** Why the connection ended, if not cleanly. */
  closeError?: NetStackError;

  // In-order bytes batched for the reader (see deliver).
  rxBuf?: Uint8Array;
  rxFill = 0;
  rxFlushQueued = false;

  resolveClosed!: () => void;
  rejectClosed!: (e: unknown) => void;
  resolveOpened!: (c: TcpConn) => void;
  rejectOpened!: (e: unknown) => void;

  constructor(private readonly conn: TcpConn) {
    const cfg = conn.host.cfg;
    this.closed = new Promise<void>((res, rej) => {
      this.resolveClosed = res;
      this.rejectClosed = rej;
    });
    this.closed.catch(() => undefined); // observed through the streams too; never an unhandled rejection
    this.opened = new Promise<TcpConn>((res, rej) => {
      this.resolveOpened = res;
      this.rejectOpened = rej;
    });
    this.opened.catch(() => undefined);
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.readCtrl = c;
        },
        pull: () => conn.rcv.onReaderPulled(),
        cancel: () => {
          this.readCancelled = true;
          conn.rcv.ooo.clear();
        },
      },
      { highWaterMark: cfg.recvBuffer, size: (c) => c.byteLength },
    );
    this.writable = new WritableStream<Uint8Array>(
      {
        write: (chunk) => this.appWrite(chunk),
        close: () => conn.shutdownWrite(),
        abort: (reason) => conn.abort(reason),
      },
      { highWaterMark: 1 },
    );
  }

  // ------------------------------------------------------------------ writing (RFC 9293 §3.10.2)

  private appWrite(chunk: Uint8Array): Promise<void> | void {
    const c = this.conn;
    if (!(chunk instanceof Uint8Array))
      throw new NetStackError('EINVAL', 'TcpConnection.writable accepts Uint8Array chunks only');
    if (c.snd.finQueued || this.finRequested || !c.canSend()) {
      throw this.writeError();
    }
    const space = c.host.cfg.sendBuffer - c.snd.buf.length;
    if (chunk.length <= space) {
      c.snd.buf.push(chunk);
      c.snd.transmit();
      return;
    }
    if (space > 0) c.snd.buf.push(chunk, 0, space);
    c.snd.transmit();
    return new Promise<void>((resolve, reject) => {
      this.pendingWrite = { chunk, pos: Math.max(0, space), resolve, reject };
    });
  }

  writeError(): NetStackError {
    return new NetStackError(
      'EPIPE',
      `tcp ${this.conn.remoteInfo}: connection is closed for writing (${this.conn.state})`,
    );
  }

  /** Moves the rest of a waiting write into the send buffer as ACKs free space. */
  refillFromPending(): void {
    const p = this.pendingWrite;
    if (!p) return;
    const c = this.conn;
    const space = c.host.cfg.sendBuffer - c.snd.buf.length;
    if (space <= 0) return;
    const n = Math.min(space, p.chunk.length - p.pos);
    c.snd.buf.push(p.chunk, p.pos, p.pos + n);
    p.pos += n;
    if (p.pos >= p.chunk.length) {
      this.pendingWrite = undefined;
      p.resolve();
      if (this.finRequested) c.queueFin();
    }
  }

  closedForWrite(): Promise<void> {
    return this.finished && this.closeError ? Promise.reject(this.closeError) : Promise.resolve();
  }

  /** Resolves when our FIN is acknowledged (or at once if it is, or the connection is gone). */
  finAcked(): Promise<void> {
    if (this.conn.snd.finIsAcked() || this.conn.state === 'CLOSED') return this.closedForWrite();
    return new Promise((resolve, reject) => this.finAckedWaiters.push({ resolve, reject }));
  }

  // ------------------------------------------------------------------ reading (RFC 9293 §3.10.3)

  /** Receive buffer space the reader's queue has left (the window we may offer). */
  freeRecvSpace(): number {
    const cfg = this.conn.host.cfg;
    const queued = cfg.recvBuffer - (this.readCtrl.desiredSize ?? 0) + this.rxFill;
    return Math.max(0, cfg.recvBuffer - Math.max(0, queued));
  }

  /**
   * In-order bytes go to the reader. They are copied (the packet buffer belongs to the caller of
   * input()) into a batch buffer that is enqueued once per microtask, so a burst of segments reaches
   * the reader as one chunk instead of one stream operation per segment.
   */
  deliver(data: Uint8Array): void {
    this.conn.host.stats.tcpRxBytes += data.length;
    if (this.readCancelled || this.readClosed) return;
    let b = this.rxBuf;
    if (!b || this.rxFill + data.length > b.length) {
      this.flushRx();
      b = this.rxBuf = new Uint8Array(Math.max(RX_BATCH, data.length));
    }
    b.set(data, this.rxFill);
    this.rxFill += data.length;
    if (!this.rxFlushQueued) {
      this.rxFlushQueued = true;
      queueMicrotask(() => {
        this.rxFlushQueued = false;
        this.flushRx();
      });
    }
  }

  flushRx(): void {
    const b = this.rxBuf;
    const n = this.rxFill;
    if (!b || n === 0) return;
    let chunk: Uint8Array;
    if (n * 4 < b.length) {
      // A small batch is copied out (and the buffer reused) so a tiny chunk never pins a whole
      // batch buffer while it waits in the reader's queue.
      chunk = b.slice(0, n);
    } else {
      chunk = b.subarray(0, n); // the reader owns this buffer now
      this.rxBuf = undefined;
    }
    this.rxFill = 0;
    if (this.readCancelled || this.readClosed) return;
    this.readCtrl.enqueue(chunk);
  }

  /** The peer's FIN reached RCV.NXT (its data flushed already): the reader sees the end of the stream. */
  endOfStream(): void {
    this.readClosed = true;
    if (!this.readCancelled) {
      try {
        this.readCtrl.close();
      } catch {
        /* already cancelled */
      }
    }
  }

  /** The application stopped reading (close()). */
  cancelRead(): void {
    if (!this.readCancelled && !this.readClosed) {
      this.readCancelled = true;
      this.conn.rcv.ooo.clear();
    }
  }

  // ------------------------------------------------------------------ the end

  /** Settles everything the application may wait on: e set = failure, else a clean end. */
  settle(e: NetStackError | undefined): void {
    if (e) {
      this.rejectOpened(e);
      if (!this.readClosed && !this.readCancelled) {
        try {
          this.readCtrl.error(e);
        } catch {
          /* stream already done */
        }
      }
      this.pendingWrite?.reject(e);
      for (const w of this.finAckedWaiters.splice(0)) w.reject(e);
      if (!this.finished) this.rejectClosed(e);
    } else {
      if (!this.readClosed && !this.readCancelled) {
        try {
          this.flushRx();
          this.readCtrl.close();
        } catch {
          /* stream already done */
        }
      }
      this.pendingWrite?.reject(this.writeError());
      for (const w of this.finAckedWaiters.splice(0)) w.resolve();
      this.resolveClosed();
    }
    this.pendingWrite = undefined;
    this.readClosed = true;
    this.finished = true;
  }
}
