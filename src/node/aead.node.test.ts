import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { describe, expect, it } from 'vitest';
import { nobleEngine } from '../noise/wireguard/aead-batch.js';
import { nodeCryptoEngine } from './aead.node.js';

describe('node:crypto AEAD engine', () => {
  it('agrees with @noble/ciphers both ways and rejects any flipped bit', async () => {
    const node = nodeCryptoEngine();
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 0, max: 2 ** 52 }),
        fc.uint8Array({ maxLength: 1400 }),
        fc.nat(),
        async (key, counter, pt, flip) => {
          const a = node.cipher(key),
            b = nobleEngine.cipher(key);
          const ct = await a.seal(counter, pt);
          expect(ct).toEqual(await b.seal(counter, pt));
          expect(await a.open(counter, ct)).toEqual(pt);
          expect(await b.open(counter, ct)).toEqual(pt);
          const bad = ct.slice();
          bad[flip % bad.length]! ^= 1 << (flip % 8);
          expect(await a.open(counter, bad)).toBeNull();
          expect(await a.open(counter + 1, ct)).toBeNull();
        },
      ),
      fuzz(200),
    );
    expect(await node.cipher(new Uint8Array(32)).open(0, new Uint8Array(15))).toBeNull();
  });
});
