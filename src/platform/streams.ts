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
export async function readChunks(s: ReadableStream<Uint8Array>, onBytes?: (total: number) => void): Promise<{ parts: Uint8Array[]; total: number }> {
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
