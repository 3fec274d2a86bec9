// Tailscale control-plane Noise ("ts2021"): Noise_IK_25519_ChaChaPoly_BLAKE2s (Noise spec rev 34,
// §7.5 IK) with Tailscale's message framing, as in tailscale/tailscale control/controlbase/
// {handshake,messages,conn}.go, plus the early-payload peek of control/controlclient (noise.go).
//
// Wire facts (our own code, written from those files):
//  - prologue "Tailscale Control Protocol v<decimal version>", then MixHash(server static).
//  - initiation (101 B): BE u16 version, 0x01, BE u16 96, e(32), enc(s)(48), tag(16)
//  - response   (51 B): 0x02, BE u16 48, e(32), tag(16);   error: 0x03, BE u16 len, text
//  - record: 0x04, BE u16 len, ciphertext; frame <= 4096 B, so plaintext <= 4077 B.
//  - transport nonce: 4 zero bytes + BIG-endian u64 counter (not WireGuard's little-endian).
import { concatBytes, equalBytes, utf8, wipe } from '../crypto/bytes.js';
import { hash, kdf } from '../crypto/blake2s.js';
import { nonceBE, open, seal, TAG_LENGTH } from '../crypto/aead.js';
import { asStaticKey, type StaticX25519Key } from '../crypto/static-key.js';
import { generateKeyPair, publicKeyOf, sharedSecret } from '../crypto/x25519.js';
import type { RandomSource } from '../crypto/random.js';
import type { ByteDuplex } from '../platform/duplex.js';

export const PROTOCOL_NAME = 'Noise_IK_25519_ChaChaPoly_BLAKE2s';
export const PROLOGUE_PREFIX = 'Tailscale Control Protocol v';
export const MSG_INITIATION = 1;
export const MSG_RESPONSE = 2;
export const MSG_ERROR = 3;
export const MSG_RECORD = 4;
export const HEADER_LEN = 3;
export const INITIATION_LEN = 101;
export const RESPONSE_LEN = 51;
export const MAX_MESSAGE_SIZE = 4096;
export const MAX_CIPHERTEXT_SIZE = MAX_MESSAGE_SIZE - HEADER_LEN; // 4093
export const MAX_PLAINTEXT_SIZE = MAX_CIPHERTEXT_SIZE - TAG_LENGTH; // 4077
export const EARLY_PAYLOAD_MAGIC = Uint8Array.of(0xff, 0xff, 0xff, 0x54, 0x53); // "\xff\xff\xffTS"
/** Bound on the early payload JSON (the Go client caps it at 10 MB; ours carries a challenge key). */
export const MAX_EARLY_PAYLOAD = 1 << 20;

export class ControlNoiseError extends Error {
  constructor(
    message: string,
    readonly serverText?: string,
  ) {
    super(message);
    this.name = 'ControlNoiseError';
  }
}

export interface ControlNoiseStats {
  framesIn: number;
  framesOut: number;
  badFrames: number;
}

/** Symmetric state of the Noise handshake (Noise §5.2). Nonce is always 0: every key is used once. */
class SymmetricState {
  h: Uint8Array;
  ck: Uint8Array;
  k: Uint8Array | null = null;
  constructor() {
    // Protocol name is 33 bytes > HASHLEN, so h = HASH(name) (Noise §5.2 InitializeSymmetric).
    this.h = hash(utf8.encode(PROTOCOL_NAME));
    this.ck = this.h.slice();
  }
  mixHash(data: Uint8Array): void {
    this.h = hash(this.h, data);
  }
  mixKey(ikm: Uint8Array): void {
    const [ck, k] = kdf(this.ck, ikm, 2);
    this.ck = ck;
    this.k = k;
  }
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    if (!this.k) throw new ControlNoiseError('noise: encrypt before key');
    const c = seal(this.k, nonceBE(0), plaintext, this.h);
    this.mixHash(c);
    return c;
  }
  decryptAndHash(ciphertext: Uint8Array): Uint8Array | null {
    if (!this.k) return null;
    const p = open(this.k, nonceBE(0), ciphertext, this.h);
    if (p) this.mixHash(ciphertext);
    return p;
  }
}

export interface HandshakeInit {
  /** The 101-byte initiation message (goes in X-Tailscale-Handshake on the WebSocket path). */
  message: Uint8Array;
  /** Completes the handshake from the server's 51-byte response (asynchronous: the machine key's DH may be WebCrypto's). */
  finish(response: Uint8Array): Promise<TransportKeys>;
}

export interface TransportKeys {
  tx: Uint8Array;
  rx: Uint8Array;
  /** Handshake hash (channel binding). */
  handshakeHash: Uint8Array;
  protocolVersion: number;
}

export interface InitiateOptions {
  protocolVersion: number;
  /** The machine key: raw bytes, or a key object (a non-extractable WebCrypto key, crypto/static-key.ts). */
  machineKey: Uint8Array | StaticX25519Key;
  controlPublicKey: Uint8Array;
  random: RandomSource;
}

/** Builds the initiation (IK message 1: -> e, es, s, ss) and returns a closure for message 2. */
export async function initiateHandshake(o: InitiateOptions): Promise<HandshakeInit> {
  if (!Number.isInteger(o.protocolVersion) || o.protocolVersion < 0 || o.protocolVersion > 0xffff) {
    throw new ControlNoiseError(`noise: bad protocol version ${o.protocolVersion}`);
  }
  const s = new SymmetricState();
  s.mixHash(utf8.encode(PROLOGUE_PREFIX + String(o.protocolVersion)));
  s.mixHash(o.controlPublicKey);
  const e = generateKeyPair(o.random);
  s.mixHash(e.publicKey);
  const machine = asStaticKey(o.machineKey);
  let es: Uint8Array, ss: Uint8Array;
  try {
    es = sharedSecret(e.privateKey, o.controlPublicKey);
    ss = await machine.dh(o.controlPublicKey);
  } catch {
    throw new ControlNoiseError('noise: the control key is invalid (a low-order point)');
  }
  s.mixKey(es);
  const encS = s.encryptAndHash(machine.publicKey);
  s.mixKey(ss);
  wipe(ss);
  const tag = s.encryptAndHash(new Uint8Array(0));
  const msg = new Uint8Array(INITIATION_LEN);
  const dv = new DataView(msg.buffer);
  dv.setUint16(0, o.protocolVersion, false);
  msg[2] = MSG_INITIATION;
  dv.setUint16(3, INITIATION_LEN - 5, false);
  msg.set(e.publicKey, 5);
  msg.set(encS, 37);
  msg.set(tag, 85);
  let done = false;
  return {
    message: msg,
    async finish(response: Uint8Array): Promise<TransportKeys> {
      if (done) throw new ControlNoiseError('noise: handshake already finished');
      done = true;
      if (response.length >= HEADER_LEN && response[0] === MSG_ERROR) {
        const len = (response[1] << 8) | response[2];
        const text = utf8.decode(response.subarray(3, 3 + len));
        throw new ControlNoiseError(`control server refused the handshake: ${text}`, text);
      }
      if (
        response.length !== RESPONSE_LEN ||
        response[0] !== MSG_RESPONSE ||
        ((response[1] << 8) | response[2]) !== 48
      ) {
        throw new ControlNoiseError(
          `noise: unexpected handshake response (type ${response[0]}, ${response.length} bytes)`,
        );
      }
      const re = response.subarray(3, 35);
      s.mixHash(re);
      let ee: Uint8Array, se: Uint8Array;
      try {
        ee = sharedSecret(e.privateKey, re);
        se = await machine.dh(re);
      } catch {
        throw new ControlNoiseError('noise: server ephemeral key is invalid');
      }
      s.mixKey(ee);
      s.mixKey(se);
      if (!s.decryptAndHash(response.subarray(35, 51))) {
        throw new ControlNoiseError('noise: handshake response authentication failed (wrong control key?)');
      }
      const [k1, k2] = kdf(s.ck, new Uint8Array(0), 2);
      wipe(e.privateKey);
      return { tx: k1, rx: k2, handshakeHash: s.h, protocolVersion: o.protocolVersion };
    },
  };
}

/** Responder side, used only by tests and fakes (IK message 1 in, message 2 out). */
export function respondHandshake(o: { initiation: Uint8Array; controlPrivateKey: Uint8Array; random: RandomSource }): {
  response: Uint8Array;
  machinePublicKey: Uint8Array;
  keys: TransportKeys;
} {
  const m = o.initiation;
  if (m.length !== INITIATION_LEN || m[2] !== MSG_INITIATION || ((m[3] << 8) | m[4]) !== 96) {
    throw new ControlNoiseError('noise: malformed initiation');
  }
  const version = (m[0] << 8) | m[1];
  const s = new SymmetricState();
  s.mixHash(utf8.encode(PROLOGUE_PREFIX + String(version)));
  s.mixHash(publicKeyOf(o.controlPrivateKey));
  const ie = m.subarray(5, 37);
  s.mixHash(ie);
  s.mixKey(sharedSecret(o.controlPrivateKey, ie));
  const machinePub = s.decryptAndHash(m.subarray(37, 85));
  if (!machinePub) throw new ControlNoiseError('noise: initiation authentication failed');
  s.mixKey(sharedSecret(o.controlPrivateKey, machinePub));
  if (!s.decryptAndHash(m.subarray(85, 101))) throw new ControlNoiseError('noise: initiation authentication failed');
  const e = generateKeyPair(o.random);
  s.mixHash(e.publicKey);
  s.mixKey(sharedSecret(e.privateKey, ie));
  s.mixKey(sharedSecret(e.privateKey, machinePub));
  const tag = s.encryptAndHash(new Uint8Array(0));
  const [k1, k2] = kdf(s.ck, new Uint8Array(0), 2);
  const response = concatBytes(Uint8Array.of(MSG_RESPONSE, 0, 48), e.publicKey, tag);
  return {
    response,
    machinePublicKey: machinePub,
    keys: { tx: k2, rx: k1, handshakeHash: s.h, protocolVersion: version },
  };
}

/** One direction's cipher state with the big-endian counter nonce (controlbase/conn.go). */
export class RecordCipher {
  private counter = 0n;
  constructor(private readonly key: Uint8Array) {}
  seal(plaintext: Uint8Array): Uint8Array {
    if (plaintext.length > MAX_PLAINTEXT_SIZE) throw new ControlNoiseError('noise: record too large');
    const c = seal(this.key, nonceBE(this.counter), plaintext);
    this.counter++;
    const frame = new Uint8Array(HEADER_LEN + c.length);
    frame[0] = MSG_RECORD;
    frame[1] = c.length >> 8;
    frame[2] = c.length & 0xff;
    frame.set(c, HEADER_LEN);
    return frame;
  }
  /** Opens one record's ciphertext; null when it does not authenticate (the stream must die). */
  open(ciphertext: Uint8Array): Uint8Array | null {
    const p = open(this.key, nonceBE(this.counter), ciphertext);
    if (p) this.counter++;
    return p;
  }
}

/** Pulls exact byte counts from a ReadableStream, keeping the remainder. */
export class ByteReader {
  // A list of the chunks read, joined once per readExact that spans them (not re-copied with
  // every read: a 64 KiB record arriving in small WebSocket messages is copied once).
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private reader: ReadableStreamDefaultReader<Uint8Array>;
  constructor(readable: ReadableStream<Uint8Array>) {
    this.reader = readable.getReader();
  }
  /** Returns exactly n bytes, or null at a clean end of stream before any of them arrived. */
  async readExact(n: number): Promise<Uint8Array | null> {
    while (this.buffered < n) {
      const { value, done } = await this.reader.read();
      if (done) {
        if (this.buffered === 0) return null;
        throw new ControlNoiseError(`noise: stream ended mid-message (${this.buffered}/${n} bytes)`);
      }
      if (value && value.length) {
        this.chunks.push(value.slice()); // ours: the source may reuse its buffer
        this.buffered += value.length;
      }
    }
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - at);
      out.set(c.subarray(0, k), at);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
  cancel(reason?: unknown): Promise<void> {
    return this.reader.cancel(reason).catch(() => {});
  }
}

export interface ControlNoiseConn extends ByteDuplex {
  /** The early payload JSON object if the server sent one, else null. */
  earlyPayload: Record<string, unknown> | null;
  keys: TransportKeys;
  stats: ControlNoiseStats;
}

export interface ClientHandshakeOptions extends InitiateOptions {
  /**
   * When true (default) the initiation is written to the transport; the WebSocket path sends it
   * in the URL instead and passes a prepared `init`.
   */
  sendInitiation?: boolean;
  init?: HandshakeInit;
  /** The server's handshake response was accepted (what follows is the early-payload peek). */
  onResponse?: () => void;
}

/**
 * Runs the client side of the handshake over `transport` and returns the decrypted byte stream,
 * after checking for (and removing) an early payload.
 */
export async function clientHandshake(transport: ByteDuplex, o: ClientHandshakeOptions): Promise<ControlNoiseConn> {
  const init = o.init ?? (await initiateHandshake(o));
  const writer = transport.writable.getWriter();
  const reader = new ByteReader(transport.readable);
  const fail = async (err: unknown): Promise<never> => {
    await reader.cancel(err);
    await writer.abort(err).catch(() => {});
    throw err;
  };
  try {
    if (o.sendInitiation !== false) await writer.write(init.message);
    const hdr = await reader.readExact(HEADER_LEN);
    if (!hdr) throw new ControlNoiseError('noise: connection closed before the handshake response');
    const len = (hdr[1] << 8) | hdr[2];
    if (hdr[0] !== MSG_RESPONSE && hdr[0] !== MSG_ERROR) {
      throw new ControlNoiseError(`noise: unexpected message type ${hdr[0]} during handshake`);
    }
    if (hdr[0] === MSG_RESPONSE && len !== 48) throw new ControlNoiseError(`noise: bad response length ${len}`);
    const body = await reader.readExact(len);
    if (!body && len > 0) throw new ControlNoiseError('noise: connection closed during the handshake response');
    const keys = await init.finish(concatBytes(hdr, body ?? new Uint8Array(0)));
    o.onResponse?.();
    return await wrapTransport(reader, writer, keys);
  } catch (err) {
    return fail(err);
  }
}

async function wrapTransport(
  reader: ByteReader,
  writer: WritableStreamDefaultWriter<Uint8Array>,
  keys: TransportKeys,
): Promise<ControlNoiseConn> {
  const stats: ControlNoiseStats = { framesIn: 0, framesOut: 0, badFrames: 0 };
  const txc = new RecordCipher(keys.tx);
  const rxc = new RecordCipher(keys.rx);
  const readRecord = async (): Promise<Uint8Array | null> => {
    const hdr = await reader.readExact(HEADER_LEN);
    if (!hdr) return null;
    const len = (hdr[1] << 8) | hdr[2];
    if (hdr[0] !== MSG_RECORD) {
      stats.badFrames++;
      if (hdr[0] === MSG_ERROR) {
        const t = await reader.readExact(len).catch(() => null);
        throw new ControlNoiseError(`control server error: ${t ? utf8.decode(t) : ''}`);
      }
      throw new ControlNoiseError(`noise: unexpected message type ${hdr[0]} in transport phase`);
    }
    if (len > MAX_CIPHERTEXT_SIZE || len < TAG_LENGTH) {
      stats.badFrames++;
      throw new ControlNoiseError(`noise: record length ${len} out of range`);
    }
    const c = await reader.readExact(len);
    if (!c) throw new ControlNoiseError('noise: stream ended mid-record');
    const p = rxc.open(c);
    if (!p) {
      stats.badFrames++;
      throw new ControlNoiseError('noise: record failed authentication');
    }
    stats.framesIn++;
    return p;
  };

  // Early payload peek: the first 5 plaintext bytes are either the magic or HTTP/2 bytes.
  let pending: Uint8Array[] = [];
  let plainBuf: Uint8Array = new Uint8Array(0);
  const need = async (n: number): Promise<boolean> => {
    while (plainBuf.length < n) {
      const r = await readRecord();
      if (!r) return false;
      plainBuf = concatBytes(plainBuf, r);
    }
    return true;
  };
  let earlyPayload: Record<string, unknown> | null = null;
  if (await need(EARLY_PAYLOAD_MAGIC.length)) {
    if (equalBytes(plainBuf.subarray(0, 5), EARLY_PAYLOAD_MAGIC)) {
      if (!(await need(9))) throw new ControlNoiseError('noise: truncated early payload');
      const jl = new DataView(plainBuf.buffer, plainBuf.byteOffset + 5, 4).getUint32(0, false);
      if (jl > MAX_EARLY_PAYLOAD) throw new ControlNoiseError(`noise: early payload too large (${jl})`);
      if (!(await need(9 + jl))) throw new ControlNoiseError('noise: truncated early payload');
      try {
        const v = JSON.parse(utf8.decode(plainBuf.subarray(9, 9 + jl)));
        earlyPayload = v && typeof v === 'object' ? v : {};
      } catch {
        throw new ControlNoiseError('noise: early payload is not JSON');
      }
      plainBuf = plainBuf.subarray(9 + jl);
    }
  }
  if (plainBuf.length) pending.push(plainBuf);

  const readable = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      if (pending.length) {
        for (const p of pending) ctrl.enqueue(p);
        pending = [];
        return;
      }
      try {
        const r = await readRecord();
        if (!r) ctrl.close();
        else if (r.length) ctrl.enqueue(r);
      } catch (err) {
        ctrl.error(err);
        await writer.abort(err).catch(() => {});
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      for (let off = 0; off < chunk.length; off += MAX_PLAINTEXT_SIZE) {
        await writer.write(txc.seal(chunk.subarray(off, Math.min(chunk.length, off + MAX_PLAINTEXT_SIZE))));
        stats.framesOut++;
      }
    },
    close() {
      return writer.close().catch(() => {});
    },
    abort(reason) {
      return writer.abort(reason).catch(() => {});
    },
  });
  return { readable, writable, earlyPayload, keys, stats };
}
