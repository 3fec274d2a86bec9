// What a terminal printed lately, kept in the Worker so a page that reloads (or another window)
// can redraw it before the live bytes resume, as `tmux attach` does. Bounded in bytes and in lines:
// a server flooding a detached terminal drops the oldest output, never grows memory.
export interface ScrollbackLimits {
  maxBytes: number;
  maxLines: number;
}

export const DEFAULT_SCROLLBACK: ScrollbackLimits = { maxBytes: 512 * 1024, maxLines: 5000 };

function countLines(b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < b.length; i++) if (b[i] === 0x0a) n++;
  return n;
}

export class Scrollback {
  private chunks: { data: Uint8Array; lines: number }[] = [];
  private head = 0;
  private bytesHeld = 0;
  private linesHeld = 0;
  /** Bytes dropped from the front so far (a redraw then starts mid-stream). */
  dropped = 0;

  constructor(private readonly limits: ScrollbackLimits = DEFAULT_SCROLLBACK) {}

  get bytes(): number {
    return this.bytesHeld;
  }
  get lines(): number {
    return this.linesHeld;
  }

  push(data: Uint8Array): void {
    if (!data.length) return;
    let d = data;
    // One chunk larger than the whole budget: only its tail can be kept.
    if (d.length > this.limits.maxBytes) {
      this.dropped += d.length - this.limits.maxBytes;
      d = d.subarray(d.length - this.limits.maxBytes);
    }
    const copy = d.slice();
    const lines = countLines(copy);
    this.chunks.push({ data: copy, lines });
    this.bytesHeld += copy.length;
    this.linesHeld += lines;
    // Drop from the front: the oldest chunk, or the part of it that is surplus (bytes, or lines
    // up to and including the surplus-th newline).
    while (this.bytesHeld > this.limits.maxBytes || this.linesHeld > this.limits.maxLines) {
      const c = this.chunks[this.head]!;
      const lineSurplus = Math.max(0, this.linesHeld - this.limits.maxLines);
      let cut = Math.max(0, this.bytesHeld - this.limits.maxBytes);
      if (lineSurplus >= c.lines && lineSurplus > 0) cut = c.data.length;
      else
        for (let n = 0, i = 0; n < lineSurplus; n++) {
          i = c.data.indexOf(0x0a, i) + 1;
          cut = Math.max(cut, i);
        }
      if (cut >= c.data.length) {
        this.chunks[this.head++] = undefined as never;
        this.bytesHeld -= c.data.length;
        this.linesHeld -= c.lines;
        this.dropped += c.data.length;
        continue;
      }
      const lines = countLines(c.data.subarray(0, cut));
      c.data = c.data.subarray(cut);
      c.lines -= lines;
      this.bytesHeld -= cut;
      this.linesHeld -= lines;
      this.dropped += cut;
    }
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  /** Everything held, oldest first, as one copy. */
  snapshot(): Uint8Array {
    const out = new Uint8Array(this.bytesHeld);
    let off = 0;
    for (let i = this.head; i < this.chunks.length; i++) {
      out.set(this.chunks[i]!.data, off);
      off += this.chunks[i]!.data.length;
    }
    return out;
  }
}
