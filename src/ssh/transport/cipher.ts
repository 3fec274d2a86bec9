// The packet cipher interface of the binary packet protocol (RFC 4253 §6). The AEAD modes
// (chacha20-poly1305@openssh.com, aes*-gcm@openssh.com per RFC 5647 §7.3) and the encrypt-then-MAC
// HMACs (*-etm@openssh.com) keep the 4-byte length out of the alignment, so padding aligns
// everything after it (OpenSSH packet.c "aadlen"); the classic MAC-then-encrypt mode (RFC 4253
// §6.4) and the none cipher align the whole packet, length included.

export interface PacketCipher {
  readonly name: string;
  /** Alignment of padding_length..padding (the length field itself excluded). */
  readonly blockSize: number;
  readonly tagLength: number;
  /** True when the 4-byte length field counts toward the block alignment (none, MAC-then-encrypt). */
  readonly lengthAligned: boolean;
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
  readonly lengthAligned = true;
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

/** HMAC as negotiated (RFC 4253 §6.4, RFC 6668; OpenSSH PROTOCOL §1.5 for the -etm variants). */
export interface MacSpec {
  name: string;
  keyLength: number;
  tagLength: number;
  etm: boolean;
  mac(key: Uint8Array, data: Uint8Array): Uint8Array;
}

export interface CipherSpec {
  name: string;
  keyLength: number;
  ivLength: number;
  /** AEAD ciphers ignore the negotiated MAC; the others need one (create's third argument). */
  aead: boolean;
  create(key: Uint8Array, iv: Uint8Array, mac?: { spec: MacSpec; key: Uint8Array }): PacketCipher;
}
