// SSH bulk receive throughput per packet path (chacha20-poly1305, aes256-gcm, aes128-ctr +
// hmac-sha2-256-etm): a large remote `head -c N /dev/zero` through our client vs OpenSSH's own
// `ssh` client, same sshd, same run, over the loopback (127.0.0.1: no tailnet, no network), each
// timing the transfer alone (OpenSSH's login measured separately and subtracted); then SFTP upload/download
// through our SftpClient vs OpenSSH's `sftp` on the same sshd (internal-sftp).
import { execFileSync, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchRow } from './run.js';
import { SshClient } from '../src/ssh/client.js';
import { generateEd25519Key, authorizedKeysLine } from '../src/ssh/keys.js';
import { secureRandom } from '../src/crypto/random.js';
import { connectDuplex, startSshd, type Sshd } from '../e2e/helpers/ssh-sshd.testkit.js';
import { SftpClient } from '../src/ssh/sftp.js';
import type { Ed25519UserKey } from '../src/ssh/keys.js';

const BYTES = 200_000_000;

/** The three packet paths: OpenSSH's ChaCha20-Poly1305, AES-GCM (RFC 5647), and AES-CTR with encrypt-then-MAC. */
const CIPHERS: { cipher: string; mac?: string }[] = [
  { cipher: 'chacha20-poly1305@openssh.com' },
  { cipher: 'aes256-gcm@openssh.com' },
  { cipher: 'aes128-ctr', mac: 'hmac-sha2-256-etm@openssh.com' },
];

export async function run(): Promise<BenchRow[]> {
  const sshd = await startSshd();
  const rows: BenchRow[] = [];
  try {
    const key = generateEd25519Key(secureRandom);
    sshd.addAuthorizedKey(authorizedKeysLine(key, 'bench'));
    const keyFile = join(sshd.dir, 'client_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    sshd.addAuthorizedKey(execFileSync('cat', [keyFile + '.pub'], { encoding: 'utf8' }).trim());
    // TAILTAB_SSH_ONLY=sftp skips the cipher rows, =ciphers the SFTP rows.
    for (const { cipher, mac } of process.env.TAILTAB_SSH_ONLY === 'sftp' ? [] : CIPHERS) {
      const cmd = `head -c ${BYTES} /dev/zero`;
      const label = mac ? `${cipher} + ${mac}` : cipher;
      // OpenSSH reference: the same command, minus a login-only run (process start, key exchange
      // and auth), so both rows time the transfer alone.
      const sshArgs = [
        '-i',
        keyFile,
        '-c',
        cipher,
        ...(mac ? ['-m', mac] : []),
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'BatchMode=yes',
        '-o',
        'LogLevel=ERROR',
        '-p',
        String(sshd.port),
        `${sshd.user}@127.0.0.1`,
      ];
      const sshRun = (command: string) => {
        const t0 = performance.now();
        return new Promise<{ n: number; ms: number }>((resolve, reject) => {
          const p = spawn('ssh', [...sshArgs, command], { stdio: ['ignore', 'pipe', 'inherit'] });
          let n = 0;
          p.stdout.on('data', (d: Buffer) => (n += d.length));
          p.on('exit', (code) =>
            code === 0 ? resolve({ n, ms: performance.now() - t0 }) : reject(new Error(`ssh exited ${code}`)),
          );
        });
      };
      const login = await sshRun('true');
      const ref = await sshRun(cmd);
      const refMBs = ref.n / 1e6 / ((ref.ms - login.ms) / 1000);
      // Ours, in this Node process (the browser runs the same code in a Worker).
      const c = await SshClient.connect(await connectDuplex(sshd.port), {
        username: sshd.user,
        auth: [{ type: 'publickey', key }],
        hostKeyVerifier: () => {},
        ciphers: [cipher],
        ...(mac ? { macs: [mac] } : {}),
      });
      const got = c.algorithms;
      if (got.cipherStoC !== cipher || (mac && got.macStoC !== mac))
        throw new Error(`negotiated ${got.cipherStoC} ${got.macStoC ?? ''}, not ${label}`);
      const t1 = performance.now();
      const s = await c.openSession({ command: cmd });
      await s.stdin.close();
      let n1 = 0;
      for await (const chunk of s.stdout as unknown as AsyncIterable<Uint8Array>) n1 += chunk.length;
      const ourMBs = n1 / 1e6 / ((performance.now() - t1) / 1000);
      c.close();
      if (ref.n !== BYTES || n1 !== BYTES) throw new Error(`short read: ssh ${ref.n}, ours ${n1}`);
      rows.push({
        name: `receive ${label} (OpenSSH ssh)`,
        value: +refMBs.toFixed(1),
        unit: 'MB/s',
        note: 'loopback 127.0.0.1, same sshd',
      });
      rows.push({
        name: `receive ${label} (tailtab, Node)`,
        value: +ourMBs.toFixed(1),
        unit: 'MB/s',
        note: `${(ourMBs / refMBs).toFixed(2)}× OpenSSH`,
      });
    }
    if (process.env.TAILTAB_SSH_ONLY !== 'ciphers') rows.push(...(await sftpRows(sshd, key, keyFile)));
  } finally {
    await sshd.stop();
  }
  return rows;
}

const SFTP_BYTES = 64 * 1024 * 1024;

/** SFTP upload then download of 64 MiB (internal-sftp): our client (32 KiB × 16) vs OpenSSH's `sftp` (its defaults). */
async function sftpRows(sshd: Sshd, key: Ed25519UserKey, keyFile: string): Promise<BenchRow[]> {
  const local = join(sshd.dir, 'sftp-bench.bin');
  const data = new Uint8Array(SFTP_BYTES);
  for (let i = 0; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
  writeFileSync(local, data);
  const remote = `/tmp/tailtab-sftp-bench-${process.pid}.bin`;
  const sftpBatch = (batch: string): number => {
    const b = join(sshd.dir, 'sftp-batch');
    writeFileSync(b, batch);
    const t0 = performance.now();
    execFileSync(
      'sftp',
      [
        '-q',
        '-b',
        b,
        '-i',
        keyFile,
        '-P',
        String(sshd.port),
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'LogLevel=ERROR',
        `${sshd.user}@127.0.0.1`,
      ],
      { stdio: 'ignore' },
    );
    return performance.now() - t0;
  };
  const login = sftpBatch('pwd\n'); // subtracted: both rows time the transfer alone
  const refUp = sftpBatch(`put ${local} ${remote}\n`) - login;
  const refDown = sftpBatch(`get ${remote} ${local}.back\n`) - login;
  const ssh = await SshClient.connect(await connectDuplex(sshd.port), {
    username: sshd.user,
    auth: [{ type: 'publickey', key }],
    hostKeyVerifier: () => {},
  });
  const sftp = await SftpClient.open(ssh);
  let t = performance.now();
  await sftp.writeFile(remote, data);
  const ourUp = performance.now() - t;
  t = performance.now();
  const back = await sftp.readFile(remote);
  const ourDown = performance.now() - t;
  await sftp.remove(remote);
  sftp.close();
  ssh.close();
  rmSync(local, { force: true });
  rmSync(`${local}.back`, { force: true });
  if (back.length !== SFTP_BYTES) throw new Error(`sftp short read: ${back.length}`);
  const mbs = (ms: number) => SFTP_BYTES / 1e3 / ms;
  return [
    { name: 'sftp upload 64 MiB (OpenSSH sftp)', value: +mbs(refUp).toFixed(1), unit: 'MB/s' },
    {
      name: 'sftp upload 64 MiB (tailtab, Node)',
      value: +mbs(ourUp).toFixed(1),
      unit: 'MB/s',
      note: `${(refUp / ourUp).toFixed(2)}× OpenSSH`,
    },
    { name: 'sftp download 64 MiB (OpenSSH sftp)', value: +mbs(refDown).toFixed(1), unit: 'MB/s' },
    {
      name: 'sftp download 64 MiB (tailtab, Node)',
      value: +mbs(ourDown).toFixed(1),
      unit: 'MB/s',
      note: `${(refDown / ourDown).toFixed(2)}× OpenSSH`,
    },
  ];
}
