// SSH transport layer client state machine (RFC 4253): identification exchange (§4.2), binary
// packets (§6, packet.ts), key exchange and re-exchange (§7–§9, kex.ts) with strict KEX
// (OpenSSH PROTOCOL, Terrapin), EXT_INFO (RFC 8308), DISCONNECT/IGNORE/DEBUG/UNIMPLEMENTED (§11).
// Upper layers see an ordered queue of their messages (numbers >= 50, plus SERVICE_ACCEPT).
import type { Clock, TimerHandle } from '../../platform/clock.js';
import type { ByteDuplex } from '../../platform/duplex.js';
import type { RandomSource } from '../../crypto/random.js';
import { equalBytes } from '../../crypto/bytes.js';
import { aes128Gcm, aes256Gcm } from './aes-gcm.js';
import { aes128Ctr, aes192Ctr, aes256Ctr, MACS } from './aes-ctr.js';
import { chacha20Poly1305 } from './chacha20-poly1305.js';
import type { CipherSpec, PacketCipher } from './cipher.js';
import { PacketDecoder, PacketEncoder, SshProtocolError } from './packet.js';
import {
  clientKexInit,
  decodeKexInit,
  deriveKey,
  encodeKexInit,
  negotiate,
  startKex,
  type HashFn,
  type KexOffer,
  type KexRun,
  type Negotiated,
} from '../kex.js';
import {
  fingerprint,
  LEGACY_MIN_RSA_BITS,
  MIN_RSA_BITS,
  parseHostKey,
  verifySignature,
  type HostKey,
} from '../hostkey.js';
import { DISCONNECT, MSG } from '../messages.js';
import { Reader, SshDecodeError, Writer } from '../wire.js';
import { describe, errText, HostKeyRefused, sanitize, SshError } from './errors.js';

export { HostKeyRefused, sanitize, SshError } from './errors.js';

export interface HostKeyInfo {
  /** Negotiated signature algorithm, e.g. "rsa-sha2-512". */
  algorithm: string;
  keyType: HostKey['type'];
  blob: Uint8Array;
  fingerprint: string;
}

/** Resolve to accept the server's host key; throw (with a message for the user) to refuse it. */
export type HostKeyVerifier = (info: HostKeyInfo) => Promise<void> | void;

const CIPHERS: Record<string, CipherSpec> = {
  [chacha20Poly1305.name]: chacha20Poly1305,
  [aes128Gcm.name]: aes128Gcm,
  [aes256Gcm.name]: aes256Gcm,
  [aes128Ctr.name]: aes128Ctr,
  [aes192Ctr.name]: aes192Ctr,
  [aes256Ctr.name]: aes256Ctr,
};

export interface TransportOptions {
  random: RandomSource;
  clock: Clock;
  hostKeyVerifier: HostKeyVerifier;
  offer: KexOffer;
  clientVersion?: string;
  /** Re-exchange keys after this many bytes in either direction (RFC 4253 §9 suggests 1 GB). */
  rekeyBytes?: number;
  /** ... or after this long (RFC 4253 §9 suggests one hour). */
  rekeyIntervalMs?: number;
}

export interface TransportStats {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  kexCount: number;
  ignored: number;
  /** SSH_MSG_UNIMPLEMENTED received: the server did not know one of our messages. */
  unimplementedFromPeer: number;
  /** SSH_MSG_UNIMPLEMENTED we sent for server messages we do not know (RFC 4253 §11.4). */
  unimplementedSent: number;
}

/** Messages above the transport layer we understand; anything else gets SSH_MSG_UNIMPLEMENTED. */
const KNOWN_UPPER = new Set<number>([
  MSG.SERVICE_ACCEPT,
  MSG.USERAUTH_FAILURE,
  MSG.USERAUTH_SUCCESS,
  MSG.USERAUTH_BANNER,
  MSG.USERAUTH_INFO_REQUEST,
  MSG.GLOBAL_REQUEST,
  MSG.REQUEST_SUCCESS,
  MSG.REQUEST_FAILURE,
  ...Array.from({ length: MSG.CHANNEL_FAILURE - MSG.CHANNEL_OPEN + 1 }, (_, i) => MSG.CHANNEL_OPEN + i),
]);
/** How many sent packets we remember for matching a later SSH_MSG_UNIMPLEMENTED. */
const UNIMPLEMENTED_WATCH = 256;

type KexPhase = 'idle' | 'awaitKexInit' | 'awaitKexReply' | 'awaitNewKeys';

export class Transport {
  readonly clientVersion: string;
  serverVersion = '';
  /** The first thing the server sent that was not its SSH identification (quoted in errors). */
  private firstForeignLine: string | undefined;
  sessionId: Uint8Array | undefined;
  negotiated: Negotiated | undefined;
  hostKey: HostKeyInfo | undefined;
  /** From EXT_INFO server-sig-algs (RFC 8308 §3.1), if the server sent it. */
  serverSigAlgs: string[] | undefined;
  readonly stats: TransportStats = {
    packetsIn: 0,
    packetsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    kexCount: 0,
    ignored: 0,
    unimplementedFromPeer: 0,
    unimplementedSent: 0,
  };

  private readonly encoder: PacketEncoder;
  private readonly decoder = new PacketDecoder();
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private writeChain: Promise<void> = Promise.resolve();

  private phase: KexPhase = 'idle';
  /** Between sending our KEXINIT and our NEWKEYS, upper-layer messages wait here (RFC 4253 §7.1). */
  private held: { payload: Uint8Array; onUnimplemented?: () => void }[] = [];
  /** Outgoing sequence number -> what to do if the server answers it with UNIMPLEMENTED. */
  private unimplementedWatch = new Map<number, () => void>();
  private ourKexInit: Uint8Array | undefined;
  private theirKexInit: Uint8Array | undefined;
  private kexRun: KexRun | undefined;
  private pendingKeys: { k: Uint8Array; h: Uint8Array; hash: HashFn } | undefined;
  private skipGuessedPacket = false;
  private initialKexDone = false;
  private bytesSinceKex = 0;
  private rekeyTimer: TimerHandle | undefined;
  private kexWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  private queue: Uint8Array[] = [];
  private recvWaiters: { resolve: (p: Uint8Array) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  private closedResolve!: (e: Error | undefined) => void;
  /** Resolves once the connection is gone: undefined for a local close, the error otherwise. */
  readonly closed: Promise<Error | undefined> = new Promise((r) => (this.closedResolve = r));

  constructor(
    private readonly duplex: ByteDuplex,
    private readonly opts: TransportOptions,
  ) {
    this.clientVersion = opts.clientVersion ?? 'SSH-2.0-tailtab_0.1';
    this.encoder = new PacketEncoder(opts.random);
    this.writer = duplex.writable.getWriter();
    this.reader = duplex.readable.getReader();
  }

  /** Exchange versions and run the first key exchange. */
  async start(): Promise<void> {
    const done = this.waitKex();
    this.writeRaw(new TextEncoder().encode(this.clientVersion + '\r\n'));
    this.beginKex();
    void this.readLoop();
    await done;
  }

  get isClosed(): boolean {
    return this.failure !== undefined;
  }

  private waitKex(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.failure) reject(this.failure);
      else this.kexWaiters.push({ resolve, reject });
    });
  }

  /** Start a key re-exchange (RFC 4253 §9) and resolve when new keys are in use both ways. */
  rekey(): Promise<void> {
    const done = this.waitKex();
    if (this.phase === 'idle') this.beginKex();
    return done;
  }

  private writeRaw(bytes: Uint8Array): Promise<void> {
    this.stats.bytesOut += bytes.length;
    this.bytesSinceKex += bytes.length;
    const w = this.writer;
    this.writeChain = this.writeChain.then(() => w.write(bytes));
    const p = this.writeChain;
    p.catch((e) => this.fail(new SshError(`connection write failed: ${errText(e)}`)));
    return p;
  }

  private sendPacket(payload: Uint8Array, onUnimplemented?: () => void): Promise<void> {
    this.stats.packetsOut++;
    if (onUnimplemented) {
      this.unimplementedWatch.set(this.encoder.seq, onUnimplemented);
      if (this.unimplementedWatch.size > UNIMPLEMENTED_WATCH)
        this.unimplementedWatch.delete(this.unimplementedWatch.keys().next().value!);
    }
    return this.writeRaw(this.encoder.encode(payload));
  }

  /**
   * Send an upper-layer message; held back while a key exchange is in progress. onUnimplemented
   * runs if the server answers this very packet with SSH_MSG_UNIMPLEMENTED (RFC 4253 §11.4), so a
   * request waiting for a reply can be ended instead of waiting forever.
   */
  send(payload: Uint8Array, onUnimplemented?: () => void): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (
      this.phase === 'awaitKexInit' ||
      this.phase === 'awaitKexReply' ||
      (!this.initialKexDone && this.phase !== 'awaitNewKeys')
    ) {
      this.held.push({ payload, onUnimplemented });
      return this.writeChain;
    }
    const p = this.sendPacket(payload, onUnimplemented);
    this.maybeRekey();
    return p;
  }

  /** The next upper-layer message; rejects once the connection has failed or closed. */
  recv(): Promise<Uint8Array> {
    const next = this.queue.shift();
    if (next) return Promise.resolve(next);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.recvWaiters.push({ resolve, reject }));
  }

  private deliver(payload: Uint8Array): void {
    const w = this.recvWaiters.shift();
    if (w) w.resolve(payload);
    else this.queue.push(payload);
  }

  private maybeRekey(): void {
    const limit = this.opts.rekeyBytes ?? 1 << 30;
    if (this.phase === 'idle' && this.initialKexDone && this.bytesSinceKex >= limit) this.beginKex();
  }

  private beginKex(): void {
    if (this.failure) return;
    const init = clientKexInit(this.opts.random, this.opts.offer, !this.initialKexDone);
    this.ourKexInit = encodeKexInit(init);
    this.phase = 'awaitKexInit';
    void this.sendPacket(this.ourKexInit);
    if (this.theirKexInit) this.continueKex();
  }

  private async readLoop(): Promise<void> {
    try {
      await this.readVersion();
      for (;;) {
        let payload: Uint8Array | null;
        while ((payload = this.decoder.next()) !== null) {
          this.stats.packetsIn++;
          // The decoder has already counted this packet; UNIMPLEMENTED names its own number.
          await this.handlePacket(payload, (this.decoder.seq - 1) >>> 0);
          if (this.failure) return;
        }
        if (!(await this.readMore())) return;
      }
    } catch (e) {
      this.fail(e);
    }
  }

  private async readMore(): Promise<boolean> {
    const { value, done } = await this.reader.read();
    if (this.failure) return false;
    if (done) throw new SshError('the server closed the connection');
    this.stats.bytesIn += value.length;
    this.bytesSinceKex += value.length;
    this.decoder.push(value);
    return true;
  }

  /** Where the handshake is, for a timeout message. */
  get handshakeStage(): 'version' | 'kex' | 'auth' {
    return !this.serverVersion ? 'version' : !this.initialKexDone ? 'kex' : 'auth';
  }

  /** Why there is no SSH here, quoting what the server did send (if anything). */
  notSshMessage(what: string): string {
    const seen = this.firstForeignLine ?? (this.stats.bytesIn > 0 ? this.decoder.peekText(80) : undefined);
    if (seen === undefined) return `${what}; nothing was received from it (is an SSH server listening on this port?)`;
    return `${what}; instead of an SSH identification it sent ${JSON.stringify(seen)} — this port does not look like an SSH server`;
  }

  private async readVersion(): Promise<void> {
    // RFC 4253 §4.2: the server may send other lines first; the version line starts with "SSH-".
    for (let lines = 0; lines < 50;) {
      const line = this.decoder.takeLine(8192);
      if (line === null) {
        let more: boolean;
        try {
          more = await this.readMore();
        } catch (e) {
          if (e instanceof SshError && !this.failure)
            throw new SshError(this.notSshMessage('the server closed the connection before its SSH version'));
          throw e;
        }
        if (!more) return;
        continue;
      }
      lines++;
      if (!line.startsWith('SSH-')) {
        this.firstForeignLine ??= sanitize(line).slice(0, 100);
        continue;
      }
      if (!line.startsWith('SSH-2.0-') && !line.startsWith('SSH-1.99-'))
        throw new SshProtocolError(`server speaks an unsupported protocol version: ${line.slice(0, 80)}`, 8);
      if (line.length > 253) throw new SshProtocolError('server identification string too long');
      this.serverVersion = line;
      return;
    }
    throw new SshProtocolError(
      this.notSshMessage('no SSH identification string from the server in its first 50 lines'),
    );
  }

  private async handlePacket(payload: Uint8Array, seq: number): Promise<void> {
    const type = payload[0];
    if (this.skipGuessedPacket && type >= 30 && type <= 49) {
      this.skipGuessedPacket = false;
      return;
    }
    // Strict KEX: during the first exchange only KEXINIT, ECDH and NEWKEYS may arrive, and
    // KEXINIT must be the very first packet (OpenSSH PROTOCOL 1.10).
    if (!this.initialKexDone && this.negotiated?.strict && !(type >= 30 && type <= 49) && type !== MSG.NEWKEYS) {
      throw new SshProtocolError(
        `strict key exchange violated: unexpected message ${type} during the initial key exchange`,
      );
    }
    switch (type) {
      case MSG.DISCONNECT: {
        const r = new Reader(payload);
        r.byte();
        const code = r.uint32();
        const text = r.text();
        throw new SshError(`server disconnected: ${sanitize(text) || 'no reason given'} (code ${code})`);
      }
      case MSG.IGNORE:
      case MSG.DEBUG:
        this.stats.ignored++;
        return;
      case MSG.UNIMPLEMENTED:
        return this.onUnimplemented(payload);
      case MSG.KEXINIT:
        return this.onKexInit(payload);
      case MSG.NEWKEYS:
        return this.onNewKeys(payload);
      case MSG.EXT_INFO:
        return this.onExtInfo(payload);
    }
    if (type >= 30 && type <= 49 && this.phase === 'awaitKexReply') return this.onKexReply(payload);
    if (type >= 20 && type <= 49)
      throw new SshProtocolError(`unexpected key exchange message ${type} (phase ${this.phase})`);
    if (!this.initialKexDone) throw new SshProtocolError(`message ${type} before the key exchange finished`);
    if (payload.length === 0) throw new SshProtocolError('empty message');
    if (!KNOWN_UPPER.has(type)) {
      // RFC 4253 §11.4: answer every unrecognized message, in order, with its sequence number.
      // Sent directly (transport-layer messages are allowed during a re-exchange, §7.1).
      this.stats.unimplementedSent++;
      void this.sendPacket(new Writer(8).byte(MSG.UNIMPLEMENTED).uint32(seq).finish());
      return;
    }
    this.deliver(payload);
  }

  private onUnimplemented(payload: Uint8Array): void {
    const r = new Reader(payload);
    r.byte();
    const seq = r.uint32();
    this.stats.unimplementedFromPeer++;
    const f = this.unimplementedWatch.get(seq);
    this.unimplementedWatch.delete(seq);
    f?.();
  }

  private onKexInit(payload: Uint8Array): void {
    if (this.theirKexInit || this.phase === 'awaitKexReply' || this.phase === 'awaitNewKeys')
      throw new SshProtocolError('KEXINIT during a key exchange');
    const theirs = decodeKexInit(payload);
    this.theirKexInit = payload;
    if (!this.initialKexDone && this.decoder.seq !== 1) {
      // Not fatal without strict KEX; checked after negotiation below.
    }
    const ours = decodeKexInit(
      this.ourKexInit ?? encodeKexInit(clientKexInit(this.opts.random, this.opts.offer, !this.initialKexDone)),
    );
    const neg = negotiate(ours, theirs);
    if (!this.initialKexDone && neg.strict && this.decoder.seq !== 1)
      throw new SshProtocolError('strict key exchange violated: KEXINIT was not the first packet');
    if (this.initialKexDone && this.negotiated) neg.strict = this.negotiated.strict;
    this.negotiated = neg;
    if (theirs.firstKexFollows && (theirs.kex[0] !== neg.kex || theirs.hostKey[0] !== neg.hostKey))
      this.skipGuessedPacket = true;
    if (this.phase === 'idle')
      this.beginKex(); // the server started a re-exchange
    else this.continueKex();
  }

  private continueKex(): void {
    this.kexRun = startKex(this.negotiated!.kex, this.opts.random, {
      clientVersion: this.clientVersion,
      serverVersion: this.serverVersion,
      clientKexInit: this.ourKexInit!,
      serverKexInit: this.theirKexInit!,
    });
    this.phase = 'awaitKexReply';
    void this.sendPacket(this.kexRun.first);
  }

  private async onKexReply(payload: Uint8Array): Promise<void> {
    if (!this.kexRun || !this.negotiated) throw new SshProtocolError('unexpected key exchange reply');
    const step = this.kexRun.receive(payload);
    if ('send' in step) {
      void this.sendPacket(step.send);
      return;
    }
    const { hostKeyBlob, signature, h, k: sharedMpint, hash } = step.result;
    const reply = { hostKeyBlob, signature };
    let key: HostKey;
    try {
      key = parseHostKey(reply.hostKeyBlob, this.opts.offer.legacy ? LEGACY_MIN_RSA_BITS : MIN_RSA_BITS);
    } catch (e) {
      throw new SshProtocolError(`server host key: ${errText(e)}`, DISCONNECT.HOST_KEY_NOT_VERIFIABLE);
    }
    if (!verifySignature(key, this.negotiated.hostKey, reply.signature, h, this.opts.offer.legacy === true)) {
      throw new SshProtocolError(
        `the server's ${this.negotiated.hostKey} signature of the key exchange does not verify`,
        DISCONNECT.KEY_EXCHANGE_FAILED,
      );
    }
    const info: HostKeyInfo = {
      algorithm: this.negotiated.hostKey,
      keyType: key.type,
      blob: reply.hostKeyBlob,
      fingerprint: fingerprint(reply.hostKeyBlob),
    };
    if (this.hostKey) {
      // A re-exchange must present the same host key (the session is already authenticated).
      if (!equalBytes(this.hostKey.blob, info.blob))
        throw new SshProtocolError(
          `host key changed during re-exchange: ${this.hostKey.fingerprint} became ${info.fingerprint}`,
          DISCONNECT.HOST_KEY_NOT_VERIFIABLE,
        );
    } else {
      try {
        await this.opts.hostKeyVerifier(info);
      } catch (e) {
        throw new HostKeyRefused(errText(e));
      }
      this.hostKey = info;
    }
    if (!this.sessionId) this.sessionId = h;
    const neg = this.negotiated;
    this.pendingKeys = { k: sharedMpint, h, hash };
    // Send NEWKEYS and switch our direction (RFC 4253 §7.3), then release held messages.
    void this.sendPacket(new Uint8Array([MSG.NEWKEYS]));
    this.encoder.cipher = this.buildCipher(neg.cipherCtoS, neg.macCtoS, 'ACE');
    if (neg.strict) {
      this.encoder.seq = 0;
      // Numbers restart: old entries would match the wrong packets.
      this.unimplementedWatch.clear();
    }
    this.phase = 'awaitNewKeys';
    const held = this.held;
    this.held = [];
    for (const p of held) void this.sendPacket(p.payload, p.onUnimplemented);
  }

  private onNewKeys(payload: Uint8Array): void {
    if (this.phase !== 'awaitNewKeys' || !this.pendingKeys || !this.sessionId || payload.length !== 1)
      throw new SshProtocolError('unexpected NEWKEYS');
    this.decoder.cipher = this.buildCipher(this.negotiated!.cipherStoC, this.negotiated!.macStoC, 'BDF');
    if (this.negotiated?.strict) this.decoder.seq = 0;
    this.pendingKeys = undefined;
    this.kexRun = undefined;
    this.theirKexInit = undefined;
    this.ourKexInit = undefined;
    this.phase = 'idle';
    this.initialKexDone = true;
    this.bytesSinceKex = 0;
    this.stats.kexCount++;
    this.armRekeyTimer();
    const waiters = this.kexWaiters;
    this.kexWaiters = [];
    for (const w of waiters) w.resolve();
  }

  /** RFC 4253 §7.2 letters: IV, encryption key, integrity key ('ACE' client→server, 'BDF' back). */
  private buildCipher(cipher: string, mac: string | undefined, letters: 'ACE' | 'BDF'): PacketCipher {
    const { k, h, hash } = this.pendingKeys!;
    const sid = this.sessionId!;
    const spec = CIPHERS[cipher];
    const derive = (letter: string, len: number) => deriveKey(k, h, letter, sid, len, hash);
    const key = derive(letters[1], spec.keyLength);
    const iv = derive(letters[0], Math.max(spec.ivLength, 1));
    if (spec.aead) return spec.create(key, iv);
    const macSpec = MACS[mac!];
    return spec.create(key, iv, { spec: macSpec, key: derive(letters[2], macSpec.keyLength) });
  }

  private armRekeyTimer(): void {
    this.opts.clock.clearTimeout(this.rekeyTimer);
    const ms = this.opts.rekeyIntervalMs ?? 3600_000;
    this.rekeyTimer = this.opts.clock.setTimeout(() => {
      if (this.phase === 'idle' && !this.failure) this.beginKex();
    }, ms);
  }

  private onExtInfo(payload: Uint8Array): void {
    const r = new Reader(payload);
    r.byte();
    const n = r.uint32();
    if (n > 64) throw new SshDecodeError('too many extensions');
    for (let i = 0; i < n; i++) {
      const name = r.text();
      const value = r.string();
      if (name === 'server-sig-algs') this.serverSigAlgs = new Reader(new Writer().string(value).finish()).nameList();
    }
  }

  /** Tear down with an error: tell the server why (best effort), reject everything pending. */
  fail(e: unknown): void {
    if (this.failure) return;
    const err = e instanceof SshError ? e : new SshError(describe(e));
    this.failure = err;
    if (e instanceof SshProtocolError || e instanceof SshDecodeError || e instanceof HostKeyRefused) {
      const code =
        e instanceof SshProtocolError
          ? e.reason
          : e instanceof HostKeyRefused
            ? DISCONNECT.HOST_KEY_NOT_VERIFIABLE
            : DISCONNECT.PROTOCOL_ERROR;
      try {
        void this.sendPacket(
          new Writer().byte(MSG.DISCONNECT).uint32(code).string(err.message.slice(0, 200)).string('').finish(),
        ).catch(() => {});
      } catch {
        /* the encoder may be unusable; the connection is going away anyway */
      }
    }
    this.shutdown(err);
  }

  /** Close politely (DISCONNECT by application) and release the byte stream. */
  close(): void {
    if (this.failure) return;
    const err = new SshError('connection closed');
    this.failure = err;
    void this.sendPacket(
      new Writer().byte(MSG.DISCONNECT).uint32(DISCONNECT.BY_APPLICATION).string('bye').string('').finish(),
    ).catch(() => {});
    this.shutdown(err, true);
  }

  private shutdown(err: Error, local = false): void {
    this.opts.clock.clearTimeout(this.rekeyTimer);
    for (const w of this.kexWaiters) w.reject(err);
    this.kexWaiters = [];
    for (const w of this.recvWaiters) w.reject(err);
    this.recvWaiters = [];
    this.held = [];
    this.writeChain
      .then(() => this.writer.close())
      .catch(() => {})
      .finally(() => this.reader.cancel().catch(() => {}));
    this.closedResolve(local ? undefined : err);
  }
}
