// Node.js AEAD engine for the WireGuard data path: ChaCha20-Poly1305 (RFC 8439) from node:crypto
// (OpenSSL). Node 20's WebCrypto has no ChaCha20-Poly1305, so without this the device falls back
// to @noble/ciphers in JavaScript. Same nonce as the other engines: 4 zero bytes + LE u64 counter
// (WireGuard paper §5.4.6). Browsers keep using aead-batch's WebCrypto/noble detection.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { nonceLE } from '../crypto/aead.js';
import type { AeadEngine, PacketCipher } from '../noise/wireguard/aead-batch.js';

const ALG = 'chacha20-poly1305';
const TAG = 16;

function sealSync(key: Uint8Array, counter: number, pt: Uint8Array): Uint8Array {
  const c = createCipheriv(ALG, key, nonceLE(counter), { authTagLength: TAG });
  const a = c.update(pt);
  const b = c.final();
  const out = new Uint8Array(pt.length + TAG);
  out.set(a, 0);
  out.set(b, a.length);
  out.set(c.getAuthTag(), pt.length);
  return out;
}

function openSync(key: Uint8Array, counter: number, ct: Uint8Array): Uint8Array | null {
  if (ct.length < TAG) return null;
  try {
    const d = createDecipheriv(ALG, key, nonceLE(counter), { authTagLength: TAG });
    d.setAuthTag(ct.subarray(ct.length - TAG));
    const a = d.update(ct.subarray(0, ct.length - TAG));
    const b = d.final(); // throws when the tag does not verify
    if (b.length === 0) return new Uint8Array(a.buffer, a.byteOffset, a.length);
    const out = new Uint8Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return out;
  } catch {
    return null;
  }
}

/** The node:crypto engine (AeadEngine's name union predates it; it reports 'node-crypto'). */
export function nodeCryptoEngine(): AeadEngine {
  return {
    name: 'node-crypto' as AeadEngine['name'],
    cipher(k: Uint8Array): PacketCipher {
      const kk = k.slice();
      return {
        seal: (counter, plaintext) => Promise.resolve(sealSync(kk, counter, plaintext)),
        open: (counter, ciphertext) => Promise.resolve(openSync(kk, counter, ciphertext)),
      };
    },
  };
}
