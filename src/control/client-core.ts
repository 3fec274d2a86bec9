// The state the control client (client.ts) shares between its roles: keys loaded or made, the
// pinned control key, the ts2021 connection (WebSocket + Noise + HTTP/2) and its requests, Hostinfo.
// ControlClient is one object whose methods live in files by role: client-core.ts (state, keys, the
// ts2021 session and its requests) <- client-map.ts (the map stream: loop, backoff, watchdog, key
// expiry) <- client-login.ts (register, login, resume, logout) <- client.ts (status, events, the
// preferred DERP region, close).
import { keyFromText, keyToText } from '../crypto/keys.js';
import { Backoff, CONTROL_BACKOFF_CAP_MS } from '../platform/backoff.js';
import {
  fromStoredKey,
  generateStaticX25519Key,
  isStoredKey,
  toStoredKey,
  type KeyCustody,
  type StaticX25519Key,
} from '../crypto/static-key.js';
import type { TimerHandle } from '../platform/clock.js';
import { withDeadline } from '../platform/deadline.js';
import { Http2Client, type Http2Response } from './h2/client.js';
import { fetchControlKey } from './key.js';
import { emptyNetworkMap, type NetworkMap } from './netmap.js';
import type { ControlState } from './storage.js';
import { CAPABILITY_VERSION, type Hostinfo } from './tailcfg.js';
import { dialControl, fmtSeconds } from './transport.js';
import { controlUrlProblem } from './urls.js';
import {
  type ControlClientState,
  type ControlClientOptions,
  type ControlTimeouts,
  type ControlClientStats,
  ControlError,
  DEFAULT_CONTROL_TIMEOUTS,
} from './client-types.js';

interface Session {
  h2: Http2Client;
  close(): void;
}

/** The state of a ControlClient shared by its roles, its keys and its ts2021 session to control. */
export abstract class ClientCore {
  state: ControlClientState = 'idle';
  netMap: NetworkMap = emptyNetworkMap();
  readonly stats: ControlClientStats = {
    applied: 0,
    keepAlives: 0,
    ignoredPatches: 0,
    unknownMapFields: 0,
    lastUnknownMapField: '',
    mapStreams: 0,
    reconnects: 0,
    streamErrors: 0,
    malformedMaps: 0,
    compressedMaps: 0,
    mapBytes: 0,
    mapDecodedBytes: 0,
    lastError: '',
  };
  protected st: ControlState | null = null;
  protected custody: KeyCustody = 'raw';
  protected machineKey: StaticX25519Key | null = null;
  protected nodeKeyObj: StaticX25519Key | null = null;
  protected controlKey: Uint8Array | null = null;
  protected session: Session | null = null;
  protected netMapCbs: ((nm: NetworkMap) => void)[] = [];
  protected stateCbs: ((s: ControlClientState, detail?: string) => void)[] = [];
  protected hostinfo: Hostinfo = {};
  protected preferredDerp = 0;
  protected running = false;
  protected readonly backoffs: Backoff;
  protected retryAt: number | undefined;
  protected readonly timeouts: ControlTimeouts;
  protected backoffTimer: TimerHandle | undefined;
  protected backoffWake: (() => void) | null = null;
  protected loop: Promise<void> | null = null;
  /** The map request in flight carries outdated Hostinfo: end its stream and send a new one. */
  protected restartStream = false;
  /** Ends the current map stream (RST_STREAM), keeping the connection. */
  protected cancelMapStream: (() => void) | null = null;
  protected log: (line: string) => void;
  /** The last map said our node key expired (Node.Expired). */
  protected selfExpired = false;
  protected expiryAt: string | undefined;
  protected expiryTimer: TimerHandle | undefined;
  /** A returning node's first map response, taken by login() in place of a register round trip; start() reads it. */
  protected firstMap: Http2Response | null = null;
  /** How many logins this client skipped register for (a returning visit), for tests and status. */
  resumedLogins = 0;

  constructor(protected readonly o: ControlClientOptions) {
    this.log = o.log ?? (() => {});
    this.timeouts = { ...DEFAULT_CONTROL_TIMEOUTS, ...o.timeouts };
    this.backoffs = new Backoff(o.backoffMaxMs ?? CONTROL_BACKOFF_CAP_MS, o.random, o.backoffBaseMs);
    const problem = controlUrlProblem(o.controlUrl);
    if (problem) throw new ControlError(problem);
  }

  protected setState(s: ControlClientState, detail?: string): void {
    if (this.state === s && !detail) return;
    this.state = s;
    for (const cb of this.stateCbs) {
      try {
        cb(s, detail);
      } catch {
        /* a listener's bug must not stop the client */
      }
    }
  }

  /**
   * Loads or creates keys. The machine key is created once and never replaced. Where the store
   * keeps CryptoKeys, keys are made non-extractable, and raw keys an older version stored are
   * imported into such keys and saved over (the raw bytes leave the record; the public keys, and
   * so this node's identity at control, stay the same).
   */
  protected async ensureState(): Promise<ControlState> {
    if (this.st) return this.st;
    const loaded = await this.o.store.load();
    this.custody = (await this.o.store.keyCustody?.()) ?? 'raw';
    const key = async (stored: unknown): Promise<StaticX25519Key | null> => {
      if (stored === undefined || stored === null || stored === '') return null;
      // A damaged key must not silently become a new machine (a new node at control).
      if (!isStoredKey(stored))
        throw new ControlError(
          'the stored machine or node key is damaged: sign out of this profile (or wipe it) to start as a new machine',
        );
      return (await fromStoredKey(stored, this.custody)).key;
    };
    const machine =
      (await key(loaded?.machinePrivateKey)) ?? (await generateStaticX25519Key(this.custody, this.o.random));
    const node = (await key(loaded?.nodePrivateKey)) ?? (await generateStaticX25519Key(this.custody, this.o.random));
    const old = await key(loaded?.oldNodePrivateKey);
    const st: ControlState = {
      ...(loaded ?? {}),
      machinePrivateKey: toStoredKey(machine),
      nodePrivateKey: toStoredKey(node),
    };
    if (old) st.oldNodePrivateKey = toStoredKey(old);
    else delete st.oldNodePrivateKey;
    this.machineKey = machine;
    this.nodeKeyObj = node;
    // The pinned key belongs to the server the profile used; the person pointing it elsewhere starts a new pin.
    if (st.controlUrl !== undefined && st.controlUrl !== this.o.controlUrl) st.controlPublicKey = undefined;
    st.controlUrl = this.o.controlUrl;
    await this.o.store.save(st);
    this.st = st;
    if (!this.preferredDerp && Number.isInteger(st.preferredDerp) && st.preferredDerp! > 0)
      this.preferredDerp = st.preferredDerp!;
    return st;
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
  protected async newNodeKey(st: ControlState): Promise<void> {
    this.nodeKeyObj = await generateStaticX25519Key(this.custody, this.o.random);
    st.nodePrivateKey = toStoredKey(this.nodeKeyObj);
  }

  /**
   * The control server's key, pinned in this profile on first use: a later key that differs is
   * refused with both fingerprints (someone answering /key in the server's place, or a server
   * reinstalled; only the person can tell, by signing out of the profile to accept a new one).
   */
  protected async getControlKey(): Promise<Uint8Array> {
    if (this.controlKey) return this.controlKey;
    let key: Uint8Array;
    if (this.o.controlKey) key = keyFromText('mkey', this.o.controlKey);
    else {
      const abort = typeof AbortController === 'function' ? new AbortController() : undefined;
      const ms = this.timeouts.keyMs;
      key = await withDeadline(
        fetchControlKey(this.o.controlUrl, CAPABILITY_VERSION, this.o.fetch, abort?.signal),
        ms,
        this.o.clock,
        () =>
          new ControlError(
            `the control server at ${new URL(this.o.controlUrl).origin} did not answer GET /key within ${fmtSeconds(ms)} (stage: /key fetch)`,
          ),
        () => abort?.abort(),
      );
    }
    const st = await this.ensureState();
    const seen = keyToText('mkey', key);
    if (st.controlPublicKey && st.controlPublicKey !== seen) {
      throw new ControlError(
        `the control server's key changed: this profile knows ${st.controlPublicKey}, the server now says ${seen}. Refusing to connect. If the server was really reinstalled, use a new profile (or wipe this one) to trust the new key.`,
      );
    }
    if (!st.controlPublicKey) {
      st.controlPublicKey = seen;
      await this.o.store.save(st);
    }
    this.controlKey = key;
    return key;
  }

  protected async getSession(): Promise<Session> {
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
        onClose: () => {
          if (this.session === s) this.session = null;
        },
        onGoAway: () => {
          if (this.session === s) this.session = null;
        },
      }),
      close: () => {
        try {
          s.h2.close();
        } catch {
          /* closing anyway */
        }
        conn.close();
      },
    };
    this.session = s;
    return s;
  }

  protected dropSession(why: string): void {
    const s = this.session;
    this.session = null;
    if (s) {
      this.log(`control: closing connection (${why})`);
      s.close();
    }
  }

  protected async post(path: string, body: unknown): Promise<Http2Response> {
    const s = await this.getSession();
    const host = new URL(this.o.controlUrl).host;
    try {
      return await s.h2.request({
        method: 'POST',
        path,
        authority: host,
        scheme: 'http',
        headers: [['content-type', 'application/json']],
        body: new TextEncoder().encode(JSON.stringify(body)),
      });
    } catch (e) {
      this.dropSession(`request failed: ${String(e)}`);
      throw e;
    }
  }

  protected buildHostinfo(hostname?: string): Hostinfo {
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
}
