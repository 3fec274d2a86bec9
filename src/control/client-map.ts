// The map stream of the control client: the streaming POST /machine/map (tailscale
// controlclient/direct.go sendMapRequest, headscale poll.go), reconnects with backoff, the watchdog,
// and our node key's expiry as the map reports it.
import { keyToText } from '../crypto/keys.js';
import type { TimerHandle } from '../platform/clock.js';
import { withDeadline } from '../platform/deadline.js';
import type { Http2Response } from './h2/client.js';
import { MapStreamError, readMapStream, DEFAULT_MAX_MAP_MESSAGE, type MapStreamStats } from './mapstream.js';
import { applyMapResponse, emptyNetworkMap, NetMapError } from './netmap.js';
import { CAPABILITY_VERSION, type MapRequest, type MapResponse } from './tailcfg.js';
import { fmtSeconds } from './transport.js';
import { ClientCore } from './client-core.js';
import { ControlError } from './client-types.js';

export abstract class ClientMapStream extends ClientCore {
  /** Starts the map stream loop (after login). Reconnects with backoff; the last map is kept. */
  start(): void {
    if (this.running) return;
    if (!this.st?.loggedIn) throw new ControlError('start(): not logged in');
    this.running = true;
    this.loop = this.runLoop();
  }

  protected async runLoop(): Promise<void> {
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
        if (this.state === 'key-expired') {
          this.running = false;
          break;
        }
        this.setState('reconnecting', this.stats.lastError);
        await this.backoff();
        this.stats.reconnects++;
      }
    }
  }

  protected takeRestart(): boolean {
    const r = this.restartStream;
    this.restartStream = false;
    return r;
  }

  /** Waits n²·step ms (×0.5–1.5) after the n-th consecutive failure, capped (platform/backoff.ts). */
  protected backoff(): Promise<void> {
    const ms = this.backoffs.fail();
    this.retryAt = this.o.clock.now() + ms;
    this.log(`control: next try in ${fmtSeconds(Math.round(ms / 100) * 100)}`);
    return new Promise((resolve) => {
      this.backoffWake = resolve;
      this.backoffTimer = this.o.clock.setTimeout(() => {
        this.backoffWake = null;
        this.retryAt = undefined;
        resolve();
      }, ms);
    });
  }

  protected mapRequest(hostname?: string): MapRequest {
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
  protected async postMap(req: MapRequest): Promise<Http2Response> {
    await this.getSession(); // its stages (/key, WebSocket, Noise) have deadlines of their own
    const headMs = this.timeouts.mapHeadMs;
    return withDeadline(
      this.post('/machine/map', req),
      headMs,
      this.o.clock,
      () =>
        new ControlError(
          `control did not answer the map request (POST /machine/map) within ${fmtSeconds(headMs)} (stage: map response head)`,
        ),
      () => this.dropSession('map request timed out'),
    );
  }

  protected async mapOnce(): Promise<void> {
    // The response login() already has (a returning node), else a new request.
    const early = this.firstMap;
    this.firstMap = null;
    this.setState('connecting');
    // This request carries the Hostinfo of now: only later changes need another one.
    if (!early) this.restartStream = false;
    const res = early ?? (await this.postMap(this.mapRequest()));
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
    const body = new ReadableStream<Uint8Array>(
      {
        pull: async (c) => {
          const { value, done } = await raw.read();
          if (done) c.close();
          else c.enqueue(value);
        },
        cancel: (why) => raw.cancel(why),
      },
      { highWaterMark: 0 },
    );
    const cancelThis = () => {
      raw.cancel(new ControlError('map stream restarted')).catch(() => {});
    };
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
      const mapOpts = {
        maxMessage: this.o.maxMapMessage ?? DEFAULT_MAX_MAP_MESSAGE,
        zstd: this.o.mapCompression !== 'none',
      };
      for await (const msg of readMapStream(body, mapOpts, (s) => (streamStats = s))) {
        if (streamStats) {
          this.stats.compressedMaps += streamStats.compressed - counted.compressed;
          this.stats.mapBytes += streamStats.bytes - counted.bytes;
          this.stats.mapDecodedBytes += streamStats.decodedBytes - counted.decodedBytes;
          counted = {
            compressed: streamStats.compressed,
            bytes: streamStats.bytes,
            decodedBytes: streamStats.decodedBytes,
          };
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

  protected applyMessage(msg: MapResponse, firstOfStream: boolean): void {
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
      this.scheduleExpiry(self.Expired ? undefined : (self.KeyExpiry ?? undefined));
    }
    for (const cb of this.netMapCbs) {
      try {
        cb(this.netMap);
      } catch (e) {
        this.log(`control: netmap listener threw: ${String(e)}`);
      }
    }
  }

  /**
   * Our node key has expired: the stream may go on (control still sends maps), but the node cannot
   * talk to peers until a person logs in again; remember it so a restarted app asks for a login too.
   */
  protected markSelfExpired(expiry: string | undefined): void {
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
  protected scheduleExpiry(expiry: string | undefined): void {
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

  protected async stopLoop(): Promise<void> {
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
}

function isKeepAliveOnly(m: MapResponse): boolean {
  return !!m.KeepAlive && Object.keys(m).every((k) => k === 'KeepAlive' || k === 'ControlTime');
}
