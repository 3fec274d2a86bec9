// SSH bulk receive throughput: a large remote `head -c N /dev/zero` through our client vs
// OpenSSH's own `ssh` client, same sshd on loopback, same cipher.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { BenchRow } from './run.js';
import { SshClient } from '../src/ssh/client.js';
import { generateEd25519Key, authorizedKeysLine } from '../src/ssh/keys.js';
import { secureRandom } from '../src/crypto/random.js';
import { connectDuplex, startSshd } from '../e2e/helpers/ssh-sshd.js';

const BYTES = 200_000_000;

export async function run(): Promise<BenchRow[]> {
  const sshd = await startSshd();
  const rows: BenchRow[] = [];
  try {
    const key = generateEd25519Key(secureRandom);
    sshd.addAuthorizedKey(authorizedKeysLine(key, 'bench'));
    const keyFile = join(sshd.dir, 'client_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    sshd.addAuthorizedKey(execFileSync('cat', [keyFile + '.pub'], { encoding: 'utf8' }).trim());
    for (const cipher of ['chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com']) {
      const cmd = `head -c ${BYTES} /dev/zero`;
      // OpenSSH reference.
      const t0 = performance.now();
      const n0 = await new Promise<number>((resolve, reject) => {
        const p = spawn('ssh', ['-i', keyFile, '-c', cipher, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', '-p', String(sshd.port), `${sshd.user}@127.0.0.1`, cmd], { stdio: ['ignore', 'pipe', 'inherit'] });
        let n = 0;
        p.stdout.on('data', (d: Buffer) => (n += d.length));
        p.on('exit', (code) => (code === 0 ? resolve(n) : reject(new Error(`ssh exited ${code}`))));
      });
      const refMBs = n0 / 1e6 / ((performance.now() - t0) / 1000);
      // Ours.
      const c = await SshClient.connect(await connectDuplex(sshd.port), { username: sshd.user, auth: [{ type: 'publickey', key }], hostKeyVerifier: () => {}, ciphers: [cipher] });
      const t1 = performance.now();
      const s = await c.openSession({ command: cmd });
      await s.stdin.close();
      let n1 = 0;
      for await (const chunk of s.stdout as unknown as AsyncIterable<Uint8Array>) n1 += chunk.length;
      const ourMBs = n1 / 1e6 / ((performance.now() - t1) / 1000);
      c.close();
      if (n0 !== BYTES || n1 !== BYTES) throw new Error(`short read: ssh ${n0}, ours ${n1}`);
      rows.push({ name: `receive ${cipher} (OpenSSH ssh)`, value: +refMBs.toFixed(1), unit: 'MB/s' });
      rows.push({ name: `receive ${cipher} (tailtab, Node)`, value: +ourMBs.toFixed(1), unit: 'MB/s', note: `${(ourMBs / refMBs).toFixed(2)}× OpenSSH` });
    }
  } finally {
    await sshd.stop();
  }
  return rows;
}
