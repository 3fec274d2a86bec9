// Keep-alive connection pool per host:port (RFC 9112 §9.3 persistence, §9.4 concurrency): at
// most `maxPerHost` connections in use per origin, idle ones reused newest-first and closed after
// an idle timeout (the shorter of ours and the server's Keep-Alive: timeout=, minus a second so we
// never race the server's own close).
import type { Clock } from '../platform/clock.js';
import { HttpError, asHttpError } from './errors.js';
import { HttpConnection, type Dialer } from './connection.js';

interface HostPool {
  idle: HttpConnection[];
  active: number;
  waiters: (() => void)[];
}

export interface PoolStats {
  /** Connections dialed since the pool was created. */
  opened: number;
  /** Exchanges that ran on an already used connection. */
  reused: number;
  idle: number;
  active: number;
}

export class ConnectionPool {
  private hosts = new Map<string, HostPool>();
  private closedPool = false;
  readonly counters = { opened: 0, reused: 0 };

  constructor(
    private readonly dial: Dialer,
    private readonly clock: Clock,
    private readonly o: { maxPerHost: number; idleTimeoutMs: number; connectTimeoutMs: number },
  ) {}

  private host(key: string): HostPool {
    let h = this.hosts.get(key);
    if (!h) this.hosts.set(key, (h = { idle: [], active: 0, waiters: [] }));
    return h;
  }

  stats(): PoolStats {
    let idle = 0;
    let active = 0;
    for (const h of this.hosts.values()) {
      idle += h.idle.length;
      active += h.active;
    }
    return { ...this.counters, idle, active };
  }

  /** A connection to host:port, reused if one is idle; `fresh` forces a new one (retry after a stale reuse). */
  async acquire(host: string, port: number, signal?: AbortSignal, fresh = false): Promise<HttpConnection> {
    const key = `${host}:${port}`;
    const h = this.host(key);
    for (;;) {
      if (this.closedPool) throw new HttpError('aborted', 'the HTTP client was closed');
      if (signal?.aborted) throw new HttpError('aborted', 'the request was aborted');
      while (!fresh && h.idle.length) {
        const c = h.idle.pop()!;
        this.clock.clearTimeout(c.idleTimer);
        if (c.closed) continue;
        h.active++;
        this.counters.reused++;
        return c;
      }
      if (h.active < this.o.maxPerHost) {
        h.active++;
        try {
          const conn = await this.dialWithTimeout(host, port, signal);
          this.counters.opened++;
          return new HttpConnection(key, conn, this.clock);
        } catch (e) {
          h.active--;
          this.wake(h);
          throw e;
        }
      }
      await new Promise<void>((resolve, reject) => {
        const w = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          h.waiters = h.waiters.filter((x) => x !== w);
          reject(new HttpError('aborted', 'the request was aborted while waiting for a connection'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        h.waiters.push(w);
      });
    }
  }

  private dialWithTimeout(host: string, port: number, signal?: AbortSignal) {
    return new Promise<Awaited<ReturnType<Dialer>>>((resolve, reject) => {
      let settled = false;
      const t = this.clock.setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new HttpError('timeout', `could not connect to ${host}:${port} within ${this.o.connectTimeoutMs} ms`));
      }, this.o.connectTimeoutMs);
      const onAbort = () => {
        if (settled) return;
        settled = true;
        this.clock.clearTimeout(t);
        reject(new HttpError('aborted', 'the request was aborted while connecting'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.dial(host, port).then(
        (c) => {
          signal?.removeEventListener('abort', onAbort);
          this.clock.clearTimeout(t);
          if (settled) {
            // Too late: the caller gave up; do not leak the socket.
            void Promise.resolve(c.close()).catch(() => {});
            return;
          }
          settled = true;
          resolve(c);
        },
        (e) => {
          signal?.removeEventListener('abort', onAbort);
          this.clock.clearTimeout(t);
          if (settled) return;
          settled = true;
          reject(asHttpError(e, 'connect', `could not connect to ${host}:${port}`));
        },
      );
    });
  }

  /** Gives a connection back after an exchange; reusable ones go idle, the rest are closed. */
  release(c: HttpConnection, reusable: boolean, serverKeepAliveMs: number | null): void {
    const h = this.host(c.key);
    h.active--;
    if (reusable && !c.closed && !this.closedPool) {
      let ms = this.o.idleTimeoutMs;
      if (serverKeepAliveMs !== null) ms = Math.min(ms, Math.max(0, serverKeepAliveMs - 1000));
      if (ms > 0) {
        h.idle.push(c);
        c.idleTimer = this.clock.setTimeout(() => this.drop(h, c), ms);
        c.watchIdle(() => this.drop(h, c));
      } else {
        c.close();
      }
    } else {
      c.close();
    }
    this.wake(h);
  }

  private drop(h: HostPool, c: HttpConnection): void {
    this.clock.clearTimeout(c.idleTimer);
    c.close();
    const i = h.idle.indexOf(c);
    if (i >= 0) h.idle.splice(i, 1);
  }

  private wake(h: HostPool): void {
    const w = h.waiters.shift();
    if (w) w();
  }

  close(): void {
    this.closedPool = true;
    for (const h of this.hosts.values()) {
      for (const c of h.idle) {
        this.clock.clearTimeout(c.idleTimer);
        c.close();
      }
      h.idle = [];
      for (const w of h.waiters.splice(0)) w();
    }
  }
}
