// Randomness is injected into every protocol layer, as time is (platform/README.md).
// This module supplies the default source; tests pass a deterministic one.

export type RandomSource = (length: number) => Uint8Array;

/** The platform CSPRNG (WebCrypto's getRandomValues, present in browsers, Workers and Node 20). */
export const secureRandom: RandomSource = (length) => {
  const out = new Uint8Array(length);
  // getRandomValues is limited to 65536 bytes per call.
  for (let off = 0; off < length; off += 65536) {
    globalThis.crypto.getRandomValues(out.subarray(off, Math.min(length, off + 65536)));
  }
  return out;
};

/** A seeded, reproducible source for tests only (xorshift128+; not cryptographic). */
export function seededRandom(seed: number): RandomSource {
  let s0 = seed >>> 0 || 0x9e3779b9;
  let s1 = 0x85ebca6b ^ s0;
  const next = () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    s1 = x;
    return (s0 + s1) >>> 0;
  };
  return (length) => {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = next() & 0xff;
    return out;
  };
}
