// ReadableStreams across postMessage where the browser cannot transfer them. WebKit (Safari,
// WebKitGTK 2.50) refuses a ReadableStream in a transfer list ("The object can not be cloned"),
// so the terminal's output and SFTP's file bytes could not reach the page. There the RPC
// (rpc.ts) sends each stream as a MessagePort instead: the side that has the stream answers
// 'pull' with one chunk at a time (so backpressure holds: nothing is read before it is wanted),
// and the other side makes a ReadableStream of those answers. Where streams transfer (Chromium,
// Firefox, Node.js) nothing changes.

const MARK = '__tailtabStreamPort';

interface StreamMarker {
  [MARK]: 'readable';
  port: MessagePort;
}

type PortMessage = { t: 'pull' } | { t: 'cancel'; reason: string };
type PortReply = { t: 'chunk'; value: unknown } | { t: 'done' } | { t: 'error'; message: string };

let transferable: boolean | undefined;

/** Whether this browser can transfer a ReadableStream through postMessage (tested once). */
export function canTransferStreams(): boolean {
  if (transferable === undefined) {
    const { port1, port2 } = new MessageChannel();
    try {
      const rs = new ReadableStream();
      port1.postMessage(rs, [rs as unknown as Transferable]);
      transferable = true;
    } catch {
      transferable = false;
    }
    port1.close();
    port2.close();
  }
  return transferable;
}

/** For tests: act as a browser that can (true) or cannot (false) transfer streams; undefined re-detects. */
export function setStreamTransfer(v: boolean | undefined): void {
  transferable = v;
}

/** Serves `stream` on `port`: one chunk per 'pull'. */
function serveReadable(stream: ReadableStream<unknown>, port: MessagePort): void {
  const reader = stream.getReader();
  port.onmessage = async (e: MessageEvent) => {
    const m = e.data as PortMessage;
    if (m?.t === 'cancel') {
      await reader.cancel(m.reason).catch(() => {});
      port.close();
      return;
    }
    if (m?.t !== 'pull') return;
    let reply: PortReply;
    const transfer: Transferable[] = [];
    try {
      const r = await reader.read();
      let value = r.value;
      // A view into a larger buffer would be cloned with the whole buffer: send a copy of its bytes.
      if (ArrayBuffer.isView(value) && value instanceof Uint8Array) {
        const copy = value.slice();
        transfer.push(copy.buffer);
        value = copy;
      }
      reply = r.done ? { t: 'done' } : { t: 'chunk', value };
    } catch (err) {
      reply = { t: 'error', message: (err as Error)?.message ?? String(err) };
    }
    port.postMessage(reply, transfer);
    if (reply.t !== 'chunk') port.close();
  };
}

/** The stream a marker's port serves. */
function readableFromPort(port: MessagePort): ReadableStream<unknown> {
  let answer: ((r: PortReply) => void) | undefined;
  port.onmessage = (e: MessageEvent) => answer?.(e.data as PortReply);
  return new ReadableStream<unknown>(
    {
      async pull(ctl) {
        const r = await new Promise<PortReply>((resolve) => {
          answer = resolve;
          port.postMessage({ t: 'pull' } satisfies PortMessage);
        });
        answer = undefined;
        if (r.t === 'chunk') ctl.enqueue(r.value);
        else {
          port.close();
          if (r.t === 'done') ctl.close();
          else ctl.error(new Error(r.message));
        }
      },
      cancel(reason) {
        port.postMessage({ t: 'cancel', reason: String(reason ?? '') } satisfies PortMessage);
        port.close();
      },
    },
    { highWaterMark: 0 },
  );
}

const isPlain = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== 'object') return false;
  const p = Object.getPrototypeOf(v) as unknown;
  return p === Object.prototype || p === null;
};

/**
 * Before posting `message` with `transfer`: where streams cannot be transferred, every
 * ReadableStream in the transfer list is replaced (in a copy of the message; plain objects and
 * arrays are walked) by a port that serves it. Returns what to post.
 */
export function streamsToPorts<T>(message: T, transfer: Transferable[]): { message: T; transfer: Transferable[] } {
  const streams = transfer.filter(
    (t) => (t as unknown) instanceof ReadableStream,
  ) as unknown as ReadableStream<unknown>[];
  if (streams.length === 0 || canTransferStreams()) return { message, transfer };
  const rest = transfer.filter((t) => !((t as unknown) instanceof ReadableStream));
  const walk = (v: unknown, depth: number): unknown => {
    if (v instanceof ReadableStream && streams.includes(v)) {
      const { port1, port2 } = new MessageChannel();
      serveReadable(v, port1);
      rest.push(port2);
      return { [MARK]: 'readable', port: port2 } satisfies StreamMarker;
    }
    if (depth > 6) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (isPlain(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, depth + 1)]));
    return v;
  };
  return { message: walk(message, 0) as T, transfer: rest };
}

/** After receiving: every stream marker (in plain objects and arrays) becomes its ReadableStream again. In place. */
export function portsToStreams<T>(data: T): T {
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 6 || v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x = walk(v[i], depth + 1);
        if (x !== v[i]) v[i] = x;
      }
      return v;
    }
    if (!isPlain(v)) return v;
    const m = v as Partial<StreamMarker>;
    if (m[MARK] === 'readable' && m.port instanceof MessagePort) return readableFromPort(m.port);
    for (const k of Object.keys(v)) {
      const x = walk(v[k], depth + 1);
      if (x !== v[k]) v[k] = x;
    }
    return v;
  };
  return walk(data, 0) as T;
}
