// chacha20-poly1305@openssh.com (OpenSSH PROTOCOL.chacha20poly1305). NOT the RFC 8439 AEAD:
// the 64-byte key is split into K_2 (first 32 bytes, payload + Poly1305 key) and K_1 (last 32,
// the length field only); the nonce is the 64-bit big-endian sequence number, original ChaCha20
// with an 8-byte nonce; the Poly1305 key is the first 32 bytes of the K_2 keystream block 0; the
// payload is encrypted from block 1; the tag covers the encrypted length and payload.
import { chacha20orig } from '@noble/ciphers/chacha.js';
import { poly1305 } from '@noble/ciphers/_poly1305.js';
import { equalBytes } from '../../crypto/bytes.js';
import type { CipherSpec, PacketCipher } from './cipher.js';

function seqNonce(seq: number): Uint8Array {
  const n = new Uint8Array(8);
  n[4] = (seq >>> 24) & 0xff;
  n[5] = (seq >>> 16) & 0xff;
  n[6] = (seq >>> 8) & 0xff;
  n[7] = seq & 0xff;
  return n;
}

class ChaChaPolyCipher implements PacketCipher {
  readonly name = 'chacha20-poly1305@openssh.com';
  readonly blockSize = 8;
  readonly tagLength = 16;
  readonly lengthAligned = false;
  private readonly mainKey: Uint8Array;
  private readonly headerKey: Uint8Array;
  constructor(key: Uint8Array) {
    this.mainKey = key.slice(0, 32);
    this.headerKey = key.slice(32, 64);
  }
  private polyKey(nonce: Uint8Array): Uint8Array {
    return chacha20orig(this.mainKey, nonce, new Uint8Array(32), undefined, 0);
  }
  seal(seq: number, packet: Uint8Array): Uint8Array {
    const nonce = seqNonce(seq);
    const out = new Uint8Array(packet.length + 16);
    out.set(chacha20orig(this.headerKey, nonce, packet.subarray(0, 4), undefined, 0), 0);
    out.set(chacha20orig(this.mainKey, nonce, packet.subarray(4), undefined, 1), 4);
    out.set(poly1305(out.subarray(0, packet.length), this.polyKey(nonce)), packet.length);
    return out;
  }
  length(seq: number, head: Uint8Array): number {
    const l = chacha20orig(this.headerKey, seqNonce(seq), head.subarray(0, 4), undefined, 0);
    return ((l[0] << 24) | (l[1] << 16) | (l[2] << 8) | l[3]) >>> 0;
  }
  open(seq: number, wire: Uint8Array): Uint8Array | null {
    const nonce = seqNonce(seq);
    const body = wire.subarray(0, wire.length - 16);
    const tag = poly1305(body, this.polyKey(nonce));
    if (!equalBytes(tag, wire.subarray(wire.length - 16))) return null;
    return chacha20orig(this.mainKey, nonce, body.subarray(4), undefined, 1);
  }
}

export const chacha20Poly1305: CipherSpec = {
  name: 'chacha20-poly1305@openssh.com',
  keyLength: 64,
  ivLength: 0,
  aead: true,
  create: (key) => new ChaChaPolyCipher(key),
};
