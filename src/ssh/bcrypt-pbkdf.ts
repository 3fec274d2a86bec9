// bcrypt_pbkdf, the key derivation OpenSSH uses for passphrase-protected private keys
// ("kdfname bcrypt" in PROTOCOL.key), written from OpenBSD's description of it: PBKDF2-like rounds
// over a bcrypt-style hash of SHA-512(passphrase) and SHA-512(salt || counter), the output bytes
// spread across the key with a stride. The bcrypt hash is Eksblowfish: Blowfish's pi-derived state
// expanded with salt and key, then 64 rounds of expanding with each alone, then
// "OxychromaticBlowfishSwatDynamite" encrypted 64 times, words emitted little-endian.
import { sha512 } from '@noble/hashes/sha2.js';
import { piWords } from './pi.js';

let initial: Uint32Array | undefined;
/** 18 P words then 4×256 S words: the fractional hex digits of pi. */
function initialState(): Uint32Array {
  return (initial ??= piWords(18 + 1024));
}

class Blowfish {
  readonly p: Uint32Array;
  readonly s: Uint32Array;
  constructor() {
    const init = initialState();
    this.p = init.slice(0, 18);
    this.s = init.slice(18);
  }

  /** Encrypt the 64-bit block (l, r) in place in `lr[0..1]`. */
  encipher(lr: Uint32Array): void {
    const p = this.p;
    const s = this.s;
    let l = lr[0];
    let r = lr[1];
    for (let i = 0; i < 16; i += 2) {
      l ^= p[i];
      r ^= (((s[l >>> 24] + s[256 | ((l >>> 16) & 0xff)]) ^ s[512 | ((l >>> 8) & 0xff)]) + s[768 | (l & 0xff)]) >>> 0;
      r ^= p[i + 1];
      l ^= (((s[r >>> 24] + s[256 | ((r >>> 16) & 0xff)]) ^ s[512 | ((r >>> 8) & 0xff)]) + s[768 | (r & 0xff)]) >>> 0;
    }
    lr[0] = (r ^ p[17]) >>> 0;
    lr[1] = (l ^ p[16]) >>> 0;
  }

  /** Eksblowfish ExpandKey(state, salt, key); with no salt, the plain key schedule step (expand0). */
  expand(key: Uint8Array, salt?: Uint8Array): void {
    const kp = { pos: 0 };
    for (let i = 0; i < 18; i++) this.p[i] = (this.p[i] ^ word(key, kp)) >>> 0;
    const lr = new Uint32Array(2);
    const sp = { pos: 0 };
    const fill = (arr: Uint32Array, n: number) => {
      for (let i = 0; i < n; i += 2) {
        if (salt) {
          lr[0] ^= word(salt, sp);
          lr[1] ^= word(salt, sp);
        }
        this.encipher(lr);
        arr[i] = lr[0];
        arr[i + 1] = lr[1];
      }
    };
    fill(this.p, 18);
    fill(this.s, 1024);
  }
}

/** The next 4 bytes of `data` read cyclically as a big-endian word. */
function word(data: Uint8Array, at: { pos: number }): number {
  let w = 0;
  for (let i = 0; i < 4; i++) {
    w = (w << 8) | data[at.pos];
    at.pos = (at.pos + 1) % data.length;
  }
  return w >>> 0;
}

const MAGIC = new TextEncoder().encode('OxychromaticBlowfishSwatDynamite');

function bcryptHash(sha2pass: Uint8Array, sha2salt: Uint8Array): Uint8Array {
  const bf = new Blowfish();
  bf.expand(sha2pass, sha2salt);
  for (let i = 0; i < 64; i++) {
    bf.expand(sha2salt);
    bf.expand(sha2pass);
  }
  const cdata = new Uint32Array(8);
  const at = { pos: 0 };
  for (let i = 0; i < 8; i++) cdata[i] = word(MAGIC, at);
  const block = new Uint32Array(2);
  for (let round = 0; round < 64; round++) {
    for (let i = 0; i < 8; i += 2) {
      block[0] = cdata[i];
      block[1] = cdata[i + 1];
      bf.encipher(block);
      cdata[i] = block[0];
      cdata[i + 1] = block[1];
    }
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    out[4 * i] = cdata[i] & 0xff;
    out[4 * i + 1] = (cdata[i] >>> 8) & 0xff;
    out[4 * i + 2] = (cdata[i] >>> 16) & 0xff;
    out[4 * i + 3] = cdata[i] >>> 24;
  }
  return out;
}

/** bcrypt_pbkdf(pass, salt, rounds) → keyLength bytes (OpenSSH: key || IV of the key file cipher). */
export function bcryptPbkdf(pass: Uint8Array, salt: Uint8Array, rounds: number, keyLength: number): Uint8Array {
  if (rounds < 1 || keyLength < 1 || keyLength > 1024 || salt.length === 0 || salt.length > 1 << 20)
    throw new RangeError('bcrypt_pbkdf: bad parameters');
  const stride = Math.ceil(keyLength / 32);
  const amount = Math.ceil(keyLength / stride);
  const key = new Uint8Array(keyLength);
  const sha2pass = sha512(pass);
  const countSalt = new Uint8Array(salt.length + 4);
  countSalt.set(salt);
  let remaining = keyLength;
  for (let count = 1; remaining > 0; count++) {
    countSalt[salt.length] = count >>> 24;
    countSalt[salt.length + 1] = (count >>> 16) & 0xff;
    countSalt[salt.length + 2] = (count >>> 8) & 0xff;
    countSalt[salt.length + 3] = count & 0xff;
    let tmp = bcryptHash(sha2pass, sha512(countSalt));
    const out = tmp.slice();
    for (let r = 1; r < rounds; r++) {
      tmp = bcryptHash(sha2pass, sha512(tmp));
      for (let j = 0; j < 32; j++) out[j] ^= tmp[j];
    }
    // Spread the block's bytes across the key: byte i goes to i·stride + (count − 1).
    const take = Math.min(amount, remaining);
    let i = 0;
    for (; i < take; i++) {
      const dest = i * stride + (count - 1);
      if (dest >= keyLength) break;
      key[dest] = out[i];
    }
    remaining -= i;
  }
  return key;
}
