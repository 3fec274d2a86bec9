// Debian's OpenSSH server for the rig: own config, freshly generated host keys, password login for
// the local user `tailtab` (created by scripts/install.sh) and an authorized_keys file in the rig dir.
// It listens on 127.0.0.1 only; run it inside the rig's network namespace.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { appendFile, chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { GiveUp, spawnLogged, tail, waitFor, type RigProcess } from './proc.js';
import { freePort, tcpOpen } from './net.js';

const run = promisify(execFile);
export const SSH_USER = 'tailtab';
/** Machine-wide, root-only: every rig on this host sets the same password, so rigs can coexist. */
const PASSWORD_FILE = '/etc/tailtab-rig-password';

export interface Sshd {
  port: number;
  user: string;
  password: string;
  /** "SHA256:…" fingerprints of the host keys (ed25519, ecdsa, rsa), as `ssh-keygen -l` prints them. */
  hostKeyFingerprints: string[];
  /** The host public keys, one OpenSSH line each ("ssh-ed25519 AAAA…"). */
  hostPublicKeys: string[];
  addAuthorizedKey(line: string): Promise<void>;
  logPath: string;
  pid: number;
  stop(): Promise<void>;
}

/** The test user's password, shared by every sshd this machine's tests start (see PASSWORD_FILE). */
export async function rigPassword(): Promise<string> {
  if (existsSync(PASSWORD_FILE)) return (await readFile(PASSWORD_FILE, 'utf8')).trim();
  const pw = randomBytes(12).toString('base64url');
  await writeFile(PASSWORD_FILE, pw + '\n', { mode: 0o600 });
  return pw;
}

/** Starts sshd with its files in `dir` (created) on 127.0.0.1:`port` (free port if omitted). */
export async function startSshd(o: { dir: string; port?: number }): Promise<Sshd> {
  const dir = o.dir;
  await mkdir(dir, { recursive: true });
  // sshd reads authorized_keys as the login user: the folder must be traversable and the file readable.
  // The rig's temp folder (the parent, 0700 from mkdtemp) gets o+x only: traversable, not listable.
  await chmod(dir, 0o755);
  const parent = dirname(dir);
  const pst = await stat(parent);
  if ((pst.mode & 0o001) === 0) await chmod(parent, (pst.mode & 0o777) | 0o711);
  try {
    await run('id', [SSH_USER]);
  } catch {
    throw new Error(`the local user '${SSH_USER}' is missing: run scripts/install.sh (it creates it)`);
  }
  if (!existsSync('/usr/sbin/sshd'))
    throw new Error('/usr/sbin/sshd is missing: run scripts/install.sh (Debian openssh-server)');
  await mkdir('/run/sshd', { recursive: true });
  const password = await rigPassword();
  await new Promise<void>((resolve, reject) => {
    const cp = execFile('chpasswd', (err) => (err ? reject(err) : resolve()));
    cp.stdin!.end(`${SSH_USER}:${password}\n`);
  });

  const keys: string[] = [];
  for (const [type, bits] of [
    ['ed25519', ''],
    ['ecdsa', '256'],
    ['rsa', '3072'],
  ] as const) {
    const path = join(dir, `ssh_host_${type}_key`);
    if (!existsSync(path)) {
      await run('ssh-keygen', [
        '-q',
        '-t',
        type,
        ...(bits ? ['-b', bits] : []),
        '-N',
        '',
        '-C',
        `tailtab-rig-${type}`,
        '-f',
        path,
      ]);
    }
    keys.push(path);
  }
  const hostKeyFingerprints: string[] = [];
  const hostPublicKeys: string[] = [];
  for (const k of keys) {
    const { stdout } = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${k}.pub`]);
    hostKeyFingerprints.push(stdout.trim().split(/\s+/)[1]!);
    hostPublicKeys.push((await readFile(`${k}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' '));
  }
  const authorizedKeys = join(dir, 'authorized_keys');
  if (!existsSync(authorizedKeys)) await writeFile(authorizedKeys, '', { mode: 0o644 });
  await chmod(authorizedKeys, 0o644);

  const port = o.port ?? (await freePort());
  const config = [
    `ListenAddress 127.0.0.1:${port}`,
    ...keys.map((k) => `HostKey ${k}`),
    `PidFile none`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    `StrictModes no`,
    `UsePAM no`,
    `PasswordAuthentication yes`,
    `KbdInteractiveAuthentication no`,
    `PubkeyAuthentication yes`,
    `PermitRootLogin no`,
    `AllowUsers ${SSH_USER}`,
    `AllowTcpForwarding yes`,
    `X11Forwarding no`,
    `PrintMotd no`,
    `UseDNS no`,
    `LogLevel VERBOSE`,
    `Subsystem sftp internal-sftp`,
    '',
  ].join('\n');
  const configPath = join(dir, 'sshd_config');
  await writeFile(configPath, config);
  const logPath = join(dir, 'sshd.log');
  const proc: RigProcess = spawnLogged({
    name: 'sshd',
    cmd: '/usr/sbin/sshd',
    args: ['-D', '-e', '-f', configPath],
    logPath,
  });
  await waitFor(
    `sshd on 127.0.0.1:${port}`,
    async () => {
      if (proc.hasExited()) throw new GiveUp(`sshd exited:\n${tail(proc.log())}`);
      return (await tcpOpen(port)) || undefined;
    },
    15_000,
    50,
    () => tail(proc.log()),
  );

  return {
    port,
    user: SSH_USER,
    password,
    hostKeyFingerprints,
    hostPublicKeys,
    logPath,
    pid: proc.pid,
    async addAuthorizedKey(line: string) {
      await appendFile(authorizedKeys, line.trim() + '\n');
    },
    stop: () => proc.stop(),
  };
}
