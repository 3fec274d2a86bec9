// The packet cipher interface of the binary packet protocol (RFC 4253 §6) for the AEAD modes we
// offer. Both chacha20-poly1305@openssh.com and aes*-gcm@openssh.com (RFC 5647 §7.3) authenticate
// the 4-byte length together with the rest, so padding aligns everything after the length field
// (OpenSSH packet.c: "packet length is not encrypted for EtM modes" aadlen rule).

export interface PacketCipher {
  readonly name: string;
  /** Alignment of padding_length..padding (the length field itself excluded). */
  readonly blockSize: number;
  readonly tagLength: number;
  /** Wire bytes for the plaintext packet uint32 length | byte padlen | payload | padding. */
  seal(seq: number, packet: Uint8Array): Uint8Array;
  /** packet_length from the first 4 wire bytes (decrypted for chacha20-poly1305). */
  length(seq: number, head: Uint8Array): number;
  /** Authenticate and decrypt a whole wire packet (4 + length + tag); returns padlen|payload|padding or null if forged. */
  open(seq: number, wire: Uint8Array): Uint8Array | null;
}

/** Before the first NEWKEYS: no encryption, no MAC, 8-byte alignment (RFC 4253 §6). */
export class NoneCipher implements PacketCipher {
  readonly name = 'none';
  readonly blockSize = 8;
  readonly tagLength = 0;
  seal(_seq: number, packet: Uint8Array): Uint8Array {
    return packet;
  }
  length(_seq: number, head: Uint8Array): number {
    return ((head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3]) >>> 0;
  }
  open(_seq: number, wire: Uint8Array): Uint8Array {
    return wire.subarray(4);
  }
}

export interface CipherSpec {
  name: string;
  keyLength: number;
  ivLength: number;
  create(key: Uint8Array, iv: Uint8Array): PacketCipher;
}
