// Terminal sessions: an SSH login (ssh-connect.ts) with a pty, run entirely in the Worker. The
// page gets one output stream (stdout and stderr as the pty interleaves them, transferred, not
// copied), writes keystrokes by session id, and hears 'ssh-exit' when the session ends.
// A session outlives the window that opened it for a while (detach): the Worker keeps reading it
// into a bounded scrollback (scrollback.ts), and a reloaded page attaches to it again, as
// `tmux attach` does: the scrollback first, then the live bytes. Several windows (tabs of one
// profile sharing the SharedWorker) may show one session at once, as several `tmux attach` do:
// each sees every byte of output, each one's keystrokes go to the shell, the last window to
// resize sets the size, and the session ends when it exits or the last window showing it closes it.
import { toHex } from '../crypto/bytes.js';
import type { SshClient, SshSession } from '../ssh/client.js';
import type { TcpConnectionLike } from '../node/node.js';
import type { HostKeyVerdict, SshOpenOptions, SshSessionListing } from './node-api.js';
import { WithTransfer } from './rpc.js';
import type { AppContext, AppWindow } from './context.js';
import type { HostKeyChecks } from './host-keys.js';
import { connectSsh } from './ssh-connect.js';
import { Scrollback, type ScrollbackLimits } from './scrollback.js';
import { mergeBounded, type BoundedMerge } from '../platform/streams.js';

type ExitInfo = { code?: number; signal?: string; error?: string };

/** One window showing a session: its output stream, and whether it asked for the next chunk. */
interface Viewer {
  sink?: ReadableStreamDefaultController<Uint8Array>;
  /** The window's stream asked for the next chunk (its pull). */
  demand: boolean;
  /** It missed output while it lagged (see STALL_MS): its next pull gets a redraw, as tmux redraws a client. */
  behind?: boolean;
}

/**
 * How long a window showing a session that others also show may go without reading before the
 * output goes on without it (a tab in the background, whose timers the browser throttles, or one
 * that died without saying so). It then gets a redraw when it reads again: the terminal reset
 * and the scrollback. One window alone always sets the pace (back-pressure to the server).
 */
export const STALL_MS = 5000;

/** ESC c (RIS): the terminal reset before a lagging window's redraw (ECMA-48 §8.3.105). */
const RESET = new Uint8Array([0x1b, 0x63]);

interface SshRecord {
  id: string;
  /** The windows showing it; none while detached (its windows reloading or closed). */
  viewers: Map<AppWindow, Viewer>;
  /** What it was opened with, for listing (no secret). */
  listing: Omit<SshSessionListing, 'windows'>;
  ssh: SshClient;
  session: SshSession;
  writer: WritableStreamDefaultWriter<Uint8Array>;
  conn: TcpConnectionLike;
  hostKey: HostKeyVerdict;
  scrollback: Scrollback;
  /** Ends a detached session nobody came back for. */
  reaper?: ReturnType<typeof setTimeout>;
  /** Asked to close (the person closed its tab): not kept for a reload. */
  closing?: boolean;
  closed: boolean;
  /** The output stream and the bytes read from the session not yet taken by the page. */
  merged?: BoundedMerge;
  /** Wakes the output pump: demand came, or a window went. */
  wake?: () => void;
}

/**
 * Bound of each terminal's Worker→page output queue. Beyond it the Worker stops reading the SSH
 * channel; 256 KiB is a few frames of xterm.js parsing, enough to keep a fast link busy.
 */
export const OUTPUT_QUEUE_BYTES = 256 * 1024;

export interface SshSessionsOptions {
  scrollback?: ScrollbackLimits;
  /** STALL_MS unless given (tests). */
  stallMs?: number;
}

export class SshSessions {
  private readonly sessions = new Map<string, SshRecord>();
  /** Most output bytes any one terminal has had queued for its page (status shows it). */
  private peakQueued = 0;

  constructor(
    private readonly ctx: AppContext,
    private readonly hostKeys: HostKeyChecks,
    private readonly o: SshSessionsOptions = {},
  ) {}

  /** Every open session's id. */
  ids(): string[] {
    return [...this.sessions.keys()];
  }

  async open(
    owner: AppWindow,
    o: SshOpenOptions & { promptId?: string },
  ): Promise<WithTransfer<{ id: string; output: ReadableStream<Uint8Array>; hostKey: HostKeyVerdict }>> {
    const { ssh, conn, hostKey } = await connectSsh(this.ctx, this.hostKeys, owner, o);
    let session: SshSession;
    try {
      session = await ssh.openSession({ pty: { term: 'xterm-256color', cols: o.cols, rows: o.rows } });
    } catch (e) {
      try {
        ssh.close();
      } catch {
        /* closing anyway */
      }
      try {
        await conn.close();
      } catch {
        /* closing anyway */
      }
      throw e;
    }
    const id = toHex(this.ctx.random(8));
    const rec: SshRecord = {
      id,
      viewers: new Map(),
      listing: {
        id,
        host: o.host,
        port: o.port ?? 22,
        username: o.username,
        method: o.auth.type === 'none' ? 'none' : o.auth.type === 'password' ? 'password' : 'key',
      },
      ssh,
      session,
      writer: session.stdin.getWriter(),
      conn,
      hostKey,
      scrollback: new Scrollback(this.o.scrollback),
      closed: false,
    };
    this.sessions.set(id, rec);
    const output = this.bind(rec, owner);
    // One stream for the terminal: stdout and stderr as the pty interleaves them. Bounded: the
    // session's streams are read only while this queue has room, so a flood (`yes`) waits in the
    // SSH channel, whose window then stays shut (RFC 4254 §5.2) and the server stops sending.
    // While a window is attached, a chunk leaves the queue only when that window's stream asks
    // for one (pull), and the page asks only as fast as xterm.js parses (terminal.ts):
    // back-pressure end to end; with several windows attached, the slowest one sets the pace
    // (every window sees every byte, none is queued for without bound). Every chunk also goes to the scrollback for a reload; while no
    // window is attached the session is read freely into the (bounded) scrollback.
    rec.merged = mergeBounded([session.stdout, session.stderr], OUTPUT_QUEUE_BYTES);
    void this.pump(rec, rec.merged.output);
    const finish = (info: ExitInfo) => {
      if (rec.closed) return;
      rec.closed = true;
      clearTimeout(rec.reaper);
      this.sessions.delete(id);
      for (const w of rec.viewers.keys()) {
        w.sessions.delete(id);
        w.push({ type: 'ssh-exit', id, ...info });
      }
      try {
        ssh.close();
      } catch {
        /* closing anyway */
      }
    };
    session.exit.then(
      (x) => finish({ code: x.code, signal: x.signal, error: x.message }),
      (e: unknown) => finish({ error: (e as Error)?.message ?? String(e) }),
    );
    ssh.closed.then((err) => {
      if (err) finish({ error: err.message });
    });
    return new WithTransfer({ id, output, hostKey }, [output as unknown as Transferable]);
  }

  private async pump(rec: SshRecord, merged: ReadableStream<Uint8Array>): Promise<void> {
    const r = merged.getReader();
    try {
      for (;;) {
        await this.demanded(rec);
        const { value, done } = await r.read();
        if (done) break;
        rec.scrollback.push(value);
        for (const v of rec.viewers.values()) {
          if (!v.sink) continue;
          if (!v.demand) {
            v.behind = true; // lagged past STALL_MS: skipped, redrawn on its next read
            continue;
          }
          v.demand = false;
          try {
            v.sink.enqueue(value);
          } catch {
            v.sink = undefined; /* cancelled by the page */
          }
        }
      }
    } catch {
      /* the exit reports why */
    }
    for (const v of rec.viewers.values()) endSink(v);
  }

  /**
   * Waits until every window showing the session asked for the next chunk; or, with several
   * windows, until one has and the others have not for STALL_MS (they are then skipped and
   * redrawn later). No window asking: the wait has no end, and the SSH window stays shut.
   */
  private async demanded(rec: SshRecord): Promise<void> {
    const stallMs = this.o.stallMs ?? STALL_MS;
    let since = 0;
    while (waiting(rec)) {
      const someone = [...rec.viewers.values()].some((v) => v.sink && v.demand);
      if (!someone) since = 0;
      else if (!since) since = this.ctx.now();
      else if (this.ctx.now() - since >= stallMs) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        rec.wake = resolve;
        if (someone) timer = setTimeout(resolve, Math.max(1, stallMs - (this.ctx.now() - since)));
      });
      clearTimeout(timer);
    }
    rec.wake = undefined;
  }

  /** Adds `owner` to the session's windows with a new output stream, whose first bytes are `replay`. */
  private bind(rec: SshRecord, owner: AppWindow, replay?: Uint8Array): ReadableStream<Uint8Array> {
    const was = rec.viewers.get(owner);
    if (was) endSink(was); // the same window attaching again (a second view of it): one stream each
    const v: Viewer = { demand: false };
    rec.viewers.set(owner, v);
    owner.sessions.add(rec.id);
    clearTimeout(rec.reaper);
    rec.reaper = undefined;
    // highWaterMark 0: pull comes only when the page reads, so nothing queues here beyond a chunk.
    return new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          v.sink = c;
          if (replay?.length) c.enqueue(replay);
        },
        pull: (c) => {
          if (v.behind) {
            // Missed output: a reset, then what the scrollback holds (bounded), then live again.
            v.behind = false;
            const snap = rec.scrollback.snapshot();
            const redraw = new Uint8Array(RESET.length + snap.length);
            redraw.set(RESET);
            redraw.set(snap, RESET.length);
            c.enqueue(redraw);
            return;
          }
          v.demand = true;
          rec.wake?.();
        },
        cancel: () => {
          v.sink = undefined;
          rec.wake?.();
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** The sessions running in this Worker, for a window to list and attach to (no secret in them). */
  list(): SshSessionListing[] {
    return [...this.sessions.values()]
      .filter((r) => !r.closed && !r.closing)
      .map((r) => ({ ...r.listing, windows: r.viewers.size }));
  }

  /**
   * A window shows a running session (a reload of the page that opened it, or another tab): what
   * the scrollback holds, then the live output. Windows that already show it go on showing it.
   */
  attach(
    owner: AppWindow,
    id: string,
  ): WithTransfer<{ id: string; output: ReadableStream<Uint8Array>; hostKey: HostKeyVerdict }> {
    const rec = this.sessions.get(id);
    if (!rec || rec.closed || rec.closing)
      throw new Error('This terminal session has ended: it is no longer running in this browser.');
    const output = this.bind(rec, owner, rec.scrollback.snapshot());
    return new WithTransfer({ id, output, hostKey: rec.hostKey }, [output as unknown as Transferable]);
  }

  /**
   * A window showing the session is gone (a reload, a closed tab). Others may still show it; when
   * none does, the session goes on unseen, into its scrollback, for `graceMs`; then it is closed
   * unless a window attached meanwhile.
   */
  detach(id: string, graceMs: number, window?: AppWindow): void {
    const rec = this.sessions.get(id);
    if (!rec || rec.closed || rec.closing) return;
    for (const w of window ? [window] : [...rec.viewers.keys()]) this.unbind(rec, w);
    if (rec.viewers.size) return;
    clearTimeout(rec.reaper);
    rec.reaper = setTimeout(() => {
      if (!rec.viewers.size) this.close(id);
    }, graceMs);
  }

  private unbind(rec: SshRecord, w: AppWindow): void {
    const v = rec.viewers.get(w);
    w.sessions.delete(rec.id);
    if (!v) return;
    rec.viewers.delete(w);
    endSink(v);
    rec.wake?.();
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

  /** Sessions no window shows (detached), e.g. to keep the node up for them. */
  detachedCount(): number {
    let n = 0;
    for (const r of this.sessions.values()) if (!r.viewers.size && !r.closed && !r.closing) n++;
    return n;
  }

  write(id: string, data: Uint8Array): void {
    const s = this.sessions.get(id);
    if (!s || s.closed) return;
    s.writer.write(data).catch(() => {});
  }

  resize(id: string, cols: number, rows: number) {
    return this.sessions.get(id)?.session.resize(cols, rows);
  }

  /**
   * Asks the session to close; one that has not ended 2 s later is dropped and reported closed.
   * Asked by one window while others still show it, only that window stops showing it.
   */
  close(id: string, window?: AppWindow): void {
    const s = this.sessions.get(id);
    if (!s) return;
    if (window && s.viewers.has(window) && s.viewers.size > 1) {
      this.unbind(s, window);
      return;
    }
    s.closing = true;
    clearTimeout(s.reaper);
    try {
      s.session.close();
    } catch {
      /* closing anyway */
    }
    setTimeout(() => {
      if (!s.closed) {
        s.closed = true;
        this.sessions.delete(id);
        for (const w of s.viewers.keys()) {
          w.sessions.delete(id);
          w.push({ type: 'ssh-exit', id, error: 'closed' });
        }
        try {
          s.ssh.close();
        } catch {
          /* */
        }
      }
    }, 2000);
  }
}

/** Whether the pump waits: some window showing the session (and not already skipped) has not asked for the next chunk. */
function waiting(rec: SshRecord): boolean {
  for (const v of rec.viewers.values()) if (v.sink && !v.demand && !v.behind) return true;
  return false;
}

function endSink(v: Viewer): void {
  const s = v.sink;
  v.sink = undefined;
  v.demand = false;
  try {
    s?.close();
  } catch {
    /* already closed or cancelled */
  }
}
