// TailnetNode: the node runtime that ties control/, derp-client/, noise/ and netstack/ together.
// Packet path (node/README.md): netstack output -> AllowedIPs route -> WireGuardDevice.send ->
// magicsock -> DERP region of the peer. Inbound: DERP -> disco or WireGuard -> filter -> netstack.
// The lower layers are reached through the small structural interfaces of node-types.ts so the node runs the
// same in a Worker, a page or Node.js; node/defaults wires the real implementations.
//
// TailnetNode is one object whose methods live in files by role: node-core.ts (its state and events)
// <- node-packets.ts (the packet path: netstack out, WireGuard in, cryptokey routing)
// <- node-peers.ts (peers and routes from the network map) <- node.ts (the public API).
import { toHex } from '../crypto/bytes.js';
import { keyToText } from '../crypto/keys.js';
import { secureRandom } from '../crypto/random.js';
import { asStaticKey } from '../crypto/static-key.js';
import { generateKeyPair } from '../crypto/x25519.js';
import { realClock } from '../platform/clock.js';
import { WireGuardDevice, type HandshakeEvent } from '../noise/wireguard/device.js';
import { DiscoCodec } from './disco.js';
import { Magicsock } from './magicsock.js';
import { resolveHost } from './magicdns.js';
import { offeredRoutes, parseIp, type RoutePrefs } from './routes.js';
import { keyHex } from './node-core.js';
import { NodePeers } from './node-peers.js';
import { globalPeerConnectionFactory, stunServersOf } from './webrtc-peer.js';
import { PeerStatusChanges } from './status-changes.js';
import type {
  NetMapPeer,
  NodeNetMap,
  TcpConnectionLike,
  TcpListenerLike,
  UpConfig,
  PeerStatus,
  NodeStatus,
  NodeEventMap,
} from './node-types.js';

export type {
  DerpMapLike,
  NetMapPeer,
  NodeNetMap,
  ControlSession,
  ControlStatusLike,
  ControlStartOptions,
  DerpPoolLike,
  DerpPoolStartOptions,
  TcpConnectionLike,
  TcpListenerLike,
  NetStackLike,
  NetStackStartOptions,
  NodeLayers,
  UpConfig,
  NodeState,
  PeerStatus,
  NodeStatus,
  NodeEventMap,
} from './node-types.js';

/** The parts of a peer's status that follow from its map entry alone, made once per peer object. */
const statusParts = new WeakMap<
  NetMapPeer,
  { nodeKey: string; ips: string[]; routes: { subnetRoutes?: string[]; exitNode?: true } }
>();
function peerStatusParts(p: NetMapPeer) {
  let parts = statusParts.get(p);
  if (!parts) {
    const offered = offeredRoutes(p);
    parts = {
      nodeKey: keyToText('nodekey', p.nodeKey),
      ips: p.addresses.map((a) => a.split('/')[0]!),
      routes: {
        ...(offered.subnets.length ? { subnetRoutes: offered.subnets } : {}),
        ...(offered.exitNode ? { exitNode: true as const } : {}),
      },
    };
    statusParts.set(p, parts);
  }
  return parts;
}

export class TailnetNode extends NodePeers {
  /** Peers whose status changed since peerStatusChanges() last ran (a status tick's work). */
  private readonly statusChanges = new PeerStatusChanges();

  on<K extends keyof NodeEventMap>(ev: K, cb: (v: NodeEventMap[K]) => void): () => void {
    let set = this.listeners.get(ev);
    if (!set) this.listeners.set(ev, (set = new Set()));
    set.add(cb as (v: unknown) => void);
    return () => set!.delete(cb as (v: unknown) => void);
  }

  /** The control client, logged in (pre-auth key or interactive); a failure leaves the node in 'error'. */
  private async loginControl(cfg: UpConfig, discoPublicKey: Uint8Array) {
    try {
      return await this.layers.startControl({
        controlUrl: cfg.controlUrl,
        authKey: cfg.authKey,
        hostname: cfg.hostname,
        ephemeral: cfg.ephemeral,
        storage: cfg.storage,
        webSocketFactory: cfg.webSocketFactory,
        clock: this.clock,
        random: this.random,
        discoPublicKey,
        controlKey: cfg.controlKey,
        log: (t) => this.log(t),
        onAuthUrl: (url) => {
          this.authUrl = url;
          this.setState('needs-login');
          cfg.onAuthUrl?.(url);
        },
      });
    } catch (e) {
      this.setState('error', String((e as Error)?.message ?? e));
      throw e;
    }
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
    const promise = new Promise<void>((r, j) => {
      resolve = r;
      reject = j;
    });
    this.netmapReady = { promise, resolve, reject };
    const disco = generateKeyPair(this.random);
    this.discoPublicKey = disco.publicKey;
    const discoCodec = new DiscoCodec(disco.privateKey, disco.publicKey, this.random);
    this.control = await this.loginControl(cfg, disco.publicKey);
    const priv = asStaticKey(this.control.nodePrivateKey);
    this.nodePublicKey = priv.publicKey;
    this.magic = new Magicsock({
      disco: discoCodec,
      random: this.random,
      derpSend: (r, k, p) => this.derp?.send(r, k, p),
      wireguardReceive: (d, from) => this.wg?.receive(d, from),
      homeRegion: () => this.homeRegion,
      onPong: (_from, tx) => {
        const w = this.pongWaiters.get(toHex(tx));
        if (w) w(true);
      },
      log: (t) => this.log(t),
    });
    const paths = this.magic.attachWebRtc(
      {
        clock: this.clock,
        createPeerConnection: cfg.webrtc?.createPeerConnection ?? globalPeerConnectionFactory(),
        unavailableReason:
          'no RTCPeerConnection in this scope (Chromium and Firefox have none in a Worker; pass webrtc.createPeerConnection)',
        // STUN only from the DERP map's own servers: derpers answer STUN (no third party).
        iceServers: () => stunServersOf(this.netmap?.derpMap),
        log: (t) => this.log(t),
      },
      this.nodePublicKey,
    );
    if (cfg.webrtc?.enabled === false) paths.setEnabled(false);
    this.wg = new WireGuardDevice({
      privateKey: priv,
      clock: this.clock,
      random: this.random,
      wallClockMs: cfg.wallClockMs,
      aead: this.layers.aeadEngine?.(),
      timers: cfg.wireguardTimers,
      send: (peer, d) => this.magic?.sendWireGuard(peer, d),
      onPacket: (peer, ip) => this.inbound(peer, ip),
      onHandshakeEvent: (peer, ev) => {
        this.statusChanges.markActive(toHex(peer));
        this.handshakeDebug(peer, ev);
      },
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
      try {
        this.applyNetMap(nm, cfg, allowInsecure);
      } catch (e) {
        this.log(`netmap apply failed: ${String(e)}`);
      }
    });
    const firstMapMs = cfg.firstMapTimeoutMs ?? 90_000;
    const control = this.control;
    const timer = this.clock.setTimeout(() => {
      const last = control.status?.().lastError;
      ready.reject(
        new Error(
          `no network map from control within ${Math.round(firstMapMs / 1000)} s after logging in${last ? `; last error: ${last}` : ''}`,
        ),
      );
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
    for (const p of this.peerById.values())
      if (keyHex(p) === k) {
        name = p.name.replace(/\.$/, '').split('.')[0] || name;
        break;
      }
    const what =
      ev.type === 'initiation-sent'
        ? `handshake initiation sent${ev.kind === 'early' ? ' (first-contact retry)' : ev.kind === 'retry' ? ` (retry ${ev.attempt})` : ''}`
        : ev.type === 'gave-up'
          ? `handshake given up after ${ev.attempts} retries`
          : ev.type === 'reset'
            ? 'session reset'
            : `handshake ${ev.type.replace('-', ' ')}`;
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
      this.statusChanges.markDelta(
        d.changed.map((p) => p.id),
        d.removed,
      );
    } else {
      this.applyPeers(nm.peers.filter((p) => p.nodeKey?.length === 32 || (this.counters.badPeerKeys++, false)));
      this.statusChanges.markAll();
    }
    this.peersVersion = nm.peersVersion;
    this.filter.setLocalAddresses(nm.self.addresses);
    const rules = nm.packetFilter ?? [];
    if (rules !== this.lastRules) {
      this.filter.setRules(rules);
      this.lastRules = rules;
    }
    // DERP.
    if (nm.derpMap) {
      if (!this.derp) {
        const regions = nm.derpMap.regions.map((r) => r.regionId).sort((a, b) => a - b);
        // Last run's home (already reported in our first map request) keeps peers' view of us
        // unchanged; else the lowest region until latency picks one.
        const remembered = this.control!.preferredDerp;
        this.homeRegion ??= remembered && regions.includes(remembered) ? remembered : regions[0];
        this.derp = this.layers.createDerpPool({
          privateKey: this.control!.nodePrivateKey,
          derpMap: nm.derpMap,
          homeRegion: this.homeRegion,
          webSocketFactory: cfg.webSocketFactory,
          clock: this.clock,
          random: this.random,
          allowInsecure,
          onPacket: (src, pkt, region) => this.magic?.receiveDerp(src, pkt, region),
        });
        void Promise.resolve(this.derp.start()).catch((e) => this.log(`derp start: ${String(e)}`));
        if (this.homeRegion) this.control!.setPreferredDerp(this.homeRegion);
        if (cfg.homeRegion === undefined && this.derp.chooseHomeRegion) {
          // Measured latency may pick a better home than the lowest region id; tell control and the pool.
          const pool = this.derp;
          void Promise.resolve(pool.chooseHomeRegion!())
            .then((r) => {
              if (!r || r === this.homeRegion || this.derp !== pool) return;
              this.homeRegion = r;
              pool.setHomeRegion?.(r);
              this.control?.setPreferredDerp(r);
              this.log(`home DERP region ${r}`);
            })
            .catch((e: unknown) => this.log(`choosing home region: ${String(e)}`));
        }
      } else {
        this.derp.setDerpMap(nm.derpMap);
      }
    }
    // Netstack once we know our addresses.
    if (!this.stack && nm.self.addresses.length) {
      this.stack = this.layers.createNetStack({
        addresses: nm.self.addresses.map((a) => a.split('/')[0]!),
        clock: this.clock,
        random: this.random,
        mtu: 1280,
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

  /** Turns subnet routes on or off and chooses (or clears) the exit node; applies at once. */
  setRoutePrefs(prefs: RoutePrefs): void {
    if (prefs.exitNodeId !== undefined && !this.netmap?.peers.some((p) => p.id === prefs.exitNodeId)) {
      throw new Error(`exit node ${prefs.exitNodeId} is not a peer in the tailnet`);
    }
    this.routePrefs = { ...prefs };
    this.statusChanges.markAll();
    if (this.netmap) this.rebuildRoutes(this.peerById.values());
  }

  get routePreferences(): RoutePrefs {
    return { ...this.routePrefs };
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
      throw new Error(
        `${ip} is not reachable through the tailnet (not a machine's address, and no subnet route or exit node in use covers it)`,
      );
    }
    return ip;
  }

  /** TCP connection to a tailnet host (MagicDNS name or IP) through netstack. */
  async dial(
    host: string,
    port: number,
    o: { timeoutMs?: number; preferV6?: boolean } = {},
  ): Promise<TcpConnectionLike> {
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
    const ms =
      typeof r === 'number'
        ? r
        : typeof (r as { rttMs?: number })?.rttMs === 'number'
          ? (r as { rttMs: number }).rttMs
          : this.clock.now() - t0;
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
      const timer = this.clock.setTimeout(() => {
        this.pongWaiters.delete(key);
        reject(new Error('disco ping timed out'));
      }, timeoutMs);
      this.pongWaiters.set(key, () => {
        this.clock.clearTimeout(timer);
        this.pongWaiters.delete(key);
        resolve(this.clock.now() - t0);
      });
    });
  }

  private peerStatus(p: NetMapPeer, now: number): PeerStatus {
    const ws = this.wg?.peerStatus(p.nodeKey, keyHex(p));
    const fixed = peerStatusParts(p);
    const region = this.magic?.regionFor(p.nodeKey, keyHex(p));
    const rtc = this.magic?.direct?.status(keyHex(p));
    const derp = this.magic?.derpPacketsOf(keyHex(p));
    return {
      ...fixed.routes,
      id: p.id,
      name: p.name,
      nodeKey: fixed.nodeKey,
      ips: fixed.ips,
      online: p.online,
      os: p.os,
      lastSeen: p.lastSeen,
      sshHostKeys: p.sshHostKeys,
      relayRegion: region,
      path: rtc?.state === 'active' ? { kind: 'webrtc' as const, rttMs: rtc.rttMs } : { kind: 'derp' as const, region },
      ...(rtc ? { webrtc: rtc } : {}),
      derpTxPackets: derp?.tx ?? 0,
      derpRxPackets: derp?.rx ?? 0,
      handshakeAgeMs: ws?.lastHandshakeAt !== undefined ? now - ws.lastHandshakeAt : undefined,
      rxBytes: ws?.rxBytes ?? 0,
      txBytes: ws?.txBytes ?? 0,
    };
  }

  private peerStatuses(): PeerStatus[] {
    const now = this.clock.now();
    return (this.netmap?.peers ?? []).map((p) => this.peerStatus(p, now));
  }

  /**
   * The peers whose status may have changed since the last call: all of them (`full`) after a full
   * map, new route choices or a new home region; else those control's deltas named (`peers`, and
   * `removed` ids) and those WireGuard talks to. One consumer (the app's status ticks).
   */
  peerStatusChanges(): { full: boolean; peers: PeerStatus[]; removed: string[] } {
    const t = this.statusChanges.take(this.homeRegion, this.peerById, keyHex);
    if (t.full) return { full: true, peers: this.peerStatuses(), removed: [] };
    const now = this.clock.now();
    const peers: PeerStatus[] = [];
    const removed = t.removed;
    for (const id of t.ids) {
      const p = this.peerById.get(id);
      if (p) peers.push(this.peerStatus(p, now));
      else removed.push(id);
    }
    return { full: false, peers, removed };
  }

  /** `peers: false`: without the per-peer part (O(peers); peerStatusChanges() gives what changed). */
  status(o: { peers?: boolean } = {}): NodeStatus {
    const nm = this.netmap;
    const counters: Record<string, number> = { ...this.counters };
    for (const [k, v] of Object.entries(this.filter.stats)) counters[`filter.${k}`] = v;
    for (const [k, v] of Object.entries(this.magic?.stats ?? {})) counters[`magicsock.${k}`] = v;
    for (const [k, v] of Object.entries(this.magic?.direct?.stats ?? {})) if (v) counters[`webrtc.${k}`] = v;
    for (const [k, v] of Object.entries(this.wg?.stats ?? {})) if (v) counters[`wg.${k}`] = v;
    for (const [k, v] of Object.entries(this.stack?.stats ?? {})) if (v) counters[`netstack.${k}`] = v;
    for (const [k, v] of Object.entries(this.control?.stats ?? {}))
      if (typeof v === 'number' && v) counters[`control.${k}`] = v;
    return {
      state: this.state,
      error: this.error,
      authUrl: this.authUrl,
      self:
        nm && this.nodePublicKey && this.discoPublicKey
          ? {
              name: nm.self.name,
              ips: nm.self.addresses.map((a) => a.split('/')[0]!),
              user: nm.self.user,
              nodeKey: keyToText('nodekey', this.nodePublicKey),
              discoKey: keyToText('discokey', this.discoPublicKey),
            }
          : undefined,
      homeRegion: this.homeRegion,
      peers: o.peers === false ? [] : this.peerStatuses(),
      derp: this.derp?.status?.(),
      control: this.control?.status?.(),
      counters,
      routes: { ...this.routePrefs },
      ...(this.magic?.direct?.unavailable ? { webrtcUnavailable: this.magic.direct.unavailable } : {}),
    };
  }

  /** Turns the WebRTC path on or off at once (off: every peer over DERP, peer connections closed). */
  setWebRtcEnabled(on: boolean): void {
    this.magic?.direct?.setEnabled(on);
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
    try {
      this.stack?.close();
    } catch {
      /* closing anyway */
    }
    try {
      this.magic?.direct?.close();
    } catch {
      /* closing anyway */
    }
    try {
      this.wg?.close();
    } catch {
      /* closing anyway */
    }
    try {
      this.derp?.close();
    } catch {
      /* closing anyway */
    }
    try {
      await this.control?.close();
    } catch {
      /* closing anyway */
    }
    this.stack = undefined;
    this.wg = undefined;
    this.derp = undefined;
    this.control = undefined;
    this.magic = undefined;
    this.netmap = undefined;
    this.routes = undefined;
    this.knownWgPeers.clear();
    this.knownWgPeerKeys.clear();
    this.tsmpLearnedDisco.clear();
    this.peerById = new Map();
    this.routeClaims.clear();
    this.keyRefs.clear();
    this.peersVersion = undefined;
    this.lastRules = undefined;
    this.statusChanges.markAll();
    this.setState('stopped');
  }
}
