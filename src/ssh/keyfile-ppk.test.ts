import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fuzz } from '../platform/fuzz.testkit.js';
import { isEncryptedPrivateKeyFile, parsePrivateKeyFile } from './keyfile-pem.js';
import { parsePpkPrivateKey } from './keyfile-ppk.js';
import { KeyFileError, parseOpenSshPrivateKey } from './keyfile.js';
import { privateKeyFields } from './keyfile-write.js';
import { parseHostKey, verifySignature } from './hostkey.js';
import { authorizedKeysLine, publicKeyBlob, signatureAlgorithms, signUserKey, type UserKey } from './keys.js';
import { toHex } from '../crypto/bytes.js';

// Made with Debian's putty-tools 0.78 (test keys, no other use), passphrase "pass" where encrypted:
//   puttygen -t ed25519 --ppk-param passes=3                      → ppk-ed25519-v3-argon2id
//   puttygen -t rsa -b 2048 --ppk-param kdf=argon2i,passes=2,memory=4096
//   puttygen -t ecdsa -b 521 --ppk-param kdf=argon2d,passes=2,parallelism=2
//   puttygen -t ecdsa -b 384 --ppk-param version=2; puttygen -t rsa -b 2048 --ppk-param version=2
//   puttygen -t ecdsa -b 256 (no passphrase); puttygen -t ed25519 --ppk-param version=2 (none)
// Beside each: `puttygen -L` (.ppk.pub, the OpenSSH public line) and `puttygen -O private-openssh-new`
// (.openssh, the same key as PuTTYgen exports it for OpenSSH).
const file = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');
const CASES = [
  ['ed25519-v3-argon2id', 'pass'],
  ['rsa2048-v3-argon2i', 'pass'],
  ['ecdsa521-v3-argon2d', 'pass'],
  ['ecdsa384-v2-enc', 'pass'],
  ['rsa2048-v2-enc', 'pass'],
  ['ecdsa256-v3-plain', undefined],
  ['ed25519-v2-plain', undefined],
] as const;

function signs(key: UserKey): boolean {
  const data = new TextEncoder().encode('session id and userauth request');
  const alg = signatureAlgorithms(key)[0];
  return verifySignature(parseHostKey(publicKeyBlob(key)), alg, signUserKey(key, alg, data), data);
}

function err(f: () => unknown): KeyFileError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KeyFileError);
    return e as KeyFileError;
  }
  throw new Error('no error');
}

describe('PuTTY .ppk private keys', () => {
  it.each(CASES)('%s: imports, equals the OpenSSH export of the same key, signs', (name, pass) => {
    const text = file(`ppk-${name}.ppk`);
    expect(isEncryptedPrivateKeyFile(text)).toBe(pass !== undefined);
    const { key, comment } = parsePrivateKeyFile(text, pass);
    expect(comment).toBe(`${name}@tailtab`);
    expect(authorizedKeysLine(key, comment)).toBe(file(`ppk-${name}.ppk.pub`).trim());
    // Same private key, not only the same public one: the fields OpenSSH's file holds.
    const viaOpenSsh = parseOpenSshPrivateKey(file(`ppk-${name}.openssh`)).key;
    expect(toHex(privateKeyFields(key))).toBe(toHex(privateKeyFields(viaOpenSsh)));
    expect(signs(key)).toBe(true);
  });

  it('missing or wrong passphrase, altered or truncated file, DSA, RSA-1024, version 1: a sentence each', () => {
    const v3 = file('ppk-ed25519-v3-argon2id.ppk');
    const v2 = file('ppk-rsa2048-v2-enc.ppk');
    expect(err(() => parsePpkPrivateKey(v3)).code).toBe('passphrase-needed');
    expect(err(() => parsePpkPrivateKey(v3, 'wrong')).message).toBe(
      'wrong passphrase for this key (or the file was altered)',
    );
    expect(err(() => parsePpkPrivateKey(v2, 'wrong')).code).toBe('wrong-passphrase');
    // The MAC covers the comment, so an edited unencrypted file is refused.
    const plain = file('ppk-ecdsa256-v3-plain.ppk');
    expect(err(() => parsePpkPrivateKey(plain.replace('Comment: ecdsa', 'Comment: evil'))).message).toMatch(
      /MAC does not match/,
    );
    const cut = plain.split('\n').slice(0, 7).join('\n');
    expect(err(() => parsePpkPrivateKey(cut)).message).toMatch(/truncated/);
    expect(err(() => parsePpkPrivateKey(plain.slice(0, plain.indexOf('Private-MAC')))).message).toMatch(/truncated/);
    expect(err(() => parsePpkPrivateKey(file('ppk-dsa-v3-plain.ppk'))).message).toMatch(/DSA keys are obsolete/);
    expect(err(() => parsePpkPrivateKey(file('ppk-rsa1024-v3-plain.ppk'))).message).toMatch(/only 1024 bits/);
    expect(err(() => parsePpkPrivateKey(plain.replace('File-3', 'File-1'))).message).toMatch(/old format version 1/);
    expect(err(() => parsePpkPrivateKey(plain.replace('File-3', 'File-4'))).code).toBe('unsupported');
    expect(err(() => parsePpkPrivateKey(v3.replace('Encryption: aes256-cbc', 'Encryption: 3des'))).code).toBe(
      'unsupported',
    );
  });

  it("refuses an absurd Argon2 cost before running it (the file's numbers are the attacker's)", () => {
    const v3 = file('ppk-ed25519-v3-argon2id.ppk');
    const started = Date.now();
    for (const [from, to] of [
      ['Argon2-Memory: 8192', 'Argon2-Memory: 4194304'],
      ['Argon2-Passes: 3', 'Argon2-Passes: 100000'],
      ['Argon2-Parallelism: 1', 'Argon2-Parallelism: 1000'],
    ]) {
      const e = err(() => parsePpkPrivateKey(v3.replace(from, to), 'pass'));
      expect(e.code).toBe('unsupported');
      expect(e.message).toMatch(/asks Argon2 for .* PuTTYgen/);
    }
    expect(Date.now() - started).toBeLessThan(5_000); // refused, not computed
    expect(err(() => parsePpkPrivateKey(v3.replace('Argon2-Passes: 3', 'Argon2-Passes: 0'), 'pass')).code).toBe(
      'malformed',
    );
    expect(err(() => parsePpkPrivateKey(v3.replace('Key-Derivation: Argon2id', 'Key-Derivation: scrypt'))).code).toBe(
      'unsupported',
    );
  });

  it('fuzz: mutated files give a KeyFileError, never another error', () => {
    // Unencrypted v3 and v2-encrypted (SHA-1 KDF) are cheap to run whole; the Argon2 file is
    // mutated without a passphrase, so its header parsing and cost checks run but never Argon2.
    const inputs: [string, string | undefined][] = [
      [file('ppk-ecdsa256-v3-plain.ppk'), undefined],
      [file('ppk-ecdsa384-v2-enc.ppk'), 'pass'],
      [file('ppk-ed25519-v3-argon2id.ppk'), undefined],
    ];
    for (const [text, pass] of inputs) {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat(text.length - 1), fc.integer({ min: 32, max: 126 })), {
            minLength: 1,
            maxLength: 4,
          }),
          fc.nat(text.length),
          (muts, cut) => {
            const chars = text.slice(0, Math.max(cut, 30)).split('');
            for (const [i, v] of muts) if (i < chars.length) chars[i] = String.fromCharCode(v);
            try {
              parsePpkPrivateKey(chars.join(''), pass);
            } catch (e) {
              if (!(e instanceof KeyFileError)) throw e;
            }
          },
        ),
        fuzz(400),
      );
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        try {
          parsePpkPrivateKey('PuTTY-User-Key-File-3: ' + s, 'x');
        } catch (e) {
          if (!(e instanceof KeyFileError)) throw e;
        }
      }),
      fuzz(500),
    );
  });
});
