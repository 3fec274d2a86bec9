// One DERP region connection over WebSocket: protocol v2 (tailscale/tailscale derp/derp.go,
// derp/derp_client.go, derp/derphttp/derphttp_client.go). Explicit states:
//   idle → connecting (socket opening) → awaitingServerKey → awaitingServerInfo → connected
//   any error → backoff → connecting …;  close() → closed (final).
// Bad input from the server (wrong magic, oversized or truncated frames, boxes that do not open)
// is counted, closes the socket and reconnects with backoff; nothing throws out of this class.
import { boxKeyFromShared, openNonceAndBox, sealWithRandomNonce } from '../crypto/box.js';
import { asStaticKey, type StaticX25519Key } from '../crypto/static-key.js';
import { toHex } from '../crypto/bytes.js';
import type { RandomSource } from '../crypto/random.js';
import { Backoff, backoffDelayMs, DERP_BACKOFF_CAP_MS } from '../platform/backoff.js';
import { DeadlineTimer, type Clock, type TimerHandle } from '../platform/clock.js';
import type { WebSocketFactory, WebSocketLike } from '../platform/websocket.js';
import { encodeFrame, FrameReassembler, KEY_LEN, MAX_PACKET_SIZE, PROTOCOL_VERSION, type Frame } from './frames.js';

export type DerpClientState =
  'idle' | 'connecting' | 'awaitingServerKey' | 'awaitingServerInfo' | 'connected' | 'backoff' | 'closed';

export interface DerpClientStats {
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  /** Packets dropped: send queue overflow, oversized, or closed client. */
  drops: number;
  /** Malformed frames / protocol violations from the server. */
  malformed: number;
  /**
   * Frames of a type this client does not know, skipped (derp_client.go recvTimeout skips them:
   * newer derpers may send new types). Counted, never logged per frame.
   */
  unknownFrames: number;
  keepAlivesIn: number;
  pingsAnswered: number;
  pongsIn: number;
  connects: number;
  reconnects: number;
  rttMs?: number;
  lastError?: string;
  health?: string;
}

export interface DerpClientOptions {
  url: string;
  /**
   * Other nodes of the same region, tried in order when a connection attempt fails
   * (derphttp_client.go dialRegion walks the region's nodes the same way).
   */
  fallbackUrls?: string[];
  /** The node key: raw bytes, or a key object (a non-extractable WebCrypto key, crypto/static-key.ts). */
  privateKey: Uint8Array | StaticX25519Key;
  webSocketFactory: WebSocketFactory;
  clock: Clock;
  random: RandomSource;
  onPacket: (srcKey: Uint8Array, packet: Uint8Array) => void;
  onPeerGone?: (peerKey: Uint8Array, reason: number) => void;
  onStateChange?: (state: DerpClientState) => void;
  preferred?: boolean;
  /** Max packets waiting while not connected (or the socket is congested); oldest dropped. */
  maxQueuedPackets?: number;
  /** Above this many bytes buffered in the socket, packets wait in our bounded queue. */
  maxBufferedBytes?: number;
  /**
   * Cap of the reconnect backoff (ms; default 5 s). The curve is tailscaled's: n²·10 ms after the
   * n-th consecutive failure, jittered ×0.5–1.5 (platform/backoff.ts, magicsock/derp.go).
   */
  maxBackoffMs?: number;
  /** Our own Ping interval for RTT and liveness (ms). */
  pingIntervalMs?: number;
  /** No frame from the server for this long → the connection is dead (derper keepalive is 60 s). */
  readTimeoutMs?: number;
  /** Handshake (open → ServerInfo) must finish within this (ms). */
  handshakeTimeoutMs?: number;
  /**
   * Opaque application name sent in ClientInfo (`AppName`, derp_client.go; servers use it for
   * stats, older ones ignore the field). Omitted when empty.
   */
  appName?: string;
}

const WS_OPEN = 1;

export class DerpClient {
  private st: DerpClientState = 'idle';
  private ws?: WebSocketLike;
  private reasm = new FrameReassembler();
  private queue: Uint8Array[] = [];
  private readonly backoff: Backoff;
  /** When the pending reconnect is due (clock ms), while in backoff. */
  private retryAt: number | undefined;
  private timer?: TimerHandle;
  private pingTimer?: TimerHandle;
  private readonly readTimer: DeadlineTimer;
  private flushTimer?: TimerHandle;
  private pingSent = new Map<string, number>();
  private sharedKey?: Uint8Array;
  private readonly key: StaticX25519Key;
  /** Box keys per server key: a reconnection to the same server needs no DH (a few servers per region). */
  private readonly boxKeys = new Map<string, Uint8Array>();
  /** The connection whose server key our key's DH is working on (asynchronous keys only). */
  private derivingFor?: WebSocketLike;
  private preferred: boolean;
  private restartUntil = 0;
  private readonly urls: string[];
  private urlIdx = 0;
  /** Nodes tried since the last successful connection (failover round). */
  private nodesTried = 0;
  readonly publicKey: Uint8Array;
  readonly stats: DerpClientStats = {
    bytesIn: 0,
    bytesOut: 0,
    packetsIn: 0,
    packetsOut: 0,
    drops: 0,
    malformed: 0,
    unknownFrames: 0,
    keepAlivesIn: 0,
    pingsAnswered: 0,
    pongsIn: 0,
    connects: 0,
    reconnects: 0,
  };
  private readonly o: Required<
    Omit<DerpClientOptions, 'onPeerGone' | 'onStateChange' | 'preferred' | 'fallbackUrls' | 'appName'>
  > &
    DerpClientOptions;

  /** Milliseconds until the next connection attempt while waiting out a backoff (else undefined). */
  get retryInMs(): number | undefined {
    return this.st === 'backoff' && this.retryAt !== undefined
      ? Math.max(0, this.retryAt - this.o.clock.now())
      : undefined;
  }

  constructor(o: DerpClientOptions) {
    this.o = {
      maxQueuedPackets: 512,
      maxBufferedBytes: 4 << 20,
      maxBackoffMs: DERP_BACKOFF_CAP_MS,
      pingIntervalMs: 20_000,
      readTimeoutMs: 75_000,
      handshakeTimeoutMs: 15_000,
      ...o,
    };
    this.preferred = !!o.preferred;
    this.urls = [o.url, ...(o.fallbackUrls ?? []).filter((u) => u !== o.url)];
    this.key = asStaticKey(o.privateKey);
    this.publicKey = this.key.publicKey;
    this.backoff = new Backoff(this.o.maxBackoffMs, this.o.random);
    this.readTimer = new DeadlineTimer(this.o.clock, () =>
      this.fail(`no data from server for ${Math.round(this.o.readTimeoutMs / 1000)} s`),
    );
  }

  get state(): DerpClientState {
    return this.st;
  }

  /** The node URL in use (or being tried) now. */
  get url(): string {
    return this.urls[this.urlIdx];
  }

  /** Every node URL of the region, in failover order. */
  get allUrls(): readonly string[] {
    return this.urls;
  }

  start(): void {
    if (this.st === 'idle') this.connect();
  }

  /** Tells the server whether this is our home region (NotePreferred). */
  setPreferred(p: boolean): void {
    if (this.preferred === p) return;
    this.preferred = p;
    if (this.st === 'connected') this.write(encodeFrame({ type: 'notePreferred', preferred: p }));
  }

  /** Queues or sends one packet to dstKey. Never throws. */
  send(dstKey: Uint8Array, packet: Uint8Array): void {
    if (this.st === 'closed' || dstKey.length !== KEY_LEN || packet.length > MAX_PACKET_SIZE) {
      this.stats.drops++;
      return;
    }
    const f = encodeFrame({ type: 'sendPacket', dstKey, packet });
    if (this.st === 'connected' && this.queue.length === 0 && !this.congested()) {
      this.write(f);
      this.stats.packetsOut++;
      return;
    }
    this.enqueue(f);
    if (this.st === 'idle') this.connect();
    if (this.st === 'connected') this.scheduleFlush();
  }

  close(): void {
    if (this.st === 'closed') return;
    this.teardown();
    this.stats.drops += this.queue.length;
    this.queue = [];
    this.setState('closed');
  }

  get queuedPackets(): number {
    return this.queue.length;
  }

  // --- internals ---

  private setState(s: DerpClientState): void {
    if (this.st === s) return;
    this.st = s;
    try {
      this.o.onStateChange?.(s);
    } catch {
      /* observers must not break the connection */
    }
  }

  private enqueue(f: Uint8Array): void {
    this.queue.push(f);
    while (this.queue.length > this.o.maxQueuedPackets) {
      this.queue.shift();
      this.stats.drops++;
    }
  }

  private congested(): boolean {
    return (this.ws?.bufferedAmount ?? 0) > this.o.maxBufferedBytes;
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = this.o.clock.setTimeout(
      () => {
        this.flushTimer = undefined;
        this.flush();
      },
      this.congested() ? 5 : 0,
    );
  }

  private flush(): void {
    while (this.st === 'connected' && this.queue.length && !this.congested()) {
      this.write(this.queue.shift()!);
      this.stats.packetsOut++;
    }
    if (this.st === 'connected' && this.queue.length) this.scheduleFlush();
  }

  private write(b: Uint8Array): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WS_OPEN) return;
    try {
      ws.send(b);
      this.stats.bytesOut += b.length;
    } catch (e) {
      this.fail(`send failed: ${errText(e)}`);
    }
  }

  private connect(): void {
    this.clearTimer();
    this.reasm = new FrameReassembler();
    this.sharedKey = undefined;
    this.setState('connecting');
    let ws: WebSocketLike;
    try {
      ws = this.o.webSocketFactory(this.url, ['derp']);
      ws.binaryType = 'arraybuffer';
    } catch (e) {
      this.fail(`cannot open WebSocket: ${errText(e)}`);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.setState('awaitingServerKey');
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      try {
        this.onData(ev.data);
      } catch (e) {
        // Defensive: a bug in handling must not escape into the WebSocket's event loop.
        this.stats.malformed++;
        this.fail(`internal error: ${errText(e)}`);
      }
    };
    ws.onerror = () => {
      if (this.ws !== ws) return;
      this.fail('WebSocket error');
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.fail(
        `connection closed by server${ev?.code ? ` (code ${ev.code}${ev.reason ? `: ${ev.reason}` : ''})` : ''}`,
      );
    };
    this.timer = this.o.clock.setTimeout(() => {
      if (this.st !== 'connected') this.fail('handshake timed out');
    }, this.o.handshakeTimeoutMs);
  }

  private onData(data: unknown): void {
    let chunk: Uint8Array;
    if (data instanceof ArrayBuffer) chunk = new Uint8Array(data);
    else if (data instanceof Uint8Array) chunk = data;
    else {
      this.stats.malformed++;
      this.fail('text message on a DERP WebSocket');
      return;
    }
    this.stats.bytesIn += chunk.length;
    this.armReadTimer();
    for (const r of this.reasm.push(chunk)) {
      if (this.ws === undefined) return;
      if (!r.ok) {
        this.stats.malformed++;
        this.fail(`bad frame from server: ${r.error}`);
        return;
      }
      this.onFrame(r.frame);
    }
  }

  private onFrame(f: Frame): void {
    switch (this.st) {
      case 'connecting':
      case 'awaitingServerKey':
        if (f.type !== 'serverKey') return this.protocolError(`expected server key, got ${f.type}`);
        if (this.derivingFor && this.derivingFor === this.ws)
          return this.protocolError('a second server key before our client info');
        return this.keyWith(f.serverKey);
      case 'awaitingServerInfo':
        if (f.type !== 'serverInfo') return this.protocolError(`expected server info, got ${f.type}`);
        if (!this.sharedKey || openNonceAndBox(this.sharedKey, f.sealed) === null) {
          return this.protocolError('server info does not open with the server key');
        }
        this.onConnected();
        return;
      case 'connected':
        return this.onConnectedFrame(f);
      default:
        return;
    }
  }

  /** Box key for the server's key (cached, or our key's DH, awaited when asynchronous), then ClientInfo. */
  private keyWith(serverKey: Uint8Array): void {
    const id = toHex(serverKey);
    const known = this.boxKeys.get(id);
    const remember = (k: Uint8Array) => {
      if (this.boxKeys.size >= 8) this.boxKeys.clear();
      this.boxKeys.set(id, k);
    };
    const keyed = (k: Uint8Array) => {
      remember(k);
      this.sharedKey = k;
      this.sendClientInfo();
      this.setState('awaitingServerInfo');
    };
    if (known) return keyed(known);
    let shared: Uint8Array | Promise<Uint8Array>;
    try {
      shared = this.key.dh(serverKey);
    } catch {
      return this.protocolError('the server key is invalid (a low-order point)');
    }
    if (shared instanceof Uint8Array) return keyed(boxKeyFromShared(shared));
    const ws = this.ws;
    this.derivingFor = ws;
    shared.then(
      (s) => {
        if (this.derivingFor === ws) this.derivingFor = undefined;
        // The connection may have failed or been replaced meanwhile: the box key is still good
        // for the next connection to that server, but there is no ClientInfo to send on this one.
        const current = this.ws === ws && (this.st === 'connecting' || this.st === 'awaitingServerKey');
        if (!current) {
          remember(boxKeyFromShared(s));
          return;
        }
        keyed(boxKeyFromShared(s));
      },
      () => {
        if (this.derivingFor === ws) this.derivingFor = undefined;
        if (this.ws === ws) this.protocolError('the server key is invalid (a low-order point)');
      },
    );
  }

  private sendClientInfo(): void {
    // derp_client.go ClientInfo JSON: {"version":2,"CanAckPings":true[,"AppName":"…"]}
    const info: Record<string, unknown> = { version: PROTOCOL_VERSION, CanAckPings: true };
    if (this.o.appName) info.AppName = this.o.appName;
    const json = new TextEncoder().encode(JSON.stringify(info));
    const sealed = sealWithRandomNonce(this.sharedKey!, json, this.o.random);
    this.write(encodeFrame({ type: 'clientInfo', clientKey: this.publicKey, sealed }));
  }

  private onConnected(): void {
    this.clearTimer();
    if (this.stats.connects > 0) this.stats.reconnects++;
    this.stats.connects++;
    this.backoff.reset();
    this.nodesTried = 0;
    this.restartUntil = 0;
    this.stats.health = undefined; // a new connection starts healthy until the server says otherwise
    this.setState('connected');
    if (this.preferred) this.write(encodeFrame({ type: 'notePreferred', preferred: true }));
    this.sendPing();
    this.flush();
  }

  private onConnectedFrame(f: Frame): void {
    switch (f.type) {
      case 'recvPacket':
        this.stats.packetsIn++;
        try {
          this.o.onPacket(f.srcKey, f.packet);
        } catch {
          /* a consumer's bug must not kill the region connection */
        }
        return;
      case 'keepAlive':
        this.stats.keepAlivesIn++;
        return;
      case 'ping':
        this.stats.pingsAnswered++;
        this.write(encodeFrame({ type: 'pong', data: f.data }));
        return;
      case 'pong': {
        const k = hex8(f.data);
        const sent = this.pingSent.get(k);
        if (sent !== undefined) {
          this.pingSent.delete(k);
          this.stats.pongsIn++;
          this.stats.rttMs = this.o.clock.now() - sent;
        }
        return;
      }
      case 'peerGone':
        try {
          this.o.onPeerGone?.(f.peerKey, f.reason);
        } catch {
          /* ignore consumer errors */
        }
        return;
      case 'health':
        // derp.go frameHealth: a message for the user about this connection; empty = healthy again.
        // Bounded so a hostile server cannot make the status grow without limit.
        this.stats.health = f.problem ? f.problem.slice(0, 512) : undefined;
        return;
      case 'restarting':
        // derp.go frameRestarting: reconnect after reconnectIn, keep trying for tryFor.
        this.restartUntil = this.o.clock.now() + f.reconnectInMs + f.tryForMs;
        this.stats.lastError = `server restarting; reconnect in ${f.reconnectInMs} ms`;
        this.teardown();
        this.setState('backoff');
        this.schedule(f.reconnectInMs);
        return;
      case 'serverKey':
      case 'serverInfo':
      case 'clientInfo':
      case 'sendPacket':
        return this.protocolError(`unexpected ${f.type} frame`);
      default:
        this.stats.unknownFrames++; // unknown frame types are skipped (forward compatibility)
        return;
    }
  }

  private sendPing(): void {
    if (this.st !== 'connected') return;
    const data = this.o.random(8);
    if (this.pingSent.size > 16) this.pingSent.clear();
    this.pingSent.set(hex8(data), this.o.clock.now());
    this.write(encodeFrame({ type: 'ping', data }));
    this.o.clock.clearTimeout(this.pingTimer);
    this.pingTimer = this.o.clock.setTimeout(() => this.sendPing(), this.o.pingIntervalMs);
  }

  /** Notes data from the server: the read timeout only moves a deadline (DeadlineTimer). */
  private armReadTimer(): void {
    this.readTimer.mod(this.o.readTimeoutMs);
  }

  private protocolError(msg: string): void {
    this.stats.malformed++;
    this.fail(msg);
  }

  /** Closes the current socket and schedules a reconnect after tailscaled's backoff (platform/backoff.ts). */
  private fail(msg: string): void {
    if (this.st === 'closed' || this.st === 'backoff' || this.st === 'idle') return;
    this.stats.lastError = msg;
    this.teardown();
    this.setState('backoff');
    let delay: number;
    if (this.urls.length > 1 && this.nodesTried < this.urls.length - 1) {
      // Fail over to the region's next node after the shortest step, without growing the
      // backoff: the region is only "down" once every node failed in this round.
      this.nodesTried++;
      this.urlIdx = (this.urlIdx + 1) % this.urls.length;
      delay = backoffDelayMs(1, this.o.maxBackoffMs, this.o.random);
    } else {
      if (this.urls.length > 1) {
        this.nodesTried = 0;
        this.urlIdx = (this.urlIdx + 1) % this.urls.length;
      }
      delay = this.nextBackoff();
    }
    this.schedule(delay);
  }

  private schedule(delayMs: number): void {
    this.retryAt = this.o.clock.now() + delayMs;
    this.timer = this.o.clock.setTimeout(() => this.connect(), delayMs);
  }

  /**
   * The delay before the next attempt: n²·10 ms after the n-th consecutive failure, capped
   * (maxBackoffMs, 5 s as magicsock's derp-N backoff), jittered ×[0.5, 1.5). While a server that
   * said it is restarting (frameRestarting) is within its try-for window, at most 500 ms.
   */
  nextBackoff(): number {
    const d = this.backoff.fail();
    return this.restartUntil > this.o.clock.now() ? Math.min(d, 500) : d;
  }

  private clearTimer(): void {
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private teardown(): void {
    this.clearTimer();
    this.o.clock.clearTimeout(this.pingTimer);
    this.readTimer.cancel();
    this.o.clock.clearTimeout(this.flushTimer);
    this.pingTimer = this.flushTimer = undefined;
    this.pingSent.clear();
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try {
        ws.close();
      } catch {
        /* already closed */
      }
    }
  }
}

function hex8(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
