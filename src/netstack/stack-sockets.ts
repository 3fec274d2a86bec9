// The listener and UDP socket objects NetStack (stack.ts) hands out: bounded queues, closed by
// their owner or by the stack.
import { NetStackError } from './errors.js';
import type { TcpConn, TcpConnection } from './tcp.js';
import type { TcpListener, UdpMessage, UdpSocket } from './stack-types.js';

export class Listener implements TcpListener {
  readonly queue: TcpConn[] = [];
  readonly halfOpen = new Set<TcpConn>();
  private waiters: { resolve: (c: TcpConnection) => void; reject: (e: unknown) => void }[] = [];
  closed = false;

  constructor(
    readonly port: number,
    private readonly onClose: () => void,
  ) {}

  deliver(c: TcpConn): void {
    const w = this.waiters.shift();
    if (w) w.resolve(c);
    else this.queue.push(c);
  }

  accept(): Promise<TcpConnection> {
    if (this.closed) return Promise.reject(new NetStackError('ESHUTDOWN', `listener on port ${this.port} is closed`));
    const c = this.queue.shift();
    if (c) return Promise.resolve(c);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TcpConnection> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (e) {
        if (this.closed) return;
        throw e;
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.queue.splice(0)) c.abort('listener closed');
    for (const w of this.waiters.splice(0))
      w.reject(new NetStackError('ESHUTDOWN', `listener on port ${this.port} is closed`));
    this.onClose();
  }
}

export class UdpSock implements UdpSocket {
  readonly readable: ReadableStream<UdpMessage>;
  private ctrl!: ReadableStreamDefaultController<UdpMessage>;
  private closed = false;

  constructor(
    readonly localPort: number,
    queue: number,
    private readonly sendFn: (addr: string, port: number, data: Uint8Array) => void,
    private readonly onClose: () => void,
    private readonly stats: Record<string, number>,
  ) {
    this.readable = new ReadableStream<UdpMessage>(
      { start: (c) => void (this.ctrl = c), cancel: () => this.close() },
      { highWaterMark: queue },
    );
  }

  push(m: UdpMessage): void {
    if (this.closed) return;
    if ((this.ctrl.desiredSize ?? 0) <= 0) {
      this.stats.udpRxQueueFull++; // the reader is behind: drop, as a kernel socket buffer would
      return;
    }
    this.ctrl.enqueue(m);
  }

  send(addr: string, port: number, data: Uint8Array): void {
    if (this.closed) throw new NetStackError('ESHUTDOWN', `udp socket ${this.localPort} is closed`);
    this.sendFn(addr, port, data);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.ctrl.close();
    } catch {
      /* cancelled */
    }
    this.onClose();
  }
}
