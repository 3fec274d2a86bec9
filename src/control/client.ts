// The Tailscale control client: register (pre-auth key or interactive AuthURL + Followup
// long-poll), the streaming map poll and logout, over ts2021 (WebSocket + Noise + HTTP/2).
// Follows tailscale control/controlclient/direct.go (doLogin, sendMapRequest) and what
// headscale hscontrol/noise.go + poll.go accept. States are explicit (ControlClientState).
//
// ControlClient is one object whose methods live in files by role: client-core.ts (state, keys, the
// ts2021 session and its requests) <- client-map.ts (the map stream: loop, backoff, watchdog, key
// expiry) <- client-login.ts (register, login, resume, logout) <- client.ts (status, events, the
// preferred DERP region, close).
import type { NetworkMap } from './netmap.js';
import { ClientLogin } from './client-login.js';
import type { ControlClientState, ControlStatus } from './client-types.js';

export { ControlError, DEFAULT_CONTROL_TIMEOUTS } from './client-types.js';
export type {
  ControlClientState,
  ControlClientOptions,
  ControlTimeouts,
  ControlStatus,
  LoginOptions,
  ControlClientStats,
} from './client-types.js';

export class ControlClient extends ClientLogin {
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

  get machinePublicKey(): Uint8Array | null {
    return this.machineKey ? this.machineKey.publicKey.slice() : null;
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

  async close(): Promise<void> {
    await this.stopLoop();
    this.setState('stopped');
  }
}
