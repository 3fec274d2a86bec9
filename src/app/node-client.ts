// The page's side of NodeApi (node-api.ts) over a port to the node's Worker (node-service.ts
// serves the other side): calls forwarded over rpc.ts, terminal bytes and files as transferred
// streams, host-key questions put to the page's hooks. Which Worker, and how it is started, is the
// page's business (ui/node-client.ts).
import type {
  NodeApi,
  NodeEvent,
  PeerView,
  SftpOpenOptions,
  SftpSessionHandle,
  SshOpenHooks,
  SshOpenOptions,
  SshSessionHandle,
  TcpStreamHandle,
  WorkerEvent,
} from './node-api.js';
import { RpcClient } from './rpc.js';
import { gestureProblem } from './gesture.js';
import type { PortLike } from '../platform/port.js';

type ExitInfo = { code?: number; signal?: string; error?: string };
/** The events that belong to one login in progress (answered by its hooks). */
type LoginEvent = Extract<WorkerEvent, { type: 'host-key-prompt' | 'auth-prompt' | 'legacy-prompt' | 'ssh-banner' }>;
/** What sshOpen and sshAttach answer over the port. */
type OpenedSsh = { id: string; output: ReadableStream<Uint8Array>; hostKey: SshSessionHandle['hostKey'] };

let promptSeq = 0;

export function createNodeClientOnPort(port: PortLike, o: { failed?: Promise<string> } = {}): NodeApi {
  const rpc = new RpcClient(port);
  void o.failed?.then((message) => rpc.fail(message));
  const exits = new Map<string, (e: ExitInfo) => void>();
  const early = new Map<string, ExitInfo>();
  // The hooks of each login in progress, by its prompt id (host key, login questions, banner).
  const logins = new Map<string, SshOpenHooks>();
  const listeners = new Set<(ev: NodeEvent) => void>();
  // The peers as the Worker's status events built them up (whole first, then diffs: node-api.ts StatusWireEvent).
  let peers = new Map<string, PeerView>();
  // The list as last handed out: the same array while no peer changed (most ticks of a big tailnet).
  let list: PeerView[] = [];
  rpc.onEvent((raw) => {
    let ev = raw as WorkerEvent;
    if (ev.type === 'status') {
      if (!ev.peersDiff) {
        peers = new Map(ev.status.peers.map((p) => [p.id, p]));
        list = [...peers.values()];
      } else if (ev.peersDiff.remove.length || ev.peersDiff.upsert.length) {
        for (const id of ev.peersDiff.remove) peers.delete(id);
        for (const p of ev.peersDiff.upsert) peers.set(p.id, p);
        list = [...peers.values()];
      }
      ev = { type: 'status', status: { ...ev.status, peers: list } };
    }
    if (ev.type === 'ssh-exit') {
      const done = exits.get(ev.id);
      const info = { code: ev.code, signal: ev.signal, error: ev.error };
      if (done) done(info);
      else early.set(ev.id, info);
      exits.delete(ev.id);
      return;
    }
    if (answerLogin(ev, logins, rpc)) return;
    for (const l of listeners) l(ev);
  });
  /** A prompt id for a login with any hook (the Worker asks nothing of a login without one). */
  const loginHooks = (hooks: SshOpenHooks): string | undefined => {
    if (!hooks.confirmHostKey && !hooks.askAuth && !hooks.banner && !hooks.confirmLegacy) return undefined;
    const promptId = `p${++promptSeq}-${Math.random().toString(36).slice(2)}`;
    logins.set(promptId, hooks);
    return promptId;
  };
  const sshHandle = (r: OpenedSsh) => sshSessionHandle(rpc, r, exits, early);
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
      const promptId = loginHooks(hooks);
      let r: OpenedSsh;
      try {
        r = await rpc.call('sshOpen', [{ ...o, promptId }]);
      } finally {
        if (promptId) logins.delete(promptId);
      }
      return sshHandle(r);
    },
    async sshAttach(id: string): Promise<SshSessionHandle> {
      return sshHandle(await rpc.call('sshAttach', [id]));
    },
    sshList: () => rpc.call('sshList'),
    probe: (host, port) => rpc.call('probe', [host, port]),
    async sftpOpen(o: SftpOpenOptions, hooks: SshOpenHooks = {}): Promise<SftpSessionHandle> {
      const promptId = loginHooks(hooks);
      let r: { id: string; home: string; hostKey: SftpSessionHandle['hostKey'] };
      try {
        r = await rpc.call('sftpOpen', [{ ...o, promptId }]);
      } finally {
        if (promptId) logins.delete(promptId);
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
    async tcpDial(host: string, port: number): Promise<TcpStreamHandle> {
      // The page's bytes go as a stream the Worker pipes into the connection (transferred, or a
      // pull-driven port where streams cannot be: stream-port.ts), so writes wait for the host.
      const up = new TransformStream<Uint8Array, Uint8Array>();
      const r = await rpc.call<{ id: string; remote: string; readable: ReadableStream<Uint8Array> }>(
        'tcpDial',
        [host, port, up.readable],
        [up.readable as unknown as Transferable],
      );
      return {
        ...r,
        writable: up.writable,
        close: () => {
          void up.writable.abort().catch(() => {});
          void rpc.call('tcpClose', [r.id]).catch(() => {});
        },
      };
    },
    sshKeys: (o) => rpc.call('sshKeys', [o]),
    sshKeyCreate: (name, o) => rpc.call('sshKeyCreate', [name, o]),
    sshKeyImport: (text, o) => rpc.call('sshKeyImport', [text, o]),
    sshKeyDelete: (id, o) => rpc.call('sshKeyDelete', [id, o]),
    // Checked here, in the page, synchronously in the caller's click handler (gesture.ts).
    sshKeyExport: (id, o) => {
      const problem = gestureProblem();
      return problem ? Promise.reject(new Error(problem)) : rpc.call('sshKeyExport', [id, o]);
    },
    knownHosts: () => rpc.call('knownHosts'),
    knownHostDelete: (host) => rpc.call('knownHostDelete', [host]),
    knownHostLegacy: (host, allow) => rpc.call('knownHostLegacy', [host, allow]),
    setRoutePrefs: (prefs) => rpc.call('setRoutePrefs', [prefs]),
    httpProxyPort: (p, target) => rpc.call('httpProxyPort', [p, target], [p]),
    wipe: () => rpc.call('wipe'),
    release: () => rpc.call('release'),
    logTail: () => rpc.call('logTail'),
  };
}

/**
 * Puts a login's question from the Worker (host key, login prompts, legacy algorithms, banner) to
 * the hooks of that login and sends the answer back; false for any other event.
 */
function answerLogin(ev: WorkerEvent, logins: Map<string, SshOpenHooks>, rpc: RpcClient): ev is LoginEvent {
  if (ev.type === 'host-key-prompt') {
    // Without a confirmHostKey hook the key is trusted on first use (SshOpenHooks); a login
    // already over (no hooks left) is refused.
    const hooks = logins.get(ev.promptId);
    const ask = hooks?.confirmHostKey;
    const answer = ask
      ? ask({ host: ev.host, fingerprint: ev.fingerprint, keyType: ev.keyType })
      : Promise.resolve(!!hooks);
    void answer.catch(() => false).then((ok) => rpc.call('hostKeyAnswer', [ev.promptId, ok]));
    return true;
  }
  if (ev.type === 'auth-prompt') {
    const ask = logins.get(ev.promptId)?.askAuth;
    const answer = ask
      ? ask({ host: ev.host, username: ev.username, name: ev.name, instruction: ev.instruction, prompts: ev.prompts })
      : Promise.resolve(undefined);
    void answer.catch(() => undefined).then((a) => rpc.call('loginAnswer', [ev.askId, a ?? null]));
    return true;
  }
  if (ev.type === 'legacy-prompt') {
    const ask = logins.get(ev.promptId)?.confirmLegacy;
    const answer = ask ? ask({ host: ev.host, reason: ev.reason }) : Promise.resolve(false);
    void answer.catch(() => false).then((ok) => rpc.call('loginAnswer', [ev.askId, ok === true]));
    return true;
  }
  if (ev.type === 'ssh-banner') {
    logins.get(ev.promptId)?.banner?.(ev.text);
    return true;
  }
  return false;
}

/** The page's handle on an SSH session in the Worker; its exit may have come before it was asked for. */
function sshSessionHandle(
  rpc: RpcClient,
  r: OpenedSsh,
  exits: Map<string, (e: ExitInfo) => void>,
  early: Map<string, ExitInfo>,
): SshSessionHandle {
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
}
