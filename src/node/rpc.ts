// The node's side of the page <-> Worker RPC. Wire format matches ui/rpc.ts (kind call/result/
// error/event with ids) so the UI's client talks to it; only structured-clonable data crosses.
// dial() hands back a transferable {readable, writable} pair (transferable streams, supported by
// Chromium/Firefox and Node's MessageChannel).

import type { NodeStatus, TailnetNode, UpConfig } from './node.js';

export type RpcRequest = { kind: 'call'; id: number; method: string; args: unknown[] };
export type RpcReply = { kind: 'result'; id: number; value: unknown } | { kind: 'error'; id: number; message: string };
export type RpcEvent = { kind: 'event'; event: unknown };

export interface PortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
  start?(): void;
}

/** Plain-data part of UpConfig: what a page may send. The Worker supplies storage and sockets. */
export type PlainUpConfig = Pick<UpConfig, 'controlUrl' | 'authKey' | 'hostname' | 'ephemeral' | 'allowInsecureDerp' | 'controlKey' | 'homeRegion'> & { profileId?: string };

export type NodeRpcEvent =
  | { type: 'state'; state: string }
  | { type: 'log'; text: string; at: number }
  | { type: 'authUrl'; url: string }
  | { type: 'netmap'; peers: number };

class Transfer { constructor(readonly value: unknown, readonly transfer: Transferable[]) {} }

/** Serves a TailnetNode on a port. `complete` turns the plain config into a full UpConfig. */
export function serveNode(port: PortLike, node: TailnetNode, complete: (c: PlainUpConfig, onAuthUrl: (u: string) => void) => UpConfig | Promise<UpConfig>): void {
  const push = (event: NodeRpcEvent) => port.postMessage({ kind: 'event', event } satisfies RpcEvent);
  node.on('state', (state) => push({ type: 'state', state }));
  node.on('log', (text) => push({ type: 'log', text, at: Date.now() }));
  node.on('netmap', (nm) => push({ type: 'netmap', peers: nm.peers.length }));
  const handlers: Record<string, (...a: never[]) => unknown> = {
    up: async (c: PlainUpConfig) => { await node.up(await complete(c, (url) => push({ type: 'authUrl', url }))); },
    status: (): NodeStatus => JSON.parse(JSON.stringify(node.status())) as NodeStatus,
    ping: (host: string, o?: { preferV6?: boolean }) => node.ping(host, o),
    discoPing: (host: string) => node.discoPing(host),
    dial: async (host: string, p: number) => {
      const c = await node.dial(host, p);
      return new Transfer({ readable: c.readable, writable: c.writable }, [c.readable as unknown as Transferable, c.writable as unknown as Transferable]);
    },
    down: () => node.down(),
  };
  port.addEventListener('message', async (e: MessageEvent) => {
    const m = e.data as RpcRequest;
    if (!m || m.kind !== 'call') return;
    try {
      const h = Object.prototype.hasOwnProperty.call(handlers, m.method) ? handlers[m.method] : undefined;
      if (!h) throw new Error(`unknown method ${m.method}`);
      const out = await (h as (...a: unknown[]) => unknown)(...(m.args ?? []));
      if (out instanceof Transfer) port.postMessage({ kind: 'result', id: m.id, value: out.value } satisfies RpcReply, out.transfer);
      else port.postMessage({ kind: 'result', id: m.id, value: out ?? null } satisfies RpcReply);
    } catch (err) {
      port.postMessage({ kind: 'error', id: m.id, message: (err as Error)?.message ?? String(err) } satisfies RpcReply);
    }
  });
  port.start?.();
}

/** A typed client for the node over a port (the page side, or a test). */
export class NodeRpcClient {
  private seq = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(ev: NodeRpcEvent) => void>();

  constructor(private readonly port: PortLike) {
    port.addEventListener('message', (e: MessageEvent) => {
      const m = e.data as RpcReply | RpcEvent;
      if (m?.kind === 'event') { for (const l of this.listeners) l(m.event as NodeRpcEvent); return; }
      if (m?.kind !== 'result' && m?.kind !== 'error') return;
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.kind === 'result') w.resolve(m.value); else w.reject(new Error(m.message));
    });
    port.start?.();
  }

  private call<T>(method: string, ...args: unknown[]): Promise<T> {
    const id = this.seq++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.port.postMessage({ kind: 'call', id, method, args } satisfies RpcRequest);
    });
  }

  onEvent(cb: (ev: NodeRpcEvent) => void): () => void { this.listeners.add(cb); return () => this.listeners.delete(cb); }
  up(c: PlainUpConfig): Promise<void> { return this.call('up', c); }
  status(): Promise<NodeStatus> { return this.call('status'); }
  ping(host: string, o?: { preferV6?: boolean }): Promise<{ ms: number; ip: string }> { return this.call('ping', host, o); }
  discoPing(host: string): Promise<number> { return this.call('discoPing', host); }
  dial(host: string, port: number): Promise<{ readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> }> { return this.call('dial', host, port); }
  down(): Promise<void> { return this.call('down'); }
}
