// A small RPC over a MessagePort (or a Worker): calls with ids, results or errors back, events
// pushed by the callee. Only structured-clonable data and transferables cross; ReadableStreams in
// a transfer list go as ports where the browser cannot transfer them (WebKit; stream-port.ts).

import type { PortLike } from '../platform/port.js';
import { portsToStreams, streamsToPorts } from './stream-port.js';

export type RpcRequest = { kind: 'call'; id: number; method: string; args: unknown[] };
export type RpcReply = { kind: 'result'; id: number; value: unknown } | { kind: 'error'; id: number; message: string };
export type RpcEvent = { kind: 'event'; event: unknown };
export type RpcMessage = RpcRequest | RpcReply | RpcEvent;

/** Value a handler returns to send transferables (streams, ports, buffers) along with a result. */
export class WithTransfer<T> {
  constructor(
    readonly value: T,
    readonly transfer: Transferable[],
  ) {}
}

export class RpcClient {
  private seq = 1;
  private waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private listeners = new Set<(ev: unknown) => void>();
  private failed?: string;

  constructor(private port: PortLike) {
    port.addEventListener('message', (e: MessageEvent) => this.onMessage(e.data as RpcMessage));
    port.start?.();
  }

  call<T>(method: string, args: unknown[] = [], transfer: Transferable[] = []): Promise<T> {
    if (this.failed !== undefined) return Promise.reject(new Error(this.failed));
    const id = this.seq++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      const out = streamsToPorts(args, transfer);
      this.port.postMessage({ kind: 'call', id, method, args: out.message } satisfies RpcRequest, out.transfer);
    });
  }

  /**
   * The other side will never answer (its Worker failed to start): every waiting and later call
   * is rejected with `message` instead of hanging.
   */
  fail(message: string): void {
    this.failed = message;
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) w.reject(new Error(message));
  }

  onEvent(cb: (ev: unknown) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private onMessage(m: RpcMessage) {
    if (m.kind === 'event') {
      const event = portsToStreams(m.event);
      for (const l of this.listeners) l(event);
      return;
    }
    if (m.kind !== 'result' && m.kind !== 'error') return;
    const w = this.waiting.get(m.id);
    if (!w) return;
    this.waiting.delete(m.id);
    if (m.kind === 'result') w.resolve(portsToStreams(m.value));
    else w.reject(new Error(m.message));
  }
}

export type RpcHandlers = Record<string, (...args: never[]) => unknown>;

/** Serves handlers on a port; returns a function to push events to the caller. */
export function serveRpc(port: PortLike, handlers: RpcHandlers): (event: unknown, transfer?: Transferable[]) => void {
  port.addEventListener('message', async (e: MessageEvent) => {
    const m = e.data as RpcMessage;
    if (!m || m.kind !== 'call') return;
    const h = Object.prototype.hasOwnProperty.call(handlers, m.method) ? handlers[m.method] : undefined;
    try {
      if (!h) throw new Error(`unknown method ${m.method}`);
      const out = await (h as (...a: unknown[]) => unknown)(
        ...(Array.isArray(m.args) ? portsToStreams(m.args) : m.args),
      );
      if (out instanceof WithTransfer) {
        const sent = streamsToPorts(out.value, out.transfer);
        port.postMessage({ kind: 'result', id: m.id, value: sent.message } satisfies RpcReply, sent.transfer);
      } else port.postMessage({ kind: 'result', id: m.id, value: out } satisfies RpcReply);
    } catch (err) {
      port.postMessage({ kind: 'error', id: m.id, message: (err as Error)?.message ?? String(err) } satisfies RpcReply);
    }
  });
  port.start?.();
  return (event, transfer = []) => {
    const sent = streamsToPorts(event, transfer);
    port.postMessage({ kind: 'event', event: sent.message } satisfies RpcEvent, sent.transfer);
  };
}
