// SFTP version 3 client (draft-ietf-secsh-filexfer-02, what OpenSSH speaks) over the "sftp"
// subsystem of a session channel (RFC 4254 §6.5). Requests carry ids and are answered in any
// order; bulk transfers keep several READ/WRITE requests outstanding (like OpenSSH's sftp, which
// defaults to 64 × 32 KiB) so a transfer costs about one round trip per window, not per chunk.
// Memory stays bounded by concurrency × chunk size. Wire format: sftp-codec.ts.
//
// SftpClient is one object over a chain of two classes: sftp-core.ts (state, request plumbing, the
// single operations) <- sftp.ts (starting a session, the pipelined transfers, close).
import type { SshClient } from './client.js';
import { realClock } from '../platform/clock.js';
import { concatBytes, toHex } from '../crypto/bytes.js';
import { secureRandom, type RandomSource } from '../crypto/random.js';
import {
  FX,
  FXF,
  FXP,
  SFTP_VERSION,
  encodeExtended,
  encodeInit,
  encodeRead,
  encodeRename,
  encodeWrite,
  fileType,
  type FileType,
  type SftpAttrs,
  type SftpNameEntry,
  type SftpReply,
} from './sftp-codec.js';

import {
  DEFAULT_CHUNK,
  DEFAULT_CONCURRENCY,
  errText,
  SftpCore,
  SftpError,
  SftpSessionError,
  type SftpDuplex,
  type SftpStartOptions,
  type TransferOptions,
} from './sftp-core.js';

export { FXF, fileType, type FileType, type SftpAttrs, type SftpNameEntry };
export {
  SftpError,
  SftpSessionError,
  statusError,
  type SftpDuplex,
  type TransferOptions,
  type SftpStats,
  type SftpEntry,
  type SftpStartOptions,
} from './sftp-core.js';

export class SftpClient extends SftpCore {
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
    return n;
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
