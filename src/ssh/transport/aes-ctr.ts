// aes128-ctr / aes192-ctr / aes256-ctr (RFC 4344 §4) with an HMAC (RFC 6668 hmac-sha2-256/512),
// in both packet layouts:
//   - MAC-then-encrypt (RFC 4253 §6.4): the whole packet, length included, is encrypted; the MAC
//     is HMAC(key, uint32 seq || plaintext packet); the first block is decrypted early to learn
//     the length;
//   - encrypt-then-MAC (OpenSSH PROTOCOL §1.5, "*-etm@openssh.com"): the length is sent in the
//     clear, the rest encrypted, and the MAC is HMAC(key, uint32 seq || length || ciphertext),
//     checked before anything is decrypted.
// The counter is the 128-bit big-endian IV, advanced by one per 16-byte block across packets (one
// keystream per direction). MACs are compared in constant time.
import { ctr } from '@noble/ciphers/aes.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { equalBytes } from '../../crypto/bytes.js';
import type { CipherSpec, MacSpec, PacketCipher } from './cipher.js';

function macSpec(name: string, size: 20 | 32 | 64, etm: boolean): MacSpec {
  const mac =
    size === 20
      ? (key: Uint8Array, data: Uint8Array) => hmac(sha1, key, data)
      : size === 32
        ? (key: Uint8Array, data: Uint8Array) => hmac(sha256, key, data)
        : (key: Uint8Array, data: Uint8Array) => hmac(sha512, key, data);
  return { name, keyLength: size, tagLength: size, etm, mac };
}

export const MACS: Record<string, MacSpec> = Object.fromEntries(
  [
    macSpec('hmac-sha2-256-etm@openssh.com', 32, true),
    macSpec('hmac-sha2-512-etm@openssh.com', 64, true),
    macSpec('hmac-sha2-256', 32, false),
    macSpec('hmac-sha2-512', 64, false),
    // Negotiated only with the legacy-device opt-in (kex.ts LEGACY_MACS).
    macSpec('hmac-sha1-etm@openssh.com', 20, true),
    macSpec('hmac-sha1', 20, false),
  ].map((m) => [m.name, m]),
);

function be32(v: number): number {
  return v >>> 0;
}

class AesCtrHmac implements PacketCipher {
  readonly blockSize = 16;
  readonly tagLength: number;
  readonly lengthAligned: boolean;
  private readonly counter: Uint8Array;
  constructor(
    readonly name: string,
    private readonly key: Uint8Array,
    iv: Uint8Array,
    private readonly mac: MacSpec,
    private readonly macKey: Uint8Array,
  ) {
    this.counter = iv.slice(0, 16);
    this.tagLength = mac.tagLength;
    this.lengthAligned = !mac.etm;
  }

  /** XOR `data` with the keystream from the current counter, then move the counter past it. */
  private crypt(data: Uint8Array): Uint8Array {
    const out = ctr(this.key, this.counter).encrypt(data);
    let add = Math.ceil(data.length / 16);
    // 128-bit big-endian addition of the block count.
    for (let i = 15; i >= 0 && add > 0; i--) {
      const sum = this.counter[i] + (add & 0xff);
      this.counter[i] = sum & 0xff;
      add = (add >>> 8) + (sum >> 8);
    }
    return out;
  }

  private tag(seq: number, ...parts: Uint8Array[]): Uint8Array {
    let n = 4;
    for (const p of parts) n += p.length;
    const data = new Uint8Array(n);
    const s = be32(seq);
    data[0] = s >>> 24;
    data[1] = (s >>> 16) & 0xff;
    data[2] = (s >>> 8) & 0xff;
    data[3] = s & 0xff;
    let off = 4;
    for (const p of parts) {
      data.set(p, off);
      off += p.length;
    }
    return this.mac.mac(this.macKey, data);
  }

  seal(seq: number, packet: Uint8Array): Uint8Array {
    const out = new Uint8Array(packet.length + this.tagLength);
    if (this.mac.etm) {
      out.set(packet.subarray(0, 4), 0);
      out.set(this.crypt(packet.subarray(4)), 4);
      out.set(this.tag(seq, out.subarray(0, packet.length)), packet.length);
    } else {
      out.set(this.crypt(packet), 0);
      out.set(this.tag(seq, packet), packet.length);
    }
    return out;
  }

  length(_seq: number, head: Uint8Array): number {
    // Peek: the keystream for the first 4 bytes, without advancing the counter.
    const h = this.mac.etm ? head : ctr(this.key, this.counter).encrypt(head.subarray(0, 4));
    return ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
  }

  open(seq: number, wire: Uint8Array): Uint8Array | null {
    const body = wire.subarray(0, wire.length - this.tagLength);
    const received = wire.subarray(wire.length - this.tagLength);
    if (this.mac.etm) {
      if (!equalBytes(this.tag(seq, body), received)) return null;
      return this.crypt(body.subarray(4));
    }
    const plain = this.crypt(body);
    if (!equalBytes(this.tag(seq, plain), received)) return null;
    return plain.subarray(4);
  }
}

function ctrSpec(bits: 128 | 192 | 256): CipherSpec {
  const name = `aes${bits}-ctr`;
  return {
    name,
    keyLength: bits / 8,
    ivLength: 16,
    aead: false,
    create(key, iv, mac) {
      if (!mac) throw new Error(`${name} needs a MAC`);
      return new AesCtrHmac(name, key, iv, mac.spec, mac.key);
    },
  };
}

export const aes128Ctr = ctrSpec(128);
export const aes192Ctr = ctrSpec(192);
export const aes256Ctr = ctrSpec(256);
