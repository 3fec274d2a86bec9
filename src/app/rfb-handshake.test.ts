import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_SNIFF, RfbHandshakeSniffer, securityProblem } from './rfb-handshake.js';

const ascii = (s: string) => new TextEncoder().encode(s);
const u32 = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

function sniff(server: Uint8Array, client: Uint8Array = new Uint8Array(0)) {
  const s = new RfbHandshakeSniffer();
  s.received(server);
  s.sent(client);
  return s.view;
}

describe('RfbHandshakeSniffer and securityProblem', () => {
  it('TigerVNC with a VNC password: nothing to complain about', () => {
    const v = sniff(
      cat(ascii('RFB 003.008\n'), new Uint8Array([1, 2]), new Uint8Array(16)),
      cat(ascii('RFB 003.008\n'), new Uint8Array([2])),
    );
    expect(v).toMatchObject({ serverVersion: 'RFB 003.008', securityTypes: [2], chosenType: 2 });
    expect(securityProblem(v, 'desk:5901')).toBeUndefined();
  });

  it('a server offering only TLS VeNCrypt sub-types is explained, naming them', () => {
    // RFB 3.8, types [VeNCrypt]; VeNCrypt 0.2, ack 0, 2 sub-types: X509Vnc (261), TLSVnc (258).
    const server = cat(
      ascii('RFB 003.008\n'),
      new Uint8Array([1, 19]),
      new Uint8Array([0, 2]),
      new Uint8Array([0, 2]),
      u32(261),
      u32(258),
    );
    const client = cat(ascii('RFB 003.008\n'), new Uint8Array([19]), new Uint8Array([0, 2]));
    const v = sniff(server, client);
    expect(v.vencryptSubtypes).toEqual([261, 258]);
    expect(securityProblem(v, 'desk:5901')).toBe(
      'The VNC server at desk:5901 requires TLS (VeNCrypt X509Vnc, TLSVnc), which a browser cannot do on a raw connection. ' +
        'Allow "VncAuth" on the server as well (TigerVNC: -SecurityTypes VncAuth,TLSVnc); the tailnet already encrypts the connection.',
    );
    // Once the client picked a sub-type (Plain, which noVNC does), there is no security problem.
    const plain = sniff(cat(server.subarray(0, server.length - 8), u32(256)), cat(client, u32(256)));
    expect(securityProblem(plain, 'x')).toBeUndefined();
  });

  it('types the client has none of, a refusal with a reason, and the 3.3 handshake', () => {
    expect(securityProblem(sniff(cat(ascii('RFB 003.008\n'), new Uint8Array([2, 18, 20]))), 'h:1')).toBe(
      'The VNC server at h:1 offers only TLS (Vino), SASL, which tailtab cannot offer. Allow "VncAuth" (a VNC password) or "None" on the server; the tailnet already encrypts the connection.',
    );
    const why = 'Too many security failures\u0007';
    expect(
      securityProblem(sniff(cat(ascii('RFB 003.008\n'), new Uint8Array([0]), u32(why.length), ascii(why))), 'h:1'),
    ).toBe('The VNC server at h:1 refused the connection: "Too many security failures".');
    const v33 = sniff(cat(ascii('RFB 003.003\n'), u32(2)));
    expect(v33.securityTypes).toEqual([2]);
    expect(securityProblem(v33, 'h:1')).toBeUndefined();
  });

  it('bytes that are not RFB, or not all here yet, say nothing', () => {
    expect(securityProblem(sniff(ascii('SSH-2.0-OpenSSH_9.2\r\n')), 'h:1')).toBeUndefined();
    expect(securityProblem(sniff(ascii('RFB 003.0')), 'h:1')).toBeUndefined();
    expect(securityProblem(sniff(cat(ascii('RFB 003.008\n'), new Uint8Array([3, 2]))), 'h:1')).toBeUndefined();
  });

  it('property: never throws, reads at most MAX_SNIFF bytes, and the view does not depend on how the bytes were split', () => {
    const rfbish = fc
      .tuple(
        fc.constantFrom('RFB 003.008\n', 'RFB 003.007\n', 'RFB 003.003\n', 'RFB 004.001\n', 'XYZ 003.008\n'),
        fc.uint8Array({ maxLength: 300 }),
      )
      .map(([v, rest]) => cat(ascii(v), rest));
    fc.assert(
      fc.property(
        fc.oneof(rfbish, fc.uint8Array({ maxLength: 5000 })),
        fc.uint8Array({ maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 20 }),
        (server, client, cuts) => {
          const whole = sniff(server, client);
          const s = new RfbHandshakeSniffer();
          let at = 0;
          for (const n of cuts) {
            s.received(server.subarray(at, at + n));
            s.sent(client.subarray(at, at + n));
            at += n;
          }
          s.received(server.subarray(at));
          s.sent(client.subarray(at));
          expect(s.view).toEqual(whole);
          const said = securityProblem(s.view, 'h:1');
          if (said !== undefined) expect(said).toMatch(/^The VNC server at h:1 /);
        },
      ),
      { numRuns: 400 },
    );
    // An endless stream is ignored after MAX_SNIFF bytes (the sniffer keeps no more).
    const s = new RfbHandshakeSniffer();
    for (let i = 0; i < 100; i++) s.received(new Uint8Array(MAX_SNIFF));
    expect(s.view).toEqual({});
  });
});
