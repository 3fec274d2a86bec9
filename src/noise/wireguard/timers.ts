// The per-peer WireGuard timer state machine. Spec: the WireGuard paper §6.1–§6.5 (rekeying,
// retries, passive keepalive, key zeroing); events and their effects as in wireguard-go
// device/timers.go and device/send.go (keepKeyFreshSending), device/receive.go (keepKeyFreshReceiving).
import { DeadlineTimer, type Clock } from '../../platform/clock.js';
import type { RandomSource } from '../../crypto/random.js';

export interface WireGuardTimerConfig {
  rekeyAfterMessages: number;
  rejectAfterMessages: number;
  rekeyAfterTimeMs: number;
  rejectAfterTimeMs: number;
  rekeyAttemptTimeMs: number;
  rekeyTimeoutMs: number;
  rekeyTimeoutJitterMaxMs: number;
  keepaliveTimeoutMs: number;
  cookieRefreshTimeMs: number;
  /** Minimum gap between two initiations consumed from one peer (flood protection). */
  handshakeInitiationRateMs: number;
  /**
   * Early retries of a first handshake (not in the WireGuard paper; see PeerTimers): the gaps in ms
   * between successive initiations while a peer we never completed a handshake with in this session
   * stays silent. Only the ones that fall before the first REKEY_TIMEOUT retry are sent. [] = none.
   */
  firstContactRetriesMs: readonly number[];
  /**
   * The same early retries for a peer that restarted (its WireGuard state was reset because its
   * disco key changed, WireGuardDevice.resetPeer): control tells us about the new disco key as the
   * peer logs in, seconds before it has its relay connection and map and can answer; retrying
   * about every second until the first REKEY_TIMEOUT retry reaches it within a second of that
   * (measured on the rig: ready 2–4 s after the map delta). [] = as a new peer.
   */
  peerRestartRetriesMs: readonly number[];
}

/** The protocol's constants (wireguard-go device/constants.go). Counters above 2^53 cannot occur in JS numbers. */
export const DEFAULT_TIMERS: WireGuardTimerConfig = {
  rekeyAfterMessages: 2 ** 60,
  rejectAfterMessages: 2 ** 64 - 2 ** 13 - 1,
  rekeyAfterTimeMs: 120_000,
  rejectAfterTimeMs: 180_000,
  rekeyAttemptTimeMs: 90_000,
  rekeyTimeoutMs: 5_000,
  rekeyTimeoutJitterMaxMs: 334,
  keepaliveTimeoutMs: 10_000,
  cookieRefreshTimeMs: 120_000,
  handshakeInitiationRateMs: 20,
  firstContactRetriesMs: [250, 500, 1000],
  peerRestartRetriesMs: [250, 500, 1000, 1000, 1000, 1000],
};

/** What caused an initiation: new data or a rekey, a REKEY_TIMEOUT retry, or an early first-contact retry. */
export type InitiationKind = 'fresh' | 'retry' | 'early';

export interface PeerTimerActions {
  /**
   * Send a handshake initiation; 'retry' keeps the attempt counter; 'early' is a first-contact retry
   * (sent only while our last initiation is still unanswered).
   */
  sendInitiation(kind: InitiationKind): void;
  /** Send a keepalive (or whatever is staged). */
  sendKeepalive(): void;
  /** Retries exhausted: drop the packets waiting for a session. */
  giveUp(): void;
  /** Wipe every key of the peer (no new session for 3 × REJECT_AFTER_TIME). */
  zeroKeyMaterial(): void;
}

/*
 * First contact. A Tailscale peer learns our node key from control, and our first initiation can
 * reach it before control has told it about us: it drops the initiation unanswered, and plain
 * WireGuard tries again only after REKEY_TIMEOUT (5 s), which a person sees as a stalled prompt.
 * So while we have never completed a handshake with a peer in this session, a fresh initiation
 * (not a retry, not inside a running series of retries) is followed by a few early retries
 * (firstContactRetriesMs: after 0.25 s, 0.5 s more, 1 s more). Each is a whole new initiation
 * (new ephemeral, index and timestamp, MACs with any cookie we hold, as wireguard-go builds every
 * retransmission). They stop at the first authenticated packet from the peer, at a completed
 * handshake, or when the next one would not come before the normal retry. They neither move the
 * REKEY_TIMEOUT schedule (its retries stay at 5 s + jitter after the fresh initiation, then every
 * 5 s + jitter) nor count as attempts, so the give-up after REKEY_ATTEMPT_TIME is where it was;
 * nor do they count for the one-initiation-per-REKEY_TIMEOUT limit on new data. At most
 * firstContactRetriesMs.length extra initiations per series, one series per REKEY_ATTEMPT_TIME
 * while the peer stays silent.
 */
export class PeerTimers {
  handshakeAttempts = 0;
  sentLastMinuteHandshake = false;
  lastHandshakeAt: number | undefined;
  private needAnotherKeepalive = false;
  private stopped = false;
  private readonly retransmitHandshake: DeadlineTimer;
  private readonly sendKeepaliveTimer: DeadlineTimer;
  private readonly newHandshake: DeadlineTimer;
  private readonly zeroKeys: DeadlineTimer;
  private readonly persistentKeepaliveTimer: DeadlineTimer;
  private readonly earlyRetry: DeadlineTimer;
  /** Index into the early-retry gaps of the next early retry. */
  private earlyIndex = 0;
  /** The early-retry gaps in use: first contact, or a peer that restarted (restarted()). */
  private earlyGaps: readonly number[];
  /** When the pending REKEY_TIMEOUT retry falls due (early retries must come before it). */
  private retransmitDueAt = 0;
  /** Early first-contact retries sent (all series). */
  earlyRetriesSent = 0;

  constructor(
    private readonly clock: Clock,
    private readonly random: RandomSource,
    readonly config: WireGuardTimerConfig,
    private readonly actions: PeerTimerActions,
    public persistentKeepaliveMs = 0,
  ) {
    this.earlyGaps = config.firstContactRetriesMs;
    this.retransmitHandshake = new DeadlineTimer(clock, () => this.expiredRetransmitHandshake());
    this.sendKeepaliveTimer = new DeadlineTimer(clock, () => this.expiredSendKeepalive());
    this.newHandshake = new DeadlineTimer(clock, () => this.actions.sendInitiation('fresh'));
    this.earlyRetry = new DeadlineTimer(clock, () => this.actions.sendInitiation('early'));
    this.zeroKeys = new DeadlineTimer(clock, () => this.actions.zeroKeyMaterial());
    this.persistentKeepaliveTimer = new DeadlineTimer(clock, () => {
      if (this.persistentKeepaliveMs > 0) this.actions.sendKeepalive();
    });
  }

  /** MaxTimerHandshakes: retries before giving up (REKEY_ATTEMPT_TIME / REKEY_TIMEOUT). */
  get maxHandshakes(): number {
    return Math.floor(this.config.rekeyAttemptTimeMs / this.config.rekeyTimeoutMs);
  }

  // Jitter bytes drawn 256 at a time: dataSent() needs 4 per sent packet once a packet was received.
  private jitterPool: Uint8Array = new Uint8Array(0);
  private jitterOff = 0;

  private jitter(): number {
    if (this.jitterOff + 4 > this.jitterPool.length) {
      this.jitterPool = this.random(256);
      this.jitterOff = 0;
    }
    const b = this.jitterPool;
    const o = this.jitterOff;
    this.jitterOff += 4;
    const r = (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
    return this.config.rekeyTimeoutJitterMaxMs > 0 ? r % this.config.rekeyTimeoutJitterMaxMs : 0;
  }

  private expiredRetransmitHandshake(): void {
    if (this.handshakeAttempts > this.maxHandshakes) {
      this.sendKeepaliveTimer.del();
      this.actions.giveUp();
      if (!this.zeroKeys.pending) this.zeroKeys.mod(this.config.rejectAfterTimeMs * 3);
    } else {
      this.handshakeAttempts++;
      this.actions.sendInitiation('retry');
    }
  }

  private expiredSendKeepalive(): void {
    this.actions.sendKeepalive();
    if (this.needAnotherKeepalive) {
      this.needAnotherKeepalive = false;
      if (!this.stopped) this.sendKeepaliveTimer.mod(this.config.keepaliveTimeoutMs);
    }
  }

  /** After an authenticated data (non-keepalive) packet was sent. */
  dataSent(): void {
    if (!this.stopped && !this.newHandshake.pending) {
      this.newHandshake.mod(this.config.keepaliveTimeoutMs + this.config.rekeyTimeoutMs + this.jitter());
    }
  }

  /** After an authenticated data packet was received. */
  dataReceived(): void {
    if (this.stopped) return;
    if (!this.sendKeepaliveTimer.pending) this.sendKeepaliveTimer.mod(this.config.keepaliveTimeoutMs);
    else this.needAnotherKeepalive = true;
  }

  /** After any authenticated packet (keepalive, data, handshake) was sent. */
  anyAuthenticatedPacketSent(): void {
    this.sendKeepaliveTimer.del();
  }

  /** After any authenticated packet was received. */
  anyAuthenticatedPacketReceived(): void {
    this.newHandshake.del();
    this.earlyRetry.del(); // the peer knows us: no more first-contact retries
  }

  /** After an initiation was sent. */
  handshakeInitiated(kind: InitiationKind = 'fresh'): void {
    if (this.stopped) return;
    if (kind === 'early') {
      this.earlyRetriesSent++;
      this.earlyIndex++;
      this.scheduleEarlyRetry();
      return; // the REKEY_TIMEOUT retry stays where the fresh initiation put it
    }
    const inSeries = this.retransmitHandshake.pending;
    const ms = this.config.rekeyTimeoutMs + this.jitter();
    this.retransmitHandshake.mod(ms);
    this.retransmitDueAt = this.clock.now() + ms;
    this.earlyRetry.del();
    if (kind === 'fresh' && !inSeries && this.lastHandshakeAt === undefined) {
      this.earlyIndex = 0;
      this.scheduleEarlyRetry();
    }
  }

  private scheduleEarlyRetry(): void {
    const gap = this.earlyGaps[this.earlyIndex];
    if (gap === undefined || this.clock.now() + gap >= this.retransmitDueAt) return;
    this.earlyRetry.mod(gap);
  }

  /** The peer restarted (its state was reset): the next first-contact series uses peerRestartRetriesMs. */
  restarted(): void {
    if (this.config.peerRestartRetriesMs.length) this.earlyGaps = this.config.peerRestartRetriesMs;
  }

  /** After a response was consumed, or a responder session was confirmed by the first data. */
  handshakeComplete(): void {
    this.retransmitHandshake.del();
    this.earlyRetry.del();
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
    this.lastHandshakeAt = this.clock.now();
    this.earlyGaps = this.config.firstContactRetriesMs;
  }

  /** After a keypair was derived (either role). */
  sessionDerived(): void {
    if (!this.stopped) this.zeroKeys.mod(this.config.rejectAfterTimeMs * 3);
  }

  /** Before an authenticated packet is sent or after one is received. */
  anyAuthenticatedPacketTraversal(): void {
    if (!this.stopped && this.persistentKeepaliveMs > 0) this.persistentKeepaliveTimer.mod(this.persistentKeepaliveMs);
  }

  stop(): void {
    this.stopped = true;
    this.retransmitHandshake.cancel();
    this.sendKeepaliveTimer.cancel();
    this.newHandshake.cancel();
    this.zeroKeys.cancel();
    this.persistentKeepaliveTimer.cancel();
    this.earlyRetry.cancel();
  }
}
