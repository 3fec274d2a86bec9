// Test support (imported by *.test.ts only): two or more WireGuardDevices joined by an in-memory
// link that the test pumps, with a VirtualClock and seeded randomness.
import { seededRandom, type RandomSource } from '../../crypto/random.js';
import { RawX25519Key, type StaticX25519Key } from '../../crypto/static-key.js';
import { generateKeyPair } from '../../crypto/x25519.js';
import { VirtualClock } from '../../platform/clock.js';
import { advanceInSteps, nextTurn } from '../../platform/virtual-time.testkit.js';
import { nobleEngine } from './aead-batch.js';
import { WireGuardDevice, type WireGuardDeviceOptions } from './device.js';
import { toHex } from '../../crypto/bytes.js';

export interface Wire {
  from: Uint8Array;
  to: Uint8Array;
  datagram: Uint8Array;
}

export class TestNet {
  readonly clock = new VirtualClock(1_000_000);
  readonly wires: Wire[] = [];
  readonly devices = new Map<string, WireGuardDevice>();
  readonly received = new Map<string, Uint8Array[]>();
  /** Return false to drop a datagram in flight. */
  filter: (w: Wire) => boolean = () => true;
  private seed = 1;

  /** Randomness for a key made outside device() (e.g. a GatedKey). */
  random(): RandomSource {
    return seededRandom(this.seed++ * 104729);
  }

  /** Moves the datagrams now in flight to their devices, without waiting for any work (a gated key would block flush()). */
  deliver(): number {
    const batch = this.wires.splice(0);
    for (const w of batch) {
      if (!this.filter(w)) continue;
      this.devices.get(toHex(w.to))?.receive(w.datagram, w.from);
    }
    return batch.length;
  }

  device(extra: Partial<WireGuardDeviceOptions> = {}): WireGuardDevice {
    const random = seededRandom(this.seed++ * 7919);
    const { privateKey } = generateKeyPair(random);
    const inbox: Uint8Array[] = [];
    let me: Uint8Array | undefined;
    const dev = new WireGuardDevice({
      privateKey,
      clock: this.clock,
      random,
      aead: nobleEngine,
      send: (to, datagram) => this.wires.push({ from: me!, to, datagram }),
      onPacket: (_from, p) => inbox.push(p),
      ...extra,
    });
    me = dev.publicKey;
    this.devices.set(toHex(dev.publicKey), dev);
    this.received.set(toHex(dev.publicKey), inbox);
    return dev;
  }

  inbox(dev: WireGuardDevice): Uint8Array[] {
    return this.received.get(toHex(dev.publicKey))!;
  }

  async flushAll(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await Promise.all([...this.devices.values()].map((d) => d.flush()));
      await nextTurn();
    }
  }

  /** Delivers datagrams (and whatever they cause) until the link is quiet. Returns the count delivered. */
  async pump(maxRounds = 100): Promise<number> {
    let n = 0;
    for (let round = 0; round < maxRounds; round++) {
      await this.flushAll();
      if (this.wires.length === 0) return n;
      const batch = this.wires.splice(0);
      for (const w of batch) {
        if (!this.filter(w)) continue;
        const dst = this.devices.get(toHex(w.to));
        dst?.receive(w.datagram, w.from);
        n++;
      }
    }
    throw new Error('link did not settle');
  }

  /** Advances virtual time in steps, pumping the link after each step. */
  async advance(ms: number, stepMs = 100): Promise<void> {
    await advanceInSteps(this.clock, ms, stepMs, () => this.pump());
  }
}

/** A minimal IPv4 UDP-ish packet of the given total length (header fields valid for trimming). */
export function ipv4Packet(len: number, fill = 0xab): Uint8Array {
  const p = new Uint8Array(len).fill(fill);
  p[0] = 0x45;
  p[2] = len >> 8;
  p[3] = len & 0xff;
  return p;
}

/**
 * A static key whose DH answers only when the test says so: it stands for a WebCrypto key
 * (asynchronous deriveBits) with the timing in the test's hands, to play the orderings an
 * asynchronous DH allows (two initiations crossing, a response arriving mid-derivation).
 */
export class GatedKey implements StaticX25519Key {
  readonly kind = 'webcrypto' as const; // asynchronous, like WebCrypto's
  readonly publicKey: Uint8Array;
  private readonly inner: RawX25519Key;
  private readonly waiting: (() => void)[] = [];
  /** DHs asked of this key so far. */
  calls = 0;
  /** false: every DH resolves on its own (still asynchronously). */
  gated = true;
  constructor(random: RandomSource) {
    this.inner = new RawX25519Key(generateKeyPair(random).privateKey);
    this.publicKey = this.inner.publicKey;
  }
  dh(peerPublic: Uint8Array): Promise<Uint8Array> {
    this.calls++;
    let v: Uint8Array;
    try {
      v = this.inner.dh(peerPublic);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!this.gated) return Promise.resolve(v);
    return new Promise((resolve) => this.waiting.push(() => resolve(v)));
  }
  get pending(): number {
    return this.waiting.length;
  }
  /** Answers the oldest waiting DH (or the newest with `newestFirst`); then lets promises run. */
  async release(n = Infinity, newestFirst = false): Promise<void> {
    for (let i = 0; i < n && this.waiting.length; i++) (newestFirst ? this.waiting.pop()! : this.waiting.shift()!)();
    for (let i = 0; i < 5; i++) await nextTurn();
  }
}
