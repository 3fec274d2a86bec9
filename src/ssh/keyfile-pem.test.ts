import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fromBase64, toBase64 } from '../crypto/bytes.js';
import { KeyFileError } from './keyfile.js';
import { isEncryptedPrivateKeyFile, parsePemPrivateKey, parsePrivateKeyFile } from './keyfile-pem.js';
import { authorizedKeysLine, publicKeyBlob, signUserKey, type UserKey } from './keys.js';
import { parseHostKey, verifySignature } from './hostkey.js';

// Test-only keys made on Debian 12: `openssl genpkey` (PKCS#8, and -aes256: PBES2 with
// PBKDF2-HMAC-SHA256 + AES-256-CBC), `openssl rsa -traditional` (PKCS#1), `openssl ecparam -genkey`
// (SEC1, with and without the EC PARAMETERS block), `ssh-keygen -m PEM -N passw` (PKCS#1/SEC1
// with OpenSSL's legacy Proc-Type encryption); each .pub is what `ssh-keygen -y` printed (Ed25519
// PKCS#8, which OpenSSH 9.2 cannot read, from `openssl pkey -pubout`).
const file = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');
const pubOf = (name: string) => file(`${name}.pub`).trim().split(' ').slice(0, 2).join(' ');

function signsAndVerifies(key: UserKey): boolean {
  const data = new TextEncoder().encode('userauth request');
  const alg = key.type === 'ssh-rsa' ? 'rsa-sha2-256' : key.type;
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

describe('PEM private keys', () => {
  it.each([
    ['rsa2048-pkcs8.pem', 'PKCS#8 RSA'],
    ['rsa2048-pkcs1.pem', 'PKCS#1 RSA'],
    ['ec384-sec1.pem', 'SEC1 P-384 after an EC PARAMETERS block'],
    ['ec256-sec1.pem', 'SEC1 P-256'],
    ['ec384-pkcs8.pem', 'PKCS#8 P-384'],
    ['ed25519-pkcs8.pem', 'PKCS#8 Ed25519'],
  ])('%s (%s): the same public key as ssh-keygen prints, and it signs', (name) => {
    const text = file(name);
    expect(isEncryptedPrivateKeyFile(text)).toBe(false);
    const { key } = parsePrivateKeyFile(text);
    expect(authorizedKeysLine(key, '')).toBe(pubOf(name));
    expect(signsAndVerifies(key)).toBe(true);
  });

  it.each([
    ['rsa-enc-pkcs8.pem', 'pw'],
    ['rsa2048-legacy-pem.key', 'passw'],
    ['ec256-legacy-pem.key', 'passw'],
  ])('encrypted %s: asks for the passphrase, refuses a wrong one in words, opens with the right one', (name, pass) => {
    const text = file(name);
    expect(isEncryptedPrivateKeyFile(text)).toBe(true);
    expect(err(() => parsePrivateKeyFile(text)).code).toBe('passphrase-needed');
    for (const wrong of ['wrong', 'passx', 'p'])
      expect(err(() => parsePrivateKeyFile(text, wrong)).message).toBe('wrong passphrase for this key');
    const { key } = parsePrivateKeyFile(text, pass);
    expect(authorizedKeysLine(key, '')).toBe(pubOf(name));
  });

  it('DSA, truncated, an unknown label and a cut PuTTY key: a sentence each', () => {
    expect(
      err(() =>
        parsePrivateKeyFile('-----BEGIN DSA PRIVATE KEY-----\nMIIBuwIBAAKBgQ==\n-----END DSA PRIVATE KEY-----\n'),
      ).message,
    ).toMatch(/DSA keys are obsolete/);
    const rsa = file('rsa2048-pkcs8.pem');
    expect(err(() => parsePrivateKeyFile(rsa.slice(0, 400))).message).toMatch(/truncated/);
    const lines = rsa.trim().split('\n');
    expect(err(() => parsePrivateKeyFile([...lines.slice(0, 6), lines.at(-1)].join('\n'))).message).toMatch(
      /truncated or damaged/,
    );
    expect(err(() => parsePrivateKeyFile('PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n')).message).toMatch(
      /PuTTY key file is truncated/,
    );
    expect(
      err(() => parsePrivateKeyFile('-----BEGIN SM2 PRIVATE KEY-----\nAAAA\n-----END SM2 PRIVATE KEY-----\n')).code,
    ).toBe('unsupported');
  });

  it('fuzz: mutated and cut DER, random text: a KeyFileError, never another error', () => {
    const bins = [
      'rsa2048-pkcs1.pem',
      'ec384-pkcs8.pem',
      'ec256-sec1.pem',
      'ed25519-pkcs8.pem',
      'rsa-enc-pkcs8.pem',
    ].map((n) => {
      const t = file(n);
      const label = /-----BEGIN ([A-Z ]+)-----/.exec(t.slice(t.lastIndexOf('-----BEGIN')))![1];
      return {
        label,
        der: fromBase64(
          t
            .slice(t.lastIndexOf('-----BEGIN'))
            .replace(/-----[^-]+-----/g, '')
            .replace(/\s+/g, ''),
        ),
      };
    });
    fc.assert(
      fc.property(
        fc.nat(bins.length - 1),
        fc.array(fc.tuple(fc.nat(4000), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(4000),
        (which, muts, cut) => {
          const { label, der } = bins[which];
          const b = der.slice(0, Math.max(cut % (der.length + 1), 2));
          for (const [i, v] of muts) b[i % b.length] = v;
          try {
            parsePemPrivateKey(`-----BEGIN ${label}-----\n${toBase64(b)}\n-----END ${label}-----\n`, 'pw');
          } catch (e) {
            if (!(e instanceof KeyFileError)) throw e;
          }
        },
      ),
      { numRuns: 1500 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom('PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY'),
        fc.uint8Array({ maxLength: 300 }),
        (label, b) => {
          try {
            parsePrivateKeyFile(`-----BEGIN ${label}-----\n${toBase64(b)}\n-----END ${label}-----\n`, 'x');
          } catch (e) {
            if (!(e instanceof KeyFileError)) throw e;
          }
        },
      ),
      { numRuns: 800 },
    );
  });
});
