// Node-only test glue: Debian's OpenSSH sshd on loopback with its own config, generated host keys
// and authorized_keys in a temp dir, and the test user "tailtab" (password shared with the rig's sshd). Stopped by PID.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import type { ByteDuplex } from '../../src/platform/duplex.js';
import { rigPassword } from '../rig/sshd.js';
import { freePort, waitListening } from './ports.testkit.js';

export const SSHD = '/usr/sbin/sshd';
export const USER = 'tailtab';

export interface Sshd {
  port: number;
  user: string;
  password: string;
  dir: string;
  /** sha256 fingerprints by key type as ssh-keygen -l prints them. */
  hostKeyFingerprints: Record<string, string>;
  addAuthorizedKey(line: string): void;
  /** Replace the host keys (simulating a reinstalled host) and restart on the same port. */
  regenerateHostKeys(): Promise<void>;
  stop(): Promise<void>;
  log: string[];
}

export interface SshdOptions {
  /** Authenticate through PAM: password auth off, so the password is asked by PAM's prompt
   * over keyboard-interactive (RFC 4256), as on a stock Debian host with PasswordAuthentication no. */
  pam?: boolean;
  /** Host key types to generate (default ed25519, ecdsa, rsa-3072); "ecdsa-384", "rsa-1024" pick a size. */
  hostKeys?: string[];
  /** More sshd_config lines, e.g. "KexAlgorithms ecdh-sha2-nistp256" to restrict one case. */
  extraConfig?: string[];
  /**
   * With pam: this sshd's own /etc/pam.d/sshd (e.g. pam_unix then pam_google_authenticator),
   * bind-mounted over the system's in a mount namespace of its own, so the machine's PAM
   * configuration and other tests' sshds are untouched.
   */
  pamConfig?: string;
}

/**
 * The test user USER, created if missing, with the rig's password set; returns the password. The
 * password is machine-wide: the rig's is used, so a rig started meanwhile (another test run on this
 * machine) does not change it under us.
 */
export async function prepareTestUser(): Promise<string> {
  try {
    execFileSync('id', [USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['-m', '-s', '/bin/bash', USER]);
  }
  const password = await rigPassword();
  execFileSync('chpasswd', [], { input: `${USER}:${password}\n` });
  return password;
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  if (!existsSync(SSHD)) throw new Error(`missing ${SSHD}: install Debian package openssh-server`);
  const password = await prepareTestUser();
  mkdirSync('/run/sshd', { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'ssh-sshd-'));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const types = opts.hostKeys ?? ['ed25519', 'ecdsa', 'rsa'];
  const fingerprints: Record<string, string> = {};
  const genKeys = () => {
    for (const t of types) {
      const f = join(dir, `host_${t}`);
      execFileSync('rm', ['-f', f, f + '.pub']);
      const [kind, size] = t.split('-');
      const bits = size ?? (kind === 'rsa' ? '3072' : undefined);
      execFileSync('ssh-keygen', ['-q', '-t', kind, ...(bits ? ['-b', bits] : []), '-N', '', '-f', f]);
      fingerprints[t] = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', f + '.pub'], {
        encoding: 'utf8',
      }).split(' ')[1];
    }
  };
  genKeys();
  const authKeys = join(dir, 'authorized_keys');
  writeFileSync(authKeys, '');
  chmodSync(authKeys, 0o644);
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      // First: sshd keeps the first value it reads for a keyword, so these override the defaults.
      ...(opts.extraConfig ?? []),
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      ...types.map((t) => `HostKey ${join(dir, `host_${t}`)}`),
      `AuthorizedKeysFile ${authKeys}`,
      'StrictModes no',
      `PasswordAuthentication ${opts.pam ? 'no' : 'yes'}`,
      'KbdInteractiveAuthentication yes',
      'PubkeyAuthentication yes',
      `UsePAM ${opts.pam ? 'yes' : 'no'}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'Subsystem sftp internal-sftp',
      'LogLevel VERBOSE',
      `AllowUsers ${USER}`,
      '',
    ].join('\n'),
  );
  const log: string[] = [];
  let proc: ChildProcess | undefined;
  const launch = async () => {
    if (opts.pamConfig !== undefined) {
      const pam = join(dir, 'pam.d-sshd');
      writeFileSync(pam, opts.pamConfig);
      // `unshare` and `sh` exec in turn: the PID stays sshd's (stopped by it below).
      proc = spawn(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          '--',
          'sh',
          '-c',
          'mount --bind "$0" /etc/pam.d/sshd && exec "$@"',
          pam,
          SSHD,
          '-D',
          '-e',
          '-f',
          config,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
    } else proc = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d) => log.push(String(d)));
    await waitListening(port, proc, log, 'sshd');
  };
  const stopProc = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.pid === undefined) return;
    const exited = new Promise((r) => p.once('exit', r));
    process.kill(p.pid, 'SIGTERM');
    await exited;
  };
  await launch();
  return {
    port,
    user: USER,
    password,
    dir,
    hostKeyFingerprints: fingerprints,
    addAuthorizedKey: (line) => appendFileSync(authKeys, line + '\n'),
    async regenerateHostKeys() {
      await stopProc();
      genKeys();
      await launch();
    },
    // The host keys, config and authorized_keys go with the server (one temp folder per run otherwise).
    async stop() {
      await stopProc();
      rmSync(dir, { recursive: true, force: true });
    },
    log,
  };
}

/** A Node TCP socket as the byte duplex the SSH client takes. */
export function connectDuplex(port: number): Promise<ByteDuplex & { socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.setNoDelay(true);
      const readable = new ReadableStream<Uint8Array>(
        {
          start(c) {
            socket.on('data', (d: Buffer) => {
              c.enqueue(new Uint8Array(d.buffer, d.byteOffset, d.length));
              if ((c.desiredSize ?? 1) <= 0) socket.pause();
            });
            socket.on('end', () => {
              try {
                c.close();
              } catch {}
            });
            socket.on('error', (e) => {
              try {
                c.error(e);
              } catch {}
            });
          },
          pull() {
            socket.resume();
          },
          cancel() {
            socket.destroy();
          },
        },
        { highWaterMark: 1 << 20, size: (c) => c.length },
      );
      const writable = new WritableStream<Uint8Array>({
        write(chunk) {
          return new Promise((res, rej) => socket.write(chunk, (e) => (e ? rej(e) : res())));
        },
        close() {
          socket.end();
        },
        abort() {
          socket.destroy();
        },
      });
      resolve({ readable, writable, socket });
    });
  });
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
