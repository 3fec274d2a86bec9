// The page's handle on the node: a module Worker (src/ui/worker/node-worker.ts) that owns the
// node, its keys and every SSH session; this side only forwards calls and terminal bytes.
import type { NodeApi, NodeEvent, SshOpenOptions, SshSessionHandle } from './node-api.js';
import { RpcClient, type PortLike } from './rpc.js';

type WorkerEvent = NodeEvent | { type: 'ssh-exit'; id: string; code?: number; signal?: string; error?: string };

export function createNodeClientOnPort(port: PortLike): NodeApi {
  const rpc = new RpcClient(port);
  const exits = new Map<string, (e: { code?: number; signal?: string; error?: string }) => void>();
  const early = new Map<string, { code?: number; signal?: string; error?: string }>();
  const listeners = new Set<(ev: NodeEvent) => void>();
  rpc.onEvent((raw) => {
    const ev = raw as WorkerEvent;
    if (ev.type === 'ssh-exit') {
      const done = exits.get(ev.id);
      const info = { code: ev.code, signal: ev.signal, error: ev.error };
      if (done) done(info);
      else early.set(ev.id, info);
      exits.delete(ev.id);
      return;
    }
    for (const l of listeners) l(ev);
  });
  return {
    up: (cfg) => rpc.call('up', [cfg]),
    down: (o) => rpc.call('down', [o ?? {}]),
    status: () => rpc.call('status'),
    subscribe(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    ping: (target) => rpc.call('ping', [target]),
    async sshOpen(o: SshOpenOptions): Promise<SshSessionHandle> {
      const r = await rpc.call<{ id: string; output: ReadableStream<Uint8Array>; hostKey: SshSessionHandle['hostKey'] }>('sshOpen', [o]);
      const exit = new Promise<{ code?: number; signal?: string; error?: string }>((resolve) => {
        const e = early.get(r.id);
        if (e) {
          early.delete(r.id);
          resolve(e);
        } else exits.set(r.id, resolve);
      });
      return {
        id: r.id,
        output: r.output,
        hostKey: r.hostKey,
        exit,
        write: (data) => void rpc.call('sshWrite', [r.id, data]).catch(() => {}),
        resize: (cols, rows) => void rpc.call('sshResize', [r.id, cols, rows]).catch(() => {}),
        close: () => void rpc.call('sshClose', [r.id]).catch(() => {}),
      };
    },
    sshKeys: () => rpc.call('sshKeys'),
    sshKeyCreate: (name) => rpc.call('sshKeyCreate', [name]),
    sshKeyDelete: (id) => rpc.call('sshKeyDelete', [id]),
    knownHosts: () => rpc.call('knownHosts'),
    knownHostDelete: (host) => rpc.call('knownHostDelete', [host]),
    httpProxyPort: (p) => rpc.call('httpProxyPort', [p], [p]),
    wipe: () => rpc.call('wipe'),
  };
}

/**
 * A SharedWorker where the browser has one, so several windows of the app share one node (one
 * node key, one set of sessions) instead of fighting over it; a dedicated Worker otherwise.
 */
export function createNodeClient(): NodeApi {
  const url = new URL('./worker/node-worker.ts', import.meta.url);
  if (typeof SharedWorker !== 'undefined') {
    const shared = new SharedWorker(url, { type: 'module', name: 'tailtab-node' });
    return createNodeClientOnPort(shared.port);
  }
  const worker = new Worker(url, { type: 'module', name: 'tailtab-node' });
  return createNodeClientOnPort(worker as unknown as PortLike);
}
