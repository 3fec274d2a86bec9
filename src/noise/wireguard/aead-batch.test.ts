import fc from 'fast-check';
import { fuzz } from '../../platform/fuzz.testkit.js';
import { describe, expect, it } from 'vitest';
import { seal } from '../../crypto/aead.js';
import {
  type AeadEngine,
  defaultAeadEngine,
  detectWebCryptoEngine,
  nobleEngine,
  OrderedQueue,
  sizeSplitEngine,
} from './aead-batch.js';
import { ipv4Packet, TestNet } from './test-net.testkit.js';

/** An engine that answers like noble but after random delays, so results complete out of order. */
function jitteryEngine(seed: number): AeadEngine {
  let s = seed;
  const delay = () => new Promise<void>((r) => setTimeout(r, (s = (s * 1103515245 + 12345) >>> 0) % 4));
  return {
    name: 'noble',
    cipher(key) {
      const c = nobleEngine.cipher(key);
      return {
        seal: async (n, p) => (await delay(), c.seal(n, p)),
        open: async (n, p) => (await delay(), c.open(n, p)),
      };
    },
  };
}

describe('aead-batch', () => {
  it('sizeSplitEngine sends packets up to maxSmall through the small engine, the rest through the big one, with the same bytes', async () => {
    const used: string[] = [];
    const counting = (tag: string): AeadEngine => ({
      name: 'noble',
      cipher(key) {
        const c = nobleEngine.cipher(key);
        return {
          seal: (n, p) => (used.push(`${tag} seal`), c.seal(n, p)),
          open: (n, p) => (used.push(`${tag} open`), c.open(n, p)),
        };
      },
    });
    const key = new Uint8Array(32).fill(9);
    const split = sizeSplitEngine(counting('big'), counting('small'), 256).cipher(key);
    for (const len of [0, 1, 256, 257, 1400]) {
      const pt = new Uint8Array(len).map((_, i) => i);
      const ct = await split.seal(len, pt);
      expect(ct).toEqual(await nobleEngine.cipher(key).seal(len, pt));
      expect(await split.open(len, ct)).toEqual(pt);
    }
    // 0, 1 and 256 bytes go small (their ciphertexts, 16 bytes longer, too); 257 and 1400 go big.
    expect(used).toEqual([
      ...Array(3).fill(['small seal', 'small open']).flat(),
      ...Array(2).fill(['big seal', 'big open']).flat(),
    ]);
    expect(sizeSplitEngine(nobleEngine, nobleEngine)).toBe(nobleEngine);
  });

  it('OrderedQueue consumes results in submission order whatever order they settle in', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: 5 }), { minLength: 1, maxLength: 40 }), async (delays) => {
        const q = new OrderedQueue();
        const out: number[] = [];
        delays.forEach((d, i) => q.push(new Promise<number>((r) => setTimeout(() => r(i), d)), (v) => out.push(v!)));
        await q.idle();
        expect(out).toEqual(delays.map((_, i) => i));
      }),
      fuzz(30),
    );
  });

  it('a rejected operation is reported to its consumer and does not stall the queue', async () => {
    const q = new OrderedQueue();
    const out: string[] = [];
    q.push(Promise.reject(new Error('x')), (_v, e) => out.push(e ? 'err' : 'ok'));
    q.push(Promise.resolve(1), () => out.push('ok'));
    await q.idle();
    expect(out).toEqual(['err', 'ok']);
  });

  it('Node 20 has no WebCrypto ChaCha20-Poly1305, so the default engine is @noble', async () => {
    const e = await defaultAeadEngine();
    const web = await detectWebCryptoEngine();
    expect(e.name).toBe(web ? 'webcrypto' : 'noble');
  });

  it('the WebCrypto engine is chosen only when it agrees with @noble (checked with a fake SubtleCrypto)', async () => {
    const good = {
      importKey: async (_f: string, key: Uint8Array) => key,
      encrypt: async (p: { iv: Uint8Array }, key: Uint8Array, data: Uint8Array) => seal(key, p.iv, data).buffer,
      decrypt: async () => {
        throw new Error('unused');
      },
    };
    const bad = { ...good, encrypt: async () => new ArrayBuffer(83) };
    expect(await detectWebCryptoEngine(bad as unknown as SubtleCrypto)).toBeNull();
    expect(await detectWebCryptoEngine({} as SubtleCrypto)).toBeNull();
    // With a matching encrypt but failing decrypt it is still refused (the round trip is checked).
    expect(await detectWebCryptoEngine(good as unknown as SubtleCrypto)).toBeNull();
  });

  it('a device keeps per-peer order when its AEAD completes out of order', async () => {
    const net = new TestNet();
    const a = net.device({ aead: jitteryEngine(1) });
    const b = net.device({ aead: jitteryEngine(2) });
    a.addPeer(b.publicKey);
    b.addPeer(a.publicKey);
    for (let i = 0; i < 100; i++) a.send(b.publicKey, ipv4Packet(60 + i));
    await net.pump();
    for (let i = 0; i < 300; i++) a.send(b.publicKey, ipv4Packet(60 + i));
    await net.pump();
    expect(net.inbox(b).map((p) => p.length)).toEqual(
      [...Array(100)].map((_, i) => 60 + i).concat([...Array(300)].map((_, i) => 60 + i)),
    );
  });
});
