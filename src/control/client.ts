// The Tailscale control client: register (pre-auth key or interactive AuthURL + Followup
// long-poll), the streaming map poll and logout, over ts2021 (WebSocket + Noise + HTTP/2).
// Follows tailscale control/controlclient/direct.go (doLogin, sendMapRequest) and what
// headscale hscontrol/noise.go + poll.go accept. States are explicit (ControlClientState).
import { toHex, fromHex } from '../crypto/bytes.js';
import { keyFromText, keyToText } from '../crypto/keys.js';
import type { RandomSource } from '../crypto/random.js';
import { generatePrivateKey, publicKeyOf } from '../crypto/x25519.js';
import type { Clock, TimerHandle } from '../platform/clock.js';
import { Http2Client, type Http2Response } from './h2/client.js';
import { fetchControlKey, type FetchLike } from './key.js';
import { MapStreamError, readMapStream, DEFAULT_MAX_MAP_MESSAGE } from './mapstream.js';
import { applyMapResponse, emptyNetworkMap, NetMapError, type NetMapStats, type NetworkMap } from './netmap.js';
import type { ControlState, ControlStore } from './storage.js';
import { CAPABILITY_VERSION, type Hostinfo, type MapRequest, type MapResponse, type RegisterRequest, type RegisterResponse } from './tailcfg.js';
import { dialControl } from './transport.js';
import type { WebSocketFactory } from '../platform/websocket.js';
import { controlUrlProblem, loginUrlProblem } from './urls.js';

export type ControlClientState =
  | 'idle' // nothing started
  | 'registering' // a /machine/register is in flight
  | 'needs-login' // control wants a person to open AuthURL (we long-poll meanwhile)
  | 'logged-in' // registered; no map stream yet
  | 'connecting' // dialling for the map stream
  | 'streaming' // map stream open and delivering
  | 'reconnecting' // waiting out the backoff after a failed stream; last map kept
  | 'key-expired' // node key expired: login() again
  | 'logged-out'
  | 'stopped';

export class ControlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlError';
  }
}

export interface ControlClientOptions {
  controlUrl: string;
  store: ControlStore;
  webSocketFactory: WebSocketFactory;
  clock: Clock;
  random: RandomSource;
  /** Our disco public key (the node owns it; control must see it non-zero or peers drop us). */
  discoPublicKey: Uint8Array;
  /** The control key given in configuration ("mkey:…"), skipping GET /key (CORS). */
  controlKey?: string;
  fetch?: FetchLike;
  log?: (line: string) => void;
  /** Wall-clock RFC 3339 time, for PeerSeenChange stamps only. */
  wallTime?: () => string;
  os?: string;
  ipnVersion?: string;
  maxMapMessage?: number;
  /** No map message for this long = dead stream (Headscale sends keepalives every ~60 s). */
  watchdogMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

export interface LoginOptions {
  authKey?: string;
  ephemeral?: boolean;
  hostname: string;
  onAuthUrl?: (url: string) => void;
}

export interface ControlClientStats extends NetMapStats {
  mapStreams: number;
  reconnects: number;
  streamErrors: number;
  malformedMaps: number;
  lastError: string;
}

const ZERO_NODE_KEY = keyToText('nodekey', new Uint8Array(32));
const ZERO_TIME = '0001-01-01T00:00:00Z';
/** A time in the past: RegisterRequest.Expiry before now asks control to expire the node key (logout). */
const PAST_TIME = '1970-01-01T00:02:03Z';

interface Session {
  h2: Http2Client;
  close(): void;
}

export class ControlClient {
  state: ControlClientState = 'idle';
  netMap: NetworkMap = emptyNetworkMap();
  readonly stats: ControlClientStats = {
    applied: 0, keepAlives: 0, ignoredPatches: 0, unknownMapFields: 0, lastUnknownMapField: '', mapStreams: 0, reconnects: 0, streamErrors: 0, malformedMaps: 0, lastError: '',
  };
  private st: ControlState | null = null;
  private controlKey: Uint8Array | null = null;
  private session: Session | null = null;
  private netMapCbs: ((nm: NetworkMap) => void)[] = [];
  private stateCbs: ((s: ControlClientState, detail?: string) => void)[] = [];
  private hostinfo: Hostinfo = {};
  private preferredDerp = 0;
  private running = false;
  private attempt = 0;
  private backoffTimer: TimerHandle | undefined;
  private backoffWake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  /** The map request in flight carries outdated Hostinfo: end its stream and send a new one. */
  private restartStream = false;
  /** Ends the current map stream (RST_STREAM), keeping the connection. */
  private cancelMapStream: (() => void) | null = null;
  private log: (line: string) => void;
  /** The last map said our node key expired (Node.Expired). */
  private selfExpired = false;
  private expiryAt: string | undefined;
  private expiryTimer: TimerHandle | undefined;

  constructor(private readonly o: ControlClientOptions) {
    this.log = o.log ?? (() => {});
    const problem = controlUrlProblem(o.controlUrl);
    if (problem) throw new ControlError(problem);
  }

  onNetMap(cb: (nm: NetworkMap) => void): void {
    this.netMapCbs.push(cb);
  }
  onState(cb: (s: ControlClientState, detail?: string) => void): void {
    this.stateCbs.push(cb);
  }

  private setState(s: ControlClientState, detail?: string): void {
    if (this.state === s && !detail) return;
    this.state = s;
    for (const cb of this.stateCbs) {
      try { cb(s, detail); } catch { /* a listener's bug must not stop the client */ }
    }
  }

  /** Loads or creates keys. The machine key is created once and never replaced. */
  private async ensureState(): Promise<ControlState> {
    if (this.st) return this.st;
    let st = await this.o.store.load();
    if (!st || !st.machinePrivateKey) {
      st = { ...(st ?? {}), machinePrivateKey: toHex(generatePrivateKey(this.o.random)) };
    }
    if (!st.nodePrivateKey) st.nodePrivateKey = toHex(generatePrivateKey(this.o.random));
    // The pinned key belongs to the server the profile used; the person pointing it elsewhere starts a new pin.
    if (st.controlUrl !== undefined && st.controlUrl !== this.o.controlUrl) st.controlPublicKey = undefined;
    st.controlUrl = this.o.controlUrl;
    await this.o.store.save(st);
    this.st = st;
    if (!this.preferredDerp && Number.isInteger(st.preferredDerp) && st.preferredDerp! > 0) this.preferredDerp = st.preferredDerp!;
    return st;
  }

  get machinePublicKey(): Uint8Array | null {
    return this.st ? publicKeyOf(fromHex(this.st.machinePrivateKey)) : null;
  }
  get nodePrivateKey(): Uint8Array {
    if (!this.st?.nodePrivateKey) throw new ControlError('no node key yet: call login() first');
    return fromHex(this.st.nodePrivateKey);
  }
  get nodePublicKey(): Uint8Array {
    return publicKeyOf(this.nodePrivateKey);
  }
  /** The disco key we announce in map requests. */
  get discoPublicKey(): Uint8Array {
    return this.o.discoPublicKey;
  }
  get loggedIn(): boolean {
    return !!this.st?.loggedIn;
  }

  /** The home DERP region we report: set this run, or remembered from the last one (0: none yet). */
  get preferredDerpRegion(): number {
    return this.preferredDerp;
  }

  /** Reported as Hostinfo.NetInfo.PreferredDERP; re-sent on the next map request, remembered for the next run. */
  setPreferredDerp(regionId: number): void {
    if (regionId === this.preferredDerp) return;
    this.preferredDerp = regionId;
    if (this.st && this.st.preferredDerp !== regionId) {
      this.st.preferredDerp = regionId;
      void this.o.store.save(this.st).catch((e) => this.log(`control: saving state: ${String(e)}`));
    }
    // A new map request carries it: restart the stream (as tailscaled does on Hostinfo changes),
    // as a new HTTP/2 stream on the connection already open, the old one reset. Not by dropping
    // the connection: that went through 'reconnecting' and a backoff, and left no connection for
    // a logout meanwhile — a kiosk tab closed then has no time to dial a new one (its Worker goes
    // with the page), so the ephemeral node stayed at control.
    if (this.running) {
      this.restartStream = true;
      this.cancelMapStream?.();
    }
  }

  /**
   * The control server's key, pinned in this profile on first use: a later key that differs is
   * refused with both fingerprints (someone answering /key in the server's place, or a server
   * reinstalled; only the person can tell, by signing out of the profile to accept a new one).
   */
  private async getControlKey(): Promise<Uint8Array> {
    if (this.controlKey) return this.controlKey;
    const key = this.o.controlKey
      ? keyFromText('mkey', this.o.controlKey)
      : await fetchControlKey(this.o.controlUrl, CAPABILITY_VERSION, this.o.fetch);
    const st = await this.ensureState();
    const seen = keyToText('mkey', key);
    if (st.controlPublicKey && st.controlPublicKey !== seen) {
      throw new ControlError(`the control server's key changed: this profile knows ${st.controlPublicKey}, the server now says ${seen}. Refusing to connect. If the server was really reinstalled, use a new profile (or wipe this one) to trust the new key.`);
    }
    if (!st.controlPublicKey) {
      st.controlPublicKey = seen;
      await this.o.store.save(st);
    }
    this.controlKey = key;
    return key;
  }

  private async getSession(): Promise<Session> {
    if (this.session) return this.session;
    const st = await this.ensureState();
    const conn = await dialControl({
      controlUrl: this.o.controlUrl,
      controlPublicKey: await this.getControlKey(),
      machinePrivateKey: fromHex(st.machinePrivateKey),
      protocolVersion: CAPABILITY_VERSION,
      webSocketFactory: this.o.webSocketFactory,
      random: this.o.random,
      clock: this.o.clock,
    });
    const s: Session = {
      h2: new Http2Client(conn, {
        clock: this.o.clock,
        onClose: () => { if (this.session === s) this.session = null; },
        onGoAway: () => { if (this.session === s) this.session = null; },
      }),
      close: () => { try { s.h2.close(); } catch { /* closing anyway */ } conn.close(); },
    };
    this.session = s;
    return s;
  }

  private dropSession(why: string): void {
    const s = this.session;
    this.session = null;
    if (s) {
      this.log(`control: closing connection (${why})`);
      s.close();
    }
  }

  private async post(path: string, body: unknown): Promise<Http2Response> {
    const s = await this.getSession();
    const host = new URL(this.o.controlUrl).host;
    try {
      return await s.h2.request({
        method: 'POST', path, authority: host, scheme: 'http',
        headers: [['content-type', 'application/json']],
        body: new TextEncoder().encode(JSON.stringify(body)),
      });
    } catch (e) {
      this.dropSession(`request failed: ${String(e)}`);
      throw e;
    }
  }

  private buildHostinfo(hostname?: string): Hostinfo {
    if (hostname) this.hostinfo.Hostname = hostname;
    return {
      IPNVersion: this.o.ipnVersion ?? 'tailtab-0.1.0',
      OS: this.o.os ?? 'js',
      Hostname: this.hostinfo.Hostname,
      NoLogsNoSupport: true,
      Userspace: true,
      // No NetInfo until we know a home region: Headscale replaces the NetInfo it holds with the one
      // a map request carries (hscontrol poll.go keeps the old one only when none is sent), and
      // PreferredDERP 0 would tell every peer we have no relay, so a returning node's first
      // WireGuard handshake went unanswered until the 5 s retry. tailscaled likewise sends NetInfo
      // only once netcheck has a result.
      ...(this.preferredDerp > 0 ? { NetInfo: { PreferredDERP: this.preferredDerp } } : {}),
    };
  }

  private async register(req: RegisterRequest): Promise<RegisterResponse> {
    const res = await this.post('/machine/register', req);
    const text = await res.text();
    if (res.status !== 200) throw new ControlError(`register: HTTP ${res.status}: ${text.slice(0, 200)}`);
    let rr: RegisterResponse;
    try { rr = JSON.parse(text); } catch { throw new ControlError('register: answer is not JSON'); }
    if (rr.Error) throw new ControlError(`control refused the login: ${rr.Error}`);
    return rr;
  }

  /**
   * Registers our node key. With authKey: a pre-auth key login. Without: first tries the stored
   * login (same machine + node key = no re-auth), else reports AuthURL via onAuthUrl and waits
   * (Followup long-poll) until a person approves it.
   */
  async login(o: LoginOptions): Promise<RegisterResponse> {
    const st = await this.ensureState();
    if (st.nodeKeyExpired) {
      // direct.go doLogin: an expired key is never re-sent; a new one is registered with the old
      // one as OldNodeKey, so control keeps the same node (addresses, name) for this machine.
      await this.rotateNodeKey();
    }
    this.setState('registering');
    const oldKey = st.oldNodePrivateKey ? keyToText('nodekey', publicKeyOf(fromHex(st.oldNodePrivateKey))) : ZERO_NODE_KEY;
    const base: RegisterRequest = {
      Version: CAPABILITY_VERSION,
      NodeKey: keyToText('nodekey', this.nodePublicKey),
      OldNodeKey: oldKey,
      Expiry: ZERO_TIME,
      Hostinfo: this.buildHostinfo(o.hostname),
      Ephemeral: !!o.ephemeral,
      Auth: o.authKey ? { AuthKey: o.authKey } : null,
    };
    try {
      let rr = await this.register(base);
      if (rr.NodeKeyExpired) {
        await this.rotateNodeKey();
        this.setState('key-expired', 'node key expired: log in again');
        throw new ControlError('the node key has expired; log in again');
      }
      let followups = 0;
      while (!rr.MachineAuthorized && rr.AuthURL) {
        const bad = loginUrlProblem(rr.AuthURL);
        if (bad) throw new ControlError(`control sent a login link we will not show: ${bad}`);
        this.setState('needs-login', rr.AuthURL);
        if (followups === 0) o.onAuthUrl?.(rr.AuthURL);
        followups++;
        // The followup blocks at control until approved (or its own timeout: then ask again).
        rr = await this.register({ ...base, Auth: null, Followup: rr.AuthURL });
      }
      if (!rr.MachineAuthorized) throw new ControlError('control did not authorize this machine (no AuthURL either)');
      st.loggedIn = true;
      st.oldNodePrivateKey = undefined;
      st.nodeKeyExpired = undefined;
      st.nodeKeyExpiry = undefined;
      this.selfExpired = false;
      st.loginName = rr.Login?.LoginName ?? st.loginName;
      await this.o.store.save(st);
      this.setState('logged-in');
      return rr;
    } catch (e) {
      if (this.state === 'registering' || this.state === 'needs-login') this.setState('idle', String(e));
      throw e;
    }
  }

  private async rotateNodeKey(): Promise<void> {
    const st = await this.ensureState();
    // Keep the first old key across repeated attempts: that is the one control knows.
    st.oldNodePrivateKey = st.oldNodePrivateKey ?? st.nodePrivateKey;
    st.nodeKeyExpired = undefined;
    st.nodePrivateKey = toHex(generatePrivateKey(this.o.random));
    st.loggedIn = false;
    await this.o.store.save(st);
  }

  /** Expires our node key at control and forgets the login (the machine key stays). */
  async logout(): Promise<void> {
    const st = await this.ensureState();
    const req: RegisterRequest = {
      Version: CAPABILITY_VERSION,
      NodeKey: keyToText('nodekey', this.nodePublicKey),
      OldNodeKey: ZERO_NODE_KEY,
      Expiry: PAST_TIME,
      Hostinfo: this.buildHostinfo(),
      Auth: null,
    };
    // Say it on the connection that is already open: one request, no new WebSocket or Noise
    // handshake. A kiosk tab being closed leaves its Worker only moments; the request must be on
    // the wire before the Worker goes, or control keeps the node until its inactivity timeout.
    let done = false;
    if (this.session) {
      try {
        await this.register(req);
        done = true;
      } catch {
        /* the open connection failed: retried below on a fresh one */
      }
    }
    await this.stopLoop();
    try {
      if (!done) await this.register(req);
    } finally {
      st.loggedIn = false;
      st.nodePrivateKey = toHex(generatePrivateKey(this.o.random));
      await this.o.store.save(st);
      this.dropSession('logged out');
      this.netMap = emptyNetworkMap();
      this.setState('logged-out');
    }
  }

  /** Starts the map stream loop (after login). Reconnects with backoff; the last map is kept. */
  start(): void {
    if (this.running) return;
    if (!this.st?.loggedIn) throw new ControlError('start(): not logged in');
    this.running = true;
    this.loop = this.runLoop();
  }

  private async runLoop(): Promise<void> {
    while (this.running) {
      try {
        await this.mapOnce();
        if (!this.running) break;
        if (this.takeRestart()) continue;
        throw new ControlError('map stream ended');
      } catch (e) {
        if (!this.running) break;
        // Ended on purpose for a newer map request: send it at once, on the same connection.
        if (this.takeRestart()) continue;
        this.stats.streamErrors++;
        if (e instanceof MapStreamError || e instanceof NetMapError) this.stats.malformedMaps++;
        this.stats.lastError = e instanceof Error ? e.message : String(e);
        this.log(`control: map stream failed: ${this.stats.lastError}`);
        this.dropSession('map stream failed');
        if (this.state === 'key-expired') { this.running = false; break; }
        this.setState('reconnecting', this.stats.lastError);
        await this.backoff();
        this.stats.reconnects++;
      }
    }
  }

  private takeRestart(): boolean {
    const r = this.restartStream;
    this.restartStream = false;
    return r;
  }

  private backoff(): Promise<void> {
    const base = this.o.backoffBaseMs ?? 1000;
    const max = this.o.backoffMaxMs ?? 30_000;
    const exp = Math.min(max, base * 2 ** Math.min(this.attempt, 16));
    this.attempt++;
    // Full jitter in [exp/2, exp): many nodes restarting together do not stampede control.
    const r = this.o.random(2);
    const frac = ((r[0] << 8) | r[1]) / 65536;
    const ms = exp / 2 + (exp / 2) * frac;
    return new Promise((resolve) => {
      this.backoffWake = resolve;
      this.backoffTimer = this.o.clock.setTimeout(() => { this.backoffWake = null; resolve(); }, ms);
    });
  }

  private async mapOnce(): Promise<void> {
    this.setState('connecting');
    // This request carries the Hostinfo of now: only later changes need another one.
    this.restartStream = false;
    const req: MapRequest = {
      Version: CAPABILITY_VERSION,
      Compress: '',
      KeepAlive: true,
      NodeKey: keyToText('nodekey', this.nodePublicKey),
      DiscoKey: keyToText('discokey', this.o.discoPublicKey),
      Stream: true,
      Hostinfo: this.buildHostinfo(),
      Endpoints: [],
    };
    const res = await this.post('/machine/map', req);
    if (res.status !== 200) {
      const t = await res.text().catch(() => '');
      if (res.status === 401 || res.status === 403) {
        // Headscale answers so for unknown/expired node keys.
        this.st!.loggedIn = false;
        await this.o.store.save(this.st!);
        this.setState('key-expired', `control rejected the node key: HTTP ${res.status} ${t.slice(0, 100)}`);
        this.running = false;
      }
      throw new ControlError(`map: HTTP ${res.status}: ${t.slice(0, 200)}`);
    }
    this.stats.mapStreams++;
    let first = true;
    let watchdog: TimerHandle | undefined;
    const wd = this.o.watchdogMs ?? 120_000;
    // The body through a reader we hold, so the stream can be ended while readMapStream has it
    // locked: cancelling that reader resets the HTTP/2 stream and ends the body cleanly.
    const raw = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      pull: async (c) => {
        const { value, done } = await raw.read();
        if (done) c.close();
        else c.enqueue(value);
      },
      cancel: (why) => raw.cancel(why),
    }, { highWaterMark: 0 });
    const cancelThis = () => { raw.cancel(new ControlError('map stream restarted')).catch(() => {}); };
    this.cancelMapStream = cancelThis;
    if (this.restartStream) cancelThis(); // changed while the request was on its way
    let watchdogFired = false;
    const arm = () => {
      this.o.clock.clearTimeout(watchdog);
      watchdog = this.o.clock.setTimeout(() => {
        watchdogFired = true;
        this.log(`control: no map message for ${wd} ms`);
        // The reader we hold, not `body`: readMapStream has `body` locked, and cancelling a locked
        // stream is refused (a rejected promise, nothing reset).
        raw.cancel(new ControlError('map stream watchdog')).catch(() => {});
        this.dropSession('watchdog');
      }, wd);
    };
    arm();
    try {
      for await (const msg of readMapStream(body, this.o.maxMapMessage ?? DEFAULT_MAX_MAP_MESSAGE)) {
        if (!this.running) break;
        arm();
        this.applyMessage(msg, first);
        if (first && !isKeepAliveOnly(msg)) {
          first = false;
          this.attempt = 0;
          if (!this.selfExpired) this.setState('streaming');
        }
      }
    } catch (e) {
      // Whatever the cancelled stream reports, say why we cut it.
      if (watchdogFired) throw new ControlError(`no map message for ${wd} ms: the stream is dead`);
      throw e;
    } finally {
      this.o.clock.clearTimeout(watchdog);
      if (this.cancelMapStream === cancelThis) this.cancelMapStream = null;
    }
    if (watchdogFired) throw new ControlError(`no map message for ${wd} ms: the stream is dead`);
  }

  private applyMessage(msg: MapResponse, firstOfStream: boolean): void {
    // A new stream starts a new map session (map.go): its first full map replaces, not patches.
    const base = firstOfStream && !isKeepAliveOnly(msg) ? { ...emptyNetworkMap(), seq: this.netMap.seq } : this.netMap;
    const now = this.o.wallTime ? this.o.wallTime() : new Date(0).toISOString();
    this.netMap = applyMapResponse(base, msg, now, this.stats);
    if (isKeepAliveOnly(msg)) return;
    const self = this.netMap.self;
    if (self) {
      if (!!self.Expired !== this.selfExpired) {
        if (self.Expired) this.markSelfExpired(self.KeyExpiry ?? undefined);
        else {
          // Control extended or re-enabled the key (or our timer ran ahead of control's clock).
          this.selfExpired = false;
          if (this.st?.nodeKeyExpired) {
            this.st.loggedIn = true;
            this.st.nodeKeyExpired = undefined;
            this.st.nodeKeyExpiry = undefined;
            void this.o.store.save(this.st).catch((e) => this.log(`control: saving state: ${String(e)}`));
          }
          if (this.state === 'key-expired') this.setState('streaming');
        }
      }
      this.scheduleExpiry(self.Expired ? undefined : self.KeyExpiry ?? undefined);
    }
    for (const cb of this.netMapCbs) {
      try { cb(this.netMap); } catch (e) { this.log(`control: netmap listener threw: ${String(e)}`); }
    }
  }

  /**
   * Our node key has expired: the stream may go on (control still sends maps), but the node cannot
   * talk to peers until a person logs in again; remember it so a restarted app asks for a login too.
   */
  private markSelfExpired(expiry: string | undefined): void {
    if (this.selfExpired) return;
    this.selfExpired = true;
    this.scheduleExpiry(undefined);
    if (this.st) {
      this.st.loggedIn = false;
      this.st.nodeKeyExpired = true;
      this.st.nodeKeyExpiry = expiry;
      void this.o.store.save(this.st).catch((e) => this.log(`control: saving state: ${String(e)}`));
    }
    this.setState('key-expired', `the node key expired${expiry ? ` at ${expiry}` : ''}: log in again`);
  }

  /**
   * Like tailscaled (ipnlocal keyExpired timer), notice the expiry when its time comes even if
   * control sends nothing then. Needs wallTime; timers are re-armed in steps below the 2^31 ms
   * setTimeout limit, as keys typically live 180 days.
   */
  private scheduleExpiry(expiry: string | undefined): void {
    if (expiry === this.expiryAt) return;
    this.expiryAt = expiry;
    this.o.clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (!expiry || !this.o.wallTime) return;
    const at = Date.parse(expiry);
    if (!Number.isFinite(at) || at <= 0) return; // Go's zero time: the key never expires
    const arm = () => {
      const left = at - Date.parse(this.o.wallTime!());
      if (!Number.isFinite(left)) return;
      if (left <= 0) {
        this.expiryTimer = undefined;
        this.markSelfExpired(expiry);
        return;
      }
      this.expiryTimer = this.o.clock.setTimeout(arm, Math.min(left, 2 ** 31 - 1));
    };
    const left = at - Date.parse(this.o.wallTime());
    // Already past when control sent it: trust control's Expired flag, not our possibly skewed clock.
    if (left > 0) this.expiryTimer = this.o.clock.setTimeout(arm, Math.min(left, 2 ** 31 - 1));
  }

  private async stopLoop(): Promise<void> {
    this.scheduleExpiry(undefined);
    this.running = false;
    this.o.clock.clearTimeout(this.backoffTimer);
    this.backoffWake?.();
    this.backoffWake = null;
    this.dropSession('stopping');
    await this.loop?.catch(() => {});
    this.loop = null;
  }

  async close(): Promise<void> {
    await this.stopLoop();
    this.setState('stopped');
  }
}

function isKeepAliveOnly(m: MapResponse): boolean {
  return !!m.KeepAlive && Object.keys(m).every((k) => k === 'KeepAlive' || k === 'ControlTime');
}
