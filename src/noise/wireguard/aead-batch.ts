// The transport data path's AEAD (ChaCha20-Poly1305, RFC 8439, WireGuard nonce = 4 zero bytes +
// LE u64 counter, paper §5.4.6). Two engines behind one async interface:
//   - WebCrypto 'ChaCha20-Poly1305' (key import format 'raw-secret'), where the runtime has it
//     (Chromium does, Node 20 does not): native speed, but every call is a Promise;
//   - @noble/ciphers otherwise (synchronous, wrapped in resolved Promises).
// Callers start many operations at once and consume results in submission order with
// OrderedQueue, so the async API never serializes packets while delivery order is preserved.
import { nonceLE, open as nobleOpen, seal as nobleSeal } from '../../crypto/aead.js';

export interface PacketCipher {
  /** ciphertext || tag of plaintext under the 64-bit counter. */
  seal(counter: number, plaintext: Uint8Array): Promise<Uint8Array>;
  /**
   * The plaintext, or null when the tag does not verify. Never rejects. The ciphertext (and a seal's
   * plaintext) is read before the call returns, so callers may pass views of buffers they reuse.
   */
  open(counter: number, ciphertext: Uint8Array): Promise<Uint8Array | null>;
}

export interface AeadEngine {
  readonly name: 'webcrypto' | 'noble';
  /** A cipher bound to a 32-byte key (the engine may copy it; the caller may wipe its copy). */
  cipher(key: Uint8Array): PacketCipher;
}

export const nobleEngine: AeadEngine = {
  name: 'noble',
  cipher(key: Uint8Array): PacketCipher {
    const k = key.slice();
    return {
      seal: (counter, plaintext) => Promise.resolve(nobleSeal(k, packetNonce(counter), plaintext)),
      open: (counter, ciphertext) => Promise.resolve(nobleOpen(k, packetNonce(counter), ciphertext)),
    };
  },
};

const ALG = 'ChaCha20-Poly1305';

/** nonceLE without a BigInt per packet: counters here are below 2^53 (JS numbers). */
function packetNonce(counter: number): Uint8Array {
  const n = new Uint8Array(12);
  const dv = new DataView(n.buffer);
  dv.setUint32(4, counter >>> 0, true);
  dv.setUint32(8, Math.floor(counter / 0x1_0000_0000) >>> 0, true);
  return n;
}

function webCryptoEngineFor(subtle: SubtleCrypto): AeadEngine {
  return {
    name: 'webcrypto',
    cipher(key: Uint8Array): PacketCipher {
      // 'raw-secret' is the import format the WebCrypto "modern algorithms" draft gives ChaCha20-Poly1305.
      const cryptoKey = subtle.importKey('raw-secret' as 'raw', key.slice(), { name: ALG }, false, [
        'encrypt',
        'decrypt',
      ]);
      // Once imported, the key is used directly: an `await` of the settled import per packet is one
      // more microtask per packet on the data path.
      let ready: CryptoKey | undefined;
      cryptoKey.then(
        (k) => (ready = k),
        () => undefined,
      ); // failures surface through seal/open
      return {
        async seal(counter, plaintext) {
          const ct = await subtle.encrypt(
            { name: ALG, iv: packetNonce(counter) } as Algorithm,
            ready ?? (await cryptoKey),
            plaintext as BufferSource,
          );
          return new Uint8Array(ct);
        },
        async open(counter, ciphertext) {
          if (ciphertext.length < 16) return null;
          try {
            const pt = await subtle.decrypt(
              { name: ALG, iv: packetNonce(counter) } as Algorithm,
              ready ?? (await cryptoKey),
              ciphertext as BufferSource,
            );
            return new Uint8Array(pt);
          } catch {
            return null;
          }
        },
      };
    },
  };
}

/**
 * Returns the WebCrypto engine if this runtime's SubtleCrypto implements ChaCha20-Poly1305 AND it
 * agrees with @noble/ciphers on a test vector (so a half-working implementation is never used).
 */
export async function detectWebCryptoEngine(
  subtle: SubtleCrypto | undefined = globalThis.crypto?.subtle,
): Promise<AeadEngine | null> {
  if (!subtle) return null;
  try {
    const engine = webCryptoEngineFor(subtle);
    const key = new Uint8Array(32).map((_, i) => i * 7 + 1);
    const pt = new Uint8Array(67).map((_, i) => i);
    const c = engine.cipher(key);
    const ct = await c.seal(0x1_0000_0005, pt);
    const ref = nobleSeal(key, nonceLE(0x1_0000_0005), pt);
    if (ct.length !== ref.length || !ct.every((b, i) => b === ref[i])) return null;
    const back = await c.open(0x1_0000_0005, ref);
    if (!back || !back.every((b, i) => b === pt[i])) return null;
    return engine;
  } catch {
    return null;
  }
}

/**
 * Small packets (keystrokes, their echoes, pure ACKs) through `small`, the rest through `big`: the
 * WebCrypto engine's result of every call comes back as a task after a trip to another thread,
 * which for a keystroke's packets costs more than computing a 100-byte ChaCha20-Poly1305 in
 * JavaScript (noble, settled in a microtask). Same cipher and bytes either way; packets are still
 * consumed in submission order (OrderedQueue), so a small one never overtakes a big one.
 */
export function sizeSplitEngine(big: AeadEngine, small: AeadEngine, maxSmall = 256): AeadEngine {
  if (big === small) return big;
  return {
    name: big.name,
    cipher(key: Uint8Array): PacketCipher {
      const b = big.cipher(key);
      const s = small.cipher(key);
      return {
        seal: (counter, plaintext) => (plaintext.length <= maxSmall ? s : b).seal(counter, plaintext),
        open: (counter, ciphertext) => (ciphertext.length <= maxSmall + 16 ? s : b).open(counter, ciphertext),
      };
    },
  };
}

let detected: Promise<AeadEngine> | undefined;

/**
 * The fastest engine of this runtime, detected once per process/worker: WebCrypto for bulk packets
 * with small ones through noble where WebCrypto has the cipher (bench ssh-keystroke, Chromium Worker,
 * alternate runs: echo median 2.40/2.50 ms → 2.20/1.80 ms, native ssh 0.93–1.18 ms), else noble.
 */
export function defaultAeadEngine(): Promise<AeadEngine> {
  detected ??= detectWebCryptoEngine().then((e) => (e ? sizeSplitEngine(e, nobleEngine) : nobleEngine));
  return detected;
}

/**
 * Consumes the results of concurrently started async operations in the order they were submitted.
 * A slow first packet holds back later ones (as wireguard-go's per-peer sequential queues do).
 */
export class OrderedQueue {
  private items: { done: boolean; run: () => void }[] = [];
  private head = 0;
  private idleWaiters: (() => void)[] = [];

  get pending(): number {
    return this.items.length - this.head;
  }

  push<T>(op: Promise<T>, onResult: (value: T | undefined, error?: unknown) => void): void {
    const item = { done: false, run: () => {} };
    this.items.push(item);
    op.then(
      (v) => {
        item.run = () => onResult(v);
        item.done = true;
        this.drain();
      },
      (e) => {
        item.run = () => onResult(undefined, e);
        item.done = true;
        this.drain();
      },
    );
  }

  /** Resolves once everything submitted so far (and anything it submits) has been consumed. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private draining = false;

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.head < this.items.length && this.items[this.head].done) {
        const item = this.items[this.head++];
        try {
          item.run();
        } catch {
          // a consumer's failure must not stall the queue
        }
      }
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
    } finally {
      this.draining = false;
    }
    if (this.pending === 0 && this.idleWaiters.length) {
      const ws = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of ws) w();
    }
  }
}
