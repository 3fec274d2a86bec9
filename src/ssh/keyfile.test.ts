import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { readFileSync } from 'node:fs';
import { p384 } from '@noble/curves/nist.js';
import { bcryptPbkdf } from './bcrypt-pbkdf.js';
import { isEncryptedKeyFile, KeyFileError, parseOpenSshPrivateKey } from './keyfile.js';
import { authorizedKeysLine, publicKeyBlob, signatureAlgorithms, signUserKey, type UserKey } from './keys.js';
import { parseHostKey, verifySignature } from './hostkey.js';
import { fromBase64, toBase64, toHex } from '../crypto/bytes.js';

// Made with Debian's OpenSSH 9.2 (test keys, no other use):
//   ssh-keygen -t ed25519 -N pass -a 4 -C kat@tailtab; ssh-keygen -t ecdsa -N '';
//   ssh-keygen -t rsa -b 2048 -N pass -a 2.
const file = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');
const ED = file('ed25519-pass.key');
const EC = file('ecdsa.key');
const RSA = file('rsa2048-pass.key');

function verifies(key: UserKey, algorithm: string): boolean {
  const data = new TextEncoder().encode('session id and userauth request');
  return verifySignature(parseHostKey(publicKeyBlob(key)), algorithm, signUserKey(key, algorithm, data), data);
}

describe('bcrypt_pbkdf', () => {
  it('matches the published vector and the key ssh-keygen encrypted', () => {
    const e = new TextEncoder();
    expect(toHex(bcryptPbkdf(e.encode('password'), e.encode('salt'), 4, 32))).toBe(
      '5bbf0cc293587f1c3635555c27796598d47e579071bf427e9d8fbe842aba34d9',
    );
    // The ssh-keygen key below only decrypts (check words equal, Ed25519 seed gives its public
    // key) if bcrypt_pbkdf produced exactly OpenSSH's key and IV.
    expect(parseOpenSshPrivateKey(ED, 'pass').comment).toBe('kat@tailtab');
  });
});

describe('OpenSSH private key files', () => {
  it('encrypted ed25519 from ssh-keygen: imports, matches its .pub, signs', () => {
    expect(isEncryptedKeyFile(ED)).toBe(true);
    const { key, comment } = parseOpenSshPrivateKey(ED, 'pass');
    expect(authorizedKeysLine(key, comment)).toBe(file('ed25519-pass.key.pub').trim());
    expect(verifies(key, 'ssh-ed25519')).toBe(true);
  });

  it('unencrypted ecdsa nistp256: imports and signs ecdsa-sha2-nistp256', () => {
    expect(isEncryptedKeyFile(EC)).toBe(false);
    const { key } = parseOpenSshPrivateKey(EC);
    expect(authorizedKeysLine(key, 'ec')).toBe(file('ecdsa.key.pub').trim());
    expect(verifies(key, 'ecdsa-sha2-nistp256')).toBe(true);
  });

  it('ecdsa nistp384 signs with SHA-384', () => {
    const priv = p384.utils.randomSecretKey();
    const key: UserKey = { type: 'ecdsa-sha2-nistp384', privateKey: priv, publicKey: p384.getPublicKey(priv, false) };
    expect(verifies(key, 'ecdsa-sha2-nistp384')).toBe(true);
  });

  it('encrypted rsa 2048: signs rsa-sha2-512 and rsa-sha2-256 (never ssh-rsa)', () => {
    const { key } = parseOpenSshPrivateKey(RSA, 'pass');
    expect(authorizedKeysLine(key, 'rsa')).toBe(file('rsa2048-pass.key.pub').trim());
    expect(verifies(key, 'rsa-sha2-512')).toBe(true);
    expect(verifies(key, 'rsa-sha2-256')).toBe(true);
    expect(signatureAlgorithms(key)).toEqual(['rsa-sha2-512', 'rsa-sha2-256']);
    expect(signatureAlgorithms(key, ['ssh-ed25519', 'rsa-sha2-256', 'ssh-rsa'])).toEqual(['rsa-sha2-256']);
    expect(signatureAlgorithms(key, ['ssh-rsa'])).toEqual([]);
    expect(() => signUserKey(key, 'ssh-rsa', new Uint8Array(1))).toThrow(/rsa-sha2/);
  });

  it('missing or wrong passphrase, truncated, PEM, public key, DSA: one sentence naming the problem', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(KeyFileError);
        return e as KeyFileError;
      }
      throw new Error('no error');
    };
    expect(err(() => parseOpenSshPrivateKey(ED)).code).toBe('passphrase-needed');
    expect(err(() => parseOpenSshPrivateKey(ED, 'wrong')).message).toBe('wrong passphrase for this key');
    expect(err(() => parseOpenSshPrivateKey(ED.slice(0, 200), 'pass')).message).toMatch(/truncated/);
    const lines = ED.trim().split('\n');
    expect(
      err(() => parseOpenSshPrivateKey([...lines.slice(0, 3), lines[lines.length - 1]].join('\n'), 'pass')).message,
    ).toMatch(/truncated or damaged/);
    expect(
      err(() => parseOpenSshPrivateKey('-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----')).message,
    ).toMatch(/PEM.*ssh-keygen -p/);
    expect(err(() => parseOpenSshPrivateKey(file('ecdsa.key.pub'))).message).toMatch(/public key/);
    expect(err(() => parseOpenSshPrivateKey('hello')).message).toMatch(/not an OpenSSH private key/);
    // A DSA key: rewrite the unencrypted ECDSA file's private section with another type name.
    const bin = fromBase64(EC.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''));
    const text = new TextDecoder('latin1')
      .decode(bin)
      .replace('ecdsa-sha2-nistp256\0\0\0\x08nistp256', 'ssh-dss\0\0\0\x08nistp256\0\0\0\0\0\0\0\0\0\0\0\0');
    const dss = Uint8Array.from(text, (c) => c.charCodeAt(0));
    const pem = `-----BEGIN OPENSSH PRIVATE KEY-----\n${toBase64(dss)}\n-----END OPENSSH PRIVATE KEY-----\n`;
    expect(err(() => parseOpenSshPrivateKey(pem)).message).toMatch(/damaged|DSA/);
  });

  it('fuzz: mutated and random files give a KeyFileError, never another error', () => {
    const bin = fromBase64(EC.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(bin.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(bin.length),
        (muts, cut) => {
          const b = bin.slice(0, Math.max(cut, 20));
          for (const [i, v] of muts) if (i < b.length) b[i] = v;
          try {
            parseOpenSshPrivateKey(
              `-----BEGIN OPENSSH PRIVATE KEY-----\n${toBase64(b)}\n-----END OPENSSH PRIVATE KEY-----\n`,
              'x',
            );
          } catch (e) {
            if (!(e instanceof KeyFileError)) throw e;
          }
        },
      ),
      fuzz(1500),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        try {
          parseOpenSshPrivateKey(s, 'x');
        } catch (e) {
          if (!(e instanceof KeyFileError)) throw e;
        }
      }),
      fuzz(500),
    );
  });
});
