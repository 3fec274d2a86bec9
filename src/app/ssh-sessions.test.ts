// Several windows (tabs sharing the SharedWorker) showing one terminal session, as several
// `tmux attach` do. The SSH login itself is not the subject here: connectSsh is replaced by a
// session whose output the test writes and whose input it reads.
import { describe, expect, it, vi } from 'vitest';
import type { AppContext, AppWindow } from './context.js';
import type { HostKeyChecks } from './host-keys.js';
import type { WorkerEvent } from './node-api.js';

interface FakeShell {
  out: ReadableStreamDefaultController<Uint8Array>;
  typed: string[];
  sizes: [number, number][];
  end(code: number): void;
}
const shells: FakeShell[] = [];

vi.mock('./ssh-connect.js', () => ({
  connectSsh: async () => {
    let out!: ReadableStreamDefaultController<Uint8Array>;
    let end!: (x: { code: number }) => void;
    const shell: FakeShell = { out: undefined as never, typed: [], sizes: [], end: (code) => end({ code }) };
    const session = {
      stdout: new ReadableStream<Uint8Array>({ start: (c) => void (out = c) }),
      stderr: new ReadableStream<Uint8Array>(),
      stdin: new WritableStream<Uint8Array>({ write: (b) => void shell.typed.push(new TextDecoder().decode(b)) }),
      exit: new Promise((r) => (end = r)),
      resize: async (c: number, r: number) => void shell.sizes.push([c, r]),
      close: () => end({ code: 0 }),
    };
    shell.out = out;
    shells.push(shell);
    return {
      ssh: { openSession: async () => session, close: () => {}, closed: new Promise(() => {}) },
      conn: { close: async () => {} },
      hostKey: { status: 'tailnet' },
    };
  },
}));

const { SshSessions } = await import('./ssh-sessions.js');

function win(): AppWindow & { events: WorkerEvent[] } {
  const events: WorkerEvent[] = [];
  return { events, push: (e) => void events.push(e), sessions: new Set(), sftp: new Set(), released: false };
}

const ctx = {
  random: (n: number) => crypto.getRandomValues(new Uint8Array(n)),
  now: () => Date.now(),
} as unknown as AppContext;
const enc = new TextEncoder();
const text = (chunks: Uint8Array[]) => chunks.map((c) => new TextDecoder().decode(c)).join('');

/** Reads what a window's stream has for it now (each read is that window's pull). */
async function readSome(out: ReadableStream<Uint8Array>, reader = out.getReader(), n = 1): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const r = await reader.read();
    if (r.done) break;
    got.push(r.value);
  }
  return got;
}

describe('a terminal session shown in two windows', () => {
  it('both see its output (the second from the scrollback first), both type into it, and one closing leaves the other', async () => {
    const s = new SshSessions(ctx, {} as HostKeyChecks);
    const a = win();
    const b = win();
    const opened = (
      await s.open(a, { host: '100.64.0.2', username: 'root', auth: { type: 'none' }, cols: 80, rows: 24 })
    ).value;
    const shell = shells.at(-1)!;
    const ra = opened.output.getReader();
    const first = readSome(opened.output, ra);
    shell.out.enqueue(enc.encode('before$ '));
    expect(text(await first)).toBe('before$ ');

    // The second tab lists it and attaches: what it printed so far, then live bytes to both.
    expect(s.list()).toEqual([
      { id: opened.id, host: '100.64.0.2', port: 22, username: 'root', method: 'none', windows: 1 },
    ]);
    const attached = s.attach(b, opened.id).value;
    const rb = attached.output.getReader();
    expect(text(await readSome(attached.output, rb))).toBe('before$ ');
    expect(s.list()[0]!.windows).toBe(2);
    const both = Promise.all([readSome(opened.output, ra), readSome(attached.output, rb)]);
    shell.out.enqueue(enc.encode('live'));
    expect((await both).map(text)).toEqual(['live', 'live']);

    s.write(opened.id, enc.encode('from a\r'));
    s.write(opened.id, enc.encode('from b\r'));
    await vi.waitFor(() => expect(shell.typed).toEqual(['from a\r', 'from b\r']));

    // Tab a closes its terminal: b goes on showing the session, which is not ended.
    s.close(opened.id, a);
    expect(a.sessions.has(opened.id)).toBe(false);
    expect((await ra.read()).done).toBe(true);
    expect(s.list()[0]!.windows).toBe(1);
    const later = readSome(attached.output, rb);
    shell.out.enqueue(enc.encode('still here'));
    expect(text(await later)).toBe('still here');

    // The shell exits: the window showing it hears so; the one that left does not.
    shell.end(0);
    await vi.waitFor(() => expect(b.events).toContainEqual({ type: 'ssh-exit', id: opened.id, code: 0 }));
    expect(a.events).toEqual([]);
    expect(s.list()).toEqual([]);
  });

  it('a window that stops reading holds the other back for STALL_MS at most, then gets a redraw (reset and scrollback) when it reads again', async () => {
    const s = new SshSessions(ctx, {} as HostKeyChecks, { stallMs: 200 });
    const a = win();
    const b = win();
    const opened = (await s.open(a, { host: 'h', username: 'u', auth: { type: 'none' }, cols: 80, rows: 24 })).value;
    const shell = shells.at(-1)!;
    const other = s.attach(b, opened.id).value; // b does not read for now
    const ra = opened.output.getReader();
    const reading = readSome(opened.output, ra, 2);
    shell.out.enqueue(enc.encode('one'));
    shell.out.enqueue(enc.encode('two'));
    // a gets both, 'two' only once b has lagged past the stall bound; no unbounded wait.
    expect(text(await reading)).toBe('onetwo');
    // b reads at last: it missed both, so it gets a redraw (ESC c, then the scrollback), not a gap.
    const rb = other.output.getReader();
    expect(text(await readSome(other.output, rb))).toBe('\x1bconetwo');
    // And live again for both.
    const both = Promise.all([readSome(opened.output, ra), readSome(other.output, rb)]);
    shell.out.enqueue(enc.encode('three'));
    expect((await both).map(text)).toEqual(['three', 'three']);
    s.close(opened.id);
  });

  it('a window that stops reading holds the others back only by the bounded queue, and leaving frees them', async () => {
    const s = new SshSessions(ctx, {} as HostKeyChecks);
    const a = win();
    const b = win();
    const opened = (await s.open(a, { host: 'h', username: 'u', auth: { type: 'none' }, cols: 80, rows: 24 })).value;
    const shell = shells.at(-1)!;
    s.attach(b, opened.id); // b never reads
    const ra = opened.output.getReader();
    const reading = readSome(opened.output, ra, 2);
    shell.out.enqueue(enc.encode('one'));
    shell.out.enqueue(enc.encode('two'));
    // b has not pulled: a gets the first chunk only (b's stream holds one chunk, no more).
    await vi.waitFor(() => expect(s.flowStats().queuedBytes).toBeGreaterThan(0));
    s.detach(opened.id, 60_000, b); // b's tab goes (a reload, a closed tab)
    expect(text(await reading)).toBe('onetwo');
    s.close(opened.id);
  });
});
