// Node-only test glue: Debian's Dropbear SSH server (package dropbear-bin) on loopback, with its own
// host key in a temp dir, for the test user "tailtab" (password shared with the rig's sshd).
// Dropbear has no AuthorizedKeysFile option: keys go into ~tailtab/.ssh/authorized_keys, and
// stop() removes exactly the lines this server added. Stopped by PID.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitListening } from './ports.testkit.js';
import { prepareTestUser, USER } from './ssh-sshd.testkit.js';

export const DROPBEAR = '/usr/sbin/dropbear';

export interface Dropbear {
  port: number;
  user: string;
  password: string;
  version: string;
  /** SHA256 fingerprint of the host key, as ssh-keygen -l prints it. */
  hostKeyFingerprint: string;
  addAuthorizedKey(line: string): void;
  stop(): Promise<void>;
  log: string[];
}

/** hostKey: "ed25519" (the default), or "rsa-1024" for an old device's short RSA key. */
export async function startDropbear(o: { hostKey?: 'ed25519' | 'rsa-1024' } = {}): Promise<Dropbear> {
  // No skipping: a missing server is a failed test that says what to install.
  if (!existsSync(DROPBEAR))
    throw new Error(`missing ${DROPBEAR}: install Debian package dropbear-bin (scripts/install.sh does)`);
  const password = await prepareTestUser();
  const dir = mkdtempSync(join(tmpdir(), 'dropbear-'));
  const rsa = o.hostKey === 'rsa-1024';
  const hostKey = join(dir, rsa ? 'host_rsa' : 'host_ed25519');
  execFileSync('dropbearkey', rsa ? ['-t', 'rsa', '-s', '1024', '-f', hostKey] : ['-t', 'ed25519', '-f', hostKey], {
    stdio: 'ignore',
  });
  const pubLine = execFileSync('dropbearkey', ['-y', '-f', hostKey], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.startsWith(rsa ? 'ssh-rsa ' : 'ssh-ed25519 '))!;
  writeFileSync(join(dir, 'host.pub'), pubLine + '\n');
  const hostKeyFingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'host.pub')], {
    encoding: 'utf8',
  }).split(' ')[1];
  const v = spawnSync(DROPBEAR, ['-V'], { encoding: 'utf8' });
  const version = `${v.stdout}${v.stderr}`.trim(); // "Dropbear v2022.83" (on stderr)

  const home = execFileSync('getent', ['passwd', USER], { encoding: 'utf8' }).split(':')[5];
  const sshDir = join(home, '.ssh');
  const authKeys = join(sshDir, 'authorized_keys');
  const added: string[] = [];
  const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }));

  const port = await freePort();
  const log: string[] = [];
  // -F foreground, -E log to stderr, -m no motd, -p address:port, -r host key, -P pid file.
  const proc: ChildProcess = spawn(
    DROPBEAR,
    ['-F', '-E', '-m', '-p', `127.0.0.1:${port}`, '-r', hostKey, '-P', join(dir, 'dropbear.pid')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  proc.stderr!.on('data', (d) => log.push(String(d)));
  await waitListening(port, proc, log, 'dropbear');
  return {
    port,
    user: USER,
    password,
    version,
    hostKeyFingerprint,
    log,
    addAuthorizedKey(line) {
      // Dropbear insists on ~/.ssh and the file being the user's and not group/world-writable.
      if (!existsSync(sshDir)) {
        mkdirSync(sshDir, { mode: 0o700 });
        chownSync(sshDir, uid, gid);
      }
      const before = existsSync(authKeys) ? readFileSync(authKeys, 'utf8') : '';
      writeFileSync(authKeys, before + (before && !before.endsWith('\n') ? '\n' : '') + line + '\n');
      chownSync(authKeys, uid, gid);
      chmodSync(authKeys, 0o600);
      added.push(line);
    },
    async stop() {
      if (proc.exitCode === null && proc.pid !== undefined) {
        const exited = new Promise((r) => proc.once('exit', r));
        process.kill(proc.pid, 'SIGTERM');
        await exited;
      }
      if (added.length && existsSync(authKeys)) {
        const kept = readFileSync(authKeys, 'utf8')
          .split('\n')
          .filter((l) => !added.includes(l));
        writeFileSync(authKeys, kept.join('\n'));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
