import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { p256, p384, p521 } from '@noble/curves/nist.js';
import { seededRandom } from '../crypto/random.js';
import { modPow, nistEcdhStart, startKex, MSG_KEXDH_REPLY, MSG_KEX_DH_GEX_GROUP } from './kex.js';
import { modpGroup14, modpGroup16, piWords } from './pi.js';
import { SshProtocolError } from './transport/packet.js';
import { bytesToBigint, SshDecodeError, Writer } from './wire.js';

const rnd = seededRandom(21);
const ctx = {
  clientVersion: 'SSH-2.0-a',
  serverVersion: 'SSH-2.0-b',
  clientKexInit: new Uint8Array([20]),
  serverKexInit: new Uint8Array([20]),
};

describe('constants computed from pi', () => {
  it('Blowfish P-array and S-box ends, RFC 3526 group 14 and 16 ends', () => {
    const w = piWords(18 + 1024);
    expect([w[0], w[1], w[17], w[18], w[1041]].map((x) => x.toString(16))).toEqual([
      '243f6a88',
      '85a308d3',
      '8979fb1b',
      'd1310ba6',
      '3ac372e6',
    ]);
    const g14 = modpGroup14().toString(16);
    expect(g14.length).toBe(512);
    expect(g14.startsWith('ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd1')).toBe(true);
    expect(g14.endsWith('15728e5a8aacaa68ffffffffffffffff')).toBe(true);
    const g16 = modpGroup16().toString(16);
    expect(g16.length).toBe(1024);
    expect(g16.endsWith('4df435c934063199ffffffffffffffff')).toBe(true);
  });
});

describe('NIST ECDH and finite-field DH (RFC 5656, 8268, 4419)', () => {
  for (const [name, curve] of [
    ['ecdh-sha2-nistp256', p256],
    ['ecdh-sha2-nistp384', p384],
    ['ecdh-sha2-nistp521', p521],
  ] as const) {
    it(`${name}: K is the shared x coordinate; bad points are refused`, () => {
      const st = nistEcdhStart(name, rnd);
      const serverPriv = curve.utils.randomSecretKey();
      const qs = curve.getPublicKey(serverPriv, false);
      const x = curve.getSharedSecret(serverPriv, st.clientPublic, true).subarray(1);
      expect(st.shared(qs)).toEqual(new Writer().mpintBytes(x).finish());
      const off = qs.slice();
      off[off.length - 1] ^= 1; // not on the curve
      expect(() => st.shared(off)).toThrow(SshProtocolError);
      expect(() => st.shared(curve.getPublicKey(serverPriv, true))).toThrow(SshProtocolError);
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 140 }), (b) => {
          try {
            st.shared(b);
          } catch (e) {
            if (!(e instanceof SshProtocolError)) throw e;
          }
        }),
        fuzz(300),
      );
    });
  }

  it('group14: f out of range refused; the shared secret matches g^(xy)', () => {
    const run = startKex('diffie-hellman-group14-sha256', rnd, ctx);
    const p = modpGroup14();
    const e = bytesToBigint(run.first.subarray(5));
    const reply = (f: bigint) =>
      new Writer().byte(MSG_KEXDH_REPLY).string(new Uint8Array(3)).raw(mpint(f)).string(new Uint8Array(2)).finish();
    for (const f of [0n, 1n, p - 1n, p]) expect(() => run.receive(reply(f))).toThrow(/out of range/);
    const y = 12345678901234567890n;
    const result = run.receive(reply(modPow(2n, y, p)));
    if (!('result' in result)) throw new Error('expected a result');
    expect(result.result.k).toEqual(mpint(modPow(e, y, p)));
  });

  it('group exchange: groups too small or malformed are refused with the size', () => {
    const group = (p: bigint, g: bigint) =>
      new Writer().byte(MSG_KEX_DH_GEX_GROUP).raw(mpint(p)).raw(mpint(g)).finish();
    expect(() =>
      startKex('diffie-hellman-group-exchange-sha256', rnd, ctx).receive(group((1n << 1023n) + 1n, 2n)),
    ).toThrow(/1024-bit Diffie-Hellman group.*2048/);
    expect(() => startKex('diffie-hellman-group-exchange-sha256', rnd, ctx).receive(group(modpGroup14(), 1n))).toThrow(
      /malformed/,
    );
    const step = startKex('diffie-hellman-group-exchange-sha256', rnd, ctx).receive(group(modpGroup14(), 2n));
    expect('send' in step && step.send[0]).toBe(32);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        try {
          startKex('diffie-hellman-group-exchange-sha256', rnd, ctx).receive(
            new Uint8Array([MSG_KEX_DH_GEX_GROUP, ...b]),
          );
        } catch (e) {
          if (!(e instanceof SshProtocolError || e instanceof SshDecodeError)) throw e;
        }
      }),
      fuzz(300),
    );
  });
});

describe('server key exchange replies under fuzzing', () => {
  it('KEXDH_REPLY, GEX_GROUP then GEX_REPLY, ECDH_REPLY: random bodies give SshProtocolError/SshDecodeError only', () => {
    const methods = [
      'diffie-hellman-group14-sha256',
      'diffie-hellman-group16-sha512',
      'diffie-hellman-group-exchange-sha256',
      'ecdh-sha2-nistp256',
      'ecdh-sha2-nistp521',
      'curve25519-sha256',
    ];
    fc.assert(
      fc.property(
        fc.nat(methods.length - 1),
        fc.integer({ min: 30, max: 49 }),
        fc.uint8Array({ maxLength: 300 }),
        (m, type, body) => {
          const run = startKex(methods[m], rnd, ctx);
          try {
            if (methods[m].includes('exchange'))
              run.receive(new Writer().byte(MSG_KEX_DH_GEX_GROUP).raw(mpint(modpGroup14())).raw(mpint(2n)).finish());
            run.receive(new Uint8Array([type, ...body]));
          } catch (e) {
            if (!(e instanceof SshProtocolError || e instanceof SshDecodeError)) throw e;
          }
        },
      ),
      fuzz(200),
    );
  });
});

function mpint(v: bigint): Uint8Array {
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return new Writer().mpintBytes(Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)))).finish();
}
