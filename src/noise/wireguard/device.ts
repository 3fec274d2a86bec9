// A WireGuard device: peers, handshakes, sessions, timers and the transport data path, with time,
// randomness, AEAD engine and datagram transport injected. Spec: the WireGuard paper (§5 protocol,
// §6 timers); behaviour modelled on wireguard-go device/{receive,send,timers,peer}.go.
// Over Tailscale the "endpoint" of a peer is its node key: datagrams go out through opts.send and
// come in through receive(); magicsock (DERP, later direct paths) lives above this layer.
//
// Our static key may be a WebCrypto CryptoKey whose X25519 is asynchronous (crypto/static-key.ts).
// Handshake messages then finish in a later task; transport data never waits for it. The rules
// that keep this a plain state machine (tested in device-async.test.ts):
//  - a derivation in flight holds no claim on the peer: everything it changes (timestamps, the
//    handshake state, indices, keypairs) changes synchronously after its last await, and only
//    after re-checking the world: device open, peer still present, and for a response, the peer
//    still waiting on that very initiation (`peer.handshake === hs`, else "superseded");
//  - everything that uses an ephemeral private key runs before any await or after that check,
//    so a newer initiation (which zeroes the old ephemeral) can never feed a half-finished one;
//  - with a raw key the DH is synchronous and each message finishes in the call that received it;
//  - at most MAX_DERIVATIONS DHs wait at a time (handshake floods stay bounded; MAC1, cookies and
//    the rate limiter still run first).
import { equalBytes, toHex } from '../../crypto/bytes.js';
import type { RandomSource } from '../../crypto/random.js';
import { asStaticKey, type StaticX25519Key } from '../../crypto/static-key.js';
import { generatePrivateKey, isLowOrderPoint } from '../../crypto/x25519.js';
import type { Clock } from '../../platform/clock.js';
import { type AeadEngine, defaultAeadEngine, OrderedQueue, type PacketCipher } from './aead-batch.js';
import { CookieChecker, CookieGenerator, LoadMonitor, RateLimiter } from './cookie.js';
import {
  type ConsumedInitiation,
  createResponse,
  type InitiationStatic,
  initiationMessage,
  type InitiatorState,
  openInitiationStatic,
  openInitiationTimestamp,
  openResponse,
  tai64n,
  timestampAfter,
} from './handshake.js';
import { type Keypair, Keypairs, newKeypair } from './keypair.js';
import {
  COOKIE_REPLY_SIZE,
  decodeCookieReply,
  decodeInitiation,
  decodeResponse,
  decodeTransportHeader,
  encodeCookieReply,
  encodeInitiation,
  encodeResponse,
  type Initiation,
  INITIATION_SIZE,
  KEEPALIVE_SIZE,
  MAX_MESSAGE_SIZE,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  MESSAGE_TRANSPORT,
  messageType,
  type Response,
  RESPONSE_SIZE,
  TRANSPORT_HEADER_SIZE,
  writeTransportHeader,
} from './messages.js';
import { DEFAULT_TIMERS, type InitiationKind, PeerTimers, type WireGuardTimerConfig } from './timers.js';

export interface WireGuardDeviceOptions {
  /** Our static key: raw bytes, or a key object (a non-extractable WebCrypto key, see crypto/static-key.ts). */
  privateKey: Uint8Array | StaticX25519Key;
  clock: Clock;
  random: RandomSource;
  /** Send a WireGuard datagram towards a peer (the node sends it over DERP; the interop test over UDP). */
  send: (peerPublicKey: Uint8Array, datagram: Uint8Array) => void;
  /** A decrypted IP packet arrived from a peer (keepalives are not delivered). */
  onPacket: (peerPublicKey: Uint8Array, ipPacket: Uint8Array) => void;
  onHandshake?: (peerPublicKey: Uint8Array) => void;
  /**
   * Each handshake message sent or received, per peer (for a debug log: no key material). The
   * first-contact retries (timers.ts) show as initiations with kind 'early'.
   */
  onHandshakeEvent?: (peerPublicKey: Uint8Array, ev: HandshakeEvent) => void;
  /**
   * Wall-clock time in ms since the Unix epoch, for the TAI64N timestamp of initiations. Peers reject
   * an initiation whose timestamp is not later than the last one they saw from us, so this must keep
   * increasing across restarts of the node: pass `() => Date.now()` in production. Defaults to
   * clock.now() (fine for tests; NOT for a node that restarts while its peers keep running).
   */
  wallClockMs?: () => number;
  /** Protocol constants; tests and the interop test shorten them. */
  timers?: Partial<WireGuardTimerConfig>;
  /** AEAD engine for transport data; default: WebCrypto ChaCha20-Poly1305 when present, else @noble. */
  aead?: AeadEngine | Promise<AeadEngine>;
  /** Handshake messages per second above which MAC2 (a cookie) is required. Default 64. */
  underLoadThreshold?: number;
  /** Packets queued per peer while no session exists (oldest dropped first). Default 128. */
  maxStagedPackets?: number;
  /**
   * Packets per peer and direction waiting for the AEAD engine (WebCrypto is asynchronous), beyond
   * which new ones are dropped and counted (rxDropBacklog, txDropBacklog), as wireguard-go bounds
   * its per-peer inbound and outbound queues (device/queueconstants_default.go: 1024 each).
   */
  maxQueuedPerPeer?: number;
  /** Tunnel MTU, for padding (wireguard-go calculatePaddingSize). Default 1280 (Tailscale's). */
  mtu?: number;
  /**
   * Every transport packet received so far has been decrypted and delivered (receiveBacklog fell
   * to 0): the end of a receive batch, where the node lets netstack send the ACKs it held back.
   */
  onReceiveIdle?: () => void;
}

/** A handshake message sent or received (WireGuardDeviceOptions.onHandshakeEvent). */
export type HandshakeEvent =
  | { type: 'initiation-sent'; kind: InitiationKind; attempt: number }
  | { type: 'initiation-received' }
  | { type: 'response-sent' }
  | { type: 'response-received' }
  | { type: 'gave-up'; attempts: number }
  | { type: 'reset' };

export interface WireGuardPeerStatus {
  lastHandshakeAt?: number;
  rxBytes: number;
  txBytes: number;
  handshakeAttempts: number;
  hasSession: boolean;
}

type HandshakeState =
  | { state: 'none' }
  | { state: 'initiationSent'; localIndex: number; initiator: InitiatorState }
  | { state: 'initiationConsumed'; consumed: ConsumedInitiation };

interface Peer {
  readonly publicKey: Uint8Array;
  readonly timers: PeerTimers;
  readonly cookies: CookieGenerator;
  readonly keypairs: Keypairs;
  handshake: HandshakeState;
  lastTimestamp: Uint8Array;
  lastInitiationConsumedAt: number;
  lastSentHandshakeAt: number;
  staged: Uint8Array[];
  rxBytes: number;
  txBytes: number;
  readonly txQueue: OrderedQueue;
  readonly rxQueue: OrderedQueue;
  removed: boolean;
  /** DH(our static, their static), once per peer (wireguard-go precomputedStaticStatic). */
  staticStatic?: Uint8Array;
  /** That DH while an asynchronous key computes it. */
  staticStaticPending?: Promise<void>;
  /** An initiation asked for while staticStatic was computing: sent when it is ready. */
  initiationWanted?: InitiationKind;
}

/** Asynchronous DHs of our static key waiting at once (the rest are dropped and counted). */
export const MAX_DERIVATIONS = 64;

type IndexEntry = { peer: Peer; keypair?: Keypair };

const STAT_KEYS = [
  'rxDatagrams',
  'rxPackets',
  'rxKeepalives',
  'rxDropTooShort',
  'rxDropTooLong',
  'rxDropUnknownType',
  'rxDropBadLength',
  'rxDropBadMac1',
  'rxDropNeedCookie',
  'rxDropRateLimited',
  'rxDropHandshakeInvalid',
  'rxDropUnknownPeer',
  'rxDropStaleTimestamp',
  'rxDropInitiationFlood',
  'rxDropUnexpectedResponse',
  'rxDropUnknownIndex',
  'rxDropExpiredKeypair',
  'rxDropCounterLimit',
  'rxDropReplay',
  'rxDropDecrypt',
  'rxDropBadIpPacket',
  'rxDropCookieReplyInvalid',
  'rxDropPeerGone',
  'rxDropClosed',
  'rxDropHandshakeBusy',
  'rxDropHandshakeSuperseded',
  'rxDropBacklog',
  'txPackets',
  'txKeepalives',
  'txDropNoPeer',
  'txDropTooLong',
  'txDropQueueFull',
  'txDropBacklog',
  'txDropGaveUp',
  'txDropEncrypt',
  'handshakeInitiationsSent',
  'handshakeEarlyRetries',
  'handshakeInitiationsReceived',
  'handshakeResponsesSent',
  'handshakeResponsesReceived',
  'handshakesCompleted',
  'handshakesGivenUp',
  'cookieRepliesSent',
  'cookieRepliesAccepted',
  'sendErrors',
  'callbackErrors',
  'internalErrors',
] as const;
export type WireGuardStatKey = (typeof STAT_KEYS)[number];

/** Largest IP packet we encrypt: the transport message must fit MAX_MESSAGE_SIZE. */
const MAX_PLAINTEXT = MAX_MESSAGE_SIZE - KEEPALIVE_SIZE;

export class WireGuardDevice {
  readonly stats: Record<WireGuardStatKey, number> & Record<string, number>;
  readonly publicKey: Uint8Array;
  private readonly key: StaticX25519Key;
  private readonly cfg: WireGuardTimerConfig;
  private readonly peers = new Map<string, Peer>();
  private readonly indices = new Map<number, IndexEntry>();
  private readonly checker: CookieChecker;
  private readonly load: LoadMonitor;
  private readonly limiter: RateLimiter;
  private readonly wall: () => number;
  private readonly maxStaged: number;
  private readonly maxQueued: number;
  private readonly mtu: number;
  private engine: AeadEngine | undefined;
  private readonly enginePromise: Promise<AeadEngine>;
  private closed = false;

  constructor(private readonly o: WireGuardDeviceOptions) {
    if (o.privateKey instanceof Uint8Array && o.privateKey.length !== 32) throw new Error('wireguard: private key must be 32 bytes');
    this.key = asStaticKey(o.privateKey);
    this.publicKey = this.key.publicKey;
    this.cfg = { ...DEFAULT_TIMERS, ...o.timers };
    this.stats = Object.fromEntries(STAT_KEYS.map((k) => [k, 0])) as WireGuardDevice['stats'];
    this.checker = new CookieChecker(this.publicKey, o.clock, o.random, this.cfg.cookieRefreshTimeMs);
    this.load = new LoadMonitor(o.clock, o.underLoadThreshold ?? 64);
    this.limiter = new RateLimiter(o.clock);
    this.wall = o.wallClockMs ?? (() => o.clock.now());
    this.maxStaged = o.maxStagedPackets ?? 128;
    this.maxQueued = o.maxQueuedPerPeer ?? 1024;
    this.mtu = o.mtu ?? 1280;
    const aead = o.aead ?? defaultAeadEngine();
    if ('cipher' in aead) {
      this.engine = aead;
      this.enginePromise = Promise.resolve(aead);
    } else {
      this.enginePromise = aead;
      aead.then((e) => (this.engine = e), () => undefined);
    }
  }

  /** The AEAD engine in use (after detection). */
  aeadEngine(): Promise<AeadEngine> {
    return this.enginePromise;
  }

  addPeer(publicKey: Uint8Array, o: { persistentKeepaliveSeconds?: number } = {}): void {
    if (this.closed) throw new Error('wireguard: device closed');
    if (publicKey.length !== 32) throw new Error('wireguard: peer public key must be 32 bytes');
    const id = toHex(publicKey);
    const existing = this.peers.get(id);
    const keepaliveMs = Math.max(0, Math.floor((o.persistentKeepaliveSeconds ?? 0) * 1000));
    if (existing) {
      const was = existing.timers.persistentKeepaliveMs;
      existing.timers.persistentKeepaliveMs = keepaliveMs;
      if (keepaliveMs > 0 && was === 0) this.sendKeepalive(existing);
      return;
    }
    // A low-order key is a config error; checked by comparison, not by an X25519 per peer (10,000
    // peers took 13.5 s). The DH itself happens at the first handshake with the peer.
    if (isLowOrderPoint(publicKey)) throw new Error('wireguard: low-order peer public key');
    if (equalBytes(publicKey, this.publicKey)) throw new Error('wireguard: a peer cannot have our own key');
    const pk = publicKey.slice();
    const peer: Peer = {
      publicKey: pk,
      cookies: new CookieGenerator(pk, this.o.clock, this.cfg.cookieRefreshTimeMs),
      keypairs: new Keypairs(),
      handshake: { state: 'none' },
      lastTimestamp: new Uint8Array(12),
      lastInitiationConsumedAt: Number.NEGATIVE_INFINITY,
      lastSentHandshakeAt: Number.NEGATIVE_INFINITY,
      staged: [],
      rxBytes: 0,
      txBytes: 0,
      txQueue: new OrderedQueue(),
      rxQueue: new OrderedQueue(),
      removed: false,
      timers: undefined as unknown as PeerTimers,
    };
    (peer as { timers: PeerTimers }).timers = new PeerTimers(
      this.o.clock,
      this.o.random,
      this.cfg,
      {
        sendInitiation: (kind) => this.sendInitiation(peer, kind),
        sendKeepalive: () => this.sendKeepalive(peer),
        giveUp: () => {
          this.stats.handshakesGivenUp++;
          this.event(peer, { type: 'gave-up', attempts: peer.timers.handshakeAttempts });
          this.stats.txDropGaveUp += peer.staged.length;
          peer.staged = [];
        },
        zeroKeyMaterial: () => this.zeroKeyMaterial(peer),
      },
      keepaliveMs,
    );
    this.peers.set(id, peer);
    // wireguard-go sends a keepalive when a peer with persistent keepalive comes up: it starts the session.
    if (keepaliveMs > 0) this.sendKeepalive(peer);
  }

  /**
   * Forgets a peer's session (keypairs, handshake, timers, the replay state of its initiations) as
   * if it were new, keeping the packets waiting for a session and its keepalive setting: what
   * tailscaled does when a peer's disco key changes (wgengine/userspace.go ResetDevicePeer removes
   * the peer from wireguard-go, re-created on demand): the peer restarted and its old session is
   * dead, so the next packet starts a handshake at once instead of being sealed with keys the peer
   * no longer has until the 15 s new-handshake timer (KEEPALIVE + REKEY_TIMEOUT) gives up on them.
   * A peer we had a session with gets a new initiation at once. Returns false when the peer is unknown.
   */
  resetPeer(publicKey: Uint8Array): boolean {
    const peer = this.peers.get(toHex(publicKey));
    if (!peer || this.closed) return false;
    const staged = peer.staged;
    const keepalive = peer.timers.persistentKeepaliveMs;
    const hadSession = this.usableForSending(peer.keypairs.current);
    peer.staged = [];
    this.removePeer(publicKey);
    this.addPeer(publicKey);
    const fresh = this.peers.get(toHex(publicKey))!;
    fresh.timers.persistentKeepaliveMs = keepalive;
    fresh.timers.restarted();
    this.event(fresh, { type: 'reset' });
    if (staged.length) {
      fresh.staged = staged;
      this.sendStaged(fresh);
    } else if (keepalive > 0) {
      this.sendKeepalive(fresh);
    } else if (hadSession) {
      // We were talking to it: have a new session ready when the next packet (a TCP retransmission)
      // comes, rather than starting the handshake then. (tailscaled re-creates the peer lazily, on
      // the next packet; this saves that packet's wait for one handshake round trip.)
      this.sendInitiation(fresh, 'fresh');
    }
    return true;
  }

  removePeer(publicKey: Uint8Array): void {
    const id = toHex(publicKey);
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    peer.removed = true;
    peer.timers.stop();
    this.zeroKeyMaterial(peer);
    peer.staticStatic?.fill(0);
    peer.staticStatic = undefined;
    peer.initiationWanted = undefined;
    peer.staged = [];
  }

  hasPeer(publicKey: Uint8Array): boolean {
    return this.peers.has(toHex(publicKey));
  }

  /** `id`: toHex(publicKey) when the caller has it already (status of 10,000 peers). */
  peerStatus(publicKey: Uint8Array, id = toHex(publicKey)): WireGuardPeerStatus | undefined {
    const peer = this.peers.get(id);
    if (!peer) return undefined;
    return {
      lastHandshakeAt: peer.timers.lastHandshakeAt,
      rxBytes: peer.rxBytes,
      txBytes: peer.txBytes,
      handshakeAttempts: peer.timers.handshakeAttempts,
      hasSession: this.usableForSending(peer.keypairs.current),
    };
  }

  /** Encrypt and send an IP packet; queues (bounded) and starts a handshake when no session. */
  send(peerPublicKey: Uint8Array, ipPacket: Uint8Array): void {
    try {
      const peer = this.peers.get(toHex(peerPublicKey));
      if (!peer || this.closed) {
        this.stats.txDropNoPeer++;
        return;
      }
      if (ipPacket.length > MAX_PLAINTEXT) {
        this.stats.txDropTooLong++;
        return;
      }
      this.stage(peer, ipPacket.slice());
      this.sendStaged(peer);
    } catch {
      this.stats.internalErrors++;
    }
  }

  /** Any incoming WireGuard datagram. Malformed/forged/replayed input is dropped and counted, never throws. */
  receive(datagram: Uint8Array, fromPeerHint?: Uint8Array): void {
    try {
      this.receiveDatagram(datagram, fromPeerHint);
    } catch {
      this.stats.internalErrors++;
    }
  }

  /** Resolves when every packet handed in so far has been encrypted/decrypted and delivered, and every handshake DH finished. */
  async flush(): Promise<void> {
    for (;;) {
      const busy = [...this.peers.values()].filter((p) => p.rxQueue.pending > 0 || p.txQueue.pending > 0);
      if (busy.length === 0 && this.derivations.size === 0) return;
      await Promise.all([...busy.flatMap((p) => [p.rxQueue.idle(), p.txQueue.idle()]), ...this.derivations]);
    }
  }

  /** Handshake DHs of our static key in flight (asynchronous keys only). */
  get handshakeDerivations(): number {
    return this.derivations.size;
  }

  private readonly derivations = new Set<Promise<void>>();

  /**
   * Runs `next` with `dh`'s result: in this call when it is a value (a raw key), else when the
   * promise settles, tracked and bounded. `failed` runs when the DH refuses (a low-order point).
   */
  private withDh(dh: () => Uint8Array | Promise<Uint8Array>, next: (v: Uint8Array) => void, failed: () => void): void {
    let v: Uint8Array | Promise<Uint8Array>;
    try {
      v = dh();
    } catch {
      failed();
      return;
    }
    if (v instanceof Uint8Array) {
      next(v);
      return;
    }
    const p: Promise<void> = v.then(
      (r) => {
        this.derivations.delete(p);
        this.guard(() => next(r));
      },
      () => {
        this.derivations.delete(p);
        this.guard(failed);
      },
    );
    this.derivations.add(p);
  }

  /** Whether another asynchronous DH may start (a synchronous key is never busy). */
  private derivationSlot(): boolean {
    if (this.key.kind === 'raw' || this.derivations.size < MAX_DERIVATIONS) return true;
    this.stats.rxDropHandshakeBusy++;
    return false;
  }

  private guard(f: () => void): void {
    try {
      f();
    } catch {
      this.stats.internalErrors++;
    }
  }

  close(): void {
    if (this.closed) return;
    for (const peer of [...this.peers.values()]) this.removePeer(peer.publicKey);
    this.closed = true;
  }

  // ---- receive path -------------------------------------------------------------------------

  private receiveDatagram(d: Uint8Array, hint: Uint8Array | undefined): void {
    this.stats.rxDatagrams++;
    if (this.closed) {
      this.stats.rxDropClosed++;
      return;
    }
    if (d.length < KEEPALIVE_SIZE) {
      this.stats.rxDropTooShort++;
      return;
    }
    if (d.length > MAX_MESSAGE_SIZE) {
      this.stats.rxDropTooLong++;
      return;
    }
    const type = messageType(d);
    switch (type) {
      case MESSAGE_TRANSPORT:
        this.receiveTransport(d);
        return;
      case MESSAGE_INITIATION:
      case MESSAGE_RESPONSE:
        if (d.length !== (type === MESSAGE_INITIATION ? INITIATION_SIZE : RESPONSE_SIZE)) {
          this.stats.rxDropBadLength++;
          return;
        }
        if (!this.admitHandshake(d, hint)) return;
        if (type === MESSAGE_INITIATION) this.receiveInitiation(d);
        else this.receiveResponse(d);
        return;
      case MESSAGE_COOKIE_REPLY:
        if (d.length !== COOKIE_REPLY_SIZE) {
          this.stats.rxDropBadLength++;
          return;
        }
        this.receiveCookieReply(d);
        return;
      default:
        this.stats.rxDropUnknownType++;
    }
  }

  /** MAC1 always; under load MAC2 (else answer with a cookie) and the per-source rate limit. */
  private admitHandshake(d: Uint8Array, hint: Uint8Array | undefined): boolean {
    if (!this.checker.checkMac1(d)) {
      this.stats.rxDropBadMac1++;
      return false;
    }
    const source = hint ?? new Uint8Array(0);
    if (this.load.note()) {
      if (!this.checker.checkMac2(d, source)) {
        this.stats.rxDropNeedCookie++;
        const senderIndex = new DataView(d.buffer, d.byteOffset + 4, 4).getUint32(0, true);
        if (hint) {
          const reply = encodeCookieReply(this.checker.createReply(d, senderIndex, source));
          this.stats.cookieRepliesSent++;
          this.transmitRaw(hint, reply);
        }
        return false;
      }
      if (!this.limiter.allow(source)) {
        this.stats.rxDropRateLimited++;
        return false;
      }
    }
    return true;
  }

  private receiveInitiation(d: Uint8Array): void {
    const msg = decodeInitiation(d);
    if (!msg) {
      this.stats.rxDropHandshakeInvalid++;
      return;
    }
    if (!this.derivationSlot()) return;
    // es = DH(our static, their ephemeral) opens their static key; then the peer's static-static.
    this.withDh(() => this.key.dh(msg.ephemeral), (es) => {
      if (this.closed) {
        this.stats.rxDropClosed++;
        return;
      }
      const half = openInitiationStatic(this.publicKey, msg, es);
      es.fill(0);
      if (!half) {
        this.stats.rxDropHandshakeInvalid++;
        return;
      }
      const peer = this.peers.get(toHex(half.remoteStatic));
      if (!peer) {
        this.stats.rxDropUnknownPeer++;
        return;
      }
      this.withStaticStatic(peer, () => this.finishInitiation(d, msg, half, peer), () => this.stats.rxDropHandshakeInvalid++);
    }, () => this.stats.rxDropHandshakeInvalid++);
  }

  /** The rest of message 1, once the peer's static-static is known; all state changes happen here, in one go. */
  private finishInitiation(d: Uint8Array, msg: Initiation, half: InitiationStatic, peer: Peer): void {
    if (this.closed) {
      this.stats.rxDropClosed++;
      return;
    }
    if (peer.removed || !peer.staticStatic) {
      this.stats.rxDropPeerGone++;
      return;
    }
    const consumed = openInitiationTimestamp(half, msg, peer.staticStatic);
    if (!consumed) {
      this.stats.rxDropHandshakeInvalid++;
      return;
    }
    // wireguard-go ConsumeMessageInitiation: replay (timestamp must grow) and flood protection.
    // Checked now, after every await: of two copies in flight, the first to finish wins.
    if (!timestampAfter(consumed.timestamp, peer.lastTimestamp)) {
      this.stats.rxDropStaleTimestamp++;
      return;
    }
    const now = this.o.clock.now();
    if (now - peer.lastInitiationConsumedAt <= this.cfg.handshakeInitiationRateMs) {
      this.stats.rxDropInitiationFlood++;
      return;
    }
    peer.lastTimestamp = consumed.timestamp;
    peer.lastInitiationConsumedAt = now;
    // Our own initiation, if one is out, is abandoned (as wireguard-go): its response, even one
    // whose DH is in flight now, will find the handshake superseded.
    this.clearHandshake(peer);
    peer.handshake = { state: 'initiationConsumed', consumed };
    this.stats.handshakeInitiationsReceived++;
    this.event(peer, { type: 'initiation-received' });
    peer.rxBytes += d.length;
    peer.timers.anyAuthenticatedPacketTraversal();
    peer.timers.anyAuthenticatedPacketReceived();
    this.sendResponse(peer, consumed);
  }

  /** Runs `next` once peer.staticStatic is known: at once, or when our key has computed it. */
  private withStaticStatic(peer: Peer, next: () => void, failed: () => void): void {
    if (peer.staticStatic) {
      next();
      return;
    }
    if (!peer.staticStaticPending) {
      let done: () => void = () => {};
      peer.staticStaticPending = new Promise<void>((r) => (done = r));
      this.withDh(() => this.key.dh(peer.publicKey), (ss) => {
        peer.staticStaticPending = undefined;
        if (peer.removed) ss.fill(0);
        else peer.staticStatic = ss;
        done();
      }, () => {
        peer.staticStaticPending = undefined;
        this.stats.internalErrors++; // addPeer refused low-order keys: our key itself failed
        done();
      });
      // A synchronous key has answered already.
      if (peer.staticStatic) return next();
      if (!peer.staticStaticPending) return failed();
    }
    // Waiters continue in the order they asked (e.g. our wanted initiation before their initiation).
    const p = peer.staticStaticPending.then(() => {
      this.derivations.delete(p);
      // A peer removed meanwhile goes on to `next`, which counts it gone.
      this.guard(peer.staticStatic || peer.removed ? next : failed);
    });
    this.derivations.add(p);
  }

  private initiateIfWanted(peer: Peer): void {
    const kind = peer.initiationWanted;
    peer.initiationWanted = undefined;
    if (kind) this.sendInitiation(peer, kind);
  }

  private receiveResponse(d: Uint8Array): void {
    const msg = decodeResponse(d);
    if (!msg) {
      this.stats.rxDropHandshakeInvalid++;
      return;
    }
    const entry = this.indices.get(msg.receiver);
    const hs = entry?.peer.handshake;
    if (!entry || entry.keypair || !hs || hs.state !== 'initiationSent' || hs.localIndex !== msg.receiver) {
      this.stats.rxDropUnexpectedResponse++;
      return;
    }
    if (!this.derivationSlot()) return;
    const peer = entry.peer;
    // se = DH(our static, their ephemeral); the ephemeral half (ee) runs in openResponse, after the check below.
    this.withDh(() => this.key.dh(msg.ephemeral), (se) => this.finishResponse(d, msg, peer, hs, se), () => this.stats.rxDropHandshakeInvalid++);
  }

  private finishResponse(d: Uint8Array, msg: Response, peer: Peer, hs: Extract<HandshakeState, { state: 'initiationSent' }>, se: Uint8Array): void {
    if (this.closed) {
      this.stats.rxDropClosed++;
      return;
    }
    if (peer.removed) {
      this.stats.rxDropPeerGone++;
      return;
    }
    // While se was computed, a newer initiation (ours or the peer's) may have replaced this one,
    // or a copy of this response finished first: its ephemeral key is gone, its index freed.
    const entry = this.indices.get(msg.receiver);
    if (peer.handshake !== hs || !entry || entry.peer !== peer || entry.keypair) {
      this.stats.rxDropHandshakeSuperseded++;
      return;
    }
    const keys = openResponse(hs.initiator, msg, se);
    se.fill(0);
    if (!keys) {
      this.stats.rxDropHandshakeInvalid++;
      return;
    }
    this.stats.handshakeResponsesReceived++;
    this.event(peer, { type: 'response-received' });
    peer.rxBytes += d.length;
    peer.timers.anyAuthenticatedPacketTraversal();
    peer.timers.anyAuthenticatedPacketReceived();
    const kp = newKeypair({
      localIndex: msg.receiver,
      remoteIndex: msg.sender,
      isInitiator: true,
      createdAt: this.o.clock.now(),
      sender: this.cipher(keys.sendKey),
      receiver: this.cipher(keys.receiveKey),
    });
    keys.sendKey.fill(0);
    keys.receiveKey.fill(0);
    hs.initiator.ephemeralPrivate.fill(0);
    peer.handshake = { state: 'none' };
    this.indices.set(msg.receiver, { peer, keypair: kp });
    this.freeKeypairs(peer.keypairs.installAsInitiator(kp));
    peer.timers.sessionDerived();
    this.handshakeComplete(peer);
    this.sendKeepalive(peer);
  }

  private receiveCookieReply(d: Uint8Array): void {
    const reply = decodeCookieReply(d);
    const entry = reply && this.indices.get(reply.receiver);
    if (!reply || !entry) {
      this.stats.rxDropUnknownIndex++;
      return;
    }
    if (entry.peer.cookies.consumeReply(reply)) this.stats.cookieRepliesAccepted++;
    else this.stats.rxDropCookieReplyInvalid++;
  }

  private receiveTransport(d: Uint8Array): void {
    const header = decodeTransportHeader(d);
    if (!header) {
      this.stats.rxDropBadLength++;
      return;
    }
    const entry = this.indices.get(header.receiver);
    const kp = entry?.keypair;
    if (!entry || !kp) {
      this.stats.rxDropUnknownIndex++;
      return;
    }
    const peer = entry.peer;
    if (this.o.clock.now() - kp.createdAt >= this.cfg.rejectAfterTimeMs) {
      this.stats.rxDropExpiredKeypair++;
      return;
    }
    if (!(header.counter < this.cfg.rejectAfterMessages)) {
      this.stats.rxDropCounterLimit++;
      return;
    }
    // Cheap early drop of a sure replay; the authoritative check runs after authentication.
    if (!kp.replay.mayAccept(header.counter, this.cfg.rejectAfterMessages)) {
      this.stats.rxDropReplay++;
      return;
    }
    // Decryption is asynchronous: a sender faster than our engine must not grow the queue without bound.
    if (peer.rxQueue.pending >= this.maxQueued) {
      this.stats.rxDropBacklog++;
      return;
    }
    const counter = header.counter;
    // A view: every engine reads the ciphertext before open() returns (WebCrypto copies it at call time).
    const ciphertext = d.subarray(TRANSPORT_HEADER_SIZE);
    this.rxInFlight++;
    peer.rxQueue.push(kp.receiver.open(counter, ciphertext), (pt) => {
      this.rxInFlight--;
      try {
        this.deliver(peer, kp, counter, pt ?? null);
      } finally {
        if (this.rxInFlight === 0) this.o.onReceiveIdle?.();
      }
    });
  }

  private rxInFlight = 0;

  /** Transport packets received but not yet decrypted and delivered (all peers). */
  get receiveBacklog(): number {
    return this.rxInFlight;
  }

  /** Runs in arrival order per peer, after decryption (wireguard-go RoutineSequentialReceiver). */
  private deliver(peer: Peer, kp: Keypair, counter: number, pt: Uint8Array | null): void {
    if (peer.removed || this.closed) {
      this.stats.rxDropPeerGone++;
      return;
    }
    if (!pt) {
      this.stats.rxDropDecrypt++;
      return;
    }
    if (!kp.replay.validate(counter, this.cfg.rejectAfterMessages)) {
      this.stats.rxDropReplay++;
      return;
    }
    const { confirmed, gone } = peer.keypairs.receivedWith(kp);
    this.freeKeypairs(gone);
    if (confirmed) {
      this.handshakeComplete(peer);
      this.sendStaged(peer);
    }
    peer.rxBytes += pt.length + KEEPALIVE_SIZE;
    this.keepKeyFreshReceiving(peer);
    peer.timers.anyAuthenticatedPacketTraversal();
    peer.timers.anyAuthenticatedPacketReceived();
    if (pt.length === 0) {
      this.stats.rxKeepalives++;
      return;
    }
    peer.timers.dataReceived();
    const packet = trimIpPacket(pt);
    if (!packet) {
      this.stats.rxDropBadIpPacket++;
      return;
    }
    this.stats.rxPackets++;
    try {
      this.o.onPacket(peer.publicKey, packet);
    } catch {
      this.stats.callbackErrors++;
    }
  }

  // ---- send path ----------------------------------------------------------------------------

  private stage(peer: Peer, packet: Uint8Array): void {
    if (peer.staged.length >= this.maxStaged) {
      peer.staged.shift();
      this.stats.txDropQueueFull++;
    }
    peer.staged.push(packet);
  }

  private usableForSending(kp: Keypair | undefined): kp is Keypair {
    return (
      kp !== undefined &&
      kp.sendCounter < this.cfg.rejectAfterMessages &&
      this.o.clock.now() - kp.createdAt < this.cfg.rejectAfterTimeMs
    );
  }

  /** wireguard-go SendStagedPackets: encrypt what waits with the current keypair, or start a handshake. */
  private sendStaged(peer: Peer): void {
    if (peer.staged.length === 0 || peer.removed) return;
    const kp = peer.keypairs.current;
    if (!this.usableForSending(kp)) {
      this.sendInitiation(peer, 'fresh');
      return;
    }
    const batch = peer.staged;
    peer.staged = [];
    for (const packet of batch) {
      if (peer.txQueue.pending >= this.maxQueued) {
        this.stats.txDropBacklog++;
        continue;
      }
      const counter = kp.sendCounter++;
      const plaintext = this.pad(packet);
      peer.txQueue.push(kp.sender.seal(counter, plaintext), (ct, err) => {
        if (err || !ct) {
          this.stats.txDropEncrypt++;
          return;
        }
        if (peer.removed || this.closed) return;
        const datagram = new Uint8Array(TRANSPORT_HEADER_SIZE + ct.length);
        writeTransportHeader(datagram, kp.remoteIndex, counter);
        datagram.set(ct, TRANSPORT_HEADER_SIZE);
        peer.timers.anyAuthenticatedPacketTraversal();
        peer.timers.anyAuthenticatedPacketSent();
        this.transmit(peer, datagram);
        if (packet.length > 0) {
          this.stats.txPackets++;
          peer.timers.dataSent();
        } else {
          this.stats.txKeepalives++;
        }
        this.keepKeyFreshSending(peer);
      });
    }
  }

  private sendKeepalive(peer: Peer): void {
    if (peer.removed) return;
    if (peer.staged.length === 0) peer.staged.push(new Uint8Array(0));
    this.sendStaged(peer);
  }

  /** wireguard-go calculatePaddingSize: pad to a multiple of 16 without exceeding the MTU. */
  private pad(packet: Uint8Array): Uint8Array {
    let last = packet.length;
    if (last > this.mtu) last %= this.mtu;
    const padded = Math.min((last + 15) & ~15, this.mtu);
    const padding = Math.max(0, padded - last);
    if (padding === 0) return packet;
    const out = new Uint8Array(packet.length + padding);
    out.set(packet);
    return out;
  }

  private keepKeyFreshSending(peer: Peer): void {
    const kp = peer.keypairs.current;
    if (!kp) return;
    if (
      kp.sendCounter > this.cfg.rekeyAfterMessages ||
      (kp.isInitiator && this.o.clock.now() - kp.createdAt > this.cfg.rekeyAfterTimeMs)
    ) {
      this.sendInitiation(peer, 'fresh');
    }
  }

  private keepKeyFreshReceiving(peer: Peer): void {
    if (peer.timers.sentLastMinuteHandshake) return;
    const kp = peer.keypairs.current;
    const c = this.cfg;
    if (kp && kp.isInitiator && this.o.clock.now() - kp.createdAt > c.rejectAfterTimeMs - c.keepaliveTimeoutMs - c.rekeyTimeoutMs) {
      peer.timers.sentLastMinuteHandshake = true;
      this.sendInitiation(peer, 'fresh');
    }
  }

  // ---- handshake ----------------------------------------------------------------------------

  private sendInitiation(peer: Peer, kind: InitiationKind): void {
    if (peer.removed || this.closed) return;
    if (!peer.staticStatic) {
      // First handshake with this peer and an asynchronous key: compute the static-static once,
      // then send (the rate limit below is judged then). A fresh wish outranks a retry.
      if (kind !== 'early' && peer.initiationWanted !== 'fresh') peer.initiationWanted = kind;
      this.withStaticStatic(peer, () => this.initiateIfWanted(peer), () => (peer.initiationWanted = undefined));
      return;
    }
    if (kind === 'early') {
      // A first-contact retry (timers.ts) replaces only an initiation still unanswered; it leaves
      // the REKEY_TIMEOUT rate limit below anchored at the fresh initiation.
      if (peer.handshake.state !== 'initiationSent') return;
    } else {
      if (kind === 'fresh') peer.timers.handshakeAttempts = 0;
      const now = this.o.clock.now();
      if (now - peer.lastSentHandshakeAt < this.cfg.rekeyTimeoutMs) return; // at most one per REKEY_TIMEOUT
      peer.lastSentHandshakeAt = now;
    }
    this.clearHandshake(peer);
    const index = this.newIndex({ peer });
    const { message, state } = initiationMessage({
      localPublic: this.publicKey,
      staticStatic: peer.staticStatic,
      remoteStatic: peer.publicKey,
      ephemeralPrivate: generatePrivateKey(this.o.random),
      timestamp: tai64n(this.wall()),
      sender: index,
    });
    const bytes = encodeInitiation(message);
    peer.cookies.addMacs(bytes);
    peer.handshake = { state: 'initiationSent', localIndex: index, initiator: state };
    peer.timers.anyAuthenticatedPacketTraversal();
    peer.timers.anyAuthenticatedPacketSent();
    this.stats.handshakeInitiationsSent++;
    if (kind === 'early') this.stats.handshakeEarlyRetries++;
    this.event(peer, { type: 'initiation-sent', kind, attempt: peer.timers.handshakeAttempts });
    this.transmit(peer, bytes);
    peer.timers.handshakeInitiated(kind);
  }

  private sendResponse(peer: Peer, consumed: ConsumedInitiation): void {
    peer.lastSentHandshakeAt = this.o.clock.now();
    const index = this.newIndex({ peer });
    const r = createResponse({ consumed, ephemeralPrivate: generatePrivateKey(this.o.random), sender: index });
    peer.handshake = { state: 'none' };
    if (!r) {
      this.indices.delete(index);
      this.stats.rxDropHandshakeInvalid++;
      return;
    }
    const bytes = encodeResponse(r.message);
    peer.cookies.addMacs(bytes);
    const kp = newKeypair({
      localIndex: index,
      remoteIndex: consumed.remoteIndex,
      isInitiator: false,
      createdAt: this.o.clock.now(),
      sender: this.cipher(r.keys.sendKey),
      receiver: this.cipher(r.keys.receiveKey),
    });
    r.keys.sendKey.fill(0);
    r.keys.receiveKey.fill(0);
    this.indices.set(index, { peer, keypair: kp });
    this.freeKeypairs(peer.keypairs.installAsResponder(kp));
    peer.timers.sessionDerived();
    peer.timers.anyAuthenticatedPacketTraversal();
    peer.timers.anyAuthenticatedPacketSent();
    this.stats.handshakeResponsesSent++;
    this.event(peer, { type: 'response-sent' });
    this.transmit(peer, bytes);
  }

  private handshakeComplete(peer: Peer): void {
    peer.timers.handshakeComplete();
    this.stats.handshakesCompleted++;
    if (this.o.onHandshake) {
      try {
        this.o.onHandshake(peer.publicKey);
      } catch {
        this.stats.callbackErrors++;
      }
    }
  }

  private event(peer: Peer, ev: HandshakeEvent): void {
    if (!this.o.onHandshakeEvent) return;
    try {
      this.o.onHandshakeEvent(peer.publicKey, ev);
    } catch {
      this.stats.callbackErrors++;
    }
  }

  private clearHandshake(peer: Peer): void {
    const hs = peer.handshake;
    if (hs.state === 'initiationSent') {
      const e = this.indices.get(hs.localIndex);
      if (e && !e.keypair) this.indices.delete(hs.localIndex);
      hs.initiator.ephemeralPrivate.fill(0);
    }
    peer.handshake = { state: 'none' };
  }

  private zeroKeyMaterial(peer: Peer): void {
    this.freeKeypairs(peer.keypairs.clear());
    this.clearHandshake(peer);
  }

  private freeKeypairs(gone: Keypair[]): void {
    for (const kp of gone) {
      const e = this.indices.get(kp.localIndex);
      if (e && e.keypair === kp) this.indices.delete(kp.localIndex);
    }
  }

  private newIndex(entry: IndexEntry): number {
    for (;;) {
      const b = this.o.random(4);
      const index = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
      if (!this.indices.has(index)) {
        this.indices.set(index, entry);
        return index;
      }
    }
  }

  private cipher(key: Uint8Array): PacketCipher {
    if (this.engine) return this.engine.cipher(key);
    // Engine detection still running (only in the first moments of a WebCrypto runtime).
    const k = key.slice(); // the caller wipes its copy before the engine is known
    const inner = this.enginePromise.then((e) => e.cipher(k));
    return {
      seal: (counter, plaintext) => inner.then((c) => c.seal(counter, plaintext)),
      open: (counter, ciphertext) => inner.then((c) => c.open(counter, ciphertext)),
    };
  }

  private transmit(peer: Peer, datagram: Uint8Array): void {
    peer.txBytes += datagram.length;
    this.transmitRaw(peer.publicKey, datagram);
  }

  private transmitRaw(to: Uint8Array, datagram: Uint8Array): void {
    try {
      this.o.send(to, datagram);
    } catch {
      this.stats.sendErrors++;
    }
  }
}

/** Cuts the padding off a decrypted IP packet using its own length field (wireguard-go receive.go). */
export function trimIpPacket(p: Uint8Array): Uint8Array | null {
  const version = p[0] >> 4;
  if (version === 4) {
    if (p.length < 20) return null;
    const len = (p[2] << 8) | p[3];
    if (len > p.length || len < 20) return null;
    return p.subarray(0, len);
  }
  if (version === 6) {
    if (p.length < 40) return null;
    const len = ((p[4] << 8) | p[5]) + 40;
    if (len > p.length) return null;
    return p.subarray(0, len);
  }
  return null;
}
