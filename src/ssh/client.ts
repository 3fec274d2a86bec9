// The SSH client API: connect (transport + user auth), sessions (shell or exec, with a pty),
// direct-tcpip forwards, rekey, keepalive, close. Works on any byte duplex (a netstack TCP
// connection in the app, a Node socket adapter in tests).
import type { Clock, TimerHandle } from '../platform/clock.js';
import { realClock } from '../platform/clock.js';
import { secureRandom, type RandomSource } from '../crypto/random.js';
import { Transport, SshError, type HostKeyInfo, type HostKeyVerifier } from './transport/transport.js';
import type { ByteDuplex } from '../platform/duplex.js';
import { authenticate, type AuthMethod } from './userauth.js';
import {
  Connection,
  channelDuplex,
  type Channel,
  type ChannelStats,
  type ExitInfo,
  type PtyOptions,
} from './connection.js';
import { DEFAULT_OFFER, type KexOffer } from './kex.js';
import { Writer } from './wire.js';

export type { HostKeyInfo, HostKeyVerifier, AuthMethod, ExitInfo, PtyOptions, ChannelStats };

export interface SshConnectOptions {
  username: string;
  auth: AuthMethod[];
  hostKeyVerifier: HostKeyVerifier;
  random?: RandomSource;
  clock?: Clock;
  onBanner?: (text: string) => void;
  /** Restrict or reorder algorithms (tests use it to force each cipher and host key type). */
  kex?: readonly string[];
  ciphers?: readonly string[];
  macs?: readonly string[];
  hostKeyAlgorithms?: readonly string[];
  /**
   * Per-host "legacy device" opt-in: also accept, after everything better, SHA-1 key exchange
   * (diffie-hellman-group14-sha1, -group-exchange-sha1), ssh-rsa host key signatures, hmac-sha1
   * and RSA host keys of 1024–2047 bits. For old appliances that cannot be updated; never default.
   */
  legacyDevice?: boolean;
  rekeyBytes?: number;
  rekeyIntervalMs?: number;
  /**
   * The whole handshake (version exchange, key exchange, login) must finish within this long
   * (default 30 s), not counting time spent waiting for the person (host key prompt,
   * keyboard-interactive answers). A silent or non-SSH port fails with a sentence saying so.
   */
  handshakeTimeoutMs?: number;
  /** Send keepalive@openssh.com (want-reply) this often (0 = never), like ServerAliveInterval. */
  keepaliveMs?: number;
  /** Disconnect when this many keepalives in a row went unanswered (default 3, like ServerAliveCountMax). */
  keepaliveMaxMissed?: number;
}

export interface SshSession {
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  stdin: WritableStream<Uint8Array>;
  resize(cols: number, rows: number): Promise<void>;
  /** RFC 4254 §6.9: deliver a signal ("INT", "TERM", "SIGHUP"...) to the remote process. */
  signal(name: string): Promise<void>;
  /** Resolves when the channel closes: exit-status code, or exit-signal name (§6.10). */
  exit: Promise<ExitInfo>;
  /** Channel data bytes so far: received (stdout+stderr, stderr alone) and sent (stdin). */
  stats(): ChannelStats;
  close(): void;
}

export interface KeepaliveStats {
  sent: number;
  answered: number;
}

/** RFC 4254 §8 terminal modes: keep it minimal (TTY_OP_END only) and let the server default. */
const NO_MODES = new Uint8Array([0]);

export class SshClient {
  private readonly conn: Connection;
  private keepaliveTimer: TimerHandle | undefined;
  private unanswered = 0;
  private readonly keepalive: KeepaliveStats = { sent: 0, answered: 0 };
  /** Resolves when the connection ends: undefined after close(), else the error that ended it. */
  readonly closed: Promise<Error | undefined>;

  private constructor(
    private readonly t: Transport,
    private readonly clock: Clock,
    private readonly keepaliveMs: number,
    private readonly keepaliveMaxMissed: number,
  ) {
    this.conn = new Connection(t);
    this.closed = t.closed;
  }

  static async connect(duplex: ByteDuplex, o: SshConnectOptions): Promise<SshClient> {
    const clock = o.clock ?? realClock;
    const offer: KexOffer = {
      kex: o.kex,
      ciphers: o.ciphers ?? DEFAULT_OFFER.ciphers,
      macs: o.macs,
      hostKeyAlgorithms: o.hostKeyAlgorithms ?? DEFAULT_OFFER.hostKeyAlgorithms,
      legacy: o.legacyDevice,
    };
    const timeoutMs = o.handshakeTimeoutMs ?? 30_000;
    let timer: TimerHandle | undefined;
    let t: Transport | undefined;
    const arm = () => {
      timer = clock.setTimeout(() => {
        const tr = t!;
        const secs = `${Math.round(timeoutMs / 100) / 10} s`;
        const msg =
          tr.handshakeStage === 'version'
            ? tr.notSshMessage(`no SSH answer from the server within ${secs}`)
            : `the SSH handshake did not finish within ${secs} (stuck at ${tr.handshakeStage === 'kex' ? 'the key exchange' : 'login'})`;
        tr.fail(new SshError(msg));
      }, timeoutMs);
    };
    const disarm = () => clock.clearTimeout(timer);
    /** The person's time (prompts) does not count against the handshake deadline. */
    // A connection that ends while the person is still answering (the server's LoginGraceTime)
    // ends the wait too, with the connection's error.
    const paused =
      <A extends unknown[], R>(f: (...a: A) => R) =>
      async (...a: A): Promise<Awaited<R>> => {
        disarm();
        try {
          const ended = t!.closed.then((e) => Promise.reject(e ?? new SshError('connection closed')));
          return await Promise.race([Promise.resolve(f(...a)), ended]);
        } finally {
          if (!t?.isClosed) arm();
        }
      };
    const auth = o.auth.map((m): AuthMethod =>
      m.type === 'keyboard-interactive'
        ? { ...m, respond: paused(m.respond) }
        : m.type === 'password' && typeof m.password !== 'string'
          ? { ...m, password: paused(m.password) }
          : m,
    );
    t = new Transport(duplex, {
      random: o.random ?? secureRandom,
      clock,
      hostKeyVerifier: paused(o.hostKeyVerifier),
      offer,
      rekeyBytes: o.rekeyBytes,
      rekeyIntervalMs: o.rekeyIntervalMs,
    });
    arm();
    try {
      await t.start();
      await authenticate(t, { username: o.username, methods: auth, onBanner: o.onBanner });
    } catch (e) {
      t.fail(e);
      throw e instanceof Error ? e : new SshError(String(e));
    } finally {
      disarm();
    }
    const client = new SshClient(t, clock, o.keepaliveMs ?? 0, Math.max(1, o.keepaliveMaxMissed ?? 3));
    client.pump();
    client.armKeepalive();
    return client;
  }

  get hostKey(): HostKeyInfo {
    return this.t.hostKey!;
  }
  get algorithms() {
    return this.t.negotiated!;
  }
  get serverVersion(): string {
    return this.t.serverVersion;
  }
  get stats() {
    return { transport: this.t.stats, connection: this.conn.stats, keepalive: this.keepalive };
  }
  get serverSigAlgs(): string[] | undefined {
    return this.t.serverSigAlgs;
  }

  private pump(): void {
    void (async () => {
      for (;;) {
        let msg: Uint8Array;
        try {
          msg = await this.t.recv();
        } catch (e) {
          this.conn.shutdown(e as Error);
          this.clock.clearTimeout(this.keepaliveTimer);
          return;
        }
        try {
          this.conn.handle(msg);
        } catch (e) {
          this.t.fail(e);
        }
      }
    })();
  }

  /**
   * OpenSSH's ServerAlive scheme (ssh_config(5)): every keepaliveMs a keepalive@openssh.com
   * global request with want-reply; any reply (success, failure or UNIMPLEMENTED) proves the
   * server alive. When keepaliveMaxMissed are still unanswered as the next falls due, give up.
   */
  private armKeepalive(): void {
    if (!this.keepaliveMs) return;
    this.keepaliveTimer = this.clock.setTimeout(() => {
      if (this.t.isClosed) return;
      if (this.unanswered >= this.keepaliveMaxMissed) {
        this.t.fail(
          new SshError(
            `the server stopped answering: ${this.unanswered} keepalives unanswered, ${Math.round(this.keepaliveMs / 1000)} s apart`,
          ),
        );
        return;
      }
      this.unanswered++;
      this.keepalive.sent++;
      this.conn.globalRequest('keepalive@openssh.com', true).then(
        () => {
          this.unanswered = 0;
          this.keepalive.answered++;
        },
        () => {},
      );
      this.armKeepalive();
    }, this.keepaliveMs);
  }

  /** A session channel with a shell (no command) or a command; a pty if asked. */
  async openSession(o: { pty?: PtyOptions; command?: string; env?: Record<string, string> } = {}): Promise<SshSession> {
    const ch = await this.conn.openChannel('session');
    try {
      for (const [k, v] of Object.entries(o.env ?? {})) await ch.request('env', false, (w) => w.string(k).string(v));
      if (o.pty) {
        const { term, cols, rows } = o.pty;
        const ok = await ch.request('pty-req', true, (w) =>
          w.string(term).uint32(cols).uint32(rows).uint32(0).uint32(0).string(NO_MODES),
        );
        if (!ok) throw new SshError('the server refused to allocate a terminal (pty-req)');
      }
      const ok =
        o.command !== undefined
          ? await ch.request('exec', true, (w) => w.string(o.command!))
          : await ch.request('shell', true);
      if (!ok)
        throw new SshError(
          o.command !== undefined ? 'the server refused to run the command' : 'the server refused to start a shell',
        );
    } catch (e) {
      ch.close();
      throw e;
    }
    return sessionOf(ch);
  }

  /**
   * A session channel running a subsystem (RFC 4254 §6.5), e.g. "sftp": the server starts the
   * program configured for that name and the channel carries its protocol on stdin/stdout.
   */
  async subsystem(name: string): Promise<SshSession> {
    const ch = await this.conn.openChannel('session');
    try {
      if (!(await ch.request('subsystem', true, (w) => w.string(name))))
        throw new SshError(`the server refused the "${name}" subsystem`);
    } catch (e) {
      ch.close();
      throw e;
    }
    return sessionOf(ch);
  }

  /** direct-tcpip (RFC 4254 §7.2): a byte stream to host:port as seen from the server. */
  async forward(host: string, port: number): Promise<ByteDuplex> {
    const ch = await this.conn.openChannel('direct-tcpip', (w) =>
      w.string(host).uint32(port).string('127.0.0.1').uint32(0),
    );
    return channelDuplex(ch);
  }

  rekey(): Promise<void> {
    return this.t.rekey();
  }

  close(): void {
    this.clock.clearTimeout(this.keepaliveTimer);
    this.conn.shutdown(new SshError('connection closed'));
    this.t.close();
  }
}

function sessionOf(ch: Channel): SshSession {
  return {
    stdout: ch.stdout,
    stderr: ch.stderr,
    stdin: ch.stdin,
    async resize(cols, rows) {
      await ch.request('window-change', false, (w: Writer) => w.uint32(cols).uint32(rows).uint32(0).uint32(0));
    },
    async signal(name) {
      // RFC 4254 §6.9: signal name without the "SIG" prefix.
      await ch.request('signal', false, (w: Writer) => w.string(name.replace(/^SIG/, '')));
    },
    exit: ch.exit,
    stats: () => ({ ...ch.stats }),
    close: () => ch.close(),
  };
}
