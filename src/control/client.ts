// The Tailscale control client: register (pre-auth key or interactive AuthURL + Followup
// long-poll), the streaming map poll and logout, over ts2021 (WebSocket + Noise + HTTP/2).
// Follows tailscale control/controlclient/direct.go (doLogin, sendMapRequest) and what
// headscale hscontrol/noise.go + poll.go accept. States are explicit (ControlClientState).
import { keyFromText, keyToText } from '../crypto/keys.js';
import type { RandomSource } from '../crypto/random.js';
import { Backoff, CONTROL_BACKOFF_CAP_MS } from '../platform/backoff.js';
import {
  fromStoredKey, generateStaticX25519Key, isStoredKey, storedPublicKey, toStoredKey, type KeyCustody, type StaticX25519Key,
} from '../crypto/static-key.js';
import type { Clock, TimerHandle } from '../platform/clock.js';
import { withDeadline } from '../platform/deadline.js';
import { Http2Client, type Http2Response } from './h2/client.js';
import { fetchControlKey, type FetchLike } from './key.js';
import { MapStreamError, readMapStream, DEFAULT_MAX_MAP_MESSAGE, type MapStreamStats } from './mapstream.js';
import { applyMapResponse, emptyNetworkMap, NetMapError, type NetMapStats, type NetworkMap } from './netmap.js';
import type { ControlState, ControlStore } from './storage.js';
import { CAPABILITY_VERSION, type Hostinfo, type MapRequest, type MapResponse, type RegisterRequest, type RegisterResponse } from './tailcfg.js';
import { dialControl, fmtSeconds } from './transport.js';
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
  /** Ask control to zstd-compress map messages, as tailscaled does (default 'zstd'). */
  mapCompression?: 'zstd' | 'none';
  /** No map message for this long = dead stream (Headscale sends keepalives every ~60 s). */
  watchdogMs?: number;
  /** The reconnect curve's unit (default 10 ms: n²·10 ms after the n-th failure, tailscale util/backoff). */
  backoffBaseMs?: number;
  /** The reconnect backoff's cap (default 30 s, as tailscaled's mapRoutine in controlclient/auto.go). */
  backoffMaxMs?: number;
  /** Deadlines of each stage of reaching control (ms); a stage that overruns fails with its name. */
  timeouts?: Partial<ControlTimeouts>;
}

/** How long each stage of reaching control may take before it fails with an error naming it. */
export interface ControlTimeouts {
  /** GET /key (the server's Noise key). */
  keyMs: number;
  /** The WebSocket upgrade on /ts2021. */
  openMs: number;
  /** The server's Noise handshake response after the WebSocket opened. */
  handshakeMs: number;
  /** POST /machine/register: the whole answer (not the Followup long-poll, which waits for a person). */
  registerMs: number;
  /** POST /machine/map: the response head (the stream itself has the watchdog). */
  mapHeadMs: number;
}

export const DEFAULT_CONTROL_TIMEOUTS: ControlTimeouts = {
  keyMs: 15_000, openMs: 15_000, handshakeMs: 15_000, registerMs: 30_000, mapHeadMs: 30_000,
};

/** What the status view shows about control: the state, why it is down and when the next try is. */
export interface ControlStatus {
  state: ControlClientState;
  lastError?: string;
  /** While waiting to reconnect: milliseconds until the next attempt. */
  retryInMs?: number;
  /** Consecutive failed map streams (0 once one delivered a map). */
  failures: number;
}

export interface LoginOptions {
  authKey?: string;
  ephemeral?: boolean;
  hostname: string;
  onAuthUrl?: (url: string) => void;
  /** Register even when the stored login looks usable (default: a returning node skips it). */
  forceRegister?: boolean;
}

export interface ControlClientStats extends NetMapStats {
  mapStreams: number;
  reconnects: number;
  streamErrors: number;
  malformedMaps: number;
  /** Map messages that came zstd-compressed and were decoded; their compressed and decoded bytes. */
  compressedMaps: number;
  mapBytes: number;
  mapDecodedBytes: number;
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
    applied: 0, keepAlives: 0, ignoredPatches: 0, unknownMapFields: 0, lastUnknownMapField: '', mapStreams: 0, reconnects: 0, streamErrors: 0, malformedMaps: 0, compressedMaps: 0, mapBytes: 0, mapDecodedBytes: 0, lastError: '',
  };
  private st: ControlState | null = null;
  private custody: KeyCustody = 'raw';
  private machineKey: StaticX25519Key | null = null;
  private nodeKeyObj: StaticX25519Key | null = null;
  private controlKey: Uint8Array | null = null;
  private session: Session | null = null;
  private netMapCbs: ((nm: NetworkMap) => void)[] = [];
  private stateCbs: ((s: ControlClientState, detail?: string) => void)[] = [];
  private hostinfo: Hostinfo = {};
  private preferredDerp = 0;
  private running = false;
  private readonly backoffs: Backoff;
  private retryAt: number | undefined;
  private readonly timeouts: ControlTimeouts;
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
  /** A returning node's first map response, taken by login() in place of a register round trip; start() reads it. */
  private firstMap: Http2Response | null = null;
  /** How many logins this client skipped register for (a returning visit), for tests and status. */
  resumedLogins = 0;

  constructor(private readonly o: ControlClientOptions) {
    this.log = o.log ?? (() => {});
    this.timeouts = { ...DEFAULT_CONTROL_TIMEOUTS, ...o.timeouts };
    this.backoffs = new Backoff(o.backoffMaxMs ?? CONTROL_BACKOFF_CAP_MS, o.random, o.backoffBaseMs);
    const problem = controlUrlProblem(o.controlUrl);
    if (problem) throw new ControlError(problem);
  }

  /** The state, the last error and when the next attempt comes (for the status view). */
  status(): ControlStatus {
    const waiting = this.state === 'reconnecting' && this.retryAt !== undefined;
    return {
      state: this.state,
      // The error that took the stream down, until a new stream delivers.
      ...(this.stats.lastError && this.state !== 'streaming' ? { lastError: this.stats.lastError } : {}),
      ...(waiting ? { retryInMs: Math.max(0, this.retryAt! - this.o.clock.now()) } : {}),
      failures: this.backoffs.failures,
    };
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

  /**
   * Loads or creates keys. The machine key is created once and never replaced. Where the store
   * keeps CryptoKeys, keys are made non-extractable, and raw keys an older version stored are
   * imported into such keys and saved over (the raw bytes leave the record; the public keys, and
   * so this node's identity at control, stay the same).
   */
  private async ensureState(): Promise<ControlState> {
    if (this.st) return this.st;
    const loaded = await this.o.store.load();
    this.custody = (await this.o.store.keyCustody?.()) ?? 'raw';
    const key = async (stored: unknown): Promise<StaticX25519Key | null> => {
      if (stored === undefined || stored === null || stored === '') return null;
      // A damaged key must not silently become a new machine (a new node at control).
      if (!isStoredKey(stored)) throw new ControlError('the stored machine or node key is damaged: sign out of this profile (or wipe it) to start as a new machine');
      return (await fromStoredKey(stored, this.custody)).key;
    };
    const machine = (await key(loaded?.machinePrivateKey)) ?? (await generateStaticX25519Key(this.custody, this.o.random));
    const node = (await key(loaded?.nodePrivateKey)) ?? (await generateStaticX25519Key(this.custody, this.o.random));
    const old = await key(loaded?.oldNodePrivateKey);
    const st: ControlState = { ...(loaded ?? {}), machinePrivateKey: toStoredKey(machine), nodePrivateKey: toStoredKey(node) };
    if (old) st.oldNodePrivateKey = toStoredKey(old);
    else delete st.oldNodePrivateKey;
    this.machineKey = machine;
    this.nodeKeyObj = node;
    // The pinned key belongs to the server the profile used; the person pointing it elsewhere starts a new pin.
    if (st.controlUrl !== undefined && st.controlUrl !== this.o.controlUrl) st.controlPublicKey = undefined;
    st.controlUrl = this.o.controlUrl;
    await this.o.store.save(st);
    this.st = st;
    if (!this.preferredDerp && Number.isInteger(st.preferredDerp) && st.preferredDerp! > 0) this.preferredDerp = st.preferredDerp!;
    return st;
  }

  get machinePublicKey(): Uint8Array | null {
    return this.machineKey ? this.machineKey.publicKey.slice() : null;
  }
  /** The node key (WireGuard static, DERP): a non-extractable WebCrypto key or raw bytes behind one interface. */
  get nodeKey(): StaticX25519Key {
    if (!this.nodeKeyObj) throw new ControlError('no node key yet: call login() first');
    return this.nodeKeyObj;
  }
  get nodePublicKey(): Uint8Array {
    return this.nodeKey.publicKey.slice();
  }

  /** A new node key in the store's custody, made current (rotation, logout). */
  private async newNodeKey(st: ControlState): Promise<void> {
    this.nodeKeyObj = await generateStaticX25519Key(this.custody, this.o.random);
    st.nodePrivateKey = toStoredKey(this.nodeKeyObj);
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
    let key: Uint8Array;
    if (this.o.controlKey) key = keyFromText('mkey', this.o.controlKey);
    else {
      const abort = typeof AbortController === 'function' ? new AbortController() : undefined;
      const ms = this.timeouts.keyMs;
      key = await withDeadline(fetchControlKey(this.o.controlUrl, CAPABILITY_VERSION, this.o.fetch, abort?.signal), ms, this.o.clock,
        () => new ControlError(`the control server at ${new URL(this.o.controlUrl).origin} did not answer GET /key within ${fmtSeconds(ms)} (stage: /key fetch)`),
        () => abort?.abort());
    }
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
      machineKey: this.machineKey!,
      protocolVersion: CAPABILITY_VERSION,
      webSocketFactory: this.o.webSocketFactory,
      random: this.o.random,
      clock: this.o.clock,
      openTimeoutMs: this.timeouts.openMs,
      handshakeTimeoutMs: this.timeouts.handshakeMs,
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
      // Lets other tailtab nodes (and people reading the admin console) tell a browser node, which
      // serves no SSH, files or web, from a machine that does (tsconnect says "tsconnect" here).
      App: 'tailtab',
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
    let status: number, text: string;
    if (req.Followup) {
      // Blocks at control until a person approves the login: no deadline (the view shows the link).
      const res = await this.post('/machine/register', req);
      status = res.status;
      text = await res.text();
    } else {
      await this.getSession(); // its stages (/key, WebSocket, Noise) have deadlines of their own
      const ms = this.timeouts.registerMs;
      ({ status, text } = await withDeadline((async () => {
        const res = await this.post('/machine/register', req);
        return { status: res.status, text: await res.text() };
      })(), ms, this.o.clock,
      () => new ControlError(`control accepted the connection but did not answer POST /machine/register within ${fmtSeconds(ms)} (stage: register)`),
      () => this.dropSession('register timed out')));
    }
    const res = { status };
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
    if (st.loggedIn && !st.nodeKeyExpired && !o.forceRegister) {
      const resumed = await this.resume(o);
      if (resumed) return resumed;
    }
    if (st.nodeKeyExpired) {
      // direct.go doLogin: an expired key is never re-sent; a new one is registered with the old
      // one as OldNodeKey, so control keeps the same node (addresses, name) for this machine.
      await this.rotateNodeKey();
    }
    this.setState('registering');
    const oldKey = st.oldNodePrivateKey ? keyToText('nodekey', storedPublicKey(st.oldNodePrivateKey)) : ZERO_NODE_KEY;
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

  /**
   * A returning node (stored login, same machine and node key): no /machine/register, the map
   * request goes out at once on the new connection, as tailscaled does when it starts with a
   * persisted, unexpired login (controlclient: the map poll runs without a new doLogin). Register
   * told us nothing new there: control authorizes the same keys again. Resolves once control
   * accepted the map request (its response is kept for start()); null when control no longer knows
   * the key (HTTP 4xx: deleted, expired, logged out elsewhere), and login() then registers as for a
   * new node. The control key is still checked against the pinned one (getSession).
   */
  private async resume(o: LoginOptions): Promise<RegisterResponse | null> {
    this.setState('registering');
    let res: Http2Response;
    try {
      res = await this.postMap(this.mapRequest(o.hostname));
    } catch (e) {
      this.setState('idle', String(e));
      throw e;
    }
    if (res.status === 200) {
      this.firstMap = res;
      this.resumedLogins++;
      this.selfExpired = false;
      this.setState('logged-in');
      return { MachineAuthorized: true, Login: this.st?.loginName ? { LoginName: this.st.loginName } as RegisterResponse['Login'] : undefined };
    }
    const t = await res.text().catch(() => '');
    if (res.status >= 400 && res.status < 500) {
      this.log(`control: the stored login was not accepted (HTTP ${res.status} ${t.slice(0, 100)}): registering again`);
      return null;
    }
    this.setState('idle', `map: HTTP ${res.status}`);
    throw new ControlError(`map: HTTP ${res.status}: ${t.slice(0, 200)}`);
  }

  private async rotateNodeKey(): Promise<void> {
    const st = await this.ensureState();
    // Keep the first old key across repeated attempts: that is the one control knows.
    st.oldNodePrivateKey = st.oldNodePrivateKey ?? st.nodePrivateKey;
    st.nodeKeyExpired = undefined;
    await this.newNodeKey(st);
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
      await this.newNodeKey(st);
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

  /** Waits n²·step ms (×0.5–1.5) after the n-th consecutive failure, capped (platform/backoff.ts). */
  private backoff(): Promise<void> {
    const ms = this.backoffs.fail();
    this.retryAt = this.o.clock.now() + ms;
    this.log(`control: next try in ${fmtSeconds(Math.round(ms / 100) * 100)}`);
    return new Promise((resolve) => {
      this.backoffWake = resolve;
      this.backoffTimer = this.o.clock.setTimeout(() => { this.backoffWake = null; this.retryAt = undefined; resolve(); }, ms);
    });
  }

  private mapRequest(hostname?: string): MapRequest {
    return {
      Version: CAPABILITY_VERSION,
      Compress: this.o.mapCompression === 'none' ? '' : 'zstd',
      KeepAlive: true,
      NodeKey: keyToText('nodekey', this.nodePublicKey),
      DiscoKey: keyToText('discokey', this.o.discoPublicKey),
      Stream: true,
      Hostinfo: this.buildHostinfo(hostname),
      Endpoints: [],
    };
  }

  /** The map request with the stage's deadline: no response head in time is an error naming it. */
  private async postMap(req: MapRequest): Promise<Http2Response> {
    await this.getSession(); // its stages (/key, WebSocket, Noise) have deadlines of their own
    const headMs = this.timeouts.mapHeadMs;
    return withDeadline(this.post('/machine/map', req), headMs, this.o.clock,
      () => new ControlError(`control did not answer the map request (POST /machine/map) within ${fmtSeconds(headMs)} (stage: map response head)`),
      () => this.dropSession('map request timed out'));
  }

  private async mapOnce(): Promise<void> {
    // The response login() already has (a returning node), else a new request.
    const early = this.firstMap;
    this.firstMap = null;
    this.setState('connecting');
    // This request carries the Hostinfo of now: only later changes need another one.
    if (!early) this.restartStream = false;
    const res = early ?? await this.postMap(this.mapRequest());
    if (res.status !== 200) {
      const t = await res.text().catch(() => '');
      if (res.status === 401 || res.status === 403 || res.status === 404) {
        // Headscale answers 401/403 for unknown/expired node keys and 404 "node not found" once the
        // machine was deleted there (v0.29.2; measured in e2e/faults.test.ts). Retrying cannot help
        // (tailscaled does retry, and shows nothing): the person has to log in again, so say so.
        this.st!.loggedIn = false;
        await this.o.store.save(this.st!);
        const why = `control refused this machine's map request: its node key is unknown or expired there, or the machine was removed. Log in again. (HTTP ${res.status}${t.trim() ? `: ${t.trim().slice(0, 100)}` : ''})`;
        this.stats.lastError = why;
        this.setState('key-expired', why);
        this.running = false;
        throw new ControlError(why);
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
      let streamStats: MapStreamStats | undefined;
      let counted = { compressed: 0, bytes: 0, decodedBytes: 0 };
      const mapOpts = { maxMessage: this.o.maxMapMessage ?? DEFAULT_MAX_MAP_MESSAGE, zstd: this.o.mapCompression !== 'none' };
      for await (const msg of readMapStream(body, mapOpts, (s) => (streamStats = s))) {
        if (streamStats) {
          this.stats.compressedMaps += streamStats.compressed - counted.compressed;
          this.stats.mapBytes += streamStats.bytes - counted.bytes;
          this.stats.mapDecodedBytes += streamStats.decodedBytes - counted.decodedBytes;
          counted = { compressed: streamStats.compressed, bytes: streamStats.bytes, decodedBytes: streamStats.decodedBytes };
        }
        if (!this.running) break;
        arm();
        this.applyMessage(msg, first);
        if (first && !isKeepAliveOnly(msg)) {
          first = false;
          this.backoffs.reset();
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
    this.firstMap?.body.cancel().catch(() => {});
    this.firstMap = null;
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
