import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { p521 } from '@noble/curves/nist.js';
import { seededRandom } from '../crypto/random.js';
import { parseOpenSshPrivateKey } from './keyfile.js';
import { DEFAULT_BCRYPT_ROUNDS, writeOpenSshPrivateKey } from './keyfile-write.js';
import { authorizedKeysLine, generateEd25519Key, type UserKey } from './keys.js';

const testdata = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

// Debian's ssh-keygen (openssh-client) reads what we write: the interop half of the round trip.
function sshKeygenPublic(text: string, passphrase: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'keywrite-'));
  try {
    const f = join(dir, 'id');
    writeFileSync(f, text, { mode: 0o600 });
    return execFileSync('ssh-keygen', ['-y', '-f', f, '-P', passphrase], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const random = seededRandom(99);
const keys: [string, UserKey][] = [
  ['ed25519', generateEd25519Key(random)],
  [
    'ecdsa nistp521',
    (() => {
      const d = p521.utils.randomSecretKey();
      return { type: 'ecdsa-sha2-nistp521', privateKey: d, publicKey: p521.getPublicKey(d, false) } as UserKey;
    })(),
  ],
  ['rsa 2048 (from ssh-keygen)', parseOpenSshPrivateKey(testdata('rsa2048-pass.key'), 'pass').key],
];

describe('writeOpenSshPrivateKey', () => {
  it.each(keys)(
    '%s, passphrase-protected (bcrypt + aes256-ctr): our parser and ssh-keygen -y -P read it back',
    (_, key) => {
      const text = writeOpenSshPrivateKey(key, 'exported', { passphrase: 'correct horse', random, rounds: 4 });
      expect(text).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
      expect(text.split('\n').every((l) => l.length <= 70)).toBe(true);
      const back = parseOpenSshPrivateKey(text, 'correct horse');
      expect(back.comment).toBe('exported');
      expect(authorizedKeysLine(back.key)).toBe(authorizedKeysLine(key));
      expect(() => parseOpenSshPrivateKey(text, 'wrong horse')).toThrow('wrong passphrase for this key');
      expect(sshKeygenPublic(text, 'correct horse')).toBe(authorizedKeysLine(key, 'exported'));
      expect(() => sshKeygenPublic(text, 'wrong horse')).toThrow(/incorrect passphrase/);
    },
  );

  it.each(keys)('%s, unencrypted: both read it back', (_, key) => {
    const text = writeOpenSshPrivateKey(key, 'plain', { random });
    expect(authorizedKeysLine(parseOpenSshPrivateKey(text).key)).toBe(authorizedKeysLine(key));
    expect(sshKeygenPublic(text, '')).toBe(authorizedKeysLine(key, 'plain'));
  });

  it("uses ssh-keygen's default rounds and a fresh salt when not told otherwise", () => {
    const key = keys[0][1];
    const a = writeOpenSshPrivateKey(key, 'c', { passphrase: 'p', random });
    const b = writeOpenSshPrivateKey(key, 'c', { passphrase: 'p', random });
    expect(a).not.toBe(b);
    expect(DEFAULT_BCRYPT_ROUNDS).toBe(16);
    expect(sshKeygenPublic(a, 'p')).toBe(authorizedKeysLine(key, 'c'));
  });
});
