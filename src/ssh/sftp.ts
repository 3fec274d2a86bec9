// SFTP version 3 client (draft-ietf-secsh-filexfer-02, what OpenSSH speaks) over the "sftp"
// subsystem of a session channel (RFC 4254 §6.5). Requests carry ids and are answered in any
// order; bulk transfers keep several READ/WRITE requests outstanding (like OpenSSH's sftp, which
// defaults to 64 × 32 KiB) so a transfer costs about one round trip per window, not per chunk.
// Memory stays bounded by concurrency × chunk size. Wire format: sftp-codec.ts.
import type { SshClient } from './client.js';
import { realClock, type Clock } from '../platform/clock.js';
import { concatBytes, toHex } from '../crypto/bytes.js';
import { secureRandom, type RandomSource } from '../crypto/random.js';
import { errText, sanitize } from './transport/errors.js';
import {
  FX,
  FXF,
  FXP,
  SFTP_VERSION,
  SftpFramer,
  decodeReply,
  encodeExtended,
  encodeHandle,
  encodeInit,
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

export { FXF, fileType, type FileType, type SftpAttrs, type SftpNameEntry };

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
  /**
   * End the session when requests are outstanding and none has been answered for this long
   * (default 60 s): an SFTP server process that hangs while its SSH connection lives (keepalives
   * still answered) would otherwise hold every call for good.
   */
  stallTimeoutMs?: number;
}

const DEFAULT_CHUNK = 32 * 1024;
/** uploadAtomic's temporary names: `.` + up to 100 characters of the target's name + 12 hex digits. */
const UPLOAD_TEMP = /^\.[^/]{1,100}\.[0-9a-f]{12}\.tailtab-upload$/;
/** A temporary upload file untouched this long (seconds, server's clock) was left by a dead connection. */
export const STALE_UPLOAD_S = 3600;
const DEFAULT_CONCURRENCY = 16;

type Pending = { resolve: (r: SftpReply) => void; reject: (e: Error) => void };

export class SftpClient {
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly framer = new SftpFramer();
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | undefined;
  private versionWaiter: Pending | undefined;
  private closing = false;
  /** Folders whose stale upload temporaries were looked for in this session (uploadAtomic). */
  private readonly sweptFolders = new Set<string>();
  version = 0;
  /** Extensions the server announced in VERSION (e.g. posix-rename@openssh.com → "1"). */
  readonly extensions = new Map<string, string>();
  readonly stats: SftpStats = { requests: 0, maxInFlight: 0 };
  private endedResolve!: (e: Error | undefined) => void;
  /** Resolves when the session ends: undefined after close(), else the error that ended it. */
  readonly ended: Promise<Error | undefined> = new Promise((r) => (this.endedResolve = r));

  private clock: Clock = realClock;
  private stallMs = 60_000;
  private stallTimer: ReturnType<Clock['setTimeout']> | undefined;

  private constructor(private readonly d: SftpDuplex) {
    this.writer = d.writable.getWriter();
  }

  /** Open the "sftp" subsystem on a new session channel of an SSH connection. */
  static async open(ssh: SshClient, o: SftpStartOptions = {}): Promise<SftpClient> {
    const s = await ssh.subsystem('sftp');
    // Drain stderr (keeps the channel window open) and keep its tail for error messages.
    let tail = '';
    void (async () => {
      const dec = new TextDecoder();
      try {
        for await (const c of s.stderr as unknown as AsyncIterable<Uint8Array>)
          tail = (tail + dec.decode(c, { stream: true })).slice(-512);
      } catch {}
    })();
    return SftpClient.start(
      { readable: s.stdout, writable: s.stdin, close: () => s.close(), stderrTail: () => tail },
      o,
    );
  }

  /** Run the protocol over any duplex (INIT → VERSION). */
  static async start(d: SftpDuplex, o: SftpStartOptions = {}): Promise<SftpClient> {
    const c = new SftpClient(d);
    const clock = o.clock ?? realClock;
    c.clock = clock;
    c.stallMs = o.stallTimeoutMs ?? 60_000;
    const timeoutMs = o.initTimeoutMs ?? 15_000;
    const version = new Promise<SftpReply>((resolve, reject) => (c.versionWaiter = { resolve, reject }));
    // A server that accepted the subsystem but never speaks SFTP (a wrong Subsystem line, a
    // shell banner) would otherwise leave open() waiting for as long as the connection lives.
    const timer = clock.setTimeout(
      () =>
        c.fail(
          new SftpSessionError(`the SFTP server did not answer INIT within ${timeoutMs / 1000} s; session closed`),
        ),
      timeoutMs,
    );
    c.readLoop();
    c.writer
      .write(encodeInit())
      .catch((e) => c.fail(new SftpSessionError(`SFTP session: write failed: ${errText(e)}`)));
    let v: SftpReply;
    try {
      v = await version;
    } finally {
      clock.clearTimeout(timer);
    }
    if (v.type !== FXP.VERSION) throw new SftpSessionError('SFTP: no VERSION reply');
    // filexfer-02 §4: the server answers with the version it will use, never above ours.
    if (v.version !== SFTP_VERSION) {
      const e = new SftpSessionError(
        `the server speaks SFTP version ${v.version}; this client speaks version ${SFTP_VERSION}`,
      );
      c.fail(e);
      throw e;
    }
    c.version = v.version;
    for (const [k, val] of v.extensions) c.extensions.set(k, val);
    return c;
  }

  // ---- plumbing ----

  private readLoop(): void {
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

  private dispatch(r: SftpReply): boolean {
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
    this.armStall();
    p.resolve(r);
    return true;
  }

  /** (Re)starts the no-answer deadline while requests are outstanding; stops it when none are. */
  private armStall(): void {
    if (this.stallTimer !== undefined) this.clock.clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    if (!this.pending.size || this.failure) return;
    this.stallTimer = this.clock.setTimeout(() => {
      this.stallTimer = undefined;
      this.fail(
        new SftpSessionError(
          `the SFTP server answered none of ${this.pending.size} outstanding requests for ${this.stallMs / 1000} s; session closed`,
        ),
      );
    }, this.stallMs);
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.versionWaiter?.reject(e);
    this.versionWaiter = undefined;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    this.armStall();
    this.writer.abort(e).catch(() => {});
    this.d.close?.();
    this.endedResolve(this.closing ? undefined : e);
  }

  /** Send one request; the promise is the reply. */
  private request(build: (id: number) => Uint8Array): Promise<SftpReply> {
    if (this.failure) return Promise.reject(this.failure);
    while (this.pending.has(this.nextId)) this.nextId = (this.nextId + 1) >>> 0;
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0;
    const reply = new Promise<SftpReply>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    if (this.pending.size === 1) this.armStall();
    this.stats.requests++;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.pending.size);
    this.writer
      .write(build(id))
      .catch((e) => this.fail(new SftpSessionError(`SFTP session: write failed: ${errText(e)}`)));
    return reply;
  }

  /** A reply of the wrong type means the server and we disagree about the protocol: end the session. */
  private wrongReply(r: SftpReply, op: string): never {
    const e = new SftpSessionError(`the SFTP server answered ${op} with packet type ${r.type}; session closed`);
    this.fail(e);
    throw e;
  }

  private expect<T extends SftpReply['type']>(
    r: SftpReply,
    type: T,
    op: string,
    path: string,
  ): Extract<SftpReply, { type: T }> {
    if (r.type === type) return r as Extract<SftpReply, { type: T }>;
    if (r.type === FXP.STATUS) throw statusError(op, path, r.code, r.message);
    return this.wrongReply(r, op);
  }

  private expectOk(r: SftpReply, op: string, path: string): void {
    if (r.type !== FXP.STATUS) this.wrongReply(r, op);
    if (r.code !== FX.OK) throw statusError(op, path, r.code, r.message);
  }

  private async simple(op: string, path: string, build: (id: number) => Uint8Array): Promise<void> {
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

  /**
   * Download a file as a stream. Opening happens now (a missing file rejects here); the stream
   * then keeps `concurrency` READs of `chunkSize` outstanding and delivers bytes in order.
   * Cancelling the stream closes the remote file.
   */
  async download(path: string, o: TransferOptions & { size?: number } = {}): Promise<ReadableStream<Uint8Array>> {
    const chunkSize = o.chunkSize ?? DEFAULT_CHUNK;
    const concurrency = Math.max(1, o.concurrency ?? DEFAULT_CONCURRENCY);
    const handle = await this.openHandle(path, FXF.READ);
    // The size at the start: a stream that ends short of it is an error, not a complete file
    // (a file truncated meanwhile, or a server that stopped early, must not be saved as whole).
    let size = o.size;
    if (size === undefined)
      size = await this.fstat(handle, path).then(
        (a) => a.size,
        () => undefined,
      );
    let delivered = 0;
    type Req = { offset: number; len: number; reply: Promise<SftpReply> };
    const queue: Req[] = [];
    let next = 0;
    let done = false;
    const issue = (offset: number, len: number): Req => {
      const reply = this.request((id) => encodeRead(id, handle, offset, len));
      reply.catch(() => {}); // requests past EOF or after cancel are never awaited
      return { offset, len, reply };
    };
    const finish = async () => {
      if (done) return;
      done = true;
      queue.length = 0;
      await this.closeHandle(handle, path).catch(() => {});
    };
    return new ReadableStream<Uint8Array>(
      {
        pull: async (ctl) => {
          if (done) return;
          while (queue.length < concurrency) {
            queue.push(issue(next, chunkSize));
            next += chunkSize;
          }
          const head = queue.shift()!;
          let r: SftpReply;
          try {
            r = await head.reply;
          } catch (e) {
            await finish();
            throw e;
          }
          if (r.type === FXP.STATUS && r.code === FX.EOF) {
            // Everything queued after the head lies beyond the end too.
            await finish();
            if (size !== undefined && delivered < size) {
              throw new SftpError(
                `the download of ${JSON.stringify(path)} ended after ${delivered} of its ${size} bytes: the file got shorter while it was read, or the server stopped early; download it again`,
                FX.EOF,
                path,
              );
            }
            ctl.close();
            return;
          }
          let data: Uint8Array;
          try {
            data = this.expect(r, FXP.DATA, 'read', path).data;
            if (data.length === 0 || data.length > head.len)
              this.wrongReply(r, `READ of ${head.len} bytes (got ${data.length})`);
          } catch (e) {
            await finish();
            throw e;
          }
          // A short read (filexfer-02 §6.4 allows it) is not EOF: ask for the rest before anything later.
          if (data.length < head.len) queue.unshift(issue(head.offset + data.length, head.len - data.length));
          delivered += data.length;
          ctl.enqueue(data);
        },
        cancel: () => finish(),
      },
      { highWaterMark: 0 },
    );
  }

  /**
   * Upload a stream to path (created or truncated, `mode` for a new file). Source chunks are
   * coalesced into `chunkSize` WRITEs with `concurrency` outstanding. Resolves to the byte count
   * after the server confirmed every write and the close.
   */
  async upload(
    path: string,
    source: ReadableStream<Uint8Array>,
    o: TransferOptions & { mode?: number; exclusive?: boolean } = {},
  ): Promise<number> {
    const chunkSize = o.chunkSize ?? DEFAULT_CHUNK;
    const concurrency = Math.max(1, o.concurrency ?? DEFAULT_CONCURRENCY);
    const reader = source.getReader();
    let handle: Uint8Array;
    try {
      handle = await this.openHandle(path, FXF.WRITE | FXF.CREAT | (o.exclusive ? FXF.EXCL : FXF.TRUNC), {
        permissions: o.mode ?? 0o644,
      });
    } catch (e) {
      await reader.cancel(e).catch(() => {});
      throw e;
    }
    const inflight: Promise<SftpReply>[] = [];
    let offset = 0;
    const check = async (p: Promise<SftpReply>) => this.expectOk(await p, 'write', path);
    const send = async (data: Uint8Array) => {
      if (inflight.length >= concurrency) await check(inflight.shift()!);
      await this.writer.ready;
      const at = offset;
      offset += data.length;
      const p = this.request((id) => encodeWrite(id, handle, at, data)); // encodes (copies) now
      p.catch(() => {});
      inflight.push(p);
    };
    const buf = new Uint8Array(chunkSize);
    let fill = 0;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        let off = 0;
        while (off < value.length) {
          if (fill === 0 && value.length - off >= chunkSize) {
            await send(value.subarray(off, off + chunkSize));
            off += chunkSize;
            continue;
          }
          const n = Math.min(chunkSize - fill, value.length - off);
          buf.set(value.subarray(off, off + n), fill);
          fill += n;
          off += n;
          if (fill === chunkSize) {
            await send(buf);
            fill = 0;
          }
        }
      }
      if (fill > 0) await send(buf.subarray(0, fill));
      while (inflight.length) await check(inflight.shift()!);
    } catch (e) {
      await reader.cancel(e).catch(() => {});
      await this.closeHandle(handle, path).catch(() => {});
      throw e;
    }
    // CLOSE reports late write errors (e.g. a full disk on flush), so it is checked.
    await this.closeHandle(handle, path);
    return offset;
  }

  /**
   * Upload that never leaves a half-written file at `path`: the bytes go to a new temporary file
   * beside it (`.<name>.<random>.tailtab-upload`, created exclusively), which then replaces the
   * target in one step with posix-rename@openssh.com (rename(2) semantics, OpenSSH PROTOCOL §4.3)
   * when the server offers it, else by REMOVE then RENAME (filexfer-02 §6.5 refuses an existing
   * target; there a moment without the file is unavoidable, but never a truncated one). An
   * interrupted upload leaves the original as it was (and at worst the temporary file, removed
   * when the session is still there to do it). A replaced file keeps its permission bits; a
   * symbolic link's target is replaced, not the link. Resolves to the byte count.
   */
  async uploadAtomic(
    path: string,
    source: ReadableStream<Uint8Array>,
    o: TransferOptions & { mode?: number; random?: RandomSource } = {},
  ): Promise<number> {
    let target = path;
    let existing: SftpAttrs | undefined;
    try {
      existing = await this.lstat(path);
      if (existing.permissions !== undefined && (existing.permissions & 0o170000) === 0o120000) {
        target = await this.realpath(path);
        existing = await this.stat(target);
      }
    } catch (e) {
      if (!(e instanceof SftpError) || e.code !== FX.NO_SUCH_FILE) {
        await source.cancel(e).catch(() => {});
        throw e;
      }
      existing = undefined;
    }
    if (existing?.permissions !== undefined && (existing.permissions & 0o170000) === 0o040000) {
      const e = new SftpError(`cannot upload to ${JSON.stringify(path)}: it is a folder`, FX.FAILURE, path);
      await source.cancel(e).catch(() => {});
      throw e;
    }
    const slash = target.lastIndexOf('/');
    const dir = slash >= 0 ? target.slice(0, slash + 1) : '';
    const base = target.slice(slash + 1);
    const tmp = `${dir}.${base.slice(0, 100)}.${toHex((o.random ?? secureRandom)(6))}.tailtab-upload`;
    const mode = existing?.permissions !== undefined ? existing.permissions & 0o7777 : (o.mode ?? 0o644);
    let n: number;
    try {
      n = await this.upload(tmp, source, { ...o, mode, exclusive: true });
      // open(2) applied the server's umask to the mode; the file being replaced had exactly these bits.
      if (existing?.permissions !== undefined) await this.setstat(tmp, { permissions: mode }).catch(() => {});
      if (this.extensions.has('posix-rename@openssh.com')) {
        await this.simple('rename', tmp, (id) => encodeExtended(id, 'posix-rename@openssh.com', [tmp, target]));
      } else {
        if (existing) await this.remove(target);
        await this.simple('rename', tmp, (id) => encodeRename(id, tmp, target));
      }
    } catch (e) {
      if (!this.failure) await this.remove(tmp).catch(() => {});
      throw e;
    }
    if (!this.sweptFolders.has(dir)) {
      this.sweptFolders.add(dir);
      await this.removeStaleUploads(dir, target).catch(() => {});
    }
    return n;
  }

  /**
   * Removes the temporary files that uploads to `dir` left when their connection died (then nothing
   * could remove them): only names of our pattern (uploadAtomic's `.NAME.<12 hex>.tailtab-upload`),
   * regular files, untouched for STALE_UPLOAD_S by the server's own clock (the mtime of the file
   * `written` just now), so an upload still going on elsewhere, which writes all the time, is left
   * alone. Once per folder and session: a folder listing is the cost. Resolves to the count removed.
   */
  private async removeStaleUploads(dir: string, written: string): Promise<number> {
    const now = (await this.stat(written)).mtime;
    if (now === undefined) return 0;
    let removed = 0;
    for (const e of await this.list(dir || '.')) {
      const a = e.attrs;
      if (!UPLOAD_TEMP.test(e.filename) || a.mtime === undefined || now - a.mtime < STALE_UPLOAD_S) continue;
      if (a.permissions === undefined || (a.permissions & 0o170000) !== 0o100000) continue;
      await this.remove(dir + e.filename).then(
        () => removed++,
        () => {},
      );
    }
    return removed;
  }

  async readFile(path: string, o: TransferOptions = {}): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for await (const c of (await this.download(path, o)) as unknown as AsyncIterable<Uint8Array>) parts.push(c);
    return concatBytes(...parts);
  }

  async writeFile(
    path: string,
    data: Uint8Array | string,
    o: TransferOptions & { mode?: number } = {},
  ): Promise<number> {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    const src = new ReadableStream<Uint8Array>({
      start(c) {
        if (bytes.length) c.enqueue(bytes);
        c.close();
      },
    });
    return this.upload(path, src, o);
  }

  /** End the session (closes the channel; pending requests fail). */
  close(): void {
    this.closing = true;
    this.fail(new SftpSessionError('the SFTP session was closed'));
  }
}
