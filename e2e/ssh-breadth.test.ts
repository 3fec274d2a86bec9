// Breadth of our SSH client against real servers: Debian's OpenSSH sshd restricted per case to one
// key exchange, one cipher/MAC pair or one host key type (so the case proves that algorithm, not
// a fallback), legacy-only servers refused with words, the person's own ssh-keygen keys, and the
// handshake timeout against a silent port and an HTTP server. Each login runs `echo ok; exit 3`.
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOpenSshPrivateKey } from '../src/ssh/keyfile.js';
import http from 'node:http';
import net from 'node:net';
import { readAll } from '../src/platform/streams.js';
import { SshClient, type SshConnectOptions } from '../src/ssh/client.js';
import { knownHostsVerifier, MemoryKnownHosts } from '../src/ssh/known-hosts.js';
import { connectDuplex, startSshd, type Sshd, type SshdOptions } from './helpers/ssh-sshd.testkit.js';

const servers: Sshd[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

async function sshd(opts: SshdOptions): Promise<Sshd> {
  const s = await startSshd({ hostKeys: ['ed25519'], ...opts });
  servers.push(s);
  return s;
}

async function login(s: Sshd, extra: Partial<SshConnectOptions> = {}): Promise<SshClient> {
  const duplex = await connectDuplex(s.port);
  return SshClient.connect(duplex, {
    username: s.user,
    auth: [{ type: 'password', password: s.password }],
    hostKeyVerifier: knownHostsVerifier(new MemoryKnownHosts(), `127.0.0.1:${s.port}`),
    ...extra,
  });
}

/** `echo ok; exit 3` over an exec channel: output and exit status both checked. */
async function echoOk(c: SshClient): Promise<void> {
  const session = await c.openSession({ command: 'echo ok; exit 3' });
  await session.stdin.close();
  const [out, exit] = await Promise.all([readAll(session.stdout), session.exit]);
  expect(new TextDecoder().decode(out)).toBe('ok\n');
  expect(exit.code).toBe(3);
}

async function stopAfter(s: Sshd, c: SshClient): Promise<void> {
  c.close();
  await s.stop();
  servers.splice(servers.indexOf(s), 1);
}

describe('OpenSSH restricted to one key exchange method', () => {
  for (const kex of [
    'curve25519-sha256',
    'ecdh-sha2-nistp256',
    'ecdh-sha2-nistp384',
    'ecdh-sha2-nistp521',
    'diffie-hellman-group14-sha256',
    'diffie-hellman-group16-sha512',
    'diffie-hellman-group-exchange-sha256',
  ]) {
    it(kex, async () => {
      const s = await sshd({ extraConfig: [`KexAlgorithms ${kex}`] });
      const c = await login(s);
      expect(c.algorithms.kex).toBe(kex);
      await echoOk(c);
      // A re-exchange with the same method works too (new keys, same session id).
      await c.rekey();
      await echoOk(c);
      await stopAfter(s, c);
    });
  }
});

describe('OpenSSH restricted to one cipher and one MAC (the non-AEAD packet paths)', () => {
  for (const cipher of ['aes128-ctr', 'aes192-ctr', 'aes256-ctr']) {
    for (const mac of [
      'hmac-sha2-256',
      'hmac-sha2-512',
      'hmac-sha2-256-etm@openssh.com',
      'hmac-sha2-512-etm@openssh.com',
    ]) {
      it(`${cipher} + ${mac}`, async () => {
        const s = await sshd({ extraConfig: [`Ciphers ${cipher}`, `MACs ${mac}`] });
        const c = await login(s);
        expect([c.algorithms.cipherCtoS, c.algorithms.cipherStoC, c.algorithms.macCtoS, c.algorithms.macStoC]).toEqual([
          cipher,
          cipher,
          mac,
          mac,
        ]);
        await echoOk(c);
        // Bulk data over the MAC path, across packet boundaries: 300 kB with its remote checksum.
        const session = await c.openSession({ command: 'head -c 300000 /dev/zero | tr "\\0" x' });
        await session.stdin.close();
        const out = await readAll(session.stdout);
        expect(out.length).toBe(300000);
        expect(out.every((b) => b === 0x78)).toBe(true);
        await stopAfter(s, c);
      });
    }
  }
});

describe('OpenSSH host key types', () => {
  for (const [type, algorithm] of [
    ['rsa-3072', 'rsa-sha2-512'],
    ['ecdsa-256', 'ecdsa-sha2-nistp256'],
    ['ecdsa-384', 'ecdsa-sha2-nistp384'],
    ['ecdsa-521', 'ecdsa-sha2-nistp521'],
  ]) {
    it(`${type} host key, signed with ${algorithm}`, async () => {
      const s = await sshd({ hostKeys: [type] });
      const c = await login(s);
      expect(c.hostKey.algorithm).toBe(algorithm);
      expect(c.hostKey.fingerprint).toBe(s.hostKeyFingerprints[type]);
      await echoOk(c);
      await stopAfter(s, c);
    });
  }
  it('rsa-sha2-256 when the server allows only that', async () => {
    const s = await sshd({ hostKeys: ['rsa-3072'], extraConfig: ['HostKeyAlgorithms rsa-sha2-256'] });
    const c = await login(s);
    expect(c.hostKey.algorithm).toBe('rsa-sha2-256');
    await echoOk(c);
    await stopAfter(s, c);
  });
});

describe('legacy-only servers are refused, saying what to change on the device; the legacy-device opt-in connects', () => {
  const refusedThenOptIn = async (opts: SshdOptions, words: RegExp, check: (c: SshClient) => void) => {
    const s = await sshd(opts);
    await expect(login(s)).rejects.toThrow(words);
    await expect(login(s)).rejects.toThrow(/connect to it as a legacy device/);
    const c = await login(s, { legacyDevice: true });
    check(c);
    await echoOk(c);
    await stopAfter(s, c);
  };
  it('hmac-sha1 only', () =>
    refusedThenOptIn(
      { extraConfig: ['Ciphers aes128-ctr', 'MACs hmac-sha1'] },
      /only offers SHA-1\/MD5\/UMAC.*enable hmac-sha2-256.*MACs in sshd_config/,
      (c) => expect(c.algorithms.macStoC).toBe('hmac-sha1'),
    ));
  it('hmac-sha1-etm only', () =>
    refusedThenOptIn(
      { extraConfig: ['Ciphers aes256-ctr', 'MACs hmac-sha1-etm@openssh.com'] },
      /only offers SHA-1/,
      (c) => expect(c.algorithms.macCtoS).toBe('hmac-sha1-etm@openssh.com'),
    ));
  it('ssh-rsa (SHA-1) host key signatures only', () =>
    refusedThenOptIn(
      { hostKeys: ['rsa-3072'], extraConfig: ['HostKeyAlgorithms ssh-rsa'] },
      /only signs with ssh-rsa \(RSA with SHA-1\).*rsa-sha2-256/,
      (c) => expect(c.hostKey.algorithm).toBe('ssh-rsa'),
    ));
  it('an RSA host key under 2048 bits', () =>
    refusedThenOptIn(
      { hostKeys: ['rsa-1024'] },
      /RSA host key is only 1024 bits.*at least 2048.*ssh-keygen -t rsa -b 3072/,
      (c) => expect(c.hostKey.keyType).toBe('ssh-rsa'),
    ));
  for (const kex of ['diffie-hellman-group14-sha1', 'diffie-hellman-group-exchange-sha1']) {
    it(`SHA-1 key exchange only (${kex})`, () =>
      refusedThenOptIn({ extraConfig: [`KexAlgorithms ${kex}`] }, /SHA-1 key exchange.*KexAlgorithms/, (c) =>
        expect(c.algorithms.kex).toBe(kex),
      ));
  }
  it('the opt-in still prefers modern algorithms when the server has them', async () => {
    const s = await sshd({ hostKeys: ['rsa-3072'] });
    const c = await login(s, { legacyDevice: true });
    expect([c.algorithms.kex, c.hostKey.algorithm, c.algorithms.cipherCtoS]).toEqual([
      'curve25519-sha256',
      'rsa-sha2-512',
      'chacha20-poly1305@openssh.com',
    ]);
    await echoOk(c);
    await stopAfter(s, c);
  });
});

describe("the person's own keys, made by ssh-keygen", () => {
  const dir = mkdtempSync(join(tmpdir(), 'ssh-userkeys-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const keygen = (name: string, args: string[]) => {
    const f = join(dir, name);
    execFileSync('ssh-keygen', ['-q', ...args, '-C', name, '-f', f]);
    return { text: readFileSync(f, 'utf8'), pub: readFileSync(f + '.pub', 'utf8').trim() };
  };
  for (const [name, args, passphrase, algorithm] of [
    ['rsa-3072', ['-t', 'rsa', '-b', '3072', '-N', ''], undefined, 'rsa-sha2-512'],
    ['ecdsa-256', ['-t', 'ecdsa', '-b', '256', '-N', ''], undefined, 'ecdsa-sha2-nistp256'],
    ['ecdsa-521', ['-t', 'ecdsa', '-b', '521', '-N', 'secret words'], 'secret words', 'ecdsa-sha2-nistp521'],
    ['ed25519-encrypted', ['-t', 'ed25519', '-N', 'correct horse'], 'correct horse', 'ssh-ed25519'],
  ] as const) {
    it(`${name} key${passphrase ? ' (passphrase, bcrypt + aes256-ctr)' : ''} logs in with ${algorithm}`, async () => {
      const made = keygen(name, [...args]);
      const { key } = parseOpenSshPrivateKey(made.text, passphrase);
      expect(key.type === 'ssh-rsa' ? 'rsa-sha2-512' : key.type).toBe(algorithm);
      const s = await sshd({ extraConfig: ['PasswordAuthentication no', 'KbdInteractiveAuthentication no'] });
      s.addAuthorizedKey(made.pub);
      const c = await login(s, { auth: [{ type: 'publickey', key }] });
      await echoOk(c);
      await expect.poll(() => s.log.join(''), { timeout: 10_000 }).toContain(`Accepted publickey for ${s.user}`);
      await stopAfter(s, c);
    });
  }
  it('rsa-sha2-256 when the server accepts only that for user keys', async () => {
    const made = keygen('rsa-256', ['-t', 'rsa', '-b', '3072', '-N', '']);
    const s = await sshd({ extraConfig: ['PasswordAuthentication no', 'PubkeyAcceptedAlgorithms rsa-sha2-256'] });
    s.addAuthorizedKey(made.pub);
    const c = await login(s, { auth: [{ type: 'publickey', key: parseOpenSshPrivateKey(made.text).key }] });
    await echoOk(c);
    await expect
      .poll(() => s.log.join(''), { timeout: 10_000 })
      .toMatch(/Accepted publickey for tailtab .* RSA SHA256:/);
    await stopAfter(s, c);
  });
});

describe('ports that are not SSH fail within the handshake timeout, with words', () => {
  const listen = (server: net.Server) =>
    new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
    );
  const attempt = async (port: number) => {
    const started = Date.now();
    const err = await SshClient.connect(await connectDuplex(port), {
      username: 'x',
      auth: [{ type: 'password', password: 'x' }],
      hostKeyVerifier: () => {},
      handshakeTimeoutMs: 3000,
    }).then(
      () => new Error('connected?'),
      (e: Error) => e,
    );
    return { err, ms: Date.now() - started };
  };

  it('a silent port (accepts, never speaks) fails at the deadline', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => void sockets.push(s));
    const port = await listen(server);
    const { err, ms } = await attempt(port);
    expect(err.message).toMatch(
      /no SSH answer from the server within 3 s; nothing was received from it \(is an SSH server listening on this port\?\)/,
    );
    expect(ms).toBeGreaterThanOrEqual(2900);
    expect(ms).toBeLessThan(4500);
    for (const s of sockets) s.destroy();
    server.close();
  });

  it('an HTTP server: the error quotes its status line, well within the deadline', async () => {
    const server = http.createServer((_req, res) => res.end('hello'));
    const port = await listen(server);
    const { err, ms } = await attempt(port);
    expect(err.message).toMatch(
      /instead of an SSH identification it sent "HTTP\/1\.1 400 Bad Request" — this port does not look like an SSH server/,
    );
    expect(ms).toBeLessThan(3000);
    server.close();
  });
});
