// Our SFTP client (src/ssh/sftp.ts) against Debian's real OpenSSH sshd with `Subsystem sftp
// internal-sftp` on loopback (inside the test's netns). Transfer rates are printed next to
// OpenSSH's own `sftp` client on the same sshd, never asserted.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/ssh-sftp.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../src/crypto/bytes.js';
import { SshClient } from '../src/ssh/client.js';
import { SftpClient, SftpError } from '../src/ssh/sftp.js';
import { generateEd25519Key, authorizedKeysLine } from '../src/ssh/keys.js';
import { connectDuplex, startSshd, type Sshd } from './helpers/ssh-sshd.testkit.js';

let sshd: Sshd;
let ssh: SshClient;
let sftp: SftpClient;
let home: string;
const tag = `sftp-e2e-${process.pid}`;

beforeAll(async () => {
  sshd = await startSshd();
  const key = generateEd25519Key((n) => crypto.getRandomValues(new Uint8Array(n)));
  sshd.addAuthorizedKey(authorizedKeysLine(key, 'sftp-e2e'));
  ssh = await SshClient.connect(await connectDuplex(sshd.port), {
    username: sshd.user,
    auth: [{ type: 'publickey', key }],
    hostKeyVerifier: () => {},
  });
  sftp = await SftpClient.open(ssh);
  home = await sftp.realpath('.');
});
afterAll(async () => {
  sftp?.close();
  ssh?.close();
  await sshd?.stop();
});

async function run(command: string): Promise<{ out: string; code?: number }> {
  const s = await ssh.openSession({ command });
  await s.stdin.close();
  let out = '';
  for await (const c of s.stdout as unknown as AsyncIterable<Uint8Array>) out += new TextDecoder().decode(c);
  return { out, code: (await s.exit).code };
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
}

/** A source that hands the bytes over in uneven pieces, as a file picker or fetch body would. */
function streamOf(data: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= data.length) return c.close();
      const n = Math.min(data.length - at, 10_000 + ((at / 7) % 90_000));
      c.enqueue(data.slice(at, at + n));
      at += n;
    },
  });
}

const mbps = (bytes: number, ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(1);

describe('SFTP vs OpenSSH internal-sftp', () => {
  it('negotiates SFTP v3 and lists the home directory', async () => {
    expect(sftp.version).toBe(3);
    expect(sftp.extensions.has('posix-rename@openssh.com')).toBe(true);
    expect(home).toBe('/home/tailtab');
    await sftp.writeFile(`${home}/${tag}-hello.txt`, 'hello sftp\n');
    await sftp.mkdir(`${home}/${tag}-dir`);
    const entries = await sftp.list(home);
    const names = entries.map((e) => e.filename);
    expect(names).toContain(`${tag}-hello.txt`);
    expect(names).not.toContain('.');
    expect(entries.find((e) => e.filename === `${tag}-hello.txt`)).toMatchObject({ type: 'file', attrs: { size: 11 } });
    expect(entries.find((e) => e.filename === `${tag}-dir`)?.type).toBe('directory');
    // The same listing as the remote shell sees.
    expect((await run(`cat ${home}/${tag}-hello.txt`)).out).toBe('hello sftp\n');
    await sftp.rmdir(`${home}/${tag}-dir`);
    await sftp.remove(`${home}/${tag}-hello.txt`);
  });

  it('uploads 8 MiB of random bytes and downloads them back: SHA-256 matches the original and the remote sha256sum', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const want = toHex(sha256(data));
    const path = `${home}/${tag}-8m.bin`;
    let t = performance.now();
    expect(await sftp.upload(path, streamOf(data), { mode: 0o600 })).toBe(data.length);
    const upMs = performance.now() - t;
    expect((await run(`sha256sum ${path}`)).out.split(' ')[0]).toBe(want);
    t = performance.now();
    const h = sha256.create();
    let n = 0;
    for await (const c of (await sftp.download(path)) as unknown as AsyncIterable<Uint8Array>) {
      h.update(c);
      n += c.length;
    }
    const downMs = performance.now() - t;
    expect(n).toBe(data.length);
    expect(toHex(h.digest())).toBe(want);
    console.log(
      `tailtab sftp (Node, loopback, 32 KiB × 16): upload ${mbps(data.length, upMs)} MB/s, download ${mbps(data.length, downMs)} MB/s; max requests in flight ${sftp.stats.maxInFlight}`,
    );

    // stat: size and mode as created; rename; the old name is gone; remove.
    const st = await sftp.stat(path);
    expect(st.size).toBe(data.length);
    expect(st.permissions! & 0o777).toBe(0o600);
    expect(st.permissions! & 0o170000).toBe(0o100000);
    const moved = `${home}/${tag}-8m-renamed.bin`;
    await sftp.rename(path, moved);
    await expect(sftp.stat(path)).rejects.toThrow(`cannot stat "${path}": no such file or directory`);
    expect((await sftp.stat(moved)).size).toBe(data.length);
    // Plain RENAME refuses an existing target on OpenSSH; posix-rename@openssh.com replaces it.
    await sftp.writeFile(path, 'small');
    await expect(sftp.rename(moved, path)).rejects.toThrow(SftpError);
    await sftp.rename(moved, path, { overwrite: true });
    expect((await sftp.stat(path)).size).toBe(data.length);
    await sftp.remove(path);
    expect((await run(`ls ${path} 2>&1; true`)).out).toMatch(/No such file/);

    // OpenSSH's own sftp client on the same sshd, for comparison (printed, not asserted).
    const keyFile = join(sshd.dir, 'sftp_client_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    sshd.addAuthorizedKey(readFileSync(keyFile + '.pub', 'utf8').trim());
    const local = join(sshd.dir, 'up.bin');
    writeFileSync(local, data);
    const sftpCmd = (batch: string) => {
      const b = join(sshd.dir, 'batch');
      writeFileSync(b, batch);
      const t0 = performance.now();
      const r = spawnSync(
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
        { encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(`sftp failed: ${r.stderr}`);
      return performance.now() - t0;
    };
    // Includes login (~tens of ms): subtract an empty batch.
    const base = sftpCmd('pwd\n');
    const up = sftpCmd(`put ${local} ${path}\n`) - base;
    const down = sftpCmd(`get ${path} ${local}.back\n`) - base;
    expect(toHex(sha256(readFileSync(`${local}.back`)))).toBe(want);
    rmSync(local);
    rmSync(`${local}.back`);
    console.log(
      `OpenSSH sftp (same sshd, its defaults): upload ${mbps(data.length, up)} MB/s, download ${mbps(data.length, down)} MB/s`,
    );
    await sftp.remove(path);
  });

  it('uploadAtomic: a connection killed mid-upload leaves the original intact (SHA-256); a completed one replaces it, keeps its mode, leaves no temp file', async () => {
    const path = `${home}/${tag}-atomic.bin`;
    const original = randomBytes(4 * 1024 * 1024);
    expect(await sftp.uploadAtomic(path, streamOf(original), { mode: 0o640 })).toBe(original.length);
    const originalSha = toHex(sha256(original));
    const remoteSha = async () => (await run(`sha256sum ${path}`)).out.split(' ')[0];
    const temps = async () =>
      (await sftp.list(home)).map((e) => e.filename).filter((n) => n.endsWith('.tailtab-upload'));
    expect(await remoteSha()).toBe(originalSha);
    expect((await sftp.stat(path)).permissions! & 0o777).toBe(0o640);
    expect(await temps()).toEqual([]);

    // A second connection uploads a replacement and is killed (TCP destroyed) after 2 MiB.
    const duplex = await connectDuplex(sshd.port);
    const key = generateEd25519Key((n) => crypto.getRandomValues(new Uint8Array(n)));
    sshd.addAuthorizedKey(authorizedKeysLine(key, 'sftp-e2e-kill'));
    const ssh2 = await SshClient.connect(duplex, {
      username: sshd.user,
      auth: [{ type: 'publickey', key }],
      hostKeyVerifier: () => {},
    });
    const sftp2 = await SftpClient.open(ssh2);
    const replacement = randomBytes(8 * 1024 * 1024);
    let pulled = 0;
    const killing = new ReadableStream<Uint8Array>({
      pull(c) {
        if (pulled >= 2 * 1024 * 1024) {
          duplex.socket.destroy();
          return new Promise(() => {}); // the connection is gone; this source never ends
        }
        c.enqueue(replacement.slice(pulled, pulled + 65536));
        pulled += 65536;
      },
    });
    const failed = await sftp2.uploadAtomic(path, killing).then(
      () => 'completed',
      (e: Error) => e.message,
    );
    expect(failed).not.toBe('completed');
    ssh2.close();
    // The original is whole: same bytes, same size, same mode.
    expect(await remoteSha()).toBe(originalSha);
    expect((await sftp.stat(path)).size).toBe(original.length);
    // What the killed upload left: at most its temporary file, never a truncated original. Aged two
    // hours (as if the connection had died then); beside it a fresh one, as of an upload going on.
    const left = await temps();
    expect(left.length).toBeLessThanOrEqual(1);
    const hoursAgo = Math.floor(Date.now() / 1000) - 7200;
    const dead = `.${tag}-dead.aaaaaaaaaaaa.tailtab-upload`; // one more, in case the kill left none
    await sftp.writeFile(`${home}/${dead}`, 'cut off');
    for (const t of [...left, dead]) await sftp.setstat(`${home}/${t}`, { atime: hoursAgo, mtime: hoursAgo });
    const fresh = `.${tag}-other.0123456789ab.tailtab-upload`;
    await sftp.writeFile(`${home}/${fresh}`, 'an upload going on');

    // A completed replacement in a new session: the new bytes, the old mode, and the dead
    // connection's temporary file gone (the one of the upload going on stays).
    const ssh3 = await SshClient.connect(await connectDuplex(sshd.port), {
      username: sshd.user,
      auth: [{ type: 'publickey', key }],
      hostKeyVerifier: () => {},
    });
    const sftp3 = await SftpClient.open(ssh3);
    expect(await sftp3.uploadAtomic(path, streamOf(replacement))).toBe(replacement.length);
    ssh3.close();
    expect(await temps()).toEqual([fresh]);
    await sftp.remove(`${home}/${fresh}`);
    expect(await remoteSha()).toBe(toHex(sha256(replacement)));
    expect((await sftp.stat(path)).permissions! & 0o777).toBe(0o640);
    expect(await temps()).toEqual([]);
    // A folder is not replaced by a file.
    await sftp.mkdir(`${home}/${tag}-adir`);
    await expect(sftp.uploadAtomic(`${home}/${tag}-adir`, streamOf(original))).rejects.toThrow(/it is a folder/);
    await sftp.rmdir(`${home}/${tag}-adir`);
    await sftp.remove(path);
  });

  it("a download shorter than the size stat'ed at its start fails in words", async () => {
    const path = `${home}/${tag}-shrinks.bin`;
    await sftp.writeFile(path, randomBytes(2 * 1024 * 1024));
    const size = (await sftp.stat(path)).size!;
    const stream = await sftp.download(path, { size, concurrency: 1 });
    const r = stream.getReader();
    expect((await r.read()).value!.length).toBeGreaterThan(0);
    // The file is cut to 100 KB on the host while it is being read.
    await run(`truncate -s 100000 ${path}`);
    let err: Error | undefined;
    try {
      for (;;) if ((await r.read()).done) break;
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(/ended after 100000 of its 2097152 bytes.*download it again/);
    await sftp.remove(path);
  });

  it('a missing file and a permission-denied path give clear errors; the session keeps working', async () => {
    await expect(sftp.download(`${home}/${tag}-missing`)).rejects.toThrow(
      `cannot open "${home}/${tag}-missing": no such file or directory`,
    );
    await expect(sftp.readFile('/etc/shadow')).rejects.toThrow('cannot open "/etc/shadow": permission denied');
    await expect(sftp.list('/root')).rejects.toThrow('cannot list "/root": permission denied');
    await expect(sftp.writeFile('/etc/tailtab-sftp-e2e', 'x')).rejects.toMatchObject({
      code: 3,
      path: '/etc/tailtab-sftp-e2e',
    });
    await expect(sftp.remove(`${home}/${tag}-missing`)).rejects.toThrow(/no such file or directory/);
    expect((await sftp.list('/')).some((e) => e.filename === 'etc' && e.type === 'directory')).toBe(true);
  });
});
