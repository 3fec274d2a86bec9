// The page's handle on the node: a module Worker (src/ui/worker/node-worker.ts) that owns the
// node, its keys and every SSH session; this side only forwards calls and terminal bytes.
import type { HostKeyPrompt, NodeApi, NodeEvent, SftpOpenOptions, SftpSessionHandle, SshOpenHooks, SshOpenOptions, SshSessionHandle } from './node-api.js';
import { RpcClient } from './rpc.js';
import type { PortLike } from '../platform/port.js';

type ExitInfo = { code?: number; signal?: string; error?: string };
type WorkerEvent =
  | NodeEvent
  | ({ type: 'ssh-exit'; id: string } & ExitInfo)
  | ({ type: 'host-key-prompt'; promptId: string } & HostKeyPrompt);

let promptSeq = 0;

export function createNodeClientOnPort(port: PortLike, o: { failed?: Promise<string> } = {}): NodeApi {
  const rpc = new RpcClient(port);
  void o.failed?.then((message) => rpc.fail(message));
  const exits = new Map<string, (e: ExitInfo) => void>();
  const early = new Map<string, ExitInfo>();
  const confirmers = new Map<string, (p: HostKeyPrompt) => Promise<boolean>>();
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
    if (ev.type === 'host-key-prompt') {
      const ask = confirmers.get(ev.promptId);
      const answer = ask ? ask({ host: ev.host, fingerprint: ev.fingerprint, keyType: ev.keyType }) : Promise.resolve(false);
      void answer.catch(() => false).then((ok) => rpc.call('hostKeyAnswer', [ev.promptId, ok]));
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
    async sshOpen(o: SshOpenOptions, hooks: SshOpenHooks = {}): Promise<SshSessionHandle> {
      const promptId = hooks.confirmHostKey ? `p${++promptSeq}-${Math.random().toString(36).slice(2)}` : undefined;
      if (promptId) confirmers.set(promptId, hooks.confirmHostKey!);
      let r: { id: string; output: ReadableStream<Uint8Array>; hostKey: SshSessionHandle['hostKey'] };
      try {
        r = await rpc.call('sshOpen', [{ ...o, promptId }]);
      } finally {
        if (promptId) confirmers.delete(promptId);
      }
      const exit = new Promise<ExitInfo>((resolve) => {
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
    async sftpOpen(o: SftpOpenOptions, hooks: SshOpenHooks = {}): Promise<SftpSessionHandle> {
      const promptId = hooks.confirmHostKey ? `p${++promptSeq}-${Math.random().toString(36).slice(2)}` : undefined;
      if (promptId) confirmers.set(promptId, hooks.confirmHostKey!);
      let r: { id: string; home: string; hostKey: SftpSessionHandle['hostKey'] };
      try {
        r = await rpc.call('sftpOpen', [{ ...o, promptId }]);
      } finally {
        if (promptId) confirmers.delete(promptId);
      }
      return {
        ...r,
        list: (path) => rpc.call('sftpList', [r.id, path]),
        download: (path) => rpc.call('sftpDownload', [r.id, path]),
        // The stream is transferred to the Worker, which pulls from it as SFTP writes are acknowledged.
        upload: (path, data) => rpc.call('sftpUpload', [r.id, path, data], [data as unknown as Transferable]),
        close: () => void rpc.call('sftpClose', [r.id]).catch(() => {}),
      };
    },
    sshKeys: () => rpc.call('sshKeys'),
    sshKeyCreate: (name) => rpc.call('sshKeyCreate', [name]),
    sshKeyDelete: (id) => rpc.call('sshKeyDelete', [id]),
    sshKeyExport: (id) => rpc.call('sshKeyExport', [id]),
    knownHosts: () => rpc.call('knownHosts'),
    knownHostDelete: (host) => rpc.call('knownHostDelete', [host]),
    httpProxyPort: (p) => rpc.call('httpProxyPort', [p], [p]),
    wipe: () => rpc.call('wipe'),
    release: () => rpc.call('release'),
    logTail: () => rpc.call('logTail'),
  };
}

/** Not in TypeScript's lib.dom yet (SharedWorkerOptions.extendedLifetime). */
const EXTENDED_LIFETIME = { extendedLifetime: true };

/**
 * A SharedWorker where the browser has one, so several windows of the app share one node (one
 * node key, one set of sessions) instead of fighting over it; a dedicated Worker otherwise (or
 * when asked: `?worker=dedicated`). `name` separates nodes: the widget runs its own.
 *
 * `extendedLifetime` (HTML "SharedWorkerOptions", Chrome ≥ 148; ignored where unknown) keeps the
 * SharedWorker running for a while after its last window is gone. Without it a closed kiosk tab
 * takes the Worker down before the ephemeral node's logout has left (its 'release' is received,
 * but the Worker is terminated with the page), and control keeps the node until its ephemeral
 * inactivity timeout; with it the logout completes (e2e/kiosk-close.test.ts, Chromium 156: node
 * deleted by Headscale 0.3–0.6 s after the tab closed; without it still there after 20 s). Every
 * window must ask the same: Chrome refuses to join a SharedWorker started with the other setting.
 */
export function createNodeClient(o: { name?: string; dedicated?: boolean } = {}): NodeApi {
  const name = o.name ?? 'tailtab-node';
  const dedicated = o.dedicated ?? (typeof location !== 'undefined' && new URLSearchParams(location.search).get('worker') === 'dedicated');
  if (!dedicated && typeof SharedWorker !== 'undefined') {
    // Spread before `type`: Vite reads `type` from this literal to bundle the Worker as a module.
    const shared = new SharedWorker(new URL('./worker/node-worker.ts', import.meta.url), { ...EXTENDED_LIFETIME, type: 'module', name });
    // Chrome fires 'error' when it cannot connect this window, e.g. a window of an older tailtab
    // (no extendedLifetime) still runs the node: say so rather than wait forever.
    const failed = new Promise<string>((resolve) =>
      shared.addEventListener('error', () =>
        resolve('tailtab could not start its node in this window. If another tailtab window is open (perhaps an older version), close it and reload this one.'),
      ),
    );
    return createNodeClientOnPort(shared.port, { failed });
  }
  const worker = new Worker(new URL('./worker/node-worker.ts', import.meta.url), { type: 'module', name });
  return createNodeClientOnPort(worker as unknown as PortLike);
}
