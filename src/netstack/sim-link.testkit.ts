// Test support (imported by *.test.ts and bench only): stacks joined by a simulated link on a
// VirtualClock (or the real clock) with configurable delay, jitter (reordering), loss and duplication.
// Drive the clock with platform/virtual-time.testkit.ts (runUntil, drive).
import { seededRandom, type RandomSource } from '../crypto/random.js';
import type { Clock, TimerHandle } from '../platform/clock.js';
import { ipKey, parseIp } from './addr.js';
import { createNetStack, type NetStack, type NetStackOptions } from './index.js';

export interface LinkOptions {
  delayMs: number;
  jitterMs: number;
  loss: number; // probability 0..1
  duplicate: number; // probability 0..1
  /** Bytes per ms the link carries (0 = unlimited); packets queue behind each other. */
  bytesPerMs: number;
  /**
   * Drop-tail bound on the bytes waiting for that bandwidth (0 = unbounded): a packet that would
   * queue behind more is dropped, like a relay's per-client send queue (derper's holds 32 packets).
   */
  queueBytes: number;
}

export class SimLink {
  readonly clock: Clock;
  private readonly rnd: () => number;
  private readonly stacks = new Map<string, NetStack>();
  private queue: { at: number; seq: number; to: NetStack; pkt: Uint8Array }[] = [];
  private timer?: TimerHandle;
  private timerAt = Infinity;
  private seq = 0;
  private busyUntil = 0;
  opts: LinkOptions;
  /** Return false to drop a packet (after loss); for targeted tests. */
  filter: (pkt: Uint8Array) => boolean = () => true;
  /** Extra delay for a packet (delay spikes in one direction), in ms. */
  extraDelay: (pkt: Uint8Array) => number = () => 0;
  /** Every packet put on the link (before loss), for inspection. */
  tap?: (pkt: Uint8Array) => void;
  delivered = 0;
  dropped = 0;
  /** Of dropped: packets that found the bottleneck queue full. */
  queueDrops = 0;

  constructor(clock: Clock, seed: number, opts: Partial<LinkOptions> = {}) {
    this.clock = clock;
    const r = seededRandom(seed);
    this.rnd = () => {
      const b = r(4);
      return (((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0) / 2 ** 32;
    };
    this.opts = { delayMs: 5, jitterMs: 0, loss: 0, duplicate: 0, bytesPerMs: 0, queueBytes: 0, ...opts };
  }

  /** A stack on this link. */
  stack(
    addresses: string[],
    extra: Partial<NetStackOptions> = {},
    random: RandomSource = seededRandom(this.stacks.size + 100),
  ): NetStack {
    const s = createNetStack({ addresses, clock: this.clock, random, output: (p) => this.send(p), ...extra });
    for (const a of s.addresses) this.stacks.set(a, s);
    return s;
  }

  private send(pkt: Uint8Array): void {
    this.tap?.(pkt);
    const v4 = pkt[0] >> 4 === 4;
    const dst = v4 ? pkt.subarray(16, 20) : pkt.subarray(24, 40);
    let to: NetStack | undefined;
    for (const [, s] of this.stacks) if (s.addresses.some((a) => ipKey(parseKey(a)) === ipKey(dst))) to = s;
    if (!to) return;
    if (this.rnd() < this.opts.loss || !this.filter(pkt)) {
      this.dropped++;
      return;
    }
    if (this.opts.queueBytes > 0 && this.opts.bytesPerMs > 0) {
      const backlog = Math.max(0, this.busyUntil - this.clock.now()) * this.opts.bytesPerMs;
      if (backlog + pkt.length > this.opts.queueBytes) {
        this.dropped++;
        this.queueDrops++;
        return;
      }
    }
    const copies = this.rnd() < this.opts.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const now = this.clock.now();
      let at = now + this.opts.delayMs + this.rnd() * this.opts.jitterMs + this.extraDelay(pkt);
      if (this.opts.bytesPerMs > 0) {
        this.busyUntil = Math.max(this.busyUntil, now) + pkt.length / this.opts.bytesPerMs;
        at += this.busyUntil - now;
      }
      this.queue.push({ at, seq: this.seq++, to, pkt: i === 0 ? pkt : pkt.slice() });
    }
    this.schedule();
  }

  private schedule(): void {
    let min = Infinity;
    for (const q of this.queue) if (q.at < min) min = q.at;
    if (min === Infinity || min >= this.timerAt) return;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timerAt = min;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, min - this.clock.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.clock.now();
    const due = this.queue.filter((q) => q.at <= now).sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.queue = this.queue.filter((q) => q.at > now);
    for (const q of due) {
      this.delivered++;
      q.to.input(q.pkt);
    }
    this.schedule();
  }
}

const keyCache = new Map<string, Uint8Array>();
function parseKey(a: string): Uint8Array {
  let k = keyCache.get(a);
  if (!k) keyCache.set(a, (k = parseIp(a)!));
  return k;
}
