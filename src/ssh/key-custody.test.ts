import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import { parseHostKey, verifySignature } from './hostkey.js';
import { generateEd25519SigningKey, toSigningKeys, cryptoKeySigner, type Subtle } from './key-custody.js';
import { parsePrivateKeyFile } from './keyfile-pem.js';
import { publicKeyBlob, type UserKey } from './keys.js';

const subtle = webcrypto.subtle as unknown as Subtle;
const file = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');
const keys: [string, UserKey][] = [
  ['ed25519', parsePrivateKeyFile(file('ed25519-pass.key'), 'pass').key],
  ['ecdsa p256', parsePrivateKeyFile(file('ecdsa.key')).key],
  ['ecdsa p384', parsePrivateKeyFile(file('ec384-pkcs8.pem')).key],
  ['rsa 2048', parsePrivateKeyFile(file('rsa2048-pkcs1.pem')).key],
];

/** An engine without Ed25519: importKey/generateKey throw NotSupportedError for it, as old engines do. */
const noEd25519: Subtle = {
  importKey: ((...a: Parameters<Subtle['importKey']>) => {
    if ((a[2] as Algorithm).name === 'Ed25519')
      return Promise.reject(new DOMException('Unrecognized name.', 'NotSupportedError'));
    return subtle.importKey(...a);
  }) as Subtle['importKey'],
  generateKey: (() =>
    Promise.reject(new DOMException('Unrecognized name.', 'NotSupportedError'))) as Subtle['generateKey'],
  sign: subtle.sign.bind(subtle),
  exportKey: subtle.exportKey.bind(subtle),
};

describe('key custody in WebCrypto', () => {
  it.each(keys)('%s: non-extractable CryptoKeys that sign what the server verifies', async (_, key) => {
    const blob = publicKeyBlob(key);
    const held = await toSigningKeys(subtle, key, blob);
    expect(held).toBeDefined();
    const algs = Object.keys(held!);
    expect(algs).toEqual(key.type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256'] : [key.type]);
    const signer = cryptoKeySigner(subtle, key.type, blob, held!);
    const data = new TextEncoder().encode('session id || userauth request');
    for (const alg of algs) {
      expect(held![alg].extractable).toBe(false);
      await expect(subtle.exportKey('jwk', held![alg])).rejects.toThrow();
      expect(verifySignature(parseHostKey(blob), alg, await signer.sign(alg, data), data)).toBe(true);
    }
    await expect(signer.sign('ssh-rsa', data)).rejects.toThrow(/does not sign ssh-rsa/);
  });

  it('an engine without Ed25519: undefined (the caller keeps raw bytes), ECDSA still held', async () => {
    expect(await toSigningKeys(noEd25519, keys[0][1], publicKeyBlob(keys[0][1]))).toBeUndefined();
    expect(await generateEd25519SigningKey(noEd25519)).toBeUndefined();
    expect(await toSigningKeys(noEd25519, keys[1][1], publicKeyBlob(keys[1][1]))).toBeDefined();
    expect(await toSigningKeys(undefined, keys[1][1], publicKeyBlob(keys[1][1]))).toBeUndefined();
  });

  it('an engine whose signatures do not verify is not trusted with the key', async () => {
    const wrong: Subtle = {
      ...noEd25519,
      importKey: subtle.importKey.bind(subtle),
      sign: async () => new Uint8Array(64).buffer,
    };
    expect(await toSigningKeys(wrong, keys[0][1], publicKeyBlob(keys[0][1]))).toBeUndefined();
  });

  it('generates Ed25519 inside the engine: non-extractable, and its signatures verify', async () => {
    const made = await generateEd25519SigningKey(subtle);
    expect(made!.keys['ssh-ed25519'].extractable).toBe(false);
    expect(made!.publicKey.length).toBe(32);
  });
});
