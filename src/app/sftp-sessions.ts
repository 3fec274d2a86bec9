// File-transfer sessions (SFTP, ssh/sftp.ts) over the same SSH login as the terminal
// (ssh-connect.ts): listing folders, and files streamed both ways — a download is a stream
// transferred to the page that reads from the host only as it is pulled; an upload is the page's
// stream, transferred here and pulled as SFTP writes are acknowledged.
import { toHex } from '../crypto/bytes.js';
import type { SshClient } from '../ssh/client.js';
import { SftpClient } from '../ssh/sftp.js';
import type { TcpConnectionLike } from '../node/node.js';
import type { FileEntryView, HostKeyVerdict, SftpOpenOptions } from './node-api.js';
import { WithTransfer } from './rpc.js';
import type { AppContext, AppWindow } from './context.js';
import type { HostKeyChecks } from './host-keys.js';
import { connectSsh } from './ssh-connect.js';

interface SftpRecord {
  owner: AppWindow;
  ssh: SshClient;
  sftp: SftpClient;
  conn: TcpConnectionLike;
}

/** SFTP attributes → what the page lists (S_IFDIR is 0o040000, POSIX <sys/stat.h>). */
export function toFileEntry(e: {
  filename: string;
  attrs: { size?: number; mtime?: number; permissions?: number };
}): FileEntryView {
  const p = e.attrs.permissions;
  return {
    name: e.filename,
    dir: p !== undefined && (p & 0o170000) === 0o040000,
    size: e.attrs.size,
    mtime: e.attrs.mtime,
  };
}

/** Directories first, then by name; "." and ".." dropped (the page offers its own "..'). */
export function sortEntries(list: FileEntryView[]): FileEntryView[] {
  return list
    .filter((e) => e.name !== '.' && e.name !== '..')
    .sort((a, b) => Number(b.dir) - Number(a.dir) || a.name.localeCompare(b.name));
}

export class SftpSessions {
  private readonly sftps = new Map<string, SftpRecord>();

  constructor(
    private readonly ctx: AppContext,
    private readonly hostKeys: HostKeyChecks,
  ) {}

  /** Every open session's id. */
  ids(): string[] {
    return [...this.sftps.keys()];
  }

  async open(
    owner: AppWindow,
    o: SftpOpenOptions & { promptId?: string },
  ): Promise<{ id: string; home: string; hostKey: HostKeyVerdict }> {
    const { ssh, conn, hostKey } = await connectSsh(this.ctx, this.hostKeys, owner, o);
    let sftp: SftpClient;
    let home: string;
    try {
      sftp = await SftpClient.open(ssh);
      home = await sftp.realpath('.');
    } catch (e) {
      try {
        ssh.close();
      } catch {
        /* closing anyway */
      }
      try {
        await conn.close();
      } catch {
        /* closing anyway */
      }
      throw e;
    }
    const id = toHex(this.ctx.random(8));
    this.sftps.set(id, { owner, ssh, sftp, conn });
    owner.sftp.add(id);
    void sftp.ended.then(() => this.close(id));
    return { id, home, hostKey };
  }

  private record(id: string): SftpRecord {
    const r = this.sftps.get(id);
    if (!r) throw new Error('The file session has ended; open Files again.');
    return r;
  }

  async list(id: string, path: string): Promise<{ path: string; entries: FileEntryView[] }> {
    const { sftp } = this.record(id);
    const real = await sftp.realpath(path);
    return { path: real, entries: sortEntries((await sftp.list(real)).map(toFileEntry)) };
  }

  /**
   * The file's bytes as a stream handed to the page (transferred, not copied): SftpClient.download
   * keeps at most 16 × 32 KiB requests in flight and only reads on as the page pulls.
   */
  async download(
    id: string,
    path: string,
  ): Promise<WithTransfer<{ size: number | undefined; data: ReadableStream<Uint8Array> }>> {
    const { sftp } = this.record(id);
    const size = (await sftp.stat(path)).size;
    const data = await sftp.download(path, { size });
    return new WithTransfer({ size, data }, [data as unknown as Transferable]);
  }

  upload(id: string, path: string, data: ReadableStream<Uint8Array>): Promise<number> {
    // To a temporary name, then renamed over the target: an interrupted upload leaves the original.
    return this.record(id).sftp.uploadAtomic(path, data, { random: this.ctx.random });
  }

  close(id: string): void {
    const r = this.sftps.get(id);
    if (!r) return;
    this.sftps.delete(id);
    r.owner.sftp.delete(id);
    try {
      r.sftp.close();
    } catch {
      /* closing anyway */
    }
    try {
      r.ssh.close();
    } catch {
      /* closing anyway */
    }
  }
}
