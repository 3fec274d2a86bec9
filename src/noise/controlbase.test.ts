import { describe, expect, it } from 'vitest';
import * as nodeCrypto from 'node:crypto';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import {
  clientHandshake,
  ControlNoiseError,
  initiateHandshake,
  INITIATION_LEN,
  MAX_PLAINTEXT_SIZE,
  RecordCipher,
  respondHandshake,
} from './controlbase.js';
import type { ByteDuplex } from '../platform/duplex.js';
import { seededRandom } from '../crypto/random.js';
import { publicKeyOf } from '../crypto/x25519.js';
import { importWebCryptoX25519Key, type StaticX25519Key } from '../crypto/static-key.js';
import { concatBytes, toHex, utf8 } from '../crypto/bytes.js';

// Independent recomputation of the IK initiation with node:crypto (BLAKE2s, HMAC, X25519, ChaCha).
function b2s(...parts: Uint8Array[]): Buffer {
  const h = nodeCrypto.createHash('blake2s256');
  for (const p of parts) h.update(p);
  return h.digest();
}
function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = nodeCrypto.createHmac('blake2s256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}
function hkdf2(ck: Uint8Array, ikm: Uint8Array): [Buffer, Buffer] {
  const prk = hmac(ck, ikm);
  const a = hmac(prk, Uint8Array.of(1));
  const b = hmac(prk, a, Uint8Array.of(2));
  return [a, b];
}
function x25519(priv: Uint8Array, pub: Uint8Array): Buffer {
  const pk = nodeCrypto.createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), priv]),
    format: 'der',
    type: 'pkcs8',
  });
  const pubk = nodeCrypto.createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), pub]),
    format: 'der',
    type: 'spki',
  });
  return nodeCrypto.diffieHellman({ privateKey: pk, publicKey: pubk });
}
function chachaSeal(key: Uint8Array, counter: bigint, pt: Uint8Array, ad: Uint8Array): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(counter, 4);
  const c = nodeCrypto.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(ad, { plaintextLength: pt.length });
  return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
}

function pipePair(): [ByteDuplex, ByteDuplex] {
  const a = new TransformStream<Uint8Array, Uint8Array>();
  const b = new TransformStream<Uint8Array, Uint8Array>();
  return [
    { readable: a.readable, writable: b.writable },
    { readable: b.readable, writable: a.writable },
  ];
}

const machinePriv = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const controlPriv = Uint8Array.from({ length: 32 }, (_, i) => 200 - i);
machinePriv[0] &= 248;
machinePriv[31] = (machinePriv[31] & 127) | 64;
controlPriv[0] &= 248;
controlPriv[31] = (controlPriv[31] & 127) | 64;
const controlPub = publicKeyOf(controlPriv);

// Every test with the machine key as raw bytes (noble) and as a non-extractable WebCrypto key.
const MACHINE_KEYS: [string, () => Promise<Uint8Array | StaticX25519Key>][] = [
  ['raw bytes (noble)', async () => machinePriv],
  ['a non-extractable WebCrypto key', () => importWebCryptoX25519Key(machinePriv)],
];

describe.each(MACHINE_KEYS)('control Noise IK handshake, machine key as %s', (_name, machineKey) => {
  it('initiation matches an independent node:crypto recomputation (fixed keys)', async () => {
    const ephRandom = seededRandom(7);
    const init = await initiateHandshake({
      protocolVersion: 131,
      machineKey: await machineKey(),
      controlPublicKey: controlPub,
      random: seededRandom(7),
    });
    // Recompute with the same ephemeral.
    const ePriv = ephRandom(32);
    ePriv[0] &= 248;
    ePriv[31] = (ePriv[31] & 127) | 64;
    const ePub = publicKeyOf(ePriv);
    let h = b2s(utf8.encode('Noise_IK_25519_ChaChaPoly_BLAKE2s'));
    let ck: Buffer = h;
    h = b2s(h, utf8.encode('Tailscale Control Protocol v131'));
    h = b2s(h, controlPub);
    h = b2s(h, ePub);
    let k: Buffer;
    [ck, k] = hkdf2(ck, x25519(ePriv, controlPub));
    const encS = chachaSeal(k, 0n, publicKeyOf(machinePriv), h);
    h = b2s(h, encS);
    [ck, k] = hkdf2(ck, x25519(machinePriv, controlPub));
    const tag = chachaSeal(k, 0n, new Uint8Array(0), h);
    const expected = concatBytes(Uint8Array.of(0, 131, 1, 0, 96), ePub, encS, tag);
    expect(init.message.length).toBe(INITIATION_LEN);
    expect(toHex(init.message)).toBe(toHex(expected));
  });

  it('completes against our responder, and records flow both ways with BE nonces', async () => {
    const init = await initiateHandshake({
      protocolVersion: 131,
      machineKey: await machineKey(),
      controlPublicKey: controlPub,
      random: seededRandom(1),
    });
    const r = respondHandshake({ initiation: init.message, controlPrivateKey: controlPriv, random: seededRandom(2) });
    expect(r.response.length).toBe(51);
    expect(toHex(r.machinePublicKey)).toBe(toHex(publicKeyOf(machinePriv)));
    const keys = await init.finish(r.response);
    expect(toHex(keys.tx)).toBe(toHex(r.keys.rx));
    expect(toHex(keys.rx)).toBe(toHex(r.keys.tx));
    // Record 1 (counter 1) equals node's ChaCha with the big-endian nonce.
    const c = new RecordCipher(keys.tx);
    c.seal(utf8.encode('a'));
    const f = c.seal(utf8.encode('hello'));
    expect(toHex(f.subarray(3))).toBe(toHex(chachaSeal(keys.tx, 1n, utf8.encode('hello'), new Uint8Array(0))));
    expect([...f.subarray(0, 3)]).toEqual([4, 0, 21]);
  });

  it('rejects a tampered response, a wrong control key and a server error message', async () => {
    const key = await machineKey();
    const mk = () =>
      initiateHandshake({
        protocolVersion: 131,
        machineKey: key,
        controlPublicKey: controlPub,
        random: seededRandom(3),
      });
    const init = await mk();
    const r = respondHandshake({ initiation: init.message, controlPrivateKey: controlPriv, random: seededRandom(4) });
    const bad = r.response.slice();
    bad[40] ^= 1;
    await expect(init.finish(bad)).rejects.toThrow(ControlNoiseError);
    const wrongPriv = controlPriv.slice();
    wrongPriv[5] ^= 1;
    const init2 = await mk();
    expect(() =>
      respondHandshake({ initiation: init2.message, controlPrivateKey: wrongPriv, random: seededRandom(4) }),
    ).toThrow(ControlNoiseError);
    const init3 = await mk();
    const err = concatBytes(Uint8Array.of(3, 0, 11), utf8.encode('bad version'));
    await expect(init3.finish(err)).rejects.toThrow(/bad version/);
    // A low-order control key is refused before anything is sent.
    await expect(
      initiateHandshake({
        protocolVersion: 131,
        machineKey: key,
        controlPublicKey: new Uint8Array(32),
        random: seededRandom(3),
      }),
    ).rejects.toThrow(ControlNoiseError);
  });

  it('runs over a byte stream: split chunks, early payload stripped, large writes framed <= 4096', async () => {
    const [client, server] = pipePair();
    const sw = server.writable.getWriter();
    const sr = server.readable.getReader();
    const serverSide = (async () => {
      let buf: Uint8Array = new Uint8Array(0);
      const readN = async (n: number) => {
        while (buf.length < n) {
          const { value } = await sr.read();
          buf = concatBytes(buf, value!);
        }
        const o = buf.slice(0, n);
        buf = buf.slice(n);
        return o;
      };
      const initMsg = await readN(101);
      const r = respondHandshake({ initiation: initMsg, controlPrivateKey: controlPriv, random: seededRandom(9) });
      const tx = new RecordCipher(r.keys.tx);
      const rx = new RecordCipher(r.keys.rx);
      const early = utf8.encode('{"nodeKeyChallenge":"chalpub:00"}');
      const hdr = new Uint8Array(9);
      hdr.set([0xff, 0xff, 0xff, 0x54, 0x53]);
      new DataView(hdr.buffer).setUint32(5, early.length, false);
      const all = concatBytes(
        r.response,
        tx.seal(concatBytes(hdr.subarray(0, 3))),
        tx.seal(concatBytes(hdr.subarray(3), early, utf8.encode('PRI'))),
        tx.seal(utf8.encode(' *')),
      );
      // deliver one byte at a time
      for (const b of all) await sw.write(Uint8Array.of(b));
      // read back client's big write
      let got = 0;
      let frames = 0;
      while (got < 10000) {
        const h = await readN(3);
        const len = (h[1] << 8) | h[2];
        expect(3 + len).toBeLessThanOrEqual(4096);
        const p = rx.open(await readN(len))!;
        got += p.length;
        frames++;
      }
      return frames;
    })();
    const conn = await clientHandshake(client, {
      protocolVersion: 131,
      machineKey: await machineKey(),
      controlPublicKey: controlPub,
      random: seededRandom(5),
    });
    expect(conn.earlyPayload).toEqual({ nodeKeyChallenge: 'chalpub:00' });
    const rd = conn.readable.getReader();
    let text = '';
    while (text.length < 5) text += utf8.decode((await rd.read()).value!);
    expect(text).toBe('PRI *');
    const w = conn.writable.getWriter();
    await w.write(new Uint8Array(10000));
    expect(await serverSide).toBe(Math.ceil(10000 / MAX_PLAINTEXT_SIZE));
  });

  it('garbage instead of a response never hangs or throws anything but ControlNoiseError', async () => {
    const key = await machineKey();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 80 }), async (junk) => {
        const [client, server] = pipePair();
        const sw = server.writable.getWriter();
        server.readable
          .getReader()
          .read()
          .catch(() => {});
        const p = clientHandshake(client, {
          protocolVersion: 131,
          machineKey: key,
          controlPublicKey: controlPub,
          random: seededRandom(5),
          sendInitiation: false,
        });
        const settled = p.then(
          () => null,
          (e: unknown) => e,
        );
        await sw.write(junk).catch(() => {});
        await sw.close().catch(() => {});
        expect(await settled).toBeInstanceOf(ControlNoiseError);
      }),
      fuzz(100),
    );
  });
});
