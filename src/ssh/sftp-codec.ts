// SFTP version 3 wire format (draft-ietf-secsh-filexfer-02, the version OpenSSH's sftp-server and
// internal-sftp speak; OpenSSH's PROTOCOL file documents its @openssh.com extensions). Pure
// functions: request encoders, a streaming packet framer and a reply decoder that never throws
// (malformed input comes back as { ok: false, error }), so the client can fail the session with
// a clear message instead of an exception from deep inside a parser.
import { Reader, SshDecodeError, Writer } from './wire.js';

/** Packet types (filexfer-02 §3). */
export const FXP = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

/** Status codes (filexfer-02 §7). */
export const FX = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

/** Open flags (filexfer-02 §6.3). */
export const FXF = { READ: 0x01, WRITE: 0x02, APPEND: 0x04, CREAT: 0x08, TRUNC: 0x10, EXCL: 0x20 } as const;

/** Attribute flags (filexfer-02 §5). */
const ATTR = { SIZE: 0x1, UIDGID: 0x2, PERMISSIONS: 0x4, ACMODTIME: 0x8, EXTENDED: 0x80000000 } as const;

export const SFTP_VERSION = 3;
/** Largest packet we accept: OpenSSH's SFTP_MAX_MSG_LENGTH (sftp-common.h), which its own client enforces too. */
export const MAX_PACKET = 256 * 1024;

export interface SftpAttrs {
  size?: number;
  uid?: number;
  gid?: number;
  /** st_mode: file type bits and permissions. */
  permissions?: number;
  atime?: number;
  mtime?: number;
  extended?: [string, Uint8Array][];
}

export interface SftpNameEntry {
  filename: string;
  /** `ls -l` style line from the server (OpenSSH fills it in; informational only). */
  longname: string;
  attrs: SftpAttrs;
}

export type SftpReply =
  | { type: typeof FXP.VERSION; version: number; extensions: [string, string][] }
  | { type: typeof FXP.STATUS; id: number; code: number; message: string }
  | { type: typeof FXP.HANDLE; id: number; handle: Uint8Array }
  | { type: typeof FXP.DATA; id: number; data: Uint8Array }
  | { type: typeof FXP.NAME; id: number; entries: SftpNameEntry[] }
  | { type: typeof FXP.ATTRS; id: number; attrs: SftpAttrs }
  | { type: typeof FXP.EXTENDED_REPLY; id: number; data: Uint8Array };

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

// ---- encoding ----

function uint64(w: Writer, v: number): Writer {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not a uint64: ${v}`);
  return w.uint32(Math.floor(v / 0x100000000)).uint32(v >>> 0);
}

/** uint32 length, then the packet body (type, request id, fields). */
function frame(type: number, id: number | undefined, body?: (w: Writer) => void): Uint8Array {
  const w = new Writer(64).byte(type);
  if (id !== undefined) w.uint32(id);
  body?.(w);
  const payload = w.finish();
  return new Writer(payload.length + 4).uint32(payload.length).raw(payload).finish();
}

export function encodeAttrs(w: Writer, a: SftpAttrs): Writer {
  let flags = 0;
  if (a.size !== undefined) flags |= ATTR.SIZE;
  if (a.uid !== undefined && a.gid !== undefined) flags |= ATTR.UIDGID;
  if (a.permissions !== undefined) flags |= ATTR.PERMISSIONS;
  if (a.atime !== undefined && a.mtime !== undefined) flags |= ATTR.ACMODTIME;
  w.uint32(flags);
  if (flags & ATTR.SIZE) uint64(w, a.size!);
  if (flags & ATTR.UIDGID) w.uint32(a.uid!).uint32(a.gid!);
  if (flags & ATTR.PERMISSIONS) w.uint32(a.permissions!);
  if (flags & ATTR.ACMODTIME) w.uint32(a.atime!).uint32(a.mtime!);
  return w;
}

export const encodeInit = (version = SFTP_VERSION) => frame(FXP.INIT, undefined, (w) => w.uint32(version));
/** REALPATH, STAT, LSTAT, OPENDIR, REMOVE, RMDIR, READLINK: one path. */
export const encodePath = (type: number, id: number, path: string) => frame(type, id, (w) => w.string(path));
/** FSTAT, CLOSE, READDIR: one handle. */
export const encodeHandle = (type: number, id: number, handle: Uint8Array) => frame(type, id, (w) => w.string(handle));
export const encodeOpen = (id: number, path: string, pflags: number, attrs: SftpAttrs = {}) =>
  frame(FXP.OPEN, id, (w) => encodeAttrs(w.string(path).uint32(pflags), attrs));
export const encodeRead = (id: number, handle: Uint8Array, offset: number, len: number) =>
  frame(FXP.READ, id, (w) => uint64(w.string(handle), offset).uint32(len));
export const encodeMkdir = (id: number, path: string, attrs: SftpAttrs = {}) =>
  frame(FXP.MKDIR, id, (w) => encodeAttrs(w.string(path), attrs));
export const encodeSetstat = (id: number, path: string, attrs: SftpAttrs) =>
  frame(FXP.SETSTAT, id, (w) => encodeAttrs(w.string(path), attrs));
export const encodeRename = (id: number, from: string, to: string) =>
  frame(FXP.RENAME, id, (w) => w.string(from).string(to));
/** EXTENDED request (filexfer-02 §8), e.g. posix-rename@openssh.com with its string arguments. */
export const encodeExtended = (id: number, name: string, args: (string | Uint8Array)[]) =>
  frame(FXP.EXTENDED, id, (w) => {
    w.string(name);
    for (const a of args) w.string(a);
  });

/** WRITE built in one allocation: it carries the bulk data of an upload. */
export function encodeWrite(id: number, handle: Uint8Array, offset: number, data: Uint8Array): Uint8Array {
  const body = 1 + 4 + 4 + handle.length + 8 + 4 + data.length;
  const w = new Writer(body + 4).uint32(body).byte(FXP.WRITE).uint32(id).string(handle);
  return uint64(w, offset).string(data).finish();
}

// ---- decoding ----

function readUint64(r: Reader): number {
  const hi = r.uint32();
  return hi * 0x100000000 + r.uint32();
}

/** Bytes to text for names and messages: OpenSSH passes file names through as raw bytes, so
 * invalid UTF-8 is replaced rather than refused. */
function lenientText(r: Reader): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(r.string());
}

function readAttrs(r: Reader): SftpAttrs {
  const flags = r.uint32();
  const a: SftpAttrs = {};
  if (flags & ATTR.SIZE) a.size = readUint64(r);
  if (flags & ATTR.UIDGID) {
    a.uid = r.uint32();
    a.gid = r.uint32();
  }
  if (flags & ATTR.PERMISSIONS) a.permissions = r.uint32();
  if (flags & ATTR.ACMODTIME) {
    a.atime = r.uint32();
    a.mtime = r.uint32();
  }
  if (flags & ATTR.EXTENDED) {
    const n = r.uint32();
    // Each pair is at least two empty strings: refuse counts the packet cannot hold before looping.
    if (n * 8 > r.remaining) throw new SshDecodeError(`attribute count ${n} exceeds the packet`);
    a.extended = [];
    for (let i = 0; i < n; i++) a.extended.push([lenientText(r), r.string().slice()]);
  }
  return a;
}

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(FXP).map(([k, v]) => [v, k]));

/** One packet body (type byte onwards, without the length). Never throws. */
export function decodeReply(p: Uint8Array): Decoded<SftpReply> {
  const r = new Reader(p);
  let type = -1;
  try {
    type = r.byte();
    let reply: SftpReply;
    if (type === FXP.VERSION) {
      const version = r.uint32();
      const extensions: [string, string][] = [];
      while (r.remaining > 0) extensions.push([lenientText(r), lenientText(r)]);
      reply = { type, version, extensions };
    } else {
      const id = r.uint32();
      switch (type) {
        case FXP.STATUS: {
          const code = r.uint32();
          // filexfer-02 has message and language tag; some v3 servers omit both. Accept either.
          const message = r.remaining > 0 ? lenientText(r) : '';
          if (r.remaining > 0) r.string();
          reply = { type, id, code, message };
          break;
        }
        case FXP.HANDLE:
          reply = { type, id, handle: r.string().slice() };
          if (reply.handle.length > 256) throw new SshDecodeError('handle longer than 256 bytes'); // filexfer-02 §6.2
          break;
        case FXP.DATA:
          reply = { type, id, data: r.string() };
          break;
        case FXP.NAME: {
          const n = r.uint32();
          if (n * 12 > r.remaining) throw new SshDecodeError(`name count ${n} exceeds the packet`);
          const entries: SftpNameEntry[] = [];
          for (let i = 0; i < n; i++)
            entries.push({ filename: lenientText(r), longname: lenientText(r), attrs: readAttrs(r) });
          reply = { type, id, entries };
          break;
        }
        case FXP.ATTRS:
          reply = { type, id, attrs: readAttrs(r) };
          break;
        case FXP.EXTENDED_REPLY:
          reply = { type, id, data: r.rest() };
          break;
        default:
          return { ok: false, error: `unexpected packet type ${type}${NAMES[type] ? ` (${NAMES[type]})` : ''}` };
      }
    }
    r.end(NAMES[type] ?? 'packet');
    return { ok: true, value: reply };
  } catch (e) {
    if (e instanceof SshDecodeError) return { ok: false, error: `malformed ${NAMES[type] ?? 'packet'}: ${e.message}` };
    throw e;
  }
}

/**
 * Splits the channel's byte stream into packets (uint32 length + body). Bounded: a length above
 * MAX_PACKET is an error before anything is buffered for it. Never throws.
 */
export class SftpFramer {
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;
  constructor(private readonly maxPacket = MAX_PACKET) {}

  /** Append bytes; returns the complete packet bodies (copies) or the framing error. */
  push(chunk: Uint8Array): Decoded<Uint8Array[]> {
    if (this.buf.length - this.end < chunk.length) {
      const live = this.end - this.start;
      if (live + chunk.length <= this.buf.length) this.buf.copyWithin(0, this.start, this.end);
      else {
        const next = new Uint8Array(Math.max(this.buf.length * 2, live + chunk.length));
        next.set(this.buf.subarray(this.start, this.end));
        this.buf = next;
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
    const out: Uint8Array[] = [];
    while (this.end - this.start >= 4) {
      const b = this.buf;
      const s = this.start;
      const len = ((b[s] << 24) | (b[s + 1] << 16) | (b[s + 2] << 8) | b[s + 3]) >>> 0;
      if (len === 0) return { ok: false, error: 'empty SFTP packet' };
      if (len > this.maxPacket)
        return { ok: false, error: `SFTP packet of ${len} bytes exceeds the ${this.maxPacket}-byte limit` };
      if (this.end - s - 4 < len) break;
      out.push(b.slice(s + 4, s + 4 + len));
      this.start = s + 4 + len;
    }
    if (this.start === this.end) this.start = this.end = 0;
    return { ok: true, value: out };
  }

  get buffered(): number {
    return this.end - this.start;
  }
}

// ---- attributes helpers ----

export type FileType = 'file' | 'directory' | 'symlink' | 'other';

/** File type from st_mode's S_IFMT bits (POSIX). */
export function fileType(a: SftpAttrs): FileType | undefined {
  if (a.permissions === undefined) return undefined;
  switch (a.permissions & 0o170000) {
    case 0o100000:
      return 'file';
    case 0o040000:
      return 'directory';
    case 0o120000:
      return 'symlink';
    default:
      return 'other';
  }
}

export function statusName(code: number): string {
  return Object.entries(FX).find(([, v]) => v === code)?.[0] ?? `status ${code}`;
}
