// Several DERP region connections at once, as tailscale's wgengine/magicsock/derp.go keeps them:
// the home region stays open (and is marked preferred with NotePreferred); a packet for another
// region opens that region on demand, and it is closed again after 60 s without traffic
// (magicsock derpInactiveCleanupTime). The home region is chosen by measured latency to each
// region's /derp/latency-check (derphttp server sends CORS "*" there).
import type { RandomSource } from '../crypto/random.js';
import type { StaticX25519Key } from '../crypto/static-key.js';
import type { Clock, TimerHandle } from '../platform/clock.js';
import { DerpClient, type DerpClientState } from './client.js';
import type { WebSocketFactory } from '../platform/websocket.js';

export interface DerpMap {
  regions: DerpRegion[];
}
export interface DerpRegion {
  regionId: number;
  regionCode: string;
  regionName: string;
  nodes: DerpNode[];
  avoid?: boolean;
}
export interface DerpNode {
  name: string;
  regionId: number;
  hostName: string;
  ipv4?: string;
  ipv6?: string;
  derpPort?: number;
  insecureForTests?: boolean;
  canPort80?: boolean;
}

export type DerpRegionState = 'connected' | 'connecting' | 'backoff' | 'failed' | 'idle';

export interface DerpRegionStatus {
  regionId: number;
  state: DerpRegionState;
  home: boolean;
  rttMs?: number;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  drops: number;
  /** Malformed frames from the server (each one ended that connection). */
  malformed?: number;
  /** Frames of a type we do not know (a newer derper), skipped and counted. */
  unknownFrames?: number;
  reconnects?: number;
  lastError?: string;
  /** While waiting to reconnect: milliseconds until the next attempt. */
  retryInMs?: number;
  /** Consecutive failed connection attempts (0 once connected). */
  failures?: number;
  /** The server's Health frame text: a problem the person should see (absent = healthy). */
  health?: string;
  /** The node URL in use or being tried. */
  url?: string;
  /** Last measured /derp/latency-check round trip (ms), if probed. */
  latencyMs?: number;
}

export interface DerpPoolOptions {
  /** The node key: raw bytes, or a key object (a non-extractable WebCrypto key, crypto/static-key.ts). */
  privateKey: Uint8Array | StaticX25519Key;
  derpMap: DerpMap;
  homeRegion?: number;
  webSocketFactory: WebSocketFactory;
  clock: Clock;
  random: RandomSource;
  allowInsecure?: boolean;
  /**
   * Measures one round trip to a URL in ms (rejects on failure). Default: an HTTP GET through the
   * global fetch (httpLatencyProber); null disables probing (home = configured or first region).
   */
  fetchLatency?: ((url: string) => Promise<number>) | null;
  onPacket: (srcNodeKey: Uint8Array, packet: Uint8Array, regionId: number) => void;
  onPeerGone?: (nodeKey: Uint8Array, reason: number, regionId: number) => void;
  onStatus?: () => void;
  /** Non-home region closed after this long without traffic (ms). */
  idleCloseMs?: number;
  /** Consecutive failed connects after which a region is reported 'failed' (it keeps retrying). */
  failedAfter?: number;
  /** Application name each region's ClientInfo carries (DerpClientOptions.appName). */
  appName?: string;
}

interface RegionConn {
  regionId: number;
  client: DerpClient;
  /** All node URLs of the region joined: a DERP map change to any of them reopens the region. */
  url: string;
  nodeIndex: number;
  lastActivity: number;
  idleTimer?: TimerHandle;
  failures: number;
}

export const DEFAULT_IDLE_CLOSE_MS = 60_000;

/** ws(s)://host[:port]/derp for a DERP node (derphttp_client.go urlString / magicsock). */
export function derpNodeUrl(node: DerpNode, allowInsecure: boolean, path = '/derp'): string {
  const insecure = allowInsecure || !!node.insecureForTests;
  const scheme = insecure ? 'ws' : 'wss';
  let host = node.hostName;
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  const port = node.derpPort && node.derpPort > 0 ? `:${node.derpPort}` : '';
  return `${scheme}://${host}${port}${path}`;
}

export function latencyCheckUrl(node: DerpNode, allowInsecure: boolean): string {
  return derpNodeUrl(node, allowInsecure, '/derp/latency-check').replace(/^ws/, 'http');
}

/**
 * The default latency probe: GET <node>/derp/latency-check (derphttp server answers 200 with
 * Access-Control-Allow-Origin "*", so a page may probe cross-origin) and time the round trip.
 * The clock must be a real one here: the probe measures wall-clock network time.
 */
export function httpLatencyProber(
  fetchFn: (
    url: string,
    init?: { cache?: string; signal?: AbortSignal },
  ) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }> = (u, i) =>
    globalThis.fetch(u, i as RequestInit),
  now: () => number = () => performance.now(),
  timeoutMs = 5000,
): (url: string) => Promise<number> {
  return async (url) => {
    const t0 = now();
    const r = await fetchFn(url, { cache: 'no-store', signal: AbortSignal.timeout(timeoutMs) });
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`latency check ${url}: HTTP ${r.status}`);
    return now() - t0;
  };
}

export class DerpPool {
  private map: DerpMap;
  private home?: number;
  private conns = new Map<number, RegionConn>();
  private started = false;
  private closed = false;
  private readonly idleCloseMs: number;
  private readonly failedAfter: number;
  private latency = new Map<number, number>();

  constructor(private readonly o: DerpPoolOptions) {
    this.map = o.derpMap;
    this.home = o.homeRegion;
    this.idleCloseMs = o.idleCloseMs ?? DEFAULT_IDLE_CLOSE_MS;
    this.failedAfter = o.failedAfter ?? 3;
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    if (this.home !== undefined) this.ensure(this.home);
  }

  homeRegion(): number | undefined {
    return this.home;
  }

  setHomeRegion(id: number): void {
    if (this.closed || this.home === id) return;
    const old = this.home;
    this.home = id;
    if (old !== undefined) {
      const c = this.conns.get(old);
      if (c) {
        c.client.setPreferred(false);
        this.touch(c); // the old home becomes an ordinary region that closes when idle
      }
    }
    if (this.started && this.region(id)) {
      const c = this.ensure(id);
      if (c) {
        c.client.setPreferred(true);
        this.o.clock.clearTimeout(c.idleTimer);
        c.idleTimer = undefined;
      }
    }
    this.notify();
  }

  setDerpMap(m: DerpMap): void {
    if (this.closed) return;
    this.map = m;
    for (const [id, c] of [...this.conns]) {
      const r = this.region(id);
      if (!r || r.nodes.length === 0 || this.regionUrls(r).join(' ') !== c.url) this.drop(id);
    }
    if (this.started && this.home !== undefined && this.region(this.home)) this.ensure(this.home);
    this.notify();
  }

  send(regionId: number, dstNodeKey: Uint8Array, packet: Uint8Array): void {
    if (this.closed) return;
    const c = this.conns.get(regionId) ?? this.ensure(regionId);
    if (!c) return;
    c.client.send(dstNodeKey, packet);
    this.touch(c);
  }

  async chooseHomeRegion(): Promise<number> {
    const candidates = this.map.regions.filter((r) => !r.avoid && r.nodes.length > 0);
    if (candidates.length === 0) throw new Error('DERP map has no usable region');
    let best: { id: number; ms: number } | undefined;
    const probe =
      this.o.fetchLatency === undefined
        ? typeof globalThis.fetch === 'function'
          ? httpLatencyProber()
          : null
        : this.o.fetchLatency;
    if (probe) {
      const results = await Promise.all(
        candidates.map(async (r) => {
          // Best of two probes: the first may include connection setup.
          let ms = Infinity;
          for (let i = 0; i < 2; i++) {
            try {
              ms = Math.min(ms, await probe(latencyCheckUrl(r.nodes[0], !!this.o.allowInsecure)));
            } catch {
              /* unreachable region */
            }
          }
          return { id: r.regionId, ms };
        }),
      );
      for (const x of results) {
        if (Number.isFinite(x.ms)) this.latency.set(x.id, x.ms);
        else this.latency.delete(x.id);
        if (Number.isFinite(x.ms) && (!best || x.ms < best.ms)) best = x;
      }
    }
    const id = best?.id ?? (this.home !== undefined && this.region(this.home) ? this.home : candidates[0].regionId);
    this.setHomeRegion(id);
    return id;
  }

  status(): DerpRegionStatus[] {
    const out: DerpRegionStatus[] = [];
    const ids = new Set<number>(this.conns.keys());
    if (this.home !== undefined) ids.add(this.home);
    for (const id of [...ids].sort((a, b) => a - b)) {
      const c = this.conns.get(id);
      const s = c?.client.stats;
      out.push({
        regionId: id,
        state: c ? this.mapState(c) : 'idle',
        home: id === this.home,
        rttMs: s?.rttMs,
        bytesIn: s?.bytesIn ?? 0,
        bytesOut: s?.bytesOut ?? 0,
        packetsIn: s?.packetsIn ?? 0,
        packetsOut: s?.packetsOut ?? 0,
        drops: s?.drops ?? 0,
        malformed: s?.malformed ?? 0,
        unknownFrames: s?.unknownFrames ?? 0,
        reconnects: s?.reconnects ?? 0,
        lastError: s?.lastError,
        retryInMs: c?.client.retryInMs,
        failures: c?.failures ?? 0,
        health: s?.health,
        url: c?.client.url,
        latencyMs: this.latency.get(id),
      });
    }
    return out;
  }

  /** Latency measured by the last chooseHomeRegion(), per region id (ms); unreachable regions absent. */
  latencies(): Map<number, number> {
    return new Map(this.latency);
  }

  /** The underlying connection (tests and diagnostics). */
  client(regionId: number): DerpClient | undefined {
    return this.conns.get(regionId)?.client;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.conns.keys()]) this.drop(id);
    this.notify();
  }

  // --- internals ---

  private region(id: number): DerpRegion | undefined {
    return this.map.regions.find((r) => r.regionId === id);
  }

  private mapState(c: RegionConn): DerpRegionState {
    const st: DerpClientState = c.client.state;
    if (st === 'connected') return 'connected';
    if (st === 'backoff') return c.failures >= this.failedAfter ? 'failed' : 'backoff';
    if (st === 'idle' || st === 'closed') return 'idle';
    return 'connecting';
  }

  private ensure(regionId: number): RegionConn | undefined {
    const existing = this.conns.get(regionId);
    if (existing) return existing;
    const r = this.region(regionId);
    if (!r || r.nodes.length === 0) return undefined;
    return this.open(r, 0, 0);
  }

  /** The region's node URLs in map order (the first is preferred, the rest are failover). */
  private regionUrls(r: DerpRegion): string[] {
    return r.nodes.map((n) => derpNodeUrl(n, !!this.o.allowInsecure));
  }

  private open(r: DerpRegion, nodeIndex: number, failures: number): RegionConn {
    const urls = this.regionUrls(r);
    const regionId = r.regionId;
    let conn: RegionConn;
    const client = new DerpClient({
      url: urls[nodeIndex % urls.length],
      fallbackUrls: urls,
      privateKey: this.o.privateKey,
      webSocketFactory: this.o.webSocketFactory,
      clock: this.o.clock,
      random: this.o.random,
      appName: this.o.appName,
      preferred: regionId === this.home,
      onPacket: (src, pkt) => {
        this.touch(conn);
        this.o.onPacket(src, pkt, regionId);
      },
      onPeerGone: (key, reason) => this.o.onPeerGone?.(key, reason, regionId),
      onStateChange: (s) => {
        if (s === 'connected') conn.failures = 0;
        else if (s === 'backoff') conn.failures++;
        this.notify();
      },
    });
    conn = { regionId, client, url: urls.join(' '), nodeIndex, lastActivity: this.o.clock.now(), failures };
    this.conns.set(regionId, conn);
    client.start();
    if (regionId !== this.home) this.touch(conn);
    this.notify();
    return conn;
  }

  private touch(c: RegionConn): void {
    c.lastActivity = this.o.clock.now();
    if (c.regionId === this.home || c.idleTimer) return;
    const check = () => {
      c.idleTimer = undefined;
      if (this.conns.get(c.regionId) !== c || c.regionId === this.home) return;
      const idleFor = this.o.clock.now() - c.lastActivity;
      if (idleFor >= this.idleCloseMs) {
        this.drop(c.regionId);
        this.notify();
      } else {
        c.idleTimer = this.o.clock.setTimeout(check, this.idleCloseMs - idleFor);
      }
    };
    c.idleTimer = this.o.clock.setTimeout(check, this.idleCloseMs);
  }

  private drop(id: number): void {
    const c = this.conns.get(id);
    if (!c) return;
    this.o.clock.clearTimeout(c.idleTimer);
    this.conns.delete(id);
    c.client.close();
  }

  private notify(): void {
    try {
      this.o.onStatus?.();
    } catch {
      /* observer errors do not matter here */
    }
  }
}
