// Fewer WebSocket messages for the same DERP frames: a browser's WebSocket.send is an IPC to the
// network service per call (in a Worker profile of a download, send() was 21% of busy time, one per
// ACK). DERP over WebSocket is a byte stream (derper wraps the WebSocket in a net.Conn that reads
// across message boundaries; e2e/node-browser passes with merged messages), so whole frames written before the
// next task can share one message. A cap keeps any message — and so the burst derper forwards
// at once into its 32-packet per-client queue — to what the sender produced back to back anyway.
import type { WebSocketFactory, WebSocketLike } from '../platform/websocket.js';

/**
 * Runs f after the tasks already queued: in a browser each WebCrypto result and each WebSocket
 * message is its own task, so a microtask would flush after every packet. A MessageChannel message
 * is a task queued behind them (no timer clamping); without one, a microtask.
 */
let afterTasksImpl: ((f: () => void) => void) | undefined;
function afterTasks(f: () => void): void {
  afterTasksImpl ??= makeAfterTasks();
  afterTasksImpl(f);
}

function makeAfterTasks(): (f: () => void) => void {
  if (typeof MessageChannel === 'undefined') return (f) => queueMicrotask(f);
  const ch = new MessageChannel();
  // Node's ports keep the process alive while listened to; this one must not.
  (ch.port1 as { unref?: () => void }).unref?.();
  const q: (() => void)[] = [];
  ch.port1.onmessage = () => {
    for (const g of q.splice(0)) g();
  };
  return (f) => {
    if (q.push(f) === 1) ch.port2.postMessage(0);
  };
}

/** Frames up to this size count towards maxFrames: pure ACKs and keepalives, not bulk data. */
const SMALL_FRAME = 256;

/**
 * maxFrames: a message also goes out once it holds this many small frames (ACKs). Merging every ACK of a receive
 * burst until the Worker's queued tasks are done held the first ACKs back for the whole burst (1-3 ms
 * behind a backlog of WebSocket messages and WebCrypto results, measured in a Worker download) and
 * released the sender's next window in one go; sending every 8 small frames keeps the message count
 * about the same and lets the sender go on sooner. bench/tailnet, Chromium Worker, interleaved runs:
 * download 5.7-6.3 -> 6.4-7.6 MB/s, upload 6.6-8.4 -> 7.7-8.5 MB/s (a cap of 4, or counting data
 * frames too, was slower: more messages; 16 was no better than unbounded).
 */
export function coalescingWebSocketFactory(
  inner: WebSocketFactory,
  maxBytes = 16 * 1024,
  maxFrames = 8,
): WebSocketFactory {
  return (url, protocols) => new CoalescingWebSocket(inner(url, protocols), maxBytes, maxFrames);
}

class CoalescingWebSocket implements WebSocketLike {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private scheduled = false;
  private smallFrames = 0;

  constructor(
    private readonly ws: WebSocketLike,
    private readonly maxBytes: number,
    private readonly maxFrames: number,
  ) {}

  get binaryType(): string {
    return this.ws.binaryType;
  }
  set binaryType(t: string) {
    this.ws.binaryType = t;
  }
  get readyState(): number {
    return this.ws.readyState;
  }
  get bufferedAmount(): number {
    return (this.ws.bufferedAmount ?? 0) + this.pendingBytes;
  }
  get onopen() {
    return this.ws.onopen;
  }
  set onopen(f) {
    this.ws.onopen = f;
  }
  get onmessage() {
    return this.ws.onmessage;
  }
  set onmessage(f) {
    this.ws.onmessage = f;
  }
  get onclose() {
    return this.ws.onclose;
  }
  set onclose(f) {
    this.ws.onclose = f;
  }
  get onerror() {
    return this.ws.onerror;
  }
  set onerror(f) {
    this.ws.onerror = f;
  }

  send(data: Uint8Array): void {
    if (this.pendingBytes + data.length > this.maxBytes) this.flush();
    this.pending.push(data);
    this.pendingBytes += data.length;
    if (data.length <= SMALL_FRAME && ++this.smallFrames >= this.maxFrames) {
      this.flush(); // the scheduled flush, if any, then finds nothing to send
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      afterTasks(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  close(code?: number, reason?: string): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.smallFrames = 0;
    this.ws.close(code, reason);
  }

  private flush(): void {
    const parts = this.pending;
    if (parts.length === 0) return;
    const n = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.smallFrames = 0;
    if (this.ws.readyState !== 1) return; // closed meanwhile: DerpClient reconnects and resends nothing
    let data = parts[0];
    if (parts.length > 1) {
      data = new Uint8Array(n);
      let o = 0;
      for (const p of parts) {
        data.set(p, o);
        o += p.length;
      }
    }
    try {
      this.ws.send(data);
    } catch {
      // Deferred, so DerpClient.write cannot see this failure: closing makes it reconnect.
      this.ws.close();
    }
  }
}
