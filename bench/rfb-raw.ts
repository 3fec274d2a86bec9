// A minimal RFB client for the VNC bench (bench/vnc.bench.ts): RFC 6143 3.8, security None,
// Raw encoding only, then full-screen non-incremental FramebufferUpdateRequests one after another
// (one in flight, as a viewer asks for the next update after drawing one). The same code runs in
// Node.js over tailscaled's SOCKS5 (the native reference) and in a page over TcpSocket and the
// node's tcpDial (bench/vnc.page.ts). Plain bytes in, no DOM.

export interface ByteConn {
  /** Exactly n bytes (fails if the connection ends first). */
  read(n: number): Promise<Uint8Array>;
  write(b: Uint8Array): void;
  close(): void;
}

/** A ByteConn over chunk callbacks: `push` each chunk as it arrives, `end` when the stream ends. */
export function chunkReader(
  write: (b: Uint8Array) => void,
  close: () => void,
): ByteConn & { push(b: Uint8Array): void; end(err?: Error): void } {
  const chunks: Uint8Array[] = [];
  let have = 0;
  let ended: Error | undefined;
  let wake: (() => void) | undefined;
  return {
    push(b) {
      chunks.push(b);
      have += b.length;
      wake?.();
    },
    end(err) {
      ended = err ?? new Error('the connection ended');
      wake?.();
    },
    async read(n) {
      while (have < n) {
        if (ended) throw ended;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      const out = new Uint8Array(n);
      let at = 0;
      while (at < n) {
        const c = chunks[0]!;
        const take = Math.min(c.length, n - at);
        out.set(c.subarray(0, take), at);
        at += take;
        if (take === c.length) chunks.shift();
        else chunks[0] = c.subarray(take);
      }
      have -= n;
      return out;
    },
    write,
    close,
  };
}

const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const u32 = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

/** Handshake, then `frames` full-screen raw updates; returns the bytes and milliseconds of those updates. */
export async function rawUpdates(
  c: ByteConn,
  frames: number,
  now: () => number,
): Promise<{ width: number; height: number; bytes: number; ms: number }> {
  const version = new TextDecoder().decode(await c.read(12));
  if (!version.startsWith('RFB 003.')) throw new Error(`not an RFB server: ${JSON.stringify(version)}`);
  c.write(new TextEncoder().encode('RFB 003.008\n'));
  const n = (await c.read(1))[0]!;
  const types = await c.read(n);
  if (!types.includes(1)) throw new Error(`the bench needs security type None; the server offers ${[...types]}`);
  c.write(new Uint8Array([1]));
  if (u32(await c.read(4), 0) !== 0) throw new Error('security result: failed');
  c.write(new Uint8Array([1])); // ClientInit: shared
  const init = await c.read(24);
  const width = u16(init, 0),
    height = u16(init, 2),
    bpp = init[4]!;
  await c.read(u32(init, 20)); // the desktop's name
  c.write(new Uint8Array([2, 0, 0, 1, 0, 0, 0, 0])); // SetEncodings: Raw only
  const request = new Uint8Array([3, 0, 0, 0, 0, 0, width >> 8, width & 255, height >> 8, height & 255]);
  let bytes = 0;
  let t0 = 0;
  for (let f = 0; f <= frames; f++) {
    if (f === 1) {
      t0 = now();
      bytes = 0;
    } // the first update warms the path; not timed
    c.write(request);
    for (;;) {
      const head = await c.read(4);
      if (head[0] !== 0) throw new Error(`unexpected server message ${head[0]}`);
      const rects = u16(head, 2);
      let pixels = 0;
      for (let r = 0; r < rects; r++) {
        const rh = await c.read(12);
        const w = u16(rh, 4),
          h = u16(rh, 6),
          enc = u32(rh, 8);
        if (enc !== 0) throw new Error(`unexpected encoding ${enc}`);
        const size = w * h * (bpp / 8);
        for (let left = size; left > 0;) {
          const k = Math.min(left, 1 << 20);
          await c.read(k);
          left -= k;
        }
        bytes += 16 + size;
        pixels += w * h;
      }
      bytes += 4;
      if (pixels >= width * height) break; // a whole screen (a server may split it into several messages)
    }
  }
  return { width, height, bytes, ms: now() - t0 };
}
