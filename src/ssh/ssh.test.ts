import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { seededRandom } from '../crypto/random.js';
import { VirtualClock } from '../platform/clock.js';
import { Reader, SshDecodeError, Writer } from './wire.js';
import { PacketDecoder, PacketEncoder, SshProtocolError } from './transport/packet.js';
import { chacha20Poly1305 } from './transport/chacha20-poly1305.js';
import { aes128Gcm, aes256Gcm } from './transport/aes-gcm.js';
import { clientKexInit, decodeEcdhReply, decodeKexInit, DEFAULT_OFFER, encodeKexInit, negotiate } from './kex.js';
import { fingerprint, parseHostKey, verifySignature } from './hostkey.js';
import { authorizedKeysLine, generateEd25519Key, publicKeyBlob, signEd25519 } from './keys.js';
import { knownHostsVerifier, MemoryKnownHosts, tailnetAuthenticatedVerifier } from './known-hosts.js';
import { SshClient } from './client.js';
import { Connection } from './connection.js';
import { SshError, type HostKeyInfo } from './transport/transport.js';
import type { ByteDuplex } from '../platform/duplex.js';
import { MSG } from './messages.js';

const rnd = seededRandom(7);
const isCleanError = (e: unknown) => e instanceof SshDecodeError || e instanceof SshProtocolError;

describe('wire', () => {
  it('round-trips uint32, string, name-list, mpint', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xffffffff }),
        fc.uint8Array(),
        fc.array(fc.stringMatching(/^[a-z0-9@.-]{1,20}$/)),
        fc.bigInt({ min: 0n, max: 1n << 300n }),
        (u, s, names, big) => {
          let hex = big.toString(16);
          if (hex.length % 2) hex = '0' + hex;
          const mag = big === 0n ? new Uint8Array(0) : Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
          const b = new Writer(4).uint32(u).string(s).nameList(names).mpintBytes(mag).finish();
          const r = new Reader(b);
          expect(r.uint32()).toBe(u);
          expect(r.string()).toEqual(s);
          expect(r.nameList()).toEqual(names);
          expect(r.mpint()).toBe(big);
          r.end('test');
        },
      ),
      fuzz(100),
    );
  });
  it('refuses truncated and negative input with SshDecodeError', () => {
    expect(() => new Reader(new Uint8Array([0, 0, 0, 5, 1])).string()).toThrow(SshDecodeError);
    expect(() => new Reader(new Uint8Array([0, 0, 0, 1, 0x80])).mpint()).toThrow(SshDecodeError);
  });
});

describe('binary packets and ciphers', () => {
  const specs = [chacha20Poly1305, aes128Gcm, aes256Gcm];
  for (const spec of specs) {
    it(`${spec.name}: round trip with arbitrary chunking; a flipped bit is refused`, () => {
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { minLength: 1, maxLength: 5 }),
          fc.integer({ min: 1, max: 97 }),
          (payloads, chunk) => {
            const key = rnd(spec.keyLength);
            const iv = rnd(Math.max(spec.ivLength, 1));
            const enc = new PacketEncoder(rnd);
            enc.cipher = spec.create(key, iv);
            const dec = new PacketDecoder();
            dec.cipher = spec.create(key, iv);
            const wire = payloads.map((p) => enc.encode(p));
            const all = new Uint8Array(wire.reduce((n, w) => n + w.length, 0));
            let o = 0;
            for (const w of wire) {
              all.set(w, o);
              o += w.length;
            }
            const got: Uint8Array[] = [];
            for (let i = 0; i < all.length; i += chunk) {
              dec.push(all.slice(i, i + chunk));
              let p;
              while ((p = dec.next())) got.push(p.slice());
            }
            expect(got).toEqual(payloads);
          },
        ),
        fuzz(30),
      );
      const key = rnd(spec.keyLength);
      const iv = rnd(12);
      const enc = new PacketEncoder(rnd);
      enc.cipher = spec.create(key, iv);
      const dec = new PacketDecoder();
      dec.cipher = spec.create(key, iv);
      const w = enc.encode(new Uint8Array([94, 1, 2, 3]));
      w[w.length - 20] ^= 1;
      dec.push(w);
      expect(() => dec.next()).toThrow(/authentication failed/);
    });
  }

  it('fuzz: random and mutated wire bytes give payloads, "need more", or SshProtocolError only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, encrypted) => {
        const dec = new PacketDecoder();
        if (encrypted) dec.cipher = chacha20Poly1305.create(new Uint8Array(64), new Uint8Array(1));
        dec.push(bytes);
        try {
          while (dec.next());
        } catch (e) {
          if (!(e instanceof SshProtocolError)) throw e;
        }
      }),
      fuzz(2000),
    );
    // Mutations of a valid plaintext packet stream.
    const enc = new PacketEncoder(rnd);
    const valid = enc.encode(encodeKexInit(clientKexInit(rnd, DEFAULT_OFFER, true)));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        (muts) => {
          const b = valid.slice();
          for (const [i, v] of muts) b[i] = v;
          const dec = new PacketDecoder();
          dec.push(b);
          try {
            const p = dec.next();
            if (p) decodeKexInit(p);
          } catch (e) {
            if (!isCleanError(e)) throw e;
          }
        },
      ),
      fuzz(2000),
    );
  });
});

describe('message decoders under fuzzing', () => {
  const kexinit = encodeKexInit(clientKexInit(rnd, DEFAULT_OFFER, true));
  const key = generateEd25519Key(rnd);
  const samples = [
    kexinit,
    new Writer()
      .byte(MSG.KEX_ECDH_REPLY)
      .string(publicKeyBlob(key))
      .string(rnd(32))
      .string(signEd25519(key, new Uint8Array(3)))
      .finish(),
    publicKeyBlob(key),
  ];
  it('KEXINIT, ECDH reply, host keys and signatures: only SshDecodeError/SshProtocolError', () => {
    const decoders = [
      (b: Uint8Array) => decodeKexInit(b),
      (b: Uint8Array) => decodeEcdhReply(b),
      (b: Uint8Array) => parseHostKey(b),
      (b: Uint8Array) => verifySignature(parseHostKey(publicKeyBlob(key)), 'ssh-ed25519', b, new Uint8Array(3)),
    ];
    const mutated = fc
      .tuple(
        fc.constantFrom(...samples),
        fc.array(fc.tuple(fc.nat(400), fc.integer({ min: 0, max: 255 })), { maxLength: 5 }),
        fc.nat(400),
      )
      .map(([s, muts, cut]) => {
        const b = s.slice(0, Math.max(1, s.length - (cut % 8)));
        for (const [i, v] of muts) b[i % b.length] = v;
        return b;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated), (b) => {
        for (const d of decoders) {
          try {
            d(b);
          } catch (e) {
            if (!isCleanError(e)) throw e;
          }
        }
      }),
      fuzz(3000),
    );
  });

  it('connection messages: only SshDecodeError/SshProtocolError', () => {
    const sent: Uint8Array[] = [];
    const fakeTransport = { send: async (p: Uint8Array) => void sent.push(p) } as never;
    fc.assert(
      fc.property(fc.integer({ min: 80, max: 100 }), fc.uint8Array({ maxLength: 64 }), (type, body) => {
        const conn = new Connection(fakeTransport);
        const msg = new Uint8Array(body.length + 1);
        msg[0] = type;
        msg.set(body, 1);
        try {
          conn.handle(msg);
        } catch (e) {
          if (!isCleanError(e)) throw e;
        }
      }),
      fuzz(3000),
    );
  });

  it('negotiation names the missing algorithm', () => {
    const ours = clientKexInit(rnd, DEFAULT_OFFER, true);
    const theirs = { ...ours, cipherStoC: ['twofish-ctr'] };
    expect(() => negotiate(ours, theirs)).toThrow(/no common server-to-client cipher.*twofish-ctr/);
  });

  it('legacy-only servers are refused with what to change on the device', () => {
    const ours = clientKexInit(rnd, DEFAULT_OFFER, true);
    const ctr = { ...ours, cipherCtoS: ['aes128-ctr'], cipherStoC: ['aes128-ctr'] };
    expect(() => negotiate(ours, { ...ctr, macStoC: ['hmac-sha1', 'hmac-md5'] })).toThrow(
      /server-to-client MAC.*SHA-1.*enable hmac-sha2-256.*MACs in sshd_config/,
    );
    expect(() => negotiate(ours, { ...ours, hostKey: ['ssh-rsa'] })).toThrow(
      /only signs with ssh-rsa \(RSA with SHA-1\).*rsa-sha2-256/,
    );
    expect(() =>
      negotiate(ours, { ...ours, kex: ['diffie-hellman-group1-sha1', 'diffie-hellman-group14-sha1'] }),
    ).toThrow(/SHA-1 key exchange.*KexAlgorithms/);
    expect(() => negotiate(ours, { ...ours, cipherCtoS: ['aes128-cbc', '3des-cbc'] })).toThrow(/CBC.*aes128-ctr/);
    // Without the opt-in the words also point at it; with it, SHA-1 is offered only after the rest.
    expect(() => negotiate(ours, { ...ours, hostKey: ['ssh-rsa'] })).toThrow(/connect to it as a legacy device/);
    const legacy = clientKexInit(rnd, { ...DEFAULT_OFFER, legacy: true }, true);
    expect(legacy.hostKey.at(-1)).toBe('ssh-rsa');
    expect(legacy.macCtoS.slice(-2)).toEqual(['hmac-sha1-etm@openssh.com', 'hmac-sha1']);
    expect(legacy.kex.filter((k) => k.includes('sha1'))).toEqual([
      'diffie-hellman-group14-sha1',
      'diffie-hellman-group-exchange-sha1',
    ]);
    expect(legacy.kex.indexOf('diffie-hellman-group14-sha1')).toBeGreaterThan(
      legacy.kex.indexOf('diffie-hellman-group14-sha256'),
    );
    expect(negotiate(legacy, { ...ours, hostKey: ['ssh-rsa'] }).hostKey).toBe('ssh-rsa');
    expect(
      ours.kex.some((k) => k.includes('sha1')) ||
        ours.hostKey.includes('ssh-rsa') ||
        ours.macCtoS.includes('hmac-sha1'),
    ).toBe(false);
    // With an AEAD cipher the MAC lists do not matter (no MAC is chosen).
    const aead = negotiate(ours, { ...ours, macCtoS: ['hmac-sha1'], macStoC: ['hmac-sha1'] });
    expect(aead.macCtoS).toBeUndefined();
    // A CTR cipher picks the first common MAC, EtM first.
    expect(negotiate(ours, ctr).macStoC).toBe('hmac-sha2-256-etm@openssh.com');
    expect(negotiate(ours, { ...ctr, macStoC: ['hmac-sha1', 'hmac-sha2-512'] }).macStoC).toBe('hmac-sha2-512');
  });
});

describe('keys and known hosts', () => {
  it('authorized_keys line and fingerprint', () => {
    const k = generateEd25519Key(seededRandom(1));
    const line = authorizedKeysLine(k, 'me@tab');
    expect(line).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]+=* me@tab$/);
    expect(fingerprint(publicKeyBlob(k))).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
  it('records on first use, accepts the same key, refuses a changed one naming both fingerprints', async () => {
    const store = new MemoryKnownHosts();
    const events: string[] = [];
    const v = knownHostsVerifier(store, 'h:22', (e) => events.push(e.kind));
    const info = (blob: Uint8Array): HostKeyInfo => ({
      algorithm: 'ssh-ed25519',
      keyType: 'ssh-ed25519',
      blob,
      fingerprint: fingerprint(blob),
    });
    const a = publicKeyBlob(generateEd25519Key(seededRandom(2)));
    const b = publicKeyBlob(generateEd25519Key(seededRandom(3)));
    await v(info(a));
    await v(info(a));
    expect(events).toEqual(['first-use', 'known']);
    await expect(v(info(b))).rejects.toThrow(`Recorded: ${fingerprint(a)}; presented now: ${fingerprint(b)}`);
    const notes: string[] = [];
    await tailnetAuthenticatedVerifier('ts', (e) => notes.push(e.kind === 'tailnet-authenticated' ? e.note : '')).call(
      null,
      info(b),
    );
    expect(notes[0]).toMatch(/not checked.*tailnet/);
  });
});

/** A scripted fake server over in-memory streams. */
function fakeServer(script: (send: (b: Uint8Array | string) => void, end: () => void) => void): ByteDuplex {
  const toClient = new TransformStream<Uint8Array, Uint8Array>();
  const fromClient = new TransformStream<Uint8Array, Uint8Array>();
  const w = toClient.writable.getWriter();
  void fromClient.readable.pipeTo(new WritableStream()).catch(() => {});
  script(
    (b) => void w.write(typeof b === 'string' ? new TextEncoder().encode(b) : b).catch(() => {}),
    () => void w.close().catch(() => {}),
  );
  return { readable: toClient.readable, writable: fromClient.writable };
}

describe('a server that breaks the protocol ends the session with a clear error', () => {
  const connect = (d: ByteDuplex) =>
    SshClient.connect(d, {
      username: 'u',
      auth: [{ type: 'none' }],
      hostKeyVerifier: () => {},
      random: seededRandom(5),
      clock: new VirtualClock(),
    });
  const plain = (payload: Uint8Array) => new PacketEncoder(seededRandom(9)).encode(payload);
  const serverKexInit = () =>
    encodeKexInit({
      ...clientKexInit(seededRandom(3), DEFAULT_OFFER, false),
      kex: ['curve25519-sha256', 'kex-strict-s-v00@openssh.com'],
    });

  const cases: [string, (send: (b: Uint8Array | string) => void, end: () => void) => void, RegExp][] = [
    [
      'not an SSH server',
      (s, e) => (s('HTTP/1.1 400 Bad Request\r\n\r\n'), e()),
      /server closed the connection|no SSH identification/,
    ],
    ['SSH-1 only', (s) => s('SSH-1.5-old\r\n'), /unsupported protocol version/],
    ['closes after the version', (s, e) => (s('SSH-2.0-fake\r\n'), e()), /server closed the connection/],
    ['absurd packet length', (s) => s('SSH-2.0-fake\r\n\x7f\xff\xff\xff\x05'), /bad packet length/],
    [
      'DISCONNECT',
      (s) => (
        s('SSH-2.0-fake\r\n'),
        s(plain(new Writer().byte(1).uint32(2).string('go away\x1b[31m').string('').finish()))
      ),
      /server disconnected: go away\[31m \(code 2\)/,
    ],
    [
      'no common cipher',
      (s) => (
        s('SSH-2.0-fake\r\n'),
        s(plain(encodeKexInit({ ...clientKexInit(seededRandom(3), DEFAULT_OFFER, false), cipherStoC: ['3des-cbc'] })))
      ),
      /no common server-to-client cipher/,
    ],
    [
      'strict KEX violated by an IGNORE during the first exchange',
      (s) => (s('SSH-2.0-fake\r\n'), s(plain(serverKexInit())), s(plain(new Uint8Array([2, 0, 0, 0, 0])))),
      /strict key exchange violated/,
    ],
    [
      'garbage ECDH reply',
      (s) => (s('SSH-2.0-fake\r\n'), s(plain(serverKexInit())), s(plain(new Uint8Array([31, 0, 0, 0, 200])))),
      /SSH protocol error: malformed message/,
    ],
    [
      'bad host key signature',
      (s) => {
        const k = generateEd25519Key(seededRandom(11));
        s('SSH-2.0-fake\r\n');
        s(plain(serverKexInit()));
        s(
          plain(
            new Writer()
              .byte(31)
              .string(publicKeyBlob(k))
              .string(generateEd25519Key(seededRandom(12)).publicKey)
              .string(signEd25519(k, new Uint8Array(32)))
              .finish(),
          ),
        );
      },
      /signature of the key exchange does not verify/,
    ],
  ];
  for (const [name, script, re] of cases) {
    it(name, async () => {
      const err = await connect(fakeServer(script)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SshError);
      expect((err as Error).message).toMatch(re);
    });
  }

  it('fuzz: random bytes after a valid version line always end in an SshError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (junk) => {
        const err = await connect(fakeServer((s, e) => (s('SSH-2.0-fake\r\n'), s(junk), e()))).then(
          () => undefined,
          (x: unknown) => x,
        );
        expect(err).toBeInstanceOf(SshError);
      }),
      fuzz(200),
    );
  });
});
