// TailnetNode: the node runtime that ties control/, derp-client/, noise/ and netstack/ together.
// Packet path (node/README.md): netstack output -> AllowedIPs route -> WireGuardDevice.send ->
// magicsock -> DERP region of the peer. Inbound: DERP -> disco or WireGuard -> filter -> netstack.
// The lower layers are reached through the small structural interfaces below so the node runs the
// same in a Worker, a page or Node.js; node/defaults wires the real implementations.

import { equalBytes, toHex } from '../crypto/bytes.js';
import { keyToText } from '../crypto/keys.js';
import { secureRandom, type RandomSource } from '../crypto/random.js';
import { asStaticKey, type StaticX25519Key } from '../crypto/static-key.js';
import { generateKeyPair } from '../crypto/x25519.js';
import type { ControlStore } from '../control/storage.js';
import { realClock, type Clock } from '../platform/clock.js';
import type { WebSocketFactory } from '../platform/websocket.js';
import { WireGuardDevice, type HandshakeEvent } from '../noise/wireguard/device.js';
import type { AeadEngine } from '../noise/wireguard/aead-batch.js';
import type { WireGuardTimerConfig } from '../noise/wireguard/timers.js';
import { DiscoCodec } from './disco.js';
import { PacketFilter, Proto, summarize, type FilterRule } from './filter.js';
import { Magicsock } from './magicsock.js';
import { resolveHost } from './magicdns.js';
import { RouteTable, offeredRoutes, parseIp, peerRoutes, prefixKey, type Prefix, type RoutePrefs } from './routes.js';
import { IPPROTO_TSMP, parseTsmpDiscoAdvert, tsmpPongFor } from './tsmp.js';

// ---- what the node needs from the other layers ----

export interface DerpMapLike { regions: { regionId: number; regionCode?: string; regionName?: string; nodes: unknown[] }[] }

export interface NetMapPeer {
  id: string;
  name: string;
  nodeKey: Uint8Array;
  discoKey?: Uint8Array;
  addresses: string[];
  allowedIPs?: string[] | null;
  homeDerp?: number;
  online?: boolean;
  os?: string;
  lastSeen?: string;
  sshHostKeys?: string[];
}

export interface NodeNetMap {
  self: { name: string; addresses: string[]; user?: string };
  peers: NetMapPeer[];
  derpMap?: DerpMapLike;
  packetFilter?: FilterRule[] | null;
  domain?: string;
  /** Stands for `peers`: the same object while no peer changed (control/netmap.ts toPlainNetMap). */
  peersVersion?: object;
  /** `peers` as a change of the list whose peersVersion was `from` (applied alone when that is the node's). */
  peerDelta?: { from: object; changed: NetMapPeer[]; removed: string[] };
}

export interface ControlSession {
  /** The node key: raw bytes, or a key object (a non-extractable WebCrypto key, crypto/static-key.ts). */
  nodePrivateKey: Uint8Array | StaticX25519Key;
  onNetMap(cb: (nm: NodeNetMap) => void): void;
  onState?(cb: (state: string, detail?: string) => void): void;
  /** Control's state, why it is down and when the next try is (control/client.ts ControlStatus). */
  status?(): ControlStatusLike;
  /** Report our home DERP region (Hostinfo.NetInfo.PreferredDERP). */
  setPreferredDerp(regionId: number): void;
  /** The home region remembered from the last run (0 or undefined: none). */
  readonly preferredDerp?: number;
  /** Expires our node key at control (Headscale deletes an ephemeral node at once). */
  logout?(): Promise<void>;
  /** Counters of the control client (map messages, unknown map fields…): numbers go to status().counters as control.*. */
  readonly stats?: object;
  close(): void | Promise<void>;
}

export interface ControlStatusLike { state: string; lastError?: string; retryInMs?: number; failures?: number }

export interface ControlStartOptions {
  controlUrl: string; authKey?: string; hostname: string; ephemeral?: boolean; storage: ControlStore | undefined;
  webSocketFactory: WebSocketFactory | undefined; clock: Clock; random: RandomSource; discoPublicKey: Uint8Array;
  onAuthUrl?: (url: string) => void; controlKey?: string; log: (t: string) => void;
}

export interface DerpPoolLike {
  start(): void | Promise<void>;
  setDerpMap(m: DerpMapLike): void;
  setHomeRegion?(regionId: number): void;
  send(regionId: number, dstNodeKey: Uint8Array, packet: Uint8Array): void;
  chooseHomeRegion?(): Promise<number | undefined> | number | undefined;
  status?(): unknown;
  close(): void;
}

export interface DerpPoolStartOptions {
  privateKey: Uint8Array | StaticX25519Key; derpMap: DerpMapLike; homeRegion?: number; webSocketFactory: WebSocketFactory | undefined;
  clock: Clock; random: RandomSource; allowInsecure?: boolean;
  onPacket: (srcNodeKey: Uint8Array, packet: Uint8Array, regionId: number) => void;
}

export interface TcpConnectionLike {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  close(): void | Promise<void>;
  abort?(reason?: unknown): void;
  closed?: Promise<unknown>;
}

export interface TcpListenerLike extends AsyncIterable<TcpConnectionLike> {
  readonly port?: number;
  accept(): Promise<TcpConnectionLike>;
  close(): void;
}

export interface NetStackLike {
  input(ipPacket: Uint8Array): void;
  /** More input is already on its way: hold every-second-segment ACKs until releaseAcks(). */
  holdAcks?(): void;
  releaseAcks?(): void;
  connect(addr: string, port: number, o?: { timeoutMs?: number }): Promise<TcpConnectionLike>;
  listen(port: number): TcpListenerLike;
  ping?(addr: string, o?: { timeoutMs?: number; size?: number }): Promise<{ rttMs: number } | number>;
  stats?: Record<string, number>;
  close(): void;
}

export interface NetStackStartOptions {
  addresses: string[]; clock: Clock; random: RandomSource; mtu: number; output: (ip: Uint8Array) => void;
}

export interface NodeLayers {
  startControl(o: ControlStartOptions): Promise<ControlSession>;
  createDerpPool(o: DerpPoolStartOptions): DerpPoolLike;
  createNetStack(o: NetStackStartOptions): NetStackLike;
  /** The WireGuard data-path AEAD for this platform (default: the device's WebCrypto/noble detection). */
  aeadEngine?(): AeadEngine | Promise<AeadEngine> | undefined;
}

export interface UpConfig {
  controlUrl: string;
  authKey?: string;
  hostname: string;
  ephemeral?: boolean;
  /** Where control keeps this node's login and keys (default: memory, see layers.ts). */
  storage?: ControlStore;
  /** Default: the platform's (layers.ts: the global WebSocket; Node.js passes `ws`). */
  webSocketFactory?: WebSocketFactory;
  clock?: Clock;
  random?: RandomSource;
  allowInsecureDerp?: boolean;
  controlKey?: string;
  onAuthUrl?: (url: string) => void;
  /** Wall clock for WireGuard TAI64N timestamps (must increase across restarts). */
  wallClockMs?: () => number;
  homeRegion?: number;
  /** Subnet routes and exit node, off unless the person chose them (setRoutePrefs changes them later). */
  routes?: RoutePrefs;
  /**
   * WireGuard protocol constants (default: WireGuard's, plus tailtab's first-contact retries).
   * For tests and measurements, e.g. `{ firstContactRetriesMs: [] }` for plain WireGuard retries.
   */
  wireguardTimers?: Partial<WireGuardTimerConfig>;
  /**
   * up() fails when no network map came within this (ms; default 90 s) after the login, saying
   * control's last error: control's stages each have their own deadline and the map stream
   * retries on its backoff meanwhile, but up() itself never waits for good.
   */
  firstMapTimeoutMs?: number;
}

export type NodeState = 'stopped' | 'starting' | 'needs-login' | 'running' | 'error';

export interface PeerStatus {
  id: string; name: string; nodeKey: string; ips: string[]; online?: boolean; os?: string;
  lastSeen?: string; sshHostKeys?: string[];
  relayRegion?: number; handshakeAgeMs?: number; rxBytes: number; txBytes: number;
  /** Subnet routes the peer advertises (used only with RoutePrefs.acceptRoutes). */
  subnetRoutes?: string[];
  /** The peer offers itself as an exit node (used only when chosen). */
  exitNode?: boolean;
}

export interface NodeStatus {
  state: NodeState; error?: string; authUrl?: string;
  self?: { name: string; ips: string[]; nodeKey: string; discoKey: string; user?: string };
  homeRegion?: number;
  peers: PeerStatus[];
  derp?: unknown;
  /** Control's state (streaming, reconnecting…), its last error and the next try. */
  control?: ControlStatusLike;
  counters: Record<string, number>;
  /** The routes the person chose (subnet routes on or off, the exit node). */
  routes: RoutePrefs;
}

function isZero(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

/** A peer's node key as hex, made once per peer object (a map of 10,000 is mostly the same objects). */
const keyHexes = new WeakMap<NetMapPeer, string>();
function keyHex(p: NetMapPeer): string {
  let k = keyHexes.get(p);
  if (k === undefined) keyHexes.set(p, (k = toHex(p.nodeKey)));
  return k;
}

/** The parts of a peer's status that follow from its map entry alone, made once per peer object. */
const statusParts = new WeakMap<NetMapPeer, { nodeKey: string; ips: string[]; routes: { subnetRoutes?: string[]; exitNode?: true } }>();
function peerStatusParts(p: NetMapPeer) {
  let parts = statusParts.get(p);
  if (!parts) {
    const offered = offeredRoutes(p);
    parts = {
      nodeKey: keyToText('nodekey', p.nodeKey),
      ips: p.addresses.map((a) => a.split('/')[0]!),
      routes: { ...(offered.subnets.length ? { subnetRoutes: offered.subnets } : {}), ...(offered.exitNode ? { exitNode: true as const } : {}) },
    };
    statusParts.set(p, parts);
  }
  return parts;
}

/** `debug`: detail for a debug log (WireGuard handshakes per peer), emitted only while someone listens. */
export type NodeEventMap = { state: NodeState; netmap: NodeNetMap; log: string; debug: string; peers: PeerStatus[] };

export class TailnetNode {
  private state: NodeState = 'stopped';
  private error?: string;
  private authUrl?: string;
  private clock: Clock = realClock;
  private random: RandomSource = secureRandom;
  private control?: ControlSession;
  private derp?: DerpPoolLike;
  private wg?: WireGuardDevice;
  private stack?: NetStackLike;
  private magic?: Magicsock;
  private readonly filter = new PacketFilter();
  private routes?: RouteTable<NetMapPeer>;
  private routePrefs: RoutePrefs = {};
  private netmap?: NodeNetMap;
  private nodePublicKey?: Uint8Array;
  private discoPublicKey?: Uint8Array;
  private homeRegion?: number;
  private readonly listeners = new Map<string, Set<(v: unknown) => void>>();
  private readonly pongWaiters = new Map<string, (ok: boolean) => void>();
  private netmapReady?: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void };
  readonly counters = {
    txNoRoute: 0, txToSelf: 0, rxSpoofedSource: 0, rxMalformed: 0, rxFiltered: 0, rxUnknownProto: 0, rxNoStack: 0, netmaps: 0, badPeerKeys: 0, tsmpPongs: 0,
    /** TSMP disco key advertisements (capver 144) received; ...NewKey: not the disco key the netmap has for that peer. */
    tsmpDiscoAdverts: 0, tsmpDiscoAdvertsNewKey: 0,
    /** WireGuard sessions reset because a peer's disco key changed (it restarted). */
    peerResets: 0,
  };

  constructor(private readonly layers: NodeLayers) {}

  on<K extends keyof NodeEventMap>(ev: K, cb: (v: NodeEventMap[K]) => void): () => void {
    let set = this.listeners.get(ev);
    if (!set) this.listeners.set(ev, (set = new Set()));
    set.add(cb as (v: unknown) => void);
    return () => set!.delete(cb as (v: unknown) => void);
  }

  private emit<K extends keyof NodeEventMap>(ev: K, v: NodeEventMap[K]): void {
    for (const cb of this.listeners.get(ev) ?? []) {
      try { cb(v); } catch { /* a listener's bug must not break the node */ }
    }
  }

  private log(text: string): void { this.emit('log', text); }

  private setState(s: NodeState, err?: string): void {
    this.state = s;
    this.error = err;
    this.emit('state', s);
  }

  /** Logs in and starts following the network map; resolves once the first netmap is applied. */
  async up(cfg: UpConfig): Promise<void> {
    if (this.state === 'running' || this.state === 'starting') throw new Error(`node is ${this.state}`);
    // After needs-login or an error the old session may still be open: start clean.
    if (this.control || this.derp || this.stack) await this.down();
    this.clock = cfg.clock ?? realClock;
    this.random = cfg.random ?? secureRandom;
    this.routePrefs = { ...cfg.routes };
    this.setState('starting');
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<void>((r, j) => { resolve = r; reject = j; });
    this.netmapReady = { promise, resolve, reject };
    const disco = generateKeyPair(this.random);
    this.discoPublicKey = disco.publicKey;
    const discoCodec = new DiscoCodec(disco.privateKey, disco.publicKey, this.random);
    try {
      this.control = await this.layers.startControl({
        controlUrl: cfg.controlUrl, authKey: cfg.authKey, hostname: cfg.hostname, ephemeral: cfg.ephemeral,
        storage: cfg.storage, webSocketFactory: cfg.webSocketFactory, clock: this.clock, random: this.random,
        discoPublicKey: disco.publicKey, controlKey: cfg.controlKey, log: (t) => this.log(t),
        onAuthUrl: (url) => { this.authUrl = url; this.setState('needs-login'); cfg.onAuthUrl?.(url); },
      });
    } catch (e) {
      this.setState('error', String((e as Error)?.message ?? e));
      throw e;
    }
    const priv = asStaticKey(this.control.nodePrivateKey);
    this.nodePublicKey = priv.publicKey;
    this.magic = new Magicsock({
      disco: discoCodec, random: this.random,
      derpSend: (r, k, p) => this.derp?.send(r, k, p),
      wireguardReceive: (d, from) => this.wg?.receive(d, from),
      homeRegion: () => this.homeRegion,
      onPong: (_from, tx) => { const w = this.pongWaiters.get(toHex(tx)); if (w) w(true); },
      log: (t) => this.log(t),
    });
    this.wg = new WireGuardDevice({
      privateKey: priv, clock: this.clock, random: this.random,
      wallClockMs: cfg.wallClockMs, aead: this.layers.aeadEngine?.(), timers: cfg.wireguardTimers,
      send: (peer, d) => this.magic?.sendWireGuard(peer, d),
      onPacket: (peer, ip) => this.inbound(peer, ip),
      onHandshakeEvent: (peer, ev) => this.handshakeDebug(peer, ev),
      onReceiveIdle: () => this.stack?.releaseAcks?.(),
    });
    this.homeRegion = cfg.homeRegion;
    const allowInsecure = cfg.allowInsecureDerp;
    const ready = this.netmapReady;
    const refused = (s: string, detail?: string) => {
      // Control expired or dropped our node key: peers stop accepting us, so say so (a new login is needed).
      if (s !== 'key-expired' && s !== 'logged-out') return;
      if (this.state === 'running') this.setState('needs-login', detail ?? s);
      else if (this.state === 'starting') ready.reject(new Error(detail ?? `control: ${s}`));
    };
    this.control.onState?.((s, detail) => {
      this.log(`control: ${s}${detail ? ` (${detail})` : ''}`);
      refused(s, detail);
    });
    const now = this.control.status?.();
    if (now) refused(now.state, now.lastError);
    this.control.onNetMap((nm) => {
      try { this.applyNetMap(nm, cfg, allowInsecure); } catch (e) { this.log(`netmap apply failed: ${String(e)}`); }
    });
    const firstMapMs = cfg.firstMapTimeoutMs ?? 90_000;
    const control = this.control;
    const timer = this.clock.setTimeout(() => {
      const last = control.status?.().lastError;
      ready.reject(new Error(`no network map from control within ${Math.round(firstMapMs / 1000)} s after logging in${last ? `; last error: ${last}` : ''}`));
    }, firstMapMs);
    try {
      await ready.promise;
    } catch (e) {
      const msg = String((e as Error)?.message ?? e);
      await this.down();
      this.setState('error', msg);
      throw e;
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  /** A WireGuard handshake message sent or received, for the debug log (names and kinds only, no key material). */
  private handshakeDebug(peer: Uint8Array, ev: HandshakeEvent): void {
    if (!this.listeners.get('debug')?.size) return;
    const k = toHex(peer);
    let name = `nodekey:${k.slice(0, 8)}…`;
    for (const p of this.peerById.values()) if (keyHex(p) === k) { name = p.name.replace(/\.$/, '').split('.')[0] || name; break; }
    const what = ev.type === 'initiation-sent'
      ? `handshake initiation sent${ev.kind === 'early' ? ' (first-contact retry)' : ev.kind === 'retry' ? ` (retry ${ev.attempt})` : ''}`
      : ev.type === 'gave-up' ? `handshake given up after ${ev.attempts} retries`
        : ev.type === 'reset' ? 'session reset' : `handshake ${ev.type.replace('-', ' ')}`;
    this.emit('debug', `wg: ${name}: ${what}`);
  }

  private applyNetMap(nm: NodeNetMap, cfg: UpConfig, allowInsecure?: boolean): void {
    this.counters.netmaps++;
    const first = !this.netmap;
    this.netmap = nm;
    // Routes, filter and peers: from control's delta when it follows the list applied last (a
    // delta's cost), else by comparing the whole list.
    const d = nm.peerDelta;
    if (this.routes && nm.peersVersion && nm.peersVersion === this.peersVersion) {
      // No peer changed.
    } else if (this.routes && d && this.peersVersion && d.from === this.peersVersion) {
      this.applyPeerDelta(d.changed, d.removed);
    } else {
      this.applyPeers(nm.peers.filter((p) => p.nodeKey?.length === 32 || (this.counters.badPeerKeys++, false)));
    }
    this.peersVersion = nm.peersVersion;
    this.filter.setLocalAddresses(nm.self.addresses);
    const rules = nm.packetFilter ?? [];
    if (rules !== this.lastRules) { this.filter.setRules(rules); this.lastRules = rules; }
    // DERP.
    if (nm.derpMap) {
      if (!this.derp) {
        const regions = nm.derpMap.regions.map((r) => r.regionId).sort((a, b) => a - b);
        // Last run's home (already reported in our first map request) keeps peers' view of us
        // unchanged; else the lowest region until latency picks one.
        const remembered = this.control!.preferredDerp;
        this.homeRegion ??= remembered && regions.includes(remembered) ? remembered : regions[0];
        this.derp = this.layers.createDerpPool({
          privateKey: this.control!.nodePrivateKey, derpMap: nm.derpMap, homeRegion: this.homeRegion,
          webSocketFactory: cfg.webSocketFactory, clock: this.clock, random: this.random, allowInsecure,
          onPacket: (src, pkt, region) => this.magic?.receiveDerp(src, pkt, region),
        });
        void Promise.resolve(this.derp.start()).catch((e) => this.log(`derp start: ${String(e)}`));
        if (this.homeRegion) this.control!.setPreferredDerp(this.homeRegion);
        if (cfg.homeRegion === undefined && this.derp.chooseHomeRegion) {
          // Measured latency may pick a better home than the lowest region id; tell control and the pool.
          const pool = this.derp;
          void Promise.resolve(pool.chooseHomeRegion!()).then((r) => {
            if (!r || r === this.homeRegion || this.derp !== pool) return;
            this.homeRegion = r;
            pool.setHomeRegion?.(r);
            this.control?.setPreferredDerp(r);
            this.log(`home DERP region ${r}`);
          }).catch((e: unknown) => this.log(`choosing home region: ${String(e)}`));
        }
      } else {
        this.derp.setDerpMap(nm.derpMap);
      }
    }
    // Netstack once we know our addresses.
    if (!this.stack && nm.self.addresses.length) {
      this.stack = this.layers.createNetStack({
        addresses: nm.self.addresses.map((a) => a.split('/')[0]!), clock: this.clock, random: this.random, mtu: 1280,
        output: (ip) => this.outbound(ip),
      });
    }
    this.emit('netmap', nm);
    // Every peer's status is O(peers): made only for someone listening.
    if (this.listeners.get('peers')?.size) this.emit('peers', this.peerStatuses());
    if (first) {
      this.setState('running');
      this.netmapReady?.resolve();
    }
  }

  /**
   * Brings WireGuard, magicsock and the route table to `peers`. Control's deltas change a few peers
   * and keep the others as the very same objects (control/netmap.ts toPlainNetMap), so the peers
   * that differ by identity are the work: a delta flipping one peer's online flag in a tailnet of
   * 10,000 touches one peer here, not 10,000 (a full rebuild is for the first map, new route
   * choices, and a map where most peers changed).
   */
  private applyPeers(peers: NetMapPeer[]): void {
    const prev = this.peerById;
    const next = new Map<string, NetMapPeer>();
    for (const p of peers) next.set(p.id, p);
    const changed: { old?: NetMapPeer; now: NetMapPeer }[] = [];
    for (const p of next.values()) {
      const old = prev.get(p.id);
      if (old !== p) changed.push({ old, now: p });
    }
    const removed: NetMapPeer[] = [];
    if (next.size !== prev.size + changed.filter((c) => !c.old).length) {
      for (const [id, old] of prev) if (!next.has(id)) removed.push(old);
    }
    this.peerById = next;
    if (!this.routes || changed.length + removed.length > Math.max(64, next.size / 4)) {
      this.rebuildRoutes(next.values());
      this.magic!.setPeers([...next.values()].map((p) => ({ nodeKey: p.nodeKey, discoKey: p.discoKey, homeDerp: p.homeDerp })));
      this.keyRefs.clear();
      for (const p of next.values()) { const k = keyHex(p); this.keyRefs.set(k, (this.keyRefs.get(k) ?? 0) + 1); }
      for (const key of this.knownWgPeers) if (!this.keyRefs.has(key)) this.dropWgPeer(key);
      for (const p of next.values()) this.ensureWgPeer(p.nodeKey, keyHex(p));
      for (const { old, now } of changed) if (old && keyHex(old) === keyHex(now)) this.noteDiscoChange(now, old.discoKey, now.discoKey);
      return;
    }
    this.applyChanges(changed, removed);
  }

  /** A delta from control: the peers changed or added, and the ids removed (peerById is updated in place). */
  private applyPeerDelta(changedPeers: NetMapPeer[], removedIds: string[]): void {
    const changed: { old?: NetMapPeer; now: NetMapPeer }[] = [];
    const removed: NetMapPeer[] = [];
    for (const id of removedIds) {
      const old = this.peerById.get(id);
      if (old) { removed.push(old); this.peerById.delete(id); }
    }
    for (const p of changedPeers) {
      const old = this.peerById.get(p.id);
      if (p.nodeKey?.length !== 32) {
        this.counters.badPeerKeys++;
        if (old) { removed.push(old); this.peerById.delete(p.id); }
        continue;
      }
      if (old === p) continue;
      changed.push({ old, now: p });
      this.peerById.set(p.id, p);
    }
    this.applyChanges(changed, removed);
  }

  /** WireGuard, magicsock and routes for a few changed peers (peerById already holds the new ones). */
  private applyChanges(changed: { old?: NetMapPeer; now: NetMapPeer }[], removed: NetMapPeer[]): void {
    if (!changed.length && !removed.length) return;
    this.updateRoutes(changed, removed);
    const unref = (p: NetMapPeer) => {
      const k = keyHex(p);
      const n = (this.keyRefs.get(k) ?? 1) - 1;
      if (n > 0) { this.keyRefs.set(k, n); return; }
      this.keyRefs.delete(k);
      this.magic!.removePeer(p.nodeKey);
      this.dropWgPeer(k);
    };
    // New references first, then the old ones let go: a key that moved between peers stays.
    for (const { old, now } of changed) {
      const k = keyHex(now);
      this.keyRefs.set(k, (this.keyRefs.get(k) ?? 0) + 1);
      this.magic!.upsertPeer({ nodeKey: now.nodeKey, discoKey: now.discoKey, homeDerp: now.homeDerp });
      this.ensureWgPeer(now.nodeKey, k);
      if (old && keyHex(old) === k) this.noteDiscoChange(now, old.discoKey, now.discoKey);
    }
    for (const { old } of changed) if (old) unref(old);
    for (const old of removed) unref(old);
  }

  /**
   * A peer's disco key changed: it restarted (a new disco key every start, same node key), so its
   * WireGuard session is dead and is reset, as tailscaled's nodeBackend.discoChangedLocked +
   * ResetDevicePeer do (ipn/ipnlocal/node_backend.go, wgengine/userspace.go): the next packet
   * starts a handshake at once rather than after the 15 s new-handshake timer. Not when the new
   * key came first in a TSMP advertisement: that arrived over a working session, which is kept.
   */
  private noteDiscoChange(peer: NetMapPeer, prev: Uint8Array | undefined, cur: Uint8Array | undefined): void {
    if (!prev || !cur || prev.length !== 32 || cur.length !== 32 || equalBytes(prev, cur) || isZero(prev) || isZero(cur)) return;
    const k = keyHex(peer);
    const viaTsmp = this.tsmpLearnedDisco.get(k);
    if (viaTsmp !== undefined) {
      this.tsmpLearnedDisco.delete(k);
      if (viaTsmp === toHex(cur)) return;
    }
    if (!this.wg?.resetPeer(peer.nodeKey)) return;
    this.counters.peerResets++;
    this.log(`peer ${peer.name.replace(/\.$/, '').split('.')[0]} restarted (new disco key): WireGuard session reset`);
  }

  /** Disco keys peers announced over TSMP (by node key hex), until control's map shows the same change. */
  private readonly tsmpLearnedDisco = new Map<string, string>();

  private ensureWgPeer(key: Uint8Array, k = toHex(key)): void {
    if (!this.knownWgPeers.has(k)) { this.wg!.addPeer(key); this.knownWgPeers.add(k); this.knownWgPeerKeys.set(k, key); }
  }

  private dropWgPeer(k: string): void {
    if (!this.knownWgPeers.has(k)) return;
    this.wg!.removePeer(this.knownWgPeerKeys.get(k)!);
    this.knownWgPeers.delete(k);
    this.knownWgPeerKeys.delete(k);
  }

  private rebuildRoutes(peers: Iterable<NetMapPeer>): void {
    // buildRouteTable's rules (routes.ts), with each prefix's claimants counted on the way.
    const built = { table: new RouteTable<NetMapPeer>(), badPrefixes: 0, skippedSubnetRoutes: 0, skippedExitRoutes: 0 };
    this.routeClaims.clear();
    for (const peer of peers) {
      for (const r of peerRoutes(peer, this.routePrefs, built)) {
        built.table.insert(r, peer);
        const k = prefixKey(r);
        this.routeClaims.set(k, (this.routeClaims.get(k) ?? 0) + 1);
      }
    }
    this.routes = built.table;
    if (built.skippedSubnetRoutes || built.skippedExitRoutes) {
      this.log(`routes: ${built.skippedSubnetRoutes} subnet and ${built.skippedExitRoutes} exit-node routes not in use (not chosen)`);
    }
  }

  /**
   * The route table after a few peers changed, without a rebuild: each changed peer's routes are
   * removed and added again (or, when they are the same, pointed at its new object). A prefix that
   * two peers claim makes which one wins depend on their order: then the table is rebuilt.
   */
  private updateRoutes(changed: { old?: NetMapPeer; now: NetMapPeer }[], removed: NetMapPeer[]): void {
    const table = this.routes!;
    const prefs = this.routePrefs;
    const same = (a: readonly string[] | null | undefined, b: readonly string[] | null | undefined) =>
      a === b || (!!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]));
    const drop: { p: Prefix; peer: NetMapPeer }[] = [];
    const add: { p: Prefix; peer: NetMapPeer }[] = [];
    const repoint: { p: Prefix; from: NetMapPeer; to: NetMapPeer }[] = [];
    for (const old of removed) for (const p of peerRoutes(old, prefs)) drop.push({ p, peer: old });
    for (const { old, now } of changed) {
      if (old && same(old.allowedIPs, now.allowedIPs) && same(old.addresses, now.addresses)) {
        for (const p of peerRoutes(now, prefs)) repoint.push({ p, from: old, to: now });
        continue;
      }
      if (old) for (const p of peerRoutes(old, prefs)) drop.push({ p, peer: old });
      for (const p of peerRoutes(now, prefs)) add.push({ p, peer: now });
    }
    const claims = this.routeClaims;
    const delta = new Map<string, number>();
    for (const d of drop) { const k = prefixKey(d.p); delta.set(k, (delta.get(k) ?? 0) - 1); }
    for (const a of add) { const k = prefixKey(a.p); delta.set(k, (delta.get(k) ?? 0) + 1); }
    // A prefix claimed by two peers, before or after: which one holds it depends on their order.
    let shared = false;
    for (const [k, d] of delta) {
      const before = claims.get(k) ?? 0;
      if (before > 1 || before + d > 1) { shared = true; break; }
    }
    if (shared) { this.rebuildRoutes(this.peerById.values()); return; }
    for (const d of drop) table.remove(d.p, d.peer);
    for (const a of add) table.insert(a.p, a.peer);
    for (const r of repoint) table.replace(r.p, r.from, r.to);
    for (const [k, d] of delta) {
      const n = (claims.get(k) ?? 0) + d;
      if (n > 0) claims.set(k, n);
      else claims.delete(k);
    }
  }

  /** Turns subnet routes on or off and chooses (or clears) the exit node; applies at once. */
  setRoutePrefs(prefs: RoutePrefs): void {
    if (prefs.exitNodeId !== undefined && !this.netmap?.peers.some((p) => p.id === prefs.exitNodeId)) {
      throw new Error(`exit node ${prefs.exitNodeId} is not a peer in the tailnet`);
    }
    this.routePrefs = { ...prefs };
    if (this.netmap) this.rebuildRoutes(this.peerById.values());
  }

  get routePreferences(): RoutePrefs { return { ...this.routePrefs }; }

  private readonly knownWgPeers = new Set<string>();
  /** The peers (with a usable key) of the map last applied, by id. */
  private peerById = new Map<string, NetMapPeer>();
  /** How many peers' routes claim each prefix (prefixKey): a prefix claimed twice needs a rebuild to change. */
  private readonly routeClaims = new Map<string, number>();
  private lastRules?: FilterRule[];
  /** NodeNetMap.peersVersion of the map applied last. */
  private peersVersion?: object;
  /** How many current peers have each node key (hex): WireGuard and magicsock hold one entry per key. */
  private readonly keyRefs = new Map<string, number>();
  private readonly knownWgPeerKeys = new Map<string, Uint8Array>();

  /** netstack output: route by AllowedIPs, note the flow, encrypt to the peer. */
  private outbound(ip: Uint8Array): void {
    const s = summarize(ip);
    if (!s || !this.routes) { this.counters.txNoRoute++; return; }
    const peer = this.routes.lookup(s.dst);
    if (!peer) { this.counters.txNoRoute++; return; }
    this.filter.noteOutbound(ip, s);
    this.wg!.send(peer.nodeKey, ip);
  }

  /** A decrypted packet from a peer: cryptokey routing, filter, then netstack. */
  private inbound(peer: Uint8Array, ip: Uint8Array): void {
    const s = summarize(ip);
    if (!s) { this.counters.rxMalformed++; return; }
    // Cryptokey routing (WireGuard paper §2; wireguard-go device/receive.go): the source address
    // must be one the sending peer's AllowedIPs route to that same peer, or the peer is speaking for
    // another machine (or a subnet/exit route we did not choose) and the packet is dropped.
    const owner = this.routes?.lookup(s.src);
    if (!owner || !equalBytes(owner.nodeKey, peer)) { this.counters.rxSpoofedSource++; return; }
    if (s?.proto === IPPROTO_TSMP) {
      // TSMP pings are answered before the filter, as tailscale's tstun does.
      const pong = tsmpPongFor(ip);
      if (pong) { this.counters.tsmpPongs++; this.wg?.send(peer, pong); return; }
      // Newer peers announce their disco key after each handshake: read, counted, nothing else
      // (control's map stays the source of disco keys for magicsock).
      const advert = parseTsmpDiscoAdvert(ip);
      if (advert) {
        this.counters.tsmpDiscoAdverts++;
        if (!advert.empty && !(owner.discoKey && equalBytes(owner.discoKey, advert.discoKey))) {
          // A new disco key over a working session (tailscaled: controlclient direct.go updates the
          // peer's disco key, LocalBackend.PatchDiscoKey notes it so the map delta that follows does
          // not reset the session). Disco messages go to the new key from now on.
          this.counters.tsmpDiscoAdvertsNewKey++;
          const k = keyHex(owner);
          if (this.tsmpLearnedDisco.size >= 4096 && !this.tsmpLearnedDisco.has(k)) this.tsmpLearnedDisco.delete(this.tsmpLearnedDisco.keys().next().value!);
          this.tsmpLearnedDisco.set(k, toHex(advert.discoKey));
          this.magic?.upsertPeer({ nodeKey: owner.nodeKey, discoKey: advert.discoKey.slice(), homeDerp: owner.homeDerp });
        }
        return;
      }
    }
    if (s.proto !== Proto.TCP && s.proto !== Proto.UDP && s.proto !== Proto.ICMP && s.proto !== Proto.ICMPv6) {
      // TSMP (99) and anything else we do not speak.
      this.counters.rxUnknownProto++;
      return;
    }
    if (this.filter.check(ip, s) === 'drop') { this.counters.rxFiltered++; return; }
    if (!this.stack) { this.counters.rxNoStack++; return; }
    // Packets behind this one are already being decrypted: one ACK for the batch (released by the
    // device's onReceiveIdle) instead of one per two segments, for each of which our WebCrypto,
    // WebSocket, the derper and the sending peer do per-packet work.
    if ((this.wg?.receiveBacklog ?? 0) > 0) this.stack.holdAcks?.();
    this.stack.input(ip);
  }

  private requireRunning(): void {
    if (this.state !== 'running' || !this.stack || !this.netmap) throw new Error(`node is not running (${this.state})`);
  }

  /**
   * Resolves a MagicDNS name or IP literal to an address of the tailnet. An IP literal must be one
   * our routes reach (a peer's address, or a subnet/exit route the person turned on): anything else
   * would leave through no peer, and the caller should hear why rather than wait for a timeout.
   */
  resolve(host: string, o: { preferV6?: boolean } = {}): string {
    const nm = this.netmap;
    const r = resolveHost(host, nm ? [...nm.peers, { name: nm.self.name, addresses: nm.self.addresses }] : [], o);
    if (!r?.length) throw new Error(`unknown host ${host}`);
    const ip = r[0]!.ip;
    if (!r[0]!.name && !nm?.self.addresses.some((a) => a.split('/')[0] === ip) && !this.routes?.lookup(parseIp(ip)!)) {
      throw new Error(`${ip} is not reachable through the tailnet (not a machine's address, and no subnet route or exit node in use covers it)`);
    }
    return ip;
  }

  /** TCP connection to a tailnet host (MagicDNS name or IP) through netstack. */
  async dial(host: string, port: number, o: { timeoutMs?: number; preferV6?: boolean } = {}): Promise<TcpConnectionLike> {
    this.requireRunning();
    return this.stack!.connect(this.resolve(host, o), port, { timeoutMs: o.timeoutMs });
  }

  /** Accepts TCP connections from the tailnet on our addresses (the inbound filter still applies). */
  listen(port: number): TcpListenerLike {
    this.requireRunning();
    return this.stack!.listen(port);
  }

  /** ICMP echo over the tailnet; returns the round-trip time in ms. */
  async ping(host: string, o: { preferV6?: boolean; timeoutMs?: number } = {}): Promise<{ ms: number; ip: string }> {
    this.requireRunning();
    const ip = this.resolve(host, o);
    if (!this.stack!.ping) throw new Error('netstack has no ping');
    const t0 = this.clock.now();
    const r = await this.stack!.ping(ip, { timeoutMs: o.timeoutMs ?? 10_000 });
    const ms = typeof r === 'number' ? r : typeof (r as { rttMs?: number })?.rttMs === 'number' ? (r as { rttMs: number }).rttMs : this.clock.now() - t0;
    return { ms, ip };
  }

  /** Disco ping over DERP (no netstack involved); resolves with the RTT in ms. */
  async discoPing(host: string, timeoutMs = 5000): Promise<number> {
    this.requireRunning();
    const ip = parseIp(this.resolve(host))!;
    const peer = this.routes?.lookup(ip);
    if (!peer) throw new Error(`no route to ${host}`);
    const tx = this.magic!.sendDiscoPing(peer.nodeKey, this.nodePublicKey!);
    if (!tx) throw new Error(`no disco key or region for ${host}`);
    const t0 = this.clock.now();
    const key = toHex(tx);
    return new Promise<number>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => { this.pongWaiters.delete(key); reject(new Error('disco ping timed out')); }, timeoutMs);
      this.pongWaiters.set(key, () => { this.clock.clearTimeout(timer); this.pongWaiters.delete(key); resolve(this.clock.now() - t0); });
    });
  }

  private peerStatuses(): PeerStatus[] {
    const now = this.clock.now();
    return (this.netmap?.peers ?? []).map((p) => {
      const ws = this.wg?.peerStatus(p.nodeKey, keyHex(p));
      const fixed = peerStatusParts(p);
      return {
        ...fixed.routes,
        id: p.id, name: p.name, nodeKey: fixed.nodeKey, ips: fixed.ips,
        online: p.online, os: p.os, lastSeen: p.lastSeen, sshHostKeys: p.sshHostKeys, relayRegion: this.magic?.regionFor(p.nodeKey, keyHex(p)),
        handshakeAgeMs: ws?.lastHandshakeAt !== undefined ? now - ws.lastHandshakeAt : undefined,
        rxBytes: ws?.rxBytes ?? 0, txBytes: ws?.txBytes ?? 0,
      };
    });
  }

  status(): NodeStatus {
    const nm = this.netmap;
    const counters: Record<string, number> = { ...this.counters };
    for (const [k, v] of Object.entries(this.filter.stats)) counters[`filter.${k}`] = v;
    for (const [k, v] of Object.entries(this.magic?.stats ?? {})) counters[`magicsock.${k}`] = v;
    for (const [k, v] of Object.entries(this.wg?.stats ?? {})) if (v) counters[`wg.${k}`] = v;
    for (const [k, v] of Object.entries(this.stack?.stats ?? {})) if (v) counters[`netstack.${k}`] = v;
    for (const [k, v] of Object.entries(this.control?.stats ?? {})) if (typeof v === 'number' && v) counters[`control.${k}`] = v;
    return {
      state: this.state, error: this.error, authUrl: this.authUrl,
      self: nm && this.nodePublicKey && this.discoPublicKey ? {
        name: nm.self.name, ips: nm.self.addresses.map((a) => a.split('/')[0]!), user: nm.self.user,
        nodeKey: keyToText('nodekey', this.nodePublicKey), discoKey: keyToText('discokey', this.discoPublicKey),
      } : undefined,
      homeRegion: this.homeRegion,
      peers: this.peerStatuses(),
      derp: this.derp?.status?.(),
      control: this.control?.status?.(),
      counters,
      routes: { ...this.routePrefs },
    };
  }

  /** Logs out at control (the node key is expired; the next up() needs an auth key or a login), then down(). */
  async logout(): Promise<void> {
    const c = this.control;
    try {
      if (c?.logout) await c.logout();
    } finally {
      await this.down();
    }
  }

  async down(): Promise<void> {
    for (const w of this.pongWaiters.values()) w(false);
    this.pongWaiters.clear();
    try { this.stack?.close(); } catch { /* closing anyway */ }
    try { this.wg?.close(); } catch { /* closing anyway */ }
    try { this.derp?.close(); } catch { /* closing anyway */ }
    try { await this.control?.close(); } catch { /* closing anyway */ }
    this.stack = undefined; this.wg = undefined; this.derp = undefined; this.control = undefined;
    this.magic = undefined; this.netmap = undefined; this.routes = undefined;
    this.knownWgPeers.clear(); this.knownWgPeerKeys.clear();
    this.tsmpLearnedDisco.clear();
    this.peerById = new Map(); this.routeClaims.clear(); this.keyRefs.clear(); this.peersVersion = undefined; this.lastRules = undefined;
    this.setState('stopped');
  }
}
