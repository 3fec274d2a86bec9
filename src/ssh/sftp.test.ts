// SFTP codec units, decoder fuzzing, and the client's pipelining/error paths against a scripted
// in-memory SFTP v3 server (interop with the real OpenSSH sftp-server is e2e/ssh-sftp.test.ts).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { Reader, Writer } from './wire.js';
import {
  FX,
  FXF,
  FXP,
  SftpFramer,
  decodeReply,
  encodeAttrs,
  encodeOpen,
  encodeRead,
  encodeWrite,
  fileType,
  MAX_PACKET,
} from './sftp-codec.js';
import { SftpClient, SftpError, SftpSessionError, statusError } from './sftp.js';
import { VirtualClock } from '../platform/clock.js';

const pkt = (body: (w: Writer) => void) => {
  const w = new Writer();
  body(w);
  const p = w.finish();
  return new Writer().uint32(p.length).raw(p).finish();
};
const body = (framed: Uint8Array) => framed.subarray(4);

describe('sftp codec', () => {
  it('encodes OPEN, READ, WRITE as filexfer-02 lays them out', () => {
    const open = new Reader(body(encodeOpen(7, '/tmp/x', FXF.WRITE | FXF.CREAT, { permissions: 0o600 })));
    expect([open.byte(), open.uint32(), open.text(), open.uint32(), open.uint32(), open.uint32()]).toEqual([
      FXP.OPEN,
      7,
      '/tmp/x',
      0x0a,
      0x4,
      0o600,
    ]);
    open.end('OPEN');
    const h = new Uint8Array([1, 2]);
    const read = new Reader(body(encodeRead(9, h, 2 ** 33 + 5, 32768)));
    expect([read.byte(), read.uint32(), [...read.string()], read.uint32(), read.uint32(), read.uint32()]).toEqual([
      FXP.READ,
      9,
      [1, 2],
      2,
      5,
      32768,
    ]);
    const framed = encodeWrite(3, h, 10, new Uint8Array([9, 9, 9]));
    expect(new Reader(framed).uint32()).toBe(framed.length - 4);
    const wr = new Reader(body(framed));
    expect([wr.byte(), wr.uint32(), [...wr.string()], wr.uint32(), wr.uint32(), [...wr.string()]]).toEqual([
      FXP.WRITE,
      3,
      [1, 2],
      0,
      10,
      [9, 9, 9],
    ]);
  });

  it('decodes every reply type, attrs with all flags, STATUS with or without message', () => {
    const attrs = (w: Writer) =>
      encodeAttrs(w, { size: 2 ** 40 + 1, uid: 1, gid: 2, permissions: 0o100644, atime: 3, mtime: 4 });
    const v = decodeReply(
      body(pkt((w) => w.byte(FXP.VERSION).uint32(3).string('posix-rename@openssh.com').string('1'))),
    );
    expect(v).toEqual({
      ok: true,
      value: { type: FXP.VERSION, version: 3, extensions: [['posix-rename@openssh.com', '1']] },
    });
    const a = decodeReply(body(pkt((w) => attrs(w.byte(FXP.ATTRS).uint32(5)))));
    expect(a).toEqual({
      ok: true,
      value: {
        type: FXP.ATTRS,
        id: 5,
        attrs: { size: 2 ** 40 + 1, uid: 1, gid: 2, permissions: 0o100644, atime: 3, mtime: 4 },
      },
    });
    expect(fileType((a as { value: { attrs: object } }).value.attrs)).toBe('file');
    const n = decodeReply(
      body(pkt((w) => attrs(w.byte(FXP.NAME).uint32(6).uint32(1).string('f').string('-rw-r--r-- f')))),
    );
    expect(n.ok && n.value.type === FXP.NAME && n.value.entries[0].filename).toBe('f');
    expect(
      decodeReply(body(pkt((w) => w.byte(FXP.STATUS).uint32(1).uint32(2).string('No such file').string('')))),
    ).toEqual({
      ok: true,
      value: { type: FXP.STATUS, id: 1, code: 2, message: 'No such file' },
    });
    expect(decodeReply(body(pkt((w) => w.byte(FXP.STATUS).uint32(1).uint32(0))))).toMatchObject({
      ok: true,
      value: { code: 0, message: '' },
    });
  });

  it('refuses malformed replies with a reason instead of throwing', () => {
    expect(decodeReply(new Uint8Array([FXP.STATUS, 0, 0]))).toEqual({
      ok: false,
      error: 'malformed STATUS: truncated uint32',
    });
    expect(decodeReply(body(pkt((w) => w.byte(FXP.DATA).uint32(1).string('ab').byte(0))))).toMatchObject({
      ok: false,
      error: /trailing/,
    });
    expect(decodeReply(body(pkt((w) => w.byte(FXP.NAME).uint32(1).uint32(0xffffffff))))).toMatchObject({
      ok: false,
      error: /count/,
    });
    expect(decodeReply(new Uint8Array([FXP.OPEN, 0, 0, 0, 1]))).toMatchObject({
      ok: false,
      error: /unexpected packet type 3 \(OPEN\)/,
    });
    expect(decodeReply(new Uint8Array([]))).toMatchObject({ ok: false });
  });

  it('framer: packets split at any byte boundary come out whole; oversize lengths are refused before buffering', () => {
    const a = pkt((w) => w.byte(FXP.STATUS).uint32(1).uint32(0).string('').string(''));
    const b = pkt((w) => w.byte(FXP.DATA).uint32(2).string(new Uint8Array(1000).fill(7)));
    const all = new Uint8Array([...a, ...b, ...a]);
    for (const cut of [1, 3, 4, 5, 17, 600, all.length - 1]) {
      const f = new SftpFramer();
      const got = [
        ...(f.push(all.subarray(0, cut)) as { value: Uint8Array[] }).value,
        ...(f.push(all.subarray(cut)) as { value: Uint8Array[] }).value,
      ];
      expect(got.map((p) => p.length)).toEqual([a.length - 4, b.length - 4, a.length - 4]);
      expect(f.buffered).toBe(0);
    }
    expect(new SftpFramer().push(new Writer().uint32(MAX_PACKET + 1).finish())).toMatchObject({
      ok: false,
      error: /exceeds/,
    });
    expect(new SftpFramer().push(new Uint8Array(4))).toMatchObject({ ok: false, error: /empty/ });
  });

  it('fuzz: random and mutated replies never throw from the decoder or framer', () => {
    const valid = [
      pkt((w) => w.byte(FXP.VERSION).uint32(3).string('a').string('b')),
      pkt((w) => w.byte(FXP.STATUS).uint32(1).uint32(2).string('x').string('')),
      pkt((w) => w.byte(FXP.HANDLE).uint32(1).string('h')),
      pkt((w) => w.byte(FXP.DATA).uint32(1).string('data')),
      pkt((w) =>
        encodeAttrs(w.byte(FXP.NAME).uint32(1).uint32(2).string('a').string('b'), { size: 1, permissions: 1 })
          .string('c')
          .string('d')
          .uint32(0x80000000)
          .uint32(1)
          .string('k')
          .string('v'),
      ),
      pkt((w) =>
        encodeAttrs(w.byte(FXP.ATTRS).uint32(1), { size: 1, uid: 1, gid: 1, permissions: 1, atime: 1, mtime: 1 }),
      ),
      pkt((w) => w.byte(FXP.EXTENDED_REPLY).uint32(1).string('z')),
    ];
    const mutated = fc
      .tuple(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat(),
      )
      .map(([v, edits, cut]) => {
        const b = v.slice();
        for (const [i, x] of edits) b[i % b.length] = x;
        return b.subarray(0, Math.max(1, cut % (b.length + 1)));
      });
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated),
        fc.array(fc.nat({ max: 300 }), { maxLength: 4 }),
        (bytes, cuts) => {
          decodeReply(bytes);
          decodeReply(bytes.subarray(Math.min(4, bytes.length)));
          const f = new SftpFramer(1024);
          let at = 0;
          for (const c of [...cuts, bytes.length]) {
            const r = f.push(bytes.subarray(at, Math.max(at, Math.min(bytes.length, at + c))));
            at = Math.max(at, Math.min(bytes.length, at + c));
            if (!r.ok) return;
            for (const p of r.value) decodeReply(p);
          }
        },
      ),
      fuzz(3000),
    );
  });

  it('status errors name the operation, the path and the reason', () => {
    expect(statusError('open', '/nope', FX.NO_SUCH_FILE, 'No such file').message).toBe(
      'cannot open "/nope": no such file or directory',
    );
    expect(statusError('list', '/root', FX.PERMISSION_DENIED, 'Permission denied').message).toBe(
      'cannot list "/root": permission denied',
    );
    expect(statusError('rename', '/a', FX.FAILURE, 'file exists\x1b[2J').message).toBe(
      'cannot rename "/a": failed (server: file exists[2J)',
    );
  });
});

// ---- a scripted in-memory SFTP v3 server ----

interface FakeOptions {
  /** Largest DATA a READ returns (short reads above it). */
  maxRead?: number;
  /** Answer READs in reverse order within each batch the client sent. */
  reorder?: boolean;
  /** Replace the reply to a request type with these raw bytes (framed). */
  corrupt?: { type: number; reply: Uint8Array };
  /** Every request the server saw, by type. */
  seen?: number[];
  /** Announce no extensions (no posix-rename@openssh.com). */
  noExtensions?: boolean;
  /** Fail every WRITE to a path starting with this. */
  failWritesTo?: string;
  /** Modification times (seconds) by path; files not in it have `now` once it is set. */
  mtimes?: Map<string, number>;
  now?: number;
  /** Never answer requests of this type (a hung server process). */
  hangOn?: number;
}

function fakeServer(files: Map<string, Uint8Array>, o: FakeOptions = {}) {
  // Buffered like a socket with a window: the writer is not held until the peer has read.
  const buffered = { highWaterMark: 1 << 20, size: (c: Uint8Array) => c.length };
  const toServer = new TransformStream<Uint8Array, Uint8Array>({}, buffered);
  const toClient = new TransformStream<Uint8Array, Uint8Array>({}, buffered);
  const out = toClient.writable.getWriter();
  const handles = new Map<string, { path: string; dir?: boolean; done?: boolean }>();
  let nextHandle = 0;
  const times = (path: string) => {
    const t = o.mtimes?.get(path) ?? o.now;
    return t === undefined ? {} : { atime: t, mtime: t };
  };
  const status = (id: number, code: number, msg = '') =>
    pkt((w) => w.byte(FXP.STATUS).uint32(id).uint32(code).string(msg).string(''));
  const answer = (p: Uint8Array): Uint8Array => {
    const r = new Reader(p);
    const type = r.byte();
    o.seen?.push(type);
    if (type === FXP.INIT)
      return pkt((w) =>
        o.noExtensions
          ? w.byte(FXP.VERSION).uint32(3)
          : w.byte(FXP.VERSION).uint32(3).string('posix-rename@openssh.com').string('1'),
      );
    const id = r.uint32();
    if (o.corrupt?.type === type) return o.corrupt.reply;
    const u64 = () => r.uint32() * 2 ** 32 + r.uint32();
    switch (type) {
      case FXP.OPEN: {
        const path = r.text();
        const flags = r.uint32();
        if (path.startsWith('/secret')) return status(id, FX.PERMISSION_DENIED, 'Permission denied');
        if (path.startsWith('/full')) files.set(path, new Uint8Array(0));
        if (flags & FXF.EXCL && files.has(path)) return status(id, FX.FAILURE, 'File exists');
        if (flags & (FXF.TRUNC | FXF.EXCL)) files.set(path, new Uint8Array(0));
        if (!files.has(path)) return status(id, FX.NO_SUCH_FILE, 'No such file');
        const h = String(nextHandle++);
        handles.set(h, { path });
        return pkt((w) => w.byte(FXP.HANDLE).uint32(id).string(h));
      }
      case FXP.OPENDIR: {
        const h = String(nextHandle++);
        handles.set(h, { path: r.text(), dir: true });
        return pkt((w) => w.byte(FXP.HANDLE).uint32(id).string(h));
      }
      case FXP.READDIR: {
        const h = handles.get(r.text())!;
        if (h.done) return status(id, FX.EOF, 'EOF');
        h.done = true;
        const dir = h.path.endsWith('/') ? h.path : `${h.path}/`;
        const inDir = [...files.keys()].filter((k) => k.startsWith(dir) && !k.slice(dir.length).includes('/'));
        const names = ['.', '..', ...inDir.map((k) => k.slice(dir.length))];
        return pkt((w) => {
          w.byte(FXP.NAME).uint32(id).uint32(names.length);
          for (const n of names)
            encodeAttrs(w.string(n).string(`-rw-r--r-- ${n}`), {
              size: files.get(dir + n)?.length ?? 0,
              permissions: n === '.' || n === '..' ? 0o40755 : 0o100644,
              ...times(dir + n),
            });
        });
      }
      case FXP.READ: {
        const f = files.get(handles.get(r.text())!.path)!;
        const off = u64();
        const len = Math.min(r.uint32(), o.maxRead ?? Infinity);
        if (off >= f.length) return status(id, FX.EOF, 'EOF');
        return pkt((w) =>
          w
            .byte(FXP.DATA)
            .uint32(id)
            .string(f.subarray(off, off + len)),
        );
      }
      case FXP.WRITE: {
        const path = handles.get(r.text())!.path;
        if (path.startsWith('/full') || (o.failWritesTo && path.startsWith(o.failWritesTo)))
          return status(id, FX.FAILURE, 'No space left on device');
        const off = u64();
        const data = r.string();
        const f = files.get(path)!;
        const next = new Uint8Array(Math.max(f.length, off + data.length));
        next.set(f);
        next.set(data, off);
        files.set(path, next);
        return status(id, FX.OK);
      }
      case FXP.CLOSE:
        handles.delete(r.text());
        return status(id, FX.OK);
      case FXP.REMOVE: {
        const path = r.text();
        return files.delete(path) ? status(id, FX.OK) : status(id, FX.NO_SUCH_FILE, 'No such file');
      }
      case FXP.RENAME:
      case FXP.EXTENDED: {
        if (type === FXP.EXTENDED && r.text() !== 'posix-rename@openssh.com') return status(id, FX.OP_UNSUPPORTED);
        const from = r.text();
        const to = r.text();
        const f = files.get(from);
        if (!f) return status(id, FX.NO_SUCH_FILE, 'No such file');
        if (type === FXP.RENAME && files.has(to)) return status(id, FX.FAILURE, 'File exists'); // OpenSSH: link(2) then unlink
        files.delete(from);
        files.set(to, f);
        return status(id, FX.OK);
      }
      case FXP.SETSTAT:
        return files.has(r.text()) ? status(id, FX.OK) : status(id, FX.NO_SUCH_FILE, 'No such file');
      case FXP.LSTAT:
      case FXP.STAT: {
        const path = r.text();
        const f = files.get(path);
        return f
          ? pkt((w) =>
              encodeAttrs(w.byte(FXP.ATTRS).uint32(id), { size: f.length, permissions: 0o100644, ...times(path) }),
            )
          : status(id, FX.NO_SUCH_FILE, 'No such file');
      }
      default:
        return status(id, FX.OP_UNSUPPORTED);
    }
  };
  void (async () => {
    const framer = new SftpFramer();
    for await (const chunk of toServer.readable as unknown as AsyncIterable<Uint8Array>) {
      const r = framer.push(chunk);
      if (!r.ok) throw new Error(r.error);
      const replies = r.value.filter((p) => p[0] !== o.hangOn || p[0] === FXP.INIT).map(answer);
      if (o.reorder) replies.reverse();
      for (const x of replies) await out.write(x);
    }
  })().catch(() => {}); // the client aborting its side ends the server
  return { readable: toClient.readable, writable: toServer.writable };
}

const rand = (n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
};

/** Byte equality without toEqual's element-by-element diffing (slow on megabytes). */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

describe('sftp client (scripted server)', () => {
  it('round-trips a file with pipelined writes and reads (replies out of order, short reads)', async () => {
    const files = new Map<string, Uint8Array>();
    const c = await SftpClient.start(fakeServer(files, { reorder: true, maxRead: 20000 }));
    expect(c.extensions.get('posix-rename@openssh.com')).toBe('1');
    const data = rand(1_000_003);
    expect(await c.writeFile('/f', data)).toBe(data.length);
    expect(same(files.get('/f')!, data)).toBe(true);
    expect(c.stats.maxInFlight).toBeGreaterThan(1);
    expect(c.stats.maxInFlight).toBeLessThanOrEqual(16);
    expect(same(await c.readFile('/f'), data)).toBe(true);
    expect(same(await c.readFile('/f', { chunkSize: 4096, concurrency: 3 }), data)).toBe(true);
    expect(same(await c.readFile('/f', { concurrency: 1 }), data)).toBe(true);
    await c.writeFile('/empty', new Uint8Array(0));
    expect(await c.readFile('/empty')).toEqual(new Uint8Array(0));
    expect((await c.stat('/f')).size).toBe(data.length);
    expect((await c.list('/')).map((e) => [e.filename, e.type])).toEqual([
      ['empty', 'file'],
      ['f', 'file'],
    ]);
  });

  it('uploadAtomic writes a new temporary file and renames it over the target, with or without posix-rename; a failed upload leaves the original', async () => {
    for (const noExtensions of [false, true]) {
      const files = new Map<string, Uint8Array>([['/d/f', new Uint8Array([1, 2, 3])]]);
      const seen: number[] = [];
      const c = await SftpClient.start(fakeServer(files, { noExtensions, seen, failWritesTo: '/d/.g.' }));
      const data = rand(100_000);
      expect(
        await c.uploadAtomic('/d/f', new Blob([data]).stream(), { random: () => new Uint8Array(6).fill(0xab) }),
      ).toBe(data.length);
      expect(same(files.get('/d/f')!, data)).toBe(true);
      expect([...files.keys()]).toEqual(['/d/f']); // no temporary file left
      expect(seen.includes(FXP.EXTENDED)).toBe(!noExtensions);
      expect(seen.includes(FXP.REMOVE)).toBe(noExtensions); // remove, then plain RENAME
      // A new file needs no remove.
      expect(await c.uploadAtomic('/d/new', new Blob([data]).stream())).toBe(data.length);
      expect(same(files.get('/d/new')!, data)).toBe(true);
      // A write failure: the original stays, the temporary file is removed.
      files.set('/d/g', new Uint8Array([9]));
      await expect(c.uploadAtomic('/d/g', new Blob([data]).stream())).rejects.toThrow(/No space left/);
      expect(files.get('/d/g')).toEqual(new Uint8Array([9]));
      expect([...files.keys()].filter((k) => k.includes('tailtab-upload'))).toEqual([]);
    }
  });

  it("uploadAtomic removes a folder's upload temporaries a dead connection left: ours by name, an hour old by the server's clock", async () => {
    const now = 1_800_000_000;
    const old = '/d/.report.pdf.0123456789ab.tailtab-upload';
    const fresh = '/d/.notes.txt.ba9876543210.tailtab-upload'; // another upload, going on now
    const notOurs = '/d/.report.pdf.tailtab-upload'; // not our pattern
    const elsewhere = '/e/.x.0123456789ab.tailtab-upload'; // another folder
    const files = new Map<string, Uint8Array>([old, fresh, notOurs, elsewhere].map((p) => [p, new Uint8Array([1])]));
    const mtimes = new Map([
      [old, now - 7200],
      [fresh, now - 60],
      [notOurs, now - 7200],
      [elsewhere, now - 7200],
    ]);
    const c = await SftpClient.start(fakeServer(files, { mtimes, now }));
    expect(await c.uploadAtomic('/d/f', new Blob([rand(1000)]).stream())).toBe(1000);
    expect([...files.keys()].sort()).toEqual(['/d/f', fresh, notOurs, elsewhere].sort());
    // Once per folder and session: a temporary left later is not looked for again.
    files.set(old, new Uint8Array([1]));
    expect(await c.uploadAtomic('/d/g', new Blob([rand(10)]).stream())).toBe(10);
    expect(files.has(old)).toBe(true);
  });

  it('a download that ends before the size known at its start fails in words', async () => {
    const files = new Map<string, Uint8Array>([['/f', rand(50_000)]]);
    const c = await SftpClient.start(fakeServer(files));
    await expect(c.readFile('/f')).resolves.toHaveLength(50_000);
    const s = await c.download('/f', { size: 80_000 });
    await expect(new Response(s).arrayBuffer()).rejects.toThrow(
      'the download of "/f" ended after 50000 of its 80000 bytes',
    );
  });

  it('a missing file and a permission-denied path reject with the path; the session stays usable', async () => {
    const c = await SftpClient.start(fakeServer(new Map([['/a', new Uint8Array([1])]])));
    await expect(c.download('/missing')).rejects.toThrow('cannot open "/missing": no such file or directory');
    await expect(c.readFile('/secret/x')).rejects.toMatchObject({ code: FX.PERMISSION_DENIED, path: '/secret/x' });
    await expect(c.stat('/nope')).rejects.toBeInstanceOf(SftpError);
    expect(await c.readFile('/a')).toEqual(new Uint8Array([1]));
  });

  it('a malformed reply fails the session with a clear error, and every later call too', async () => {
    const bad = pkt((w) => w.byte(FXP.ATTRS).uint32(0).uint32(0x1)); // SIZE flag, no size
    const c = await SftpClient.start(fakeServer(new Map(), { corrupt: { type: FXP.STAT, reply: bad } }));
    const err = await c.stat('/x').catch((e) => e);
    expect(err).toBeInstanceOf(SftpSessionError);
    expect(err.message).toBe(
      'the SFTP server sent a malformed reply (malformed ATTRS: truncated uint32); session closed',
    );
    await expect(c.list('/')).rejects.toBe(err);
    expect(await c.ended).toBe(err);
  });

  it('a reply of the wrong type or for an unknown id ends the session', async () => {
    const c1 = await SftpClient.start(
      fakeServer(new Map(), {
        corrupt: { type: FXP.STAT, reply: pkt((w) => w.byte(FXP.HANDLE).uint32(0).string('h')) },
      }),
    );
    await expect(c1.stat('/x')).rejects.toThrow(/answered stat with packet type 102/);
    const c2 = await SftpClient.start(
      fakeServer(new Map(), {
        corrupt: { type: FXP.STAT, reply: pkt((w) => w.byte(FXP.ATTRS).uint32(999).uint32(0)) },
      }),
    );
    await expect(c2.stat('/x')).rejects.toThrow(/request 999, which is not outstanding/);
  });

  it('cancelling a download closes the remote file; a failed write aborts the upload, cancels the source and closes the file', async () => {
    const seen: number[] = [];
    const c = await SftpClient.start(fakeServer(new Map([['/big', rand(2_000_000)]]), { seen }));
    const reader = (await c.download('/big')).getReader();
    expect((await reader.read()).value!.length).toBe(32768);
    await reader.cancel();
    expect(seen.filter((t) => t === FXP.CLOSE)).toHaveLength(1);
    expect(seen.filter((t) => t === FXP.READ).length).toBeLessThanOrEqual(17);
    let cancelled: unknown;
    const src = new ReadableStream<Uint8Array>({
      pull: (ctl) => ctl.enqueue(new Uint8Array(100_000)),
      cancel: (why) => void (cancelled = why),
    });
    await expect(c.upload('/full/x', src)).rejects.toThrow(
      'cannot write "/full/x": failed (server: No space left on device)',
    );
    expect(cancelled).toBeInstanceOf(SftpError);
    expect(seen.filter((t) => t === FXP.CLOSE)).toHaveLength(2);
    expect(await c.stat('/big')).toMatchObject({ size: 2_000_000 });
  });

  it('a server that never answers INIT fails open() after the timeout', async () => {
    const clock = new VirtualClock();
    const silent = new TransformStream<Uint8Array, Uint8Array>();
    const p = SftpClient.start(
      { readable: silent.readable, writable: new WritableStream() },
      { clock, initTimeoutMs: 10_000 },
    );
    clock.advance(9_999);
    let settled = false;
    p.catch(() => {}).finally(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    clock.advance(1);
    await expect(p).rejects.toThrow('the SFTP server did not answer INIT within 10 s; session closed');
  });

  it('a server that stops answering ends the session once nothing was answered for the stall timeout', async () => {
    const clock = new VirtualClock();
    const files = new Map([['/f', rand(100)]]);
    const c = await SftpClient.start(fakeServer(files, { hangOn: FXP.OPENDIR }), { clock, stallTimeoutMs: 30_000 });
    // Answered requests keep the session: no deadline runs while nothing is outstanding.
    clock.advance(120_000);
    expect((await c.stat('/f')).size).toBe(100);
    const listing = c.list('/');
    let settled = false;
    listing.catch(() => {}).finally(() => (settled = true));
    clock.advance(29_999);
    await new Promise((r) => setTimeout(r, 10));
    expect(settled).toBe(false);
    clock.advance(1);
    await expect(listing).rejects.toThrow(
      'the SFTP server answered none of 1 outstanding requests for 30 s; session closed',
    );
    await expect(c.stat('/f')).rejects.toThrow(/answered none/);
  });

  it('the server going away fails pending requests with a "session ended" error', async () => {
    const toClient = new TransformStream<Uint8Array, Uint8Array>();
    const w = toClient.writable.getWriter();
    const startP = SftpClient.start({
      readable: toClient.readable,
      writable: new WritableStream(),
      stderrTail: () => 'subsystem request failed',
    });
    await w.close();
    await expect(startP).rejects.toThrow(
      'the SFTP session ended (the server closed the channel): subsystem request failed',
    );
  });
});
