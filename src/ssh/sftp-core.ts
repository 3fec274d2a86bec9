// The SFTP client's state and its request plumbing (ids, the reply dispatch, the session's end) and
// the single operations (stat, list, mkdir, rename, open/read/write/close...), one request each.
// SftpClient (sftp.ts) adds starting a session and the pipelined transfers on top of this class.
// Wire format: sftp-codec.ts.
import { type Clock } from '../platform/clock.js';
import { sanitize } from './transport/transport.js';
import {
  FX,
  FXP,
  SftpFramer,
  decodeReply,
  encodeExtended,
  encodeHandle,
  encodeMkdir,
  encodeOpen,
  encodePath,
  encodeRead,
  encodeRename,
  encodeSetstat,
  encodeWrite,
  fileType,
  statusName,
  type FileType,
  type SftpAttrs,
  type SftpNameEntry,
  type SftpReply,
} from './sftp-codec.js';

/** A failed operation: the server's status (code) and the path it was about. */
export class SftpError extends Error {
  constructor(
    message: string,
    /** SSH_FX_* status code; undefined when the session itself failed. */
    readonly code?: number,
    readonly path?: string,
  ) {
    super(message);
    this.name = 'SftpError';
  }
}

/** The session is unusable: the server broke the protocol or the channel ended. */
export class SftpSessionError extends SftpError {
  constructor(message: string) {
    super(message);
    this.name = 'SftpSessionError';
  }
}

const REASONS: Record<number, string> = {
  [FX.EOF]: 'end of file',
  [FX.NO_SUCH_FILE]: 'no such file or directory',
  [FX.PERMISSION_DENIED]: 'permission denied',
  [FX.FAILURE]: 'failed',
  [FX.BAD_MESSAGE]: 'the server did not understand the request',
  [FX.OP_UNSUPPORTED]: 'not supported by the server',
};

/** "cannot open "/x": no such file or directory"; the server's own text only when it adds something. */
export function statusError(op: string, path: string, code: number, serverMessage: string): SftpError {
  const reason = REASONS[code] ?? statusName(code);
  const msg = sanitize(serverMessage).trim();
  const extra = msg && !reason.toLowerCase().startsWith(msg.toLowerCase()) ? ` (server: ${msg})` : '';
  return new SftpError(`cannot ${op} ${JSON.stringify(path)}: ${reason}${extra}`, code, path);
}

export interface SftpDuplex {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  /** Close the underlying channel. */
  close?(): void;
  /** Recent stderr of the server process, for the "session ended" message. */
  stderrTail?(): string;
}

export interface TransferOptions {
  /** Bytes per READ/WRITE request (32 KiB: every server must take it, filexfer-02 §3). */
  chunkSize?: number;
  /** Requests outstanding at once. */
  concurrency?: number;
}

export interface SftpStats {
  requests: number;
  /** Most requests outstanding at the same time (pipelining depth reached). */
  maxInFlight: number;
}

export interface SftpEntry extends SftpNameEntry {
  type?: FileType;
}

export interface SftpStartOptions {
  clock?: Clock;
  /** Give up when the server has not answered INIT by then (default 15 s). */
  initTimeoutMs?: number;
}

export const DEFAULT_CHUNK = 32 * 1024;
export const DEFAULT_CONCURRENCY = 16;

export type Pending = { resolve: (r: SftpReply) => void; reject: (e: Error) => void };

export abstract class SftpCore {
  protected readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  protected readonly framer = new SftpFramer();
  protected readonly pending = new Map<number, Pending>();
  protected nextId = 0;
  protected failure: Error | undefined;
  protected versionWaiter: Pending | undefined;
  protected closing = false;
  version = 0;
  /** Extensions the server announced in VERSION (e.g. posix-rename@openssh.com → "1"). */
  readonly extensions = new Map<string, string>();
  readonly stats: SftpStats = { requests: 0, maxInFlight: 0 };
  protected endedResolve!: (e: Error | undefined) => void;
  /** Resolves when the session ends: undefined after close(), else the error that ended it. */
  readonly ended: Promise<Error | undefined> = new Promise((r) => (this.endedResolve = r));

  protected constructor(protected readonly d: SftpDuplex) {
    this.writer = d.writable.getWriter();
  }

  // ---- plumbing ----

  protected readLoop(): void {
    void (async () => {
      const reader = this.d.readable.getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const framed = this.framer.push(value);
          if (!framed.ok)
            return this.fail(
              new SftpSessionError(`the SFTP server sent a malformed reply (${framed.error}); session closed`),
            );
          for (const p of framed.value) {
            const d = decodeReply(p);
            if (!d.ok)
              return this.fail(
                new SftpSessionError(`the SFTP server sent a malformed reply (${d.error}); session closed`),
              );
            if (!this.dispatch(d.value)) return;
          }
        }
        const tail = sanitize(this.d.stderrTail?.() ?? '').trim();
        this.fail(
          new SftpSessionError(`the SFTP session ended (the server closed the channel)${tail ? `: ${tail}` : ''}`),
        );
      } catch (e) {
        this.fail(new SftpSessionError(`the SFTP session ended: ${errText(e)}`));
      }
    })();
  }

  protected dispatch(r: SftpReply): boolean {
    if (r.type === FXP.VERSION) {
      const w = this.versionWaiter;
      if (!w) {
        this.fail(new SftpSessionError('the SFTP server sent an unexpected VERSION; session closed'));
        return false;
      }
      this.versionWaiter = undefined;
      w.resolve(r);
      return true;
    }
    if (this.versionWaiter) {
      this.fail(new SftpSessionError('the SFTP server replied before VERSION; session closed'));
      return false;
    }
    const p = this.pending.get(r.id);
    if (!p) {
      this.fail(
        new SftpSessionError(`the SFTP server answered request ${r.id}, which is not outstanding; session closed`),
      );
      return false;
    }
    this.pending.delete(r.id);
    p.resolve(r);
    return true;
  }

  protected fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.versionWaiter?.reject(e);
    this.versionWaiter = undefined;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    this.writer.abort(e).catch(() => {});
    this.d.close?.();
    this.endedResolve(this.closing ? undefined : e);
  }

  /** Send one request; the promise is the reply. */
  protected request(build: (id: number) => Uint8Array): Promise<SftpReply> {
    if (this.failure) return Promise.reject(this.failure);
    while (this.pending.has(this.nextId)) this.nextId = (this.nextId + 1) >>> 0;
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0;
    const reply = new Promise<SftpReply>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.stats.requests++;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.pending.size);
    this.writer
      .write(build(id))
      .catch((e) => this.fail(new SftpSessionError(`SFTP session: write failed: ${errText(e)}`)));
    return reply;
  }

  /** A reply of the wrong type means the server and we disagree about the protocol: end the session. */
  protected wrongReply(r: SftpReply, op: string): never {
    const e = new SftpSessionError(`the SFTP server answered ${op} with packet type ${r.type}; session closed`);
    this.fail(e);
    throw e;
  }

  protected expect<T extends SftpReply['type']>(
    r: SftpReply,
    type: T,
    op: string,
    path: string,
  ): Extract<SftpReply, { type: T }> {
    if (r.type === type) return r as Extract<SftpReply, { type: T }>;
    if (r.type === FXP.STATUS) throw statusError(op, path, r.code, r.message);
    return this.wrongReply(r, op);
  }

  protected expectOk(r: SftpReply, op: string, path: string): void {
    if (r.type !== FXP.STATUS) this.wrongReply(r, op);
    if (r.code !== FX.OK) throw statusError(op, path, r.code, r.message);
  }

  protected async simple(op: string, path: string, build: (id: number) => Uint8Array): Promise<void> {
    this.expectOk(await this.request(build), op, path);
  }

  // ---- operations ----

  /** Canonical absolute path ("." is the login directory). */
  async realpath(path = '.'): Promise<string> {
    const r = this.expect(await this.request((id) => encodePath(FXP.REALPATH, id, path)), FXP.NAME, 'resolve', path);
    if (r.entries.length !== 1) this.wrongReply(r, 'REALPATH');
    return r.entries[0].filename;
  }

  async stat(path: string): Promise<SftpAttrs> {
    return this.expect(await this.request((id) => encodePath(FXP.STAT, id, path)), FXP.ATTRS, 'stat', path).attrs;
  }

  /** Like stat, but a symlink is described itself rather than followed. */
  async lstat(path: string): Promise<SftpAttrs> {
    return this.expect(await this.request((id) => encodePath(FXP.LSTAT, id, path)), FXP.ATTRS, 'lstat', path).attrs;
  }

  async fstat(handle: Uint8Array, path = '(open file)'): Promise<SftpAttrs> {
    return this.expect(await this.request((id) => encodeHandle(FXP.FSTAT, id, handle)), FXP.ATTRS, 'stat', path).attrs;
  }

  async setstat(path: string, attrs: SftpAttrs): Promise<void> {
    await this.simple('change attributes of', path, (id) => encodeSetstat(id, path, attrs));
  }

  chmod(path: string, mode: number): Promise<void> {
    return this.setstat(path, { permissions: mode & 0o7777 });
  }

  /** Directory entries without "." and "..", sorted by name. */
  async list(path: string): Promise<SftpEntry[]> {
    const handle = this.expect(
      await this.request((id) => encodePath(FXP.OPENDIR, id, path)),
      FXP.HANDLE,
      'list',
      path,
    ).handle;
    const out: SftpEntry[] = [];
    try {
      for (;;) {
        const r = await this.request((id) => encodeHandle(FXP.READDIR, id, handle));
        if (r.type === FXP.STATUS && r.code === FX.EOF) break;
        for (const e of this.expect(r, FXP.NAME, 'list', path).entries) {
          if (e.filename !== '.' && e.filename !== '..') out.push({ ...e, type: fileType(e.attrs) });
        }
      }
    } finally {
      await this.closeHandle(handle, path).catch(() => {});
    }
    return out.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
  }

  async mkdir(path: string, mode = 0o755): Promise<void> {
    await this.simple('create directory', path, (id) => encodeMkdir(id, path, { permissions: mode }));
  }

  async rmdir(path: string): Promise<void> {
    await this.simple('remove directory', path, (id) => encodePath(FXP.RMDIR, id, path));
  }

  async remove(path: string): Promise<void> {
    await this.simple('remove', path, (id) => encodePath(FXP.REMOVE, id, path));
  }

  /**
   * SSH_FXP_RENAME refuses an existing target on OpenSSH (it links then unlinks). With overwrite,
   * use posix-rename@openssh.com (OpenSSH PROTOCOL §4.3, rename(2) semantics) when offered.
   */
  async rename(from: string, to: string, o: { overwrite?: boolean } = {}): Promise<void> {
    if (o.overwrite) {
      if (!this.extensions.has('posix-rename@openssh.com'))
        throw new SftpError(
          `cannot rename ${JSON.stringify(from)} over an existing file: the server lacks posix-rename@openssh.com`,
          FX.OP_UNSUPPORTED,
          from,
        );
      return this.simple('rename', from, (id) => encodeExtended(id, 'posix-rename@openssh.com', [from, to]));
    }
    await this.simple('rename', from, (id) => encodeRename(id, from, to));
  }

  /** OPEN with SSH_FXF_* flags; the handle is closed with closeHandle. */
  async openHandle(path: string, pflags: number, attrs: SftpAttrs = {}): Promise<Uint8Array> {
    return this.expect(await this.request((id) => encodeOpen(id, path, pflags, attrs)), FXP.HANDLE, 'open', path)
      .handle;
  }

  async closeHandle(handle: Uint8Array, path = '(open file)'): Promise<void> {
    await this.simple('close', path, (id) => encodeHandle(FXP.CLOSE, id, handle));
  }

  /** One READ: the bytes (maybe fewer than asked), or null at end of file. */
  async read(handle: Uint8Array, offset: number, length: number, path = '(open file)'): Promise<Uint8Array | null> {
    const r = await this.request((id) => encodeRead(id, handle, offset, length));
    if (r.type === FXP.STATUS && r.code === FX.EOF) return null;
    return this.expect(r, FXP.DATA, 'read', path).data;
  }

  async write(handle: Uint8Array, offset: number, data: Uint8Array, path = '(open file)'): Promise<void> {
    await this.simple('write', path, (id) => encodeWrite(id, handle, offset, data));
  }
}

export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
