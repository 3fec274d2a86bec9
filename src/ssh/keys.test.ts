import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { fromBase64, toHex } from '../crypto/bytes.js';
import { seededRandom } from '../crypto/random.js';
import { openSshPrivateKey } from './keyfile-write.js';

describe('openSshPrivateKey', () => {
  it('writes the openssh-key-v1 layout: magic, no cipher, one key, padded private section', () => {
    const seed = new Uint8Array(32).fill(9);
    const pem = openSshPrivateKey(seed, 'c', seededRandom(1));
    const b = fromBase64(pem.split('\n').slice(1, -2).join(''));
    expect(new TextDecoder().decode(b.subarray(0, 15))).toBe('openssh-key-v1\0');
    const text = new TextDecoder('latin1').decode(b);
    expect(text).toContain('none');
    expect(text).toContain('ssh-ed25519');
    // The 64-byte private field is seed || public key.
    const pub = ed25519.getPublicKey(seed);
    expect(toHex(b)).toContain(toHex(new Uint8Array([...seed, ...pub])));
  });
});
