// Terminal sessions: an SSH login (ssh-connect.ts) with a pty, run entirely in the Worker. The
// page gets one output stream (stdout and stderr as the pty interleaves them, transferred, not
// copied), writes keystrokes by session id, and hears 'ssh-exit' when the session ends.
import { toHex } from '../crypto/bytes.js';
import type { SshClient, SshSession } from '../ssh/client.js';
import type { TcpConnectionLike } from '../node/node.js';
import type { HostKeyVerdict, SshOpenOptions } from './node-api.js';
import { WithTransfer } from './rpc.js';
import type { AppContext, AppWindow } from './context.js';
import type { HostKeyChecks } from './host-keys.js';
import { connectSsh } from './ssh-connect.js';
import { mergeBounded, type BoundedMerge } from '../platform/streams.js';

interface SshRecord {
  id: string;
  owner: AppWindow;
  ssh: SshClient;
  session: SshSession;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  conn: TcpConnectionLike;
  closed: boolean;
  /** The output stream and the bytes read from the session not yet taken by the page. */
  merged?: BoundedMerge;
}

/**
 * Bound of each terminal's Worker→page output queue. Beyond it the Worker stops reading the SSH
 * channel; 256 KiB is a few frames of xterm.js parsing, enough to keep a fast link busy.
 */
export const OUTPUT_QUEUE_BYTES = 256 * 1024;

export class SshSessions {
  private readonly sessions = new Map<string, SshRecord>();
  /** Most output bytes any one terminal has had queued for its page (status shows it). */
  private peakQueued = 0;

  constructor(private readonly ctx: AppContext, private readonly hostKeys: HostKeyChecks) {}

  /** Every open session's id. */
  ids(): string[] {
    return [...this.sessions.keys()];
  }

  async open(owner: AppWindow, o: SshOpenOptions & { promptId?: string }): Promise<WithTransfer<{ id: string; output: ReadableStream<Uint8Array>; hostKey: HostKeyVerdict }>> {
    const { ssh, conn, hostKey } = await connectSsh(this.ctx, this.hostKeys, owner, o);
    let session: SshSession;
    try {
      session = await ssh.openSession({ pty: { term: 'xterm-256color', cols: o.cols, rows: o.rows } });
    } catch (e) {
      try { ssh.close(); } catch { /* closing anyway */ }
      try { await conn.close(); } catch { /* closing anyway */ }
      throw e;
    }
    const id = toHex(this.ctx.random(8));
    const rec: SshRecord = { id, owner, ssh, session, writer: session.stdin.getWriter(), conn, closed: false };
    this.sessions.set(id, rec);
    owner.sessions.add(id);
    // One stream for the terminal: stdout and stderr as the pty interleaves them. Bounded: the
    // session's streams are read only while this queue has room, so a flood (`yes`) waits in the
    // SSH channel, whose window then stays shut (RFC 4254 §5.2) and the server stops sending.
    // The page takes from it only as fast as xterm.js parses (terminal.ts): back-pressure end to end.
    const merged = mergeBounded([session.stdout, session.stderr], OUTPUT_QUEUE_BYTES);
    const output = merged.output;
    rec.merged = merged;
    const finish = (info: { code?: number; signal?: string; error?: string }) => {
      if (rec.closed) return;
      rec.closed = true;
      this.sessions.delete(id);
      owner.sessions.delete(id);
      owner.push({ type: 'ssh-exit', id, ...info });
      try { ssh.close(); } catch { /* closing anyway */ }
    };
    session.exit.then(
      (x) => finish({ code: x.code, signal: x.signal, error: x.message }),
      (e: unknown) => finish({ error: (e as Error)?.message ?? String(e) }),
    );
    ssh.closed.then((err) => { if (err) finish({ error: err.message }); });
    return new WithTransfer({ id, output, hostKey }, [output as unknown as Transferable]);
  }

  /** Terminals open, their output bytes queued for pages now, and the most one has had queued. */
  flowStats(): { open: number; queuedBytes: number; peakQueuedBytes: number; boundBytes: number } {
    let queuedBytes = 0;
    for (const s of this.sessions.values()) {
      queuedBytes += s.merged?.queued() ?? 0;
      this.peakQueued = Math.max(this.peakQueued, s.merged?.peak() ?? 0);
    }
    return { open: this.sessions.size, queuedBytes, peakQueuedBytes: this.peakQueued, boundBytes: OUTPUT_QUEUE_BYTES };
  }

  write(id: string, data: Uint8Array): void {
    const s = this.sessions.get(id);
    if (!s || s.closed) return;
    s.writer.write(data).catch(() => {});
  }

  resize(id: string, cols: number, rows: number) {
    return this.sessions.get(id)?.session.resize(cols, rows);
  }

  /** Asks the session to close; one that has not ended 2 s later is dropped and reported closed. */
  close(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    try { s.session.close(); } catch { /* closing anyway */ }
    setTimeout(() => { if (!s.closed) { s.closed = true; this.sessions.delete(id); s.owner.sessions.delete(id); s.owner.push({ type: 'ssh-exit', id, error: 'closed' }); try { s.ssh.close(); } catch { /* */ } } }, 2000);
  }
}
