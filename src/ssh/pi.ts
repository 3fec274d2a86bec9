// The binary expansion of pi, computed once with bigints (Machin's formula,
// pi = 16·atan(1/5) − 4·atan(1/239)), for the two constants SSH takes from it:
//   - the RFC 3526 MODP groups 14 and 16 (diffie-hellman-group14-sha256 and -group16-sha512,
//     RFC 8268): p = 2^N − 2^(N−64) − 1 + 2^64·(⌊2^(N−130)·pi⌋ + c);
//   - Blowfish's initial P-array and S-boxes (the fractional hex digits of pi, in order), used by
//     bcrypt_pbkdf for passphrase-protected OpenSSH private keys.
// Computing them avoids 1,000+ hand-copied words; the unit tests pin known first/last words.

let cached: { bits: number; fraction: bigint } | undefined;

function atanInv(x: bigint, one: bigint): bigint {
  // atan(1/x) = Σ (−1)^k / ((2k+1)·x^(2k+1)), in fixed point with `one` = 2^bits.
  const x2 = x * x;
  let power = one / x;
  let sum = power;
  for (let k = 1n; power !== 0n; k++) {
    power /= x2;
    const term = power / (2n * k + 1n);
    sum += k & 1n ? -term : term;
  }
  return sum;
}

/** ⌊pi·2^bits⌋ − 3·2^bits: the first `bits` bits after the binary point (exact for bits ≤ cached). */
export function piFractionBits(bits: number): bigint {
  if (!cached || cached.bits < bits) {
    const guard = 64;
    const n = bits + guard;
    const one = 1n << BigInt(n);
    const pi = 16n * atanInv(5n, one) - 4n * atanInv(239n, one);
    const fraction = (pi >> BigInt(guard)) - (3n << BigInt(bits));
    cached = { bits, fraction };
    return fraction;
  }
  return cached.fraction >> BigInt(cached.bits - bits);
}

/** The first `count` 32-bit words of pi's fractional part (Blowfish: 18 P words, then 4×256 S). */
export function piWords(count: number): Uint32Array {
  const f = piFractionBits(count * 32);
  const out = new Uint32Array(count);
  let v = f;
  for (let i = count - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffffffffn);
    v >>= 32n;
  }
  return out;
}

/** RFC 3526 / RFC 2412 MODP prime of `size` bits with its published offset. */
function modp(size: number, offset: bigint): bigint {
  const n = BigInt(size);
  // ⌊2^(N−130)·pi⌋ = 3·2^(N−130) + the first N−130 fraction bits.
  const piScaled = (3n << (n - 130n)) + piFractionBits(size - 130);
  return (1n << n) - (1n << (n - 64n)) - 1n + (1n << 64n) * (piScaled + offset);
}

let group14: bigint | undefined;
let group16: bigint | undefined;
/** 2048-bit MODP group 14 (RFC 3526 §3), generator 2. */
export function modpGroup14(): bigint {
  return (group14 ??= modp(2048, 124476n));
}
/** 4096-bit MODP group 16 (RFC 3526 §5), generator 2. */
export function modpGroup16(): bigint {
  return (group16 ??= modp(4096, 240904n));
}
