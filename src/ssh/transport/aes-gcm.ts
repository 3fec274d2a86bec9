// aes128-gcm@openssh.com / aes256-gcm@openssh.com (RFC 5647 §7, OpenSSH naming and negotiation:
// the cipher implies its own MAC). The 12-byte IV is a 4-byte fixed field and an 8-byte
// invocation counter that increments after every packet (§7.1); the 4-byte packet length is
// sent in the clear as additional authenticated data (§7.3); alignment is 16.
import { gcm } from '@noble/ciphers/aes.js';
import type { CipherSpec, PacketCipher } from './cipher.js';

class AesGcmCipher implements PacketCipher {
  readonly blockSize = 16;
  readonly tagLength = 16;
  readonly lengthAligned = false;
  private readonly iv: Uint8Array;
  constructor(
    readonly name: string,
    private readonly key: Uint8Array,
    iv: Uint8Array,
  ) {
    this.iv = iv.slice(0, 12);
  }
  private nextIv(): Uint8Array {
    const current = this.iv.slice();
    // Increment the 64-bit invocation counter (bytes 4..11, big-endian).
    for (let i = 11; i >= 4; i--) {
      this.iv[i] = (this.iv[i] + 1) & 0xff;
      if (this.iv[i] !== 0) break;
    }
    return current;
  }
  seal(_seq: number, packet: Uint8Array): Uint8Array {
    const aad = packet.subarray(0, 4);
    const sealed = gcm(this.key, this.nextIv(), aad).encrypt(packet.subarray(4));
    const out = new Uint8Array(4 + sealed.length);
    out.set(aad, 0);
    out.set(sealed, 4);
    return out;
  }
  length(_seq: number, head: Uint8Array): number {
    return ((head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3]) >>> 0;
  }
  open(_seq: number, wire: Uint8Array): Uint8Array | null {
    const iv = this.nextIv();
    try {
      return gcm(this.key, iv, wire.subarray(0, 4)).decrypt(wire.subarray(4));
    } catch {
      return null;
    }
  }
}

export const aes128Gcm: CipherSpec = {
  name: 'aes128-gcm@openssh.com',
  keyLength: 16,
  ivLength: 12,
  aead: true,
  create: (key, iv) => new AesGcmCipher('aes128-gcm@openssh.com', key, iv),
};
export const aes256Gcm: CipherSpec = {
  name: 'aes256-gcm@openssh.com',
  keyLength: 32,
  ivLength: 12,
  aead: true,
  create: (key, iv) => new AesGcmCipher('aes256-gcm@openssh.com', key, iv),
};
