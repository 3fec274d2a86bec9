// MAC1/MAC2 and cookie replies: WireGuard's DoS mitigation. Spec: the WireGuard paper §5.3 and
// §5.4.4, §5.4.7; behaviour as in wireguard-go device/cookie.go (CookieChecker, CookieGenerator),
// device/receive.go (under-load check) and ratelimiter/ratelimiter.go (token bucket per source).
import { equalBytes, toHex, utf8 } from '../../crypto/bytes.js';
import { hash, mac } from '../../crypto/blake2s.js';
import { xopen, xseal } from '../../crypto/aead.js';
import type { Clock } from '../../platform/clock.js';
import type { RandomSource } from '../../crypto/random.js';
import { type CookieReply, mac1Input, mac2Input } from './messages.js';

export const LABEL_MAC1 = utf8.encode('mac1----');
export const LABEL_COOKIE = utf8.encode('cookie--');

/** HASH(LABEL_MAC1 || receiver static public key): the key of mac1 for messages TO that receiver. */
export const mac1Key = (receiverPublic: Uint8Array) => hash(LABEL_MAC1, receiverPublic);
/** HASH(LABEL_COOKIE || public key of the cookie's sender): the XChaCha key of a cookie reply. */
export const cookieKey = (senderPublic: Uint8Array) => hash(LABEL_COOKIE, senderPublic);

/** The receiving side: checks MACs of handshake messages addressed to us and makes cookie replies. */
export class CookieChecker {
  private readonly mac1Key: Uint8Array;
  private readonly encryptionKey: Uint8Array;
  private secret: Uint8Array = new Uint8Array(32);
  private secretSetAt = Number.NEGATIVE_INFINITY;

  constructor(
    localPublic: Uint8Array,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly refreshMs = 120_000,
  ) {
    this.mac1Key = mac1Key(localPublic);
    this.encryptionKey = cookieKey(localPublic);
  }

  checkMac1(msg: Uint8Array): boolean {
    const n = msg.length;
    return equalBytes(mac(this.mac1Key, mac1Input(msg)), msg.subarray(n - 32, n - 16));
  }

  checkMac2(msg: Uint8Array, source: Uint8Array): boolean {
    if (this.clock.now() - this.secretSetAt > this.refreshMs) return false;
    const cookie = mac(this.secret, source);
    return equalBytes(mac(cookie, mac2Input(msg)), msg.subarray(msg.length - 16));
  }

  /** A cookie reply to handshake message msg from source; receiver = the message's sender index. */
  createReply(msg: Uint8Array, receiver: number, source: Uint8Array): CookieReply {
    const now = this.clock.now();
    if (now - this.secretSetAt > this.refreshMs) {
      this.secret = this.random(32);
      this.secretSetAt = now;
    }
    const cookie = mac(this.secret, source);
    const nonce = this.random(24);
    const n = msg.length;
    const encryptedCookie = xseal(this.encryptionKey, nonce, cookie, msg.subarray(n - 32, n - 16));
    return { receiver, nonce, encryptedCookie };
  }
}

/** The sending side, one per peer: adds mac1/mac2 to our handshake messages, consumes cookie replies. */
export class CookieGenerator {
  // Made at first use: a device with 10,000 peers hashes only for the peers it talks to.
  private mac1KeyMemo: Uint8Array | undefined;
  private encryptionKeyMemo: Uint8Array | undefined;
  private get mac1Key(): Uint8Array {
    return (this.mac1KeyMemo ??= mac1Key(this.remotePublic));
  }
  private get encryptionKey(): Uint8Array {
    return (this.encryptionKeyMemo ??= cookieKey(this.remotePublic));
  }
  private cookie: Uint8Array = new Uint8Array(16);
  private cookieSetAt = Number.NEGATIVE_INFINITY;
  private lastMac1: Uint8Array | undefined;

  constructor(
    private readonly remotePublic: Uint8Array,
    private readonly clock: Clock,
    private readonly refreshMs = 120_000,
  ) {}

  /** Fills mac1 (always) and mac2 (when we hold a fresh cookie) in place. */
  addMacs(msg: Uint8Array): void {
    const n = msg.length;
    const m1 = mac(this.mac1Key, mac1Input(msg));
    msg.set(m1, n - 32);
    this.lastMac1 = m1;
    if (this.clock.now() - this.cookieSetAt > this.refreshMs) {
      msg.fill(0, n - 16);
      return;
    }
    msg.set(mac(this.cookie, mac2Input(msg)), n - 16);
  }

  /** True when the reply decrypts against the mac1 of the last message we sent to this peer. */
  consumeReply(reply: CookieReply): boolean {
    if (!this.lastMac1) return false;
    const cookie = xopen(this.encryptionKey, reply.nonce, reply.encryptedCookie, this.lastMac1);
    if (!cookie || cookie.length !== 16) return false;
    this.cookie = cookie;
    this.cookieSetAt = this.clock.now();
    return true;
  }

  get hasCookie(): boolean {
    return this.clock.now() - this.cookieSetAt <= this.refreshMs;
  }
}

/**
 * "Under load" detection. wireguard-go counts the handshake queue's depth; we have no queue (messages
 * are handled as they arrive), so we count handshake messages in the last second. Once the rate
 * reaches the threshold the device stays under load for underLoadAfterMs (wireguard-go UnderLoadAfterTime).
 */
export class LoadMonitor {
  private windowStart = Number.NEGATIVE_INFINITY;
  private count = 0;
  private underLoadUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly thresholdPerSecond: number,
    private readonly underLoadAfterMs = 1000,
  ) {}

  /** Records one handshake message and says whether the device is now under load. */
  note(): boolean {
    const now = this.clock.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.count = 0;
    }
    this.count++;
    if (this.count > this.thresholdPerSecond) this.underLoadUntil = now + this.underLoadAfterMs;
    return now < this.underLoadUntil;
  }
}

/** Token bucket per source (wireguard-go ratelimiter: 20 packets/s, burst 5), used only under load. */
export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep = 0;

  constructor(
    private readonly clock: Clock,
    private readonly perSecond = 20,
    private readonly burst = 5,
  ) {}

  allow(source: Uint8Array): boolean {
    const now = this.clock.now();
    if (now - this.lastSweep > 1000) {
      this.lastSweep = now;
      for (const [k, b] of this.buckets) if (now - b.at > 1000) this.buckets.delete(k);
    }
    const k = toHex(source);
    let b = this.buckets.get(k);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(k, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
