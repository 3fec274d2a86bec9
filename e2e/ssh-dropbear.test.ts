// Our SSH client against Debian's Dropbear (dropbear-bin), the server of routers, NAS boxes and
// small appliances: password and key logins with what it negotiates by default, then each KEX,
// cipher and MAC of ours that it also speaks, forced from our side (Dropbear has no config file to
// restrict it). Each login runs `echo ok; exit 3`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAll } from '../src/platform/streams.js';
import { SshClient, type SshConnectOptions } from '../src/ssh/client.js';
import { parseOpenSshPrivateKey } from '../src/ssh/keyfile.js';
import { knownHostsVerifier, MemoryKnownHosts } from '../src/ssh/known-hosts.js';
import { startDropbear, type Dropbear } from './helpers/dropbear.testkit.js';
import { connectDuplex } from './helpers/ssh-sshd.testkit.js';

let db: Dropbear;
const dir = mkdtempSync(join(tmpdir(), 'dropbear-keys-'));
beforeAll(async () => {
  db = await startDropbear();
});
afterAll(async () => {
  await db?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function login(extra: Partial<SshConnectOptions> = {}): Promise<SshClient> {
  return SshClient.connect(await connectDuplex(db.port), {
    username: db.user,
    auth: [{ type: 'password', password: db.password }],
    hostKeyVerifier: knownHostsVerifier(new MemoryKnownHosts(), `127.0.0.1:${db.port}`),
    ...extra,
  });
}

async function echoOk(c: SshClient): Promise<void> {
  const session = await c.openSession({ command: 'echo ok; exit 3' });
  await session.stdin.close();
  const [out, exit] = await Promise.all([readAll(session.stdout), session.exit]);
  expect(new TextDecoder().decode(out)).toBe('ok\n');
  expect(exit.code).toBe(3);
  c.close();
}

function keygen(name: string, args: string[]) {
  const f = join(dir, name);
  execFileSync('ssh-keygen', ['-q', ...args, '-C', name, '-f', f]);
  return { text: readFileSync(f, 'utf8'), pub: readFileSync(f + '.pub', 'utf8').trim() };
}

describe('Dropbear', () => {
  it('password login with its defaults (prints what was negotiated)', async () => {
    const c = await login();
    console.log(
      `${db.version}: kex ${c.algorithms.kex}, cipher ${c.algorithms.cipherCtoS}/${c.algorithms.cipherStoC}, mac ${c.algorithms.macCtoS ?? '(aead)'}, host key ${c.hostKey.algorithm}; server-sig-algs ${c.serverSigAlgs?.join(',')}`,
    );
    expect(c.serverVersion).toMatch(/^SSH-2\.0-dropbear/);
    expect(c.hostKey.fingerprint).toBe(db.hostKeyFingerprint);
    // Dropbear 2022.83 has no ML-KEM: our curve25519 fallback, and its chacha20-poly1305.
    expect(c.algorithms.kex).toBe('curve25519-sha256');
    expect(c.algorithms.cipherCtoS).toBe('chacha20-poly1305@openssh.com');
    await echoOk(c);
  });

  it('an ed25519 key (ssh-keygen, passphrase-protected) in ~/.ssh/authorized_keys', async () => {
    const made = keygen('ed', ['-t', 'ed25519', '-N', 'pw']);
    db.addAuthorizedKey(made.pub);
    const c = await login({ auth: [{ type: 'publickey', key: parseOpenSshPrivateKey(made.text, 'pw').key }] });
    await expect
      .poll(() => db.log.join(''), { timeout: 10_000 })
      .toMatch(/Pubkey auth succeeded for 'tailtab' with ssh-ed25519 key/);
    await echoOk(c);
  });

  it('an RSA-3072 key signs with rsa-sha2-256 (Dropbear has no rsa-sha2-512)', async () => {
    const made = keygen('rsa', ['-t', 'rsa', '-b', '3072', '-N', '']);
    db.addAuthorizedKey(made.pub);
    const c = await login({ auth: [{ type: 'publickey', key: parseOpenSshPrivateKey(made.text).key }] });
    expect(c.serverSigAlgs).toContain('rsa-sha2-256');
    await echoOk(c);
  });

  it('an ECDSA-256 key', async () => {
    const made = keygen('ec', ['-t', 'ecdsa', '-b', '256', '-N', '']);
    db.addAuthorizedKey(made.pub);
    const c = await login({ auth: [{ type: 'publickey', key: parseOpenSshPrivateKey(made.text).key }] });
    await echoOk(c);
  });

  it('offering it only hmac-sha2-512 names both lists (no legacy advice: it has hmac-sha2-256)', async () => {
    await expect(login({ ciphers: ['aes128-ctr'], macs: ['hmac-sha2-512'] })).rejects.toThrow(
      /no common client-to-server MAC algorithm \(we offer hmac-sha2-512; server offers hmac-sha1,hmac-sha2-256\)/,
    );
  });

  for (const kex of [
    'ecdh-sha2-nistp256',
    'ecdh-sha2-nistp384',
    'ecdh-sha2-nistp521',
    'diffie-hellman-group14-sha256',
  ]) {
    it(`key exchange ${kex} (offered alone by us)`, async () => {
      const c = await login({ kex: [kex] });
      expect(c.algorithms.kex).toBe(kex);
      await echoOk(c);
    });
  }

  for (const cipher of ['aes128-ctr', 'aes256-ctr']) {
    // Dropbear 2022.83 offers hmac-sha1 and hmac-sha2-256 only (no -512, no -etm).
    for (const mac of ['hmac-sha2-256']) {
      it(`${cipher} + ${mac}, MAC-then-encrypt (offered alone by us)`, async () => {
        const c = await login({ ciphers: [cipher], macs: [mac] });
        expect([c.algorithms.cipherStoC, c.algorithms.macStoC]).toEqual([cipher, mac]);
        await echoOk(c);
      });
    }
  }
});
