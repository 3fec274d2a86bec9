// The state a WireGuardDevice shares between its roles, and the helpers they all use: indices,
// keypair bookkeeping, the AEAD ciphers, the transmit hooks and the bounded asynchronous DHs of our
// static key. The device is one object whose methods are spread over files by role, as
// wireguard-go spreads those of its Device/Peer over device/{send,receive,noise-protocol,timers}.go:
// DeviceCore (this file) <- DeviceSend (device-send.ts) <- DeviceHandshake (device-handshake.ts)
// <- DeviceReceive (device-receive.ts) <- WireGuardDevice (device.ts, the public API).
import { asStaticKey, type StaticX25519Key } from '../../crypto/static-key.js';
import { type AeadEngine, defaultAeadEngine, type PacketCipher } from './aead-batch.js';
import { CookieChecker, LoadMonitor, RateLimiter } from './cookie.js';
import type { HandshakeEvent, WireGuardDeviceOptions } from './device-options.js';
import { STAT_KEYS, type WireGuardStatKey } from './device-stats.js';
import type { Keypair } from './keypair.js';
import type { IndexEntry, Peer } from './peer.js';
import { DEFAULT_TIMERS, type WireGuardTimerConfig } from './timers.js';

/** Asynchronous DHs of our static key waiting at once (the rest are dropped and counted). */
export const MAX_DERIVATIONS = 64;

export abstract class DeviceCore {
  readonly stats: Record<WireGuardStatKey, number> & Record<string, number>;
  readonly publicKey: Uint8Array;
  protected readonly key: StaticX25519Key;
  protected readonly cfg: WireGuardTimerConfig;
  protected readonly peers = new Map<string, Peer>();
  protected readonly indices = new Map<number, IndexEntry>();
  protected readonly checker: CookieChecker;
  protected readonly load: LoadMonitor;
  protected readonly limiter: RateLimiter;
  protected readonly wall: () => number;
  protected readonly maxStaged: number;
  protected readonly maxQueued: number;
  protected readonly mtu: number;
  protected engine: AeadEngine | undefined;
  protected readonly enginePromise: Promise<AeadEngine>;
  protected closed = false;

  constructor(protected readonly o: WireGuardDeviceOptions) {
    if (o.privateKey instanceof Uint8Array && o.privateKey.length !== 32)
      throw new Error('wireguard: private key must be 32 bytes');
    this.key = asStaticKey(o.privateKey);
    this.publicKey = this.key.publicKey;
    this.cfg = { ...DEFAULT_TIMERS, ...o.timers };
    this.stats = Object.fromEntries(STAT_KEYS.map((k) => [k, 0])) as DeviceCore['stats'];
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
      aead.then(
        (e) => (this.engine = e),
        () => undefined,
      );
    }
  }

  protected readonly derivations = new Set<Promise<void>>();

  /**
   * Runs `next` with `dh`'s result: in this call when it is a value (a raw key), else when the
   * promise settles, tracked and bounded. `failed` runs when the DH refuses (a low-order point).
   */
  protected withDh(
    dh: () => Uint8Array | Promise<Uint8Array>,
    next: (v: Uint8Array) => void,
    failed: () => void,
  ): void {
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
  protected derivationSlot(): boolean {
    if (this.key.kind === 'raw' || this.derivations.size < MAX_DERIVATIONS) return true;
    this.stats.rxDropHandshakeBusy++;
    return false;
  }

  protected guard(f: () => void): void {
    try {
      f();
    } catch {
      this.stats.internalErrors++;
    }
  }

  protected usableForSending(kp: Keypair | undefined): kp is Keypair {
    return (
      kp !== undefined &&
      kp.sendCounter < this.cfg.rejectAfterMessages &&
      this.o.clock.now() - kp.createdAt < this.cfg.rejectAfterTimeMs
    );
  }

  protected handshakeComplete(peer: Peer): void {
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

  protected event(peer: Peer, ev: HandshakeEvent): void {
    if (!this.o.onHandshakeEvent) return;
    try {
      this.o.onHandshakeEvent(peer.publicKey, ev);
    } catch {
      this.stats.callbackErrors++;
    }
  }

  protected clearHandshake(peer: Peer): void {
    const hs = peer.handshake;
    if (hs.state === 'initiationSent') {
      const e = this.indices.get(hs.localIndex);
      if (e && !e.keypair) this.indices.delete(hs.localIndex);
      hs.initiator.ephemeralPrivate.fill(0);
    }
    peer.handshake = { state: 'none' };
  }

  protected zeroKeyMaterial(peer: Peer): void {
    this.freeKeypairs(peer.keypairs.clear());
    this.clearHandshake(peer);
  }

  protected freeKeypairs(gone: Keypair[]): void {
    for (const kp of gone) {
      const e = this.indices.get(kp.localIndex);
      if (e && e.keypair === kp) this.indices.delete(kp.localIndex);
    }
  }

  protected newIndex(entry: IndexEntry): number {
    for (;;) {
      const b = this.o.random(4);
      const index = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
      if (!this.indices.has(index)) {
        this.indices.set(index, entry);
        return index;
      }
    }
  }

  protected cipher(key: Uint8Array): PacketCipher {
    if (this.engine) return this.engine.cipher(key);
    // Engine detection still running (only in the first moments of a WebCrypto runtime).
    const k = key.slice(); // the caller wipes its copy before the engine is known
    const inner = this.enginePromise.then((e) => e.cipher(k));
    return {
      seal: (counter, plaintext) => inner.then((c) => c.seal(counter, plaintext)),
      open: (counter, ciphertext) => inner.then((c) => c.open(counter, ciphertext)),
    };
  }

  protected transmit(peer: Peer, datagram: Uint8Array): void {
    peer.txBytes += datagram.length;
    this.transmitRaw(peer.publicKey, datagram);
  }

  protected transmitRaw(to: Uint8Array, datagram: Uint8Array): void {
    try {
      this.o.send(to, datagram);
    } catch {
      this.stats.sendErrors++;
    }
  }
}
