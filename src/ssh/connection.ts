// The connection protocol (RFC 4254): channels with windows and flow control (§5), session
// channels (§6: pty-req, shell, exec, window-change, signal, exit-status, exit-signal),
// direct-tcpip forwarding (§7.2) and global requests (§4, answered with failure).
import { MSG } from './messages.js';
import { Reader, Writer } from './wire.js';
import { SshProtocolError } from './transport/packet.js';
import { sanitize, SshError, type Transport } from './transport/transport.js';
import type { ByteDuplex } from '../platform/duplex.js';

/** Our receive window per channel and largest packet we accept (OpenSSH uses 2 MiB / 32 KiB). */
const WINDOW = 2 * 1024 * 1024;
const MAX_PACKET = 32 * 1024;

export interface ExitInfo {
  code?: number;
  signal?: string;
  coreDumped?: boolean;
  message?: string;
}

export interface ConnectionStats {
  channelsOpened: number;
  globalRequestsRefused: number;
  droppedMessages: number;
  /** Our requests the server answered with SSH_MSG_UNIMPLEMENTED (ended as refused). */
  requestsUnimplemented: number;
}

/** Per-channel byte counts of channel data (payload only, not SSH framing). */
export interface ChannelStats {
  /** stdout + stderr bytes received. */
  bytesIn: number;
  /** Of bytesIn, extended data (stderr). */
  stderrBytesIn: number;
  /** stdin bytes sent. */
  bytesOut: number;
}

type Pending = { resolve: (ok: boolean) => void; reject: (e: Error) => void };

export class Channel {
  remoteId = -1;
  remoteWindow = 0;
  remoteMaxPacket = 0;
  /** What the peer may still send us before we adjust. */
  localWindow = WINDOW;
  private windowWaiters: (() => void)[] = [];
  private requestReplies: Pending[] = [];
  private eofSent = false;
  private closeSent = false;
  closed = false;
  exitInfo: ExitInfo = {};
  readonly stats: ChannelStats = { bytesIn: 0, stderrBytesIn: 0, bytesOut: 0 };
  private exitResolve!: (e: ExitInfo) => void;
  readonly exit: Promise<ExitInfo> = new Promise((r) => (this.exitResolve = r));
  openResolve?: (ok: true) => void;
  openReject?: (e: Error) => void;

  readonly stdout: ReadableStream<Uint8Array>;
  readonly stderr: ReadableStream<Uint8Array>;
  readonly stdin: WritableStream<Uint8Array>;
  private outCtl!: ReadableStreamDefaultController<Uint8Array>;
  private errCtl!: ReadableStreamDefaultController<Uint8Array>;
  private readonly conn: Connection;

  constructor(
    conn: Connection,
    readonly localId: number,
  ) {
    this.conn = conn;
    const strategy = { highWaterMark: WINDOW, size: (c: Uint8Array) => c.length };
    this.stdout = new ReadableStream<Uint8Array>(
      { start: (c) => void (this.outCtl = c), pull: () => this.adjustWindow(), cancel: () => this.close() },
      strategy,
    );
    this.stderr = new ReadableStream<Uint8Array>(
      { start: (c) => void (this.errCtl = c), pull: () => this.adjustWindow() },
      strategy,
    );
    this.stdin = new WritableStream<Uint8Array>({
      write: (chunk) => this.write(chunk),
      close: () => this.sendEof(),
      abort: () => this.close(),
    });
  }

  /** Grant the peer more window once our readers have drained at least half of it. */
  private adjustWindow(): void {
    if (this.closed || this.remoteId < 0) return;
    const room = (this.outCtl.desiredSize ?? 0) + (this.errCtl.desiredSize ?? 0) - WINDOW;
    const grant = Math.min(room, WINDOW) - this.localWindow;
    if (grant >= WINDOW / 2) {
      this.localWindow += grant;
      void this.conn.send(new Writer(16).byte(MSG.CHANNEL_WINDOW_ADJUST).uint32(this.remoteId).uint32(grant).finish());
    }
  }

  private async write(chunk: Uint8Array): Promise<void> {
    let off = 0;
    while (off < chunk.length) {
      if (this.closed || this.eofSent) throw new SshError('channel is closed');
      if (this.remoteWindow === 0) {
        await new Promise<void>((r) => this.windowWaiters.push(r));
        continue;
      }
      const n = Math.min(chunk.length - off, this.remoteWindow, this.remoteMaxPacket);
      this.remoteWindow -= n;
      this.stats.bytesOut += n;
      await this.conn.send(
        new Writer(n + 16)
          .byte(MSG.CHANNEL_DATA)
          .uint32(this.remoteId)
          .string(chunk.subarray(off, off + n))
          .finish(),
      );
      off += n;
    }
  }

  private sendEof(): void {
    if (this.eofSent || this.closed) return;
    this.eofSent = true;
    void this.conn.send(new Writer(8).byte(MSG.CHANNEL_EOF).uint32(this.remoteId).finish());
  }

  /** A channel request (RFC 4254 §5.4); with wantReply, resolves to the server's yes/no. */
  request(name: string, wantReply: boolean, body?: (w: Writer) => void): Promise<boolean> {
    if (this.closed) return Promise.reject(new SshError('channel is closed'));
    const w = new Writer().byte(MSG.CHANNEL_REQUEST).uint32(this.remoteId).string(name).bool(wantReply);
    body?.(w);
    if (!wantReply) {
      void this.conn.send(w.finish());
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve, reject) => {
      const pending: Pending = { resolve, reject };
      this.requestReplies.push(pending);
      // A server that does not know CHANNEL_REQUEST at all answers UNIMPLEMENTED: refused.
      void this.conn.send(w.finish(), () => {
        this.requestReplies = this.requestReplies.filter((p) => p !== pending);
        this.conn.stats.requestsUnimplemented++;
        resolve(false);
      });
    });
  }

  close(): void {
    if (this.closeSent || this.remoteId < 0) return;
    this.closeSent = true;
    void this.conn.send(new Writer(8).byte(MSG.CHANNEL_CLOSE).uint32(this.remoteId).finish()).catch(() => {});
  }

  // ---- incoming ----
  onData(data: Uint8Array, ext: boolean): void {
    if (data.length > this.localWindow)
      throw new SshProtocolError('server sent more channel data than the window allows');
    this.localWindow -= data.length;
    this.stats.bytesIn += data.length;
    if (ext) this.stats.stderrBytesIn += data.length;
    const ctl = ext ? this.errCtl : this.outCtl;
    try {
      ctl.enqueue(data.slice());
    } catch {
      /* reader cancelled: data discarded, window still accounted */
    }
    this.adjustWindow();
  }
  onWindowAdjust(n: number): void {
    this.remoteWindow = Math.min(this.remoteWindow + n, 0xffffffff);
    const w = this.windowWaiters;
    this.windowWaiters = [];
    for (const f of w) f();
  }
  onEof(): void {
    try {
      this.outCtl.close();
    } catch {}
    try {
      this.errCtl.close();
    } catch {}
  }
  onRequestReply(ok: boolean): void {
    const p = this.requestReplies.shift();
    if (!p) throw new SshProtocolError('channel request reply without a request');
    p.resolve(ok);
  }
  onRequest(name: string, wantReply: boolean, r: Reader): void {
    if (name === 'exit-status') this.exitInfo.code = r.uint32();
    else if (name === 'exit-signal') {
      this.exitInfo.signal = r.text();
      this.exitInfo.coreDumped = r.bool();
      this.exitInfo.message = sanitize(r.text());
    }
    if (wantReply) void this.conn.send(new Writer(8).byte(MSG.CHANNEL_FAILURE).uint32(this.remoteId).finish());
  }
  /** Peer closed (or the connection died): end everything waiting on this channel. */
  onClose(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (!err) this.close();
    this.onEof();
    if (err) {
      try {
        this.outCtl.error(err);
      } catch {}
      try {
        this.errCtl.error(err);
      } catch {}
    }
    for (const p of this.requestReplies) err ? p.reject(err) : p.resolve(false);
    this.requestReplies = [];
    for (const f of this.windowWaiters) f();
    this.windowWaiters = [];
    this.openReject?.(err ?? new SshError('channel closed before it opened'));
    this.exitResolve(this.exitInfo);
  }
}

export interface PtyOptions {
  term: string;
  cols: number;
  rows: number;
}

export class Connection {
  private readonly channels = new Map<number, Channel>();
  private nextId = 0;
  private globalReplies: Pending[] = [];
  readonly stats: ConnectionStats = {
    channelsOpened: 0,
    globalRequestsRefused: 0,
    droppedMessages: 0,
    requestsUnimplemented: 0,
  };

  constructor(private readonly t: Transport) {}

  send(payload: Uint8Array, onUnimplemented?: () => void): Promise<void> {
    return this.t.send(payload, onUnimplemented);
  }

  async openChannel(type: string, extra?: (w: Writer) => void): Promise<Channel> {
    const id = this.nextId++;
    const ch = new Channel(this, id);
    this.channels.set(id, ch);
    const opened = new Promise<true>((resolve, reject) => {
      ch.openResolve = resolve;
      ch.openReject = reject;
    });
    const w = new Writer().byte(MSG.CHANNEL_OPEN).string(type).uint32(id).uint32(WINDOW).uint32(MAX_PACKET);
    extra?.(w);
    await this.t.send(w.finish());
    await opened;
    this.stats.channelsOpened++;
    return ch;
  }

  /** A global request (RFC 4254 §4) such as keepalive@openssh.com. */
  globalRequest(name: string, wantReply: boolean): Promise<boolean> {
    const msg = new Writer().byte(MSG.GLOBAL_REQUEST).string(name).bool(wantReply).finish();
    if (!wantReply) {
      void this.t.send(msg).catch(() => {});
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve, reject) => {
      const pending: Pending = { resolve, reject };
      this.globalReplies.push(pending);
      // UNIMPLEMENTED instead of REQUEST_FAILURE (seen from minimal servers): take this request
      // out of the reply queue so later replies still match their requests (RFC 4254 §4 order).
      void this.t
        .send(msg, () => {
          this.globalReplies = this.globalReplies.filter((p) => p !== pending);
          this.stats.requestsUnimplemented++;
          resolve(false);
        })
        .catch(() => {});
    });
  }

  private channel(id: number): Channel {
    const ch = this.channels.get(id);
    if (!ch) throw new SshProtocolError(`message for unknown channel ${id}`);
    return ch;
  }

  /** Dispatch one message of the connection protocol; protocol violations throw SshProtocolError. */
  handle(msg: Uint8Array): void {
    const r = new Reader(msg);
    const type = r.byte();
    switch (type) {
      case MSG.GLOBAL_REQUEST: {
        r.text();
        if (r.bool()) void this.t.send(new Uint8Array([MSG.REQUEST_FAILURE]));
        this.stats.globalRequestsRefused++;
        return;
      }
      case MSG.REQUEST_SUCCESS:
      case MSG.REQUEST_FAILURE: {
        const p = this.globalReplies.shift();
        if (!p) throw new SshProtocolError('global request reply without a request');
        p.resolve(type === MSG.REQUEST_SUCCESS);
        return;
      }
      case MSG.CHANNEL_OPEN: {
        // We never ask for forwarded channels: refuse (RFC 4254 §5.1, reason 1 administratively prohibited).
        r.text();
        const sender = r.uint32();
        void this.t.send(
          new Writer()
            .byte(MSG.CHANNEL_OPEN_FAILURE)
            .uint32(sender)
            .uint32(1)
            .string('not accepted')
            .string('')
            .finish(),
        );
        return;
      }
      case MSG.CHANNEL_OPEN_CONFIRMATION: {
        const ch = this.channel(r.uint32());
        if (ch.remoteId >= 0) throw new SshProtocolError('duplicate channel open confirmation');
        ch.remoteId = r.uint32();
        ch.remoteWindow = r.uint32();
        ch.remoteMaxPacket = Math.max(1, Math.min(r.uint32(), 256 * 1024));
        ch.openResolve?.(true);
        ch.openResolve = undefined;
        ch.openReject = undefined;
        return;
      }
      case MSG.CHANNEL_OPEN_FAILURE: {
        const id = r.uint32();
        const ch = this.channel(id);
        const code = r.uint32();
        const text = sanitize(r.text());
        this.channels.delete(id);
        ch.openReject?.(new SshError(`the server refused to open the channel: ${text || 'no reason'} (code ${code})`));
        ch.openReject = undefined;
        ch.onClose(new SshError('channel open failed'));
        return;
      }
      case MSG.CHANNEL_WINDOW_ADJUST: {
        const ch = this.channel(r.uint32());
        ch.onWindowAdjust(r.uint32());
        return;
      }
      case MSG.CHANNEL_DATA: {
        const ch = this.channel(r.uint32());
        const data = r.string();
        r.end('CHANNEL_DATA');
        ch.onData(data, false);
        return;
      }
      case MSG.CHANNEL_EXTENDED_DATA: {
        const ch = this.channel(r.uint32());
        const code = r.uint32();
        const data = r.string();
        if (code === 1) ch.onData(data, true);
        else this.stats.droppedMessages++;
        return;
      }
      case MSG.CHANNEL_EOF:
        this.channel(r.uint32()).onEof();
        return;
      case MSG.CHANNEL_CLOSE: {
        const id = r.uint32();
        const ch = this.channel(id);
        this.channels.delete(id);
        ch.onClose();
        return;
      }
      case MSG.CHANNEL_REQUEST: {
        const ch = this.channel(r.uint32());
        const name = r.text();
        const wantReply = r.bool();
        ch.onRequest(name, wantReply, r);
        return;
      }
      case MSG.CHANNEL_SUCCESS:
      case MSG.CHANNEL_FAILURE:
        this.channel(r.uint32()).onRequestReply(type === MSG.CHANNEL_SUCCESS);
        return;
      default:
        this.stats.droppedMessages++;
    }
  }

  /** The connection is gone: fail every channel and pending request. */
  shutdown(err: Error): void {
    for (const ch of this.channels.values()) ch.onClose(err);
    this.channels.clear();
    for (const p of this.globalReplies) p.reject(err);
    this.globalReplies = [];
  }
}

/** A channel as a plain byte duplex (for direct-tcpip). */
export function channelDuplex(ch: Channel): ByteDuplex {
  return { readable: ch.stdout, writable: ch.stdin };
}
