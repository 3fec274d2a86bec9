// Byte chunks and byte streams: joining chunks into one array, and reading a stream to its end.

/** The chunks in order as one new array; `total` is their summed length when the caller kept it. */
export function joinChunks(parts: readonly Uint8Array[], total?: number): Uint8Array {
  let len = total;
  if (len === undefined) {
    len = 0;
    for (const p of parts) len += p.length;
  }
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Reads `s` to its end: its chunks in order and their summed length; `onBytes` hears the running
 * total after each chunk (a progress display). The stream stays locked to the reader.
 */
export async function readChunks(
  s: ReadableStream<Uint8Array>,
  onBytes?: (total: number) => void,
): Promise<{ parts: Uint8Array[]; total: number }> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const r = s.getReader();
  for (;;) {
    const { done, value } = await r.read();
    if (done) break;
    parts.push(value);
    total += value.length;
    onBytes?.(total);
  }
  return { parts, total };
}

/** Reads `s` to its end and returns every byte it gave, as one array. */
export async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const { parts, total } = await readChunks(s);
  return joinChunks(parts, total);
}

/** A stream made of several, with a byte bound on what it holds (see mergeBounded). */
export interface BoundedMerge {
  readonly output: ReadableStream<Uint8Array>;
  /** Bytes read from the sources and not yet taken by the output's reader. */
  queued(): number;
  /** The most `queued()` has been. */
  peak(): number;
}

/**
 * One stream of the chunks of `sources` in the order they come (a terminal's stdout and stderr as
 * the pty interleaves them), holding at most `boundBytes` (+ one chunk per source): a source is
 * read only while the output's queue has room, so a reader that stops stops the sources too and
 * their own flow control (an SSH channel window) takes over. Ends when every source has ended;
 * cancelling it cancels them.
 */
export function mergeBounded(sources: ReadableStream<Uint8Array>[], boundBytes: number): BoundedMerge {
  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  let waiters: (() => void)[] = [];
  const wake = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  let cancelled = false;
  let peak = 0;
  const output = new ReadableStream<Uint8Array>(
    {
      start: (c) => void (ctrl = c),
      pull: wake,
      cancel: () => {
        cancelled = true;
        wake();
      },
    },
    { highWaterMark: boundBytes, size: (c) => c.byteLength },
  );
  const queued = () => (cancelled ? 0 : Math.max(0, boundBytes - (ctrl.desiredSize ?? 0)));
  let open = sources.length;
  const drain = async (s: ReadableStream<Uint8Array>) => {
    const r = s.getReader();
    try {
      for (;;) {
        while (!cancelled && (ctrl.desiredSize ?? 0) <= 0) await new Promise<void>((w) => waiters.push(w));
        if (cancelled) {
          await r.cancel().catch(() => {});
          break;
        }
        const { value, done } = await r.read();
        if (done) break;
        if (cancelled) continue;
        ctrl.enqueue(value);
        peak = Math.max(peak, queued());
      }
    } catch {
      /* a source that fails ends its part; whoever owns the sources reports why */
    }
    if (--open === 0 && !cancelled) {
      try {
        ctrl.close();
      } catch {
        /* already closed */
      }
    }
  };
  for (const s of sources) void drain(s);
  return { output, queued, peak: () => peak };
}
