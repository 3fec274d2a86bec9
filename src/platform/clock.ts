// Time is injected below node/ (platform/README.md: I/O is given, never found).
// Protocol code takes a Clock; the node passes realClock, tests pass a VirtualClock and advance it.

export type TimerHandle = { readonly id: number };

export interface Clock {
  /** Milliseconds on a monotonic scale (not wall time). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

let nextRealId = 1;

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const id = nextRealId++;
    const t = globalThis.setTimeout(fn, ms) as unknown as { unref?: () => void };
    // In Node, protocol timers must not keep the process alive on their own.
    if (t && typeof t === 'object' && typeof t.unref === 'function') t.unref();
    realTimers.set(id, t);
    return { id };
  },
  clearTimeout(handle) {
    if (!handle) return;
    const t = realTimers.get(handle.id);
    if (t !== undefined) globalThis.clearTimeout(t as never);
    realTimers.delete(handle.id);
  },
};
const realTimers = new Map<number, unknown>();

/** A clock that moves only when the test says so; timers fire in deadline order. */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 1;
  private timers = new Map<number, { at: number; fn: () => void; order: number }>();

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.seq++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn, order: id });
    return { id };
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle) this.timers.delete(handle.id);
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.timers.size;
  }

  /** Advances time by ms, firing every timer that falls due, in order (timers may add timers). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let nextId = -1;
      let next: { at: number; fn: () => void; order: number } | undefined;
      for (const [id, tm] of this.timers) {
        if (tm.at <= end && (!next || tm.at < next.at || (tm.at === next.at && tm.order < next.order))) {
          next = tm;
          nextId = id;
        }
      }
      if (!next) break;
      this.timers.delete(nextId);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
  }
}

/**
 * A restartable one-shot timer that is cheap to re-arm and cancel, for deadlines the data path moves
 * per packet (WireGuard's timers, as wireguard-go re-arms Go timers; DERP's read timeout); a
 * platform setTimeout/clearTimeout pair per packet was a visible share of a Chromium Worker's
 * download profile. So mod()/del() only move a deadline; the
 * platform timer is re-armed only when the deadline moves earlier, and when it fires for a deadline
 * that moved later it sleeps again for the rest. Expiry happens at the same time as before.
 */
export class DeadlineTimer {
  private handle: TimerHandle | undefined;
  private armedAt = 0; // when the platform timer fires
  private deadline: number | undefined;
  constructor(
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}
  get pending(): boolean {
    return this.deadline !== undefined;
  }
  mod(ms: number): void {
    const at = this.clock.now() + ms;
    this.deadline = at;
    if (this.handle !== undefined && this.armedAt <= at) return; // wakes up in time, sleeps on
    this.arm(at, ms);
  }
  del(): void {
    this.deadline = undefined; // a platform timer still armed finds no deadline and stops
  }
  /** del() that also releases the platform timer (stop). */
  cancel(): void {
    this.deadline = undefined;
    this.clock.clearTimeout(this.handle);
    this.handle = undefined;
  }
  private arm(at: number, ms: number): void {
    this.clock.clearTimeout(this.handle);
    this.armedAt = at;
    this.handle = this.clock.setTimeout(() => this.wake(), Math.max(0, ms));
  }
  private wake(): void {
    this.handle = undefined;
    const d = this.deadline;
    if (d === undefined) return;
    const now = this.clock.now();
    if (now < d) {
      this.arm(d, d - now);
      return;
    }
    this.deadline = undefined;
    this.fire();
  }
}
