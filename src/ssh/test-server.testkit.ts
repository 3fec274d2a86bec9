// Test-only: a minimal SSH server over in-memory streams, so unit tests can drive the client on a
// VirtualClock past key exchange and user auth and then script the server side message by
// message (unknown message numbers, unanswered keepalives, signals). It runs the server half of
// curve25519-sha256 / mlkem768x25519-sha256 with an Ed25519 host key and chacha20-poly1305 (or one
// given cipher, with one MAC for the non-AEAD ones), strict KEX, and accepts any "none" login. Interop is proven against real servers in e2e/ssh-*.test.ts.
import { x25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import type { RandomSource } from '../crypto/random.js';
import {
  decodeKexInit,
  deriveKey,
  encodeKexInit,
  exchangeHash,
  MLKEM768X25519,
  STRICT_KEX_SERVER,
  type KexInit,
} from './kex.js';
import { generateEd25519Key, publicKeyBlob, signEd25519 } from './keys.js';
import { MSG } from './messages.js';
import { chacha20Poly1305 } from './transport/chacha20-poly1305.js';
import { aes128Ctr, aes256Ctr, MACS } from './transport/aes-ctr.js';
import type { CipherSpec } from './transport/cipher.js';
import { PacketDecoder, PacketEncoder } from './transport/packet.js';
import type { ByteDuplex } from '../platform/duplex.js';
import { Reader, Writer } from './wire.js';

export interface TestServerPeer {
  /** Key exchange method the client chose. */
  kex: string;
  /** Next plaintext message from the client after login (rejects when the client is gone). */
  recv(): Promise<Uint8Array>;
  /** Sequence number of the last message recv() returned (for SSH_MSG_UNIMPLEMENTED). */
  lastRecvSeq(): number;
  /** Send a message; returns the sequence number it went out with. */
  send(payload: Uint8Array): number;
  /** Seal a hand-made plaintext packet (length | padlen | payload | padding) under the keys. */
  sendSealed(packet: Uint8Array): void;
  /** Write raw bytes to the client (no framing, no keys). */
  writeRaw(bytes: Uint8Array): void;
}

export interface TestServerOptions {
  random: RandomSource;
  kex?: string[];
  /** The one cipher the server offers (default chacha20-poly1305@openssh.com). */
  cipher?: string;
  /** The one MAC the server offers (default hmac-sha2-256-etm@openssh.com; used with aes-ctr). */
  mac?: string;
  /** Runs after the client logged in. */
  script: (peer: TestServerPeer) => Promise<void>;
  /** Replaces "accept the first request": answers the user-auth requests itself (after SERVICE_ACCEPT). */
  login?: (peer: TestServerPeer) => Promise<void>;
}

const SERVER_VERSION = 'SSH-2.0-tailtab_test_server';

export function testServer(o: TestServerOptions): ByteDuplex {
  const toClient = new TransformStream<Uint8Array, Uint8Array>();
  const fromClient = new TransformStream<Uint8Array, Uint8Array>();
  const w = toClient.writable.getWriter();
  const reader = fromClient.readable.getReader();
  const dec = new PacketDecoder();
  const enc = new PacketEncoder(o.random);
  const write = (b: Uint8Array) => void w.write(b).catch(() => {});
  const send = (payload: Uint8Array) => {
    const seq = enc.seq;
    write(enc.encode(payload));
    return seq;
  };
  const more = async () => {
    const { value, done } = await reader.read();
    if (done) throw new Error('client went away');
    dec.push(value);
  };
  const recv = async (): Promise<Uint8Array> => {
    for (;;) {
      const p = dec.next();
      if (p) return p;
      await more();
    }
  };

  void (async () => {
    write(new TextEncoder().encode(SERVER_VERSION + '\r\n'));
    let clientVersion: string | null;
    while ((clientVersion = dec.takeLine(255)) === null) await more();
    const hostKey = generateEd25519Key(o.random);
    const hostBlob = publicKeyBlob(hostKey);
    const ours: KexInit = {
      cookie: o.random(16),
      kex: [...(o.kex ?? [MLKEM768X25519, 'curve25519-sha256']), STRICT_KEX_SERVER],
      hostKey: ['ssh-ed25519'],
      cipherCtoS: [o.cipher ?? 'chacha20-poly1305@openssh.com'],
      cipherStoC: [o.cipher ?? 'chacha20-poly1305@openssh.com'],
      macCtoS: [o.mac ?? 'hmac-sha2-256-etm@openssh.com'],
      macStoC: [o.mac ?? 'hmac-sha2-256-etm@openssh.com'],
      compCtoS: ['none'],
      compStoC: ['none'],
      langCtoS: [],
      langStoC: [],
      firstKexFollows: false,
    };
    const serverKexInit = encodeKexInit(ours);
    send(serverKexInit);
    const clientKexInit = await recv();
    const theirs = decodeKexInit(clientKexInit);
    const kex = theirs.kex.find((k) => ours.kex.includes(k))!;
    const init = new Reader(await recv());
    init.byte();
    const qc = init.string();
    const xPriv = o.random(32);
    const xPub = x25519.getPublicKey(xPriv);
    let qs: Uint8Array;
    let k: Uint8Array;
    if (kex === MLKEM768X25519) {
      const { cipherText, sharedSecret } = ml_kem768.encapsulate(qc.subarray(0, 1184), o.random(32));
      qs = new Uint8Array([...cipherText, ...xPub]);
      const both = new Uint8Array([...sharedSecret, ...x25519.getSharedSecret(xPriv, qc.subarray(1184))]);
      k = new Writer().string(sha256(both)).finish();
    } else {
      qs = xPub;
      k = new Writer().mpintBytes(x25519.getSharedSecret(xPriv, qc)).finish();
    }
    const h = exchangeHash({
      clientVersion,
      serverVersion: SERVER_VERSION,
      clientKexInit,
      serverKexInit,
      hostKeyBlob: hostBlob,
      clientPublic: qc,
      serverPublic: qs,
      sharedMpint: k,
    });
    send(new Writer().byte(MSG.KEX_ECDH_REPLY).string(hostBlob).string(qs).string(signEd25519(hostKey, h)).finish());
    send(new Uint8Array([MSG.NEWKEYS]));
    const specs: Record<string, CipherSpec> = {
      [chacha20Poly1305.name]: chacha20Poly1305,
      [aes128Ctr.name]: aes128Ctr,
      [aes256Ctr.name]: aes256Ctr,
    };
    const c = specs[o.cipher ?? chacha20Poly1305.name];
    const mac = MACS[o.mac ?? 'hmac-sha2-256-etm@openssh.com'];
    const build = (iv: string, key: string, integrity: string) =>
      c.create(
        deriveKey(k, h, key, h, c.keyLength),
        deriveKey(k, h, iv, h, Math.max(c.ivLength, 1)),
        c.aead ? undefined : { spec: mac, key: deriveKey(k, h, integrity, h, mac.keyLength) },
      );
    enc.cipher = build('B', 'D', 'F');
    enc.seq = 0; // strict KEX
    const newKeys = await recv();
    if (newKeys[0] !== MSG.NEWKEYS) throw new Error(`expected NEWKEYS, got ${newKeys[0]}`);
    dec.cipher = build('A', 'C', 'E');
    dec.seq = 0;
    // ssh-userauth service, then accept the first request whatever the method.
    await recv();
    send(new Writer().byte(MSG.SERVICE_ACCEPT).string('ssh-userauth').finish());
    const sendSealed = (packet: Uint8Array) => {
      write(enc.cipher.seal(enc.seq, packet));
      enc.seq = (enc.seq + 1) >>> 0;
    };
    const peer: TestServerPeer = {
      kex,
      recv,
      send,
      sendSealed,
      writeRaw: write,
      lastRecvSeq: () => (dec.seq - 1) >>> 0,
    };
    if (o.login) await o.login(peer);
    else {
      await recv();
      send(new Uint8Array([MSG.USERAUTH_SUCCESS]));
    }
    await o.script(peer);
  })().catch(() => void w.close().catch(() => {}));

  return { readable: toClient.readable, writable: fromClient.writable };
}
