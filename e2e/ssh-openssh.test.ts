// Our SSH client against Debian's real OpenSSH sshd on loopback (inside the test's netns).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../src/crypto/bytes.js';
import { readAll } from '../src/platform/streams.js';
import { SshClient, type SshConnectOptions } from '../src/ssh/client.js';
import { generateEd25519Key, authorizedKeysLine } from '../src/ssh/keys.js';
import { knownHostsVerifier, MemoryKnownHosts, HostKeyChangedError } from '../src/ssh/known-hosts.js';
import { connectDuplex, startSshd, type Sshd } from './helpers/ssh-sshd.testkit.js';

let sshd: Sshd;
const clients: SshClient[] = [];

beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  for (const c of clients) c.close();
  await sshd?.stop();
});

async function connect(extra: Partial<SshConnectOptions> = {}, store = new MemoryKnownHosts()): Promise<SshClient> {
  const duplex = await connectDuplex(sshd.port);
  const c = await SshClient.connect(duplex, {
    username: sshd.user,
    auth: [{ type: 'password', password: sshd.password }],
    hostKeyVerifier: knownHostsVerifier(store, `127.0.0.1:${sshd.port}`),
    ...extra,
  });
  clients.push(c);
  return c;
}

/** Read a terminal stream until its accumulated text matches. */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  re: RegExp,
  acc = { text: '' },
): Promise<string> {
  const dec = new TextDecoder();
  while (!re.test(acc.text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before ${re}; got ${JSON.stringify(acc.text.slice(-300))}`);
    acc.text += dec.decode(value, { stream: true });
  }
  return acc.text;
}

async function run(c: SshClient, command: string) {
  const s = await c.openSession({ command });
  await s.stdin.close();
  const [out, err, exit] = await Promise.all([readAll(s.stdout), readAll(s.stderr), s.exit]);
  return { out: new TextDecoder().decode(out), err: new TextDecoder().decode(err), exit };
}

describe('SSH client vs OpenSSH sshd', () => {
  it('logs in with a password, runs a command and reads its exit status', async () => {
    const c = await connect();
    expect(c.serverVersion).toMatch(/^SSH-2\.0-OpenSSH_/);
    expect(c.algorithms.strict).toBe(true);
    // Debian's OpenSSH 9.2 has no mlkem768x25519-sha256 (9.9+): our preferred hybrid is skipped
    // and the curve25519 fallback is negotiated.
    expect(c.algorithms.kex).toBe('curve25519-sha256');
    const r = await run(c, 'echo "hello $(whoami)"; echo oops >&2; exit 7');
    expect(r.out).toBe('hello tailtab\n');
    expect(r.err).toBe('oops\n');
    expect(r.exit.code).toBe(7);
    c.close();
  });

  it('logs in with a freshly generated Ed25519 key added to authorized_keys', async () => {
    const key = generateEd25519Key((n) => crypto.getRandomValues(new Uint8Array(n)));
    sshd.addAuthorizedKey(authorizedKeysLine(key, 'e2e'));
    const c = await connect({ auth: [{ type: 'publickey', key }] });
    expect((await run(c, 'whoami')).out).toBe('tailtab\n');
    c.close();
    // The wrong key is refused with a clear message.
    const other = generateEd25519Key((n) => crypto.getRandomValues(new Uint8Array(n)));
    await expect(connect({ auth: [{ type: 'publickey', key: other }] })).rejects.toThrow(
      /authentication failed.*publickey/,
    );
  });

  it('without PAM sshd does not offer keyboard-interactive: the client skips it and falls through to password', async () => {
    const c = await connect({
      auth: [
        { type: 'keyboard-interactive', respond: () => [sshd.password] },
        { type: 'password', password: sshd.password },
      ],
    });
    expect((await run(c, 'true')).exit.code).toBe(0);
    c.close();
  });

  it('interactive pty shell: typed input echoes, a resize is seen by stty size, signals and exit', async () => {
    const c = await connect();
    const s = await c.openSession({ pty: { term: 'xterm-256color', cols: 80, rows: 24 } });
    const reader = s.stdout.getReader();
    const w = s.stdin.getWriter();
    const acc = { text: '' };
    await w.write(new TextEncoder().encode('echo typed-$((6*7))\n'));
    await readUntil(reader, /echo typed-\$\(\(6\*7\)\)/, acc); // the echo of what we typed
    await readUntil(reader, /typed-42/, acc); // the output
    await w.write(new TextEncoder().encode('stty size\n'));
    await readUntil(reader, /24 80/, acc);
    await s.resize(132, 50);
    acc.text = '';
    await w.write(new TextEncoder().encode('stty size\n'));
    await readUntil(reader, /50 132/, acc);
    await w.write(new TextEncoder().encode('exit 3\n'));
    expect((await s.exit).code).toBe(3);
    c.close();
  });

  /** 50 MB of random bytes from the server, their SHA-256 compared with the remote sha256sum. */
  async function move50MB(c: SshClient, o: { rekey?: boolean } = {}) {
    const file = `/tmp/ssh-e2e-50m-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const cmd = `head -c 50000000 /dev/urandom > ${file} && sha256sum ${file} | cut -d" " -f1`;
    const remoteSum = (await run(c, cmd)).out.trim();
    expect(remoteSum).toMatch(/^[0-9a-f]{64}$/);
    const s = await c.openSession({ command: `cat ${file}; rm -f ${file}` });
    await s.stdin.close();
    const h = sha256.create();
    let n = 0;
    let rekeyed: Promise<void> | undefined;
    const kexBefore = c.stats.transport.kexCount;
    for await (const chunk of s.stdout as unknown as AsyncIterable<Uint8Array>) {
      h.update(chunk);
      n += chunk.length;
      if (o.rekey && !rekeyed && n > 10_000_000) rekeyed = c.rekey();
    }
    await rekeyed;
    if (o.rekey) expect(c.stats.transport.kexCount).toBe(kexBefore + 1);
    expect(n).toBe(50_000_000);
    expect(toHex(h.digest())).toBe(remoteSum);
    expect((await s.exit).code).toBe(0);
  }

  it('50 MB of remote output arrives intact (sha256 compared with the remote sha256sum), with a rekey mid-stream', async () => {
    const c = await connect();
    expect(c.algorithms.cipherStoC).toBe('chacha20-poly1305@openssh.com');
    await move50MB(c, { rekey: true });
    c.close();
  });

  // #15's proof: every cipher moves 50 MB intact (chacha20-poly1305 above); the aes-ctr ones on
  // the encrypt-then-MAC path, the MAC-then-encrypt path is ssh-breadth's (300 kB per pair).
  for (const [cipher, mac] of [
    ['aes128-gcm@openssh.com', undefined],
    ['aes256-gcm@openssh.com', undefined],
    ['aes128-ctr', 'hmac-sha2-256-etm@openssh.com'],
    ['aes192-ctr', 'hmac-sha2-512-etm@openssh.com'],
    ['aes256-ctr', 'hmac-sha2-256-etm@openssh.com'],
  ] as const) {
    it(`negotiates ${cipher}${mac ? ` + ${mac}` : ''} and moves 50 MB intact`, async () => {
      const c = await connect({ ciphers: [cipher], ...(mac ? { macs: [mac] } : {}) });
      expect(c.algorithms.cipherCtoS).toBe(cipher);
      expect(c.algorithms.cipherStoC).toBe(cipher);
      if (mac) expect(c.algorithms.macStoC).toBe(mac);
      await move50MB(c);
      c.close();
    });
  }

  for (const [alg, type] of [
    ['ssh-ed25519', 'ed25519'],
    ['ecdsa-sha2-nistp256', 'ecdsa'],
    ['rsa-sha2-512', 'rsa'],
    ['rsa-sha2-256', 'rsa'],
  ] as const) {
    it(`verifies a ${alg} host key signature and shows the same fingerprint as ssh-keygen`, async () => {
      const c = await connect({ hostKeyAlgorithms: [alg] });
      expect(c.hostKey.algorithm).toBe(alg);
      expect(c.hostKey.fingerprint).toBe(sshd.hostKeyFingerprints[type]);
      c.close();
    });
  }

  it('a signal (RFC 4254 §6.9) stops the remote command and its exit-signal is reported; byte counters match', async () => {
    const c = await connect();
    const s = await c.openSession({ command: 'echo started; exec cat > /dev/null' });
    const reader = s.stdout.getReader();
    await readUntil(reader, /started\n/);
    const w = s.stdin.getWriter();
    await w.write(new Uint8Array(12345));
    // cat is still reading (no EOF sent), so only the signal can end it.
    await s.signal('SIGTERM');
    const exit = await s.exit;
    expect(exit.signal).toBe('TERM');
    expect(exit.code).toBeUndefined();
    expect(s.stats()).toEqual({ bytesIn: 'started\n'.length, stderrBytesIn: 0, bytesOut: 12345 });
    c.close();
  });

  it('keepalive@openssh.com is answered by sshd and the connection stays up', async () => {
    const c = await connect({ keepaliveMs: 100, keepaliveMaxMissed: 2 });
    await new Promise((r) => setTimeout(r, 700));
    expect(c.stats.keepalive.sent).toBeGreaterThanOrEqual(4);
    expect(c.stats.keepalive.answered).toBeGreaterThanOrEqual(c.stats.keepalive.sent - 1);
    expect((await run(c, 'echo alive')).out).toBe('alive\n');
    c.close();
  });

  it('direct-tcpip forwarding reaches a port as seen from the server', async () => {
    const c = await connect();
    const fwd = await c.forward('127.0.0.1', sshd.port);
    const reader = fwd.readable.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toMatch(/^SSH-2\.0-OpenSSH/);
    await reader.cancel();
    c.close();
  });

  it('a changed host key is refused, naming both fingerprints (run last: restarts sshd)', async () => {
    const store = new MemoryKnownHosts();
    const first = await connect({ hostKeyAlgorithms: ['ssh-ed25519'] }, store);
    const oldFp = first.hostKey.fingerprint;
    first.close();
    await sshd.regenerateHostKeys();
    const newFp = sshd.hostKeyFingerprints.ed25519;
    expect(newFp).not.toBe(oldFp);
    const err = await connect({ hostKeyAlgorithms: ['ssh-ed25519'] }, store).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain(oldFp);
    expect(err!.message).toContain(newFp);
    expect(err!.message).toMatch(/changed/);
    expect(HostKeyChangedError).toBeDefined();
  });
});
