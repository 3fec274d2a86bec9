import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { describe, expect, it } from 'vitest';
import { parseTsmpDiscoAdvert, tsmpPongFor } from './tsmp.js';

function ping4(data: number[]): Uint8Array {
  const p = new Uint8Array(29);
  p[0] = 0x45;
  p[3] = 29;
  p[8] = 64;
  p[9] = 99;
  p.set([100, 64, 0, 2], 12);
  p.set([100, 64, 0, 1], 16);
  p[20] = 0x70;
  p.set(data, 21);
  return p;
}

describe('TSMP ping -> pong', () => {
  it('answers an IPv4 ping with the 8 bytes echoed, addresses swapped and a valid header checksum', () => {
    const pong = tsmpPongFor(ping4([1, 2, 3, 4, 5, 6, 7, 8]))!;
    expect(pong.length).toBe(31);
    expect([...pong.subarray(12, 16)]).toEqual([100, 64, 0, 1]);
    expect([...pong.subarray(16, 20)]).toEqual([100, 64, 0, 2]);
    expect(pong[9]).toBe(99);
    expect([...pong.subarray(20)]).toEqual([0x6f, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0]);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += (pong[i]! << 8) | pong[i + 1]!;
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(sum).toBe(0xffff);
  });

  it('answers IPv6 pings; ignores pongs, short payloads, other protocols and fragments', () => {
    const p6 = new Uint8Array(49);
    p6[0] = 0x60;
    p6[5] = 9;
    p6[6] = 99;
    p6[7] = 64;
    p6[8] = 0xfd;
    p6[24] = 0xfe;
    p6[40] = 0x70;
    const pong = tsmpPongFor(p6)!;
    expect(pong[8]).toBe(0xfe);
    expect(pong[24]).toBe(0xfd);
    expect(pong[40]).toBe(0x6f);
    const notPing = ping4([0, 0, 0, 0, 0, 0, 0, 0]);
    notPing[20] = 0x6f;
    expect(tsmpPongFor(notPing)).toBeNull();
    const icmp = ping4([0, 0, 0, 0, 0, 0, 0, 0]);
    icmp[9] = 1;
    expect(tsmpPongFor(icmp)).toBeNull();
    const short = ping4([0, 0, 0, 0, 0, 0, 0, 0]);
    short[3] = 28;
    expect(tsmpPongFor(short)).toBeNull();
    const frag = ping4([0, 0, 0, 0, 0, 0, 0, 0]);
    frag[6] = 0x20;
    expect(tsmpPongFor(frag)).toBeNull();
  });

  it('never throws on random or mutated packets', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        tsmpPongFor(b);
      }),
      fuzz(100),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 28 }), fc.integer({ min: 0, max: 255 }), (i, v) => {
        const p = ping4([9, 9, 9, 9, 9, 9, 9, 9]);
        p[i] = v;
        tsmpPongFor(p);
      }),
      fuzz(100),
    );
  });

  it("reads a disco key advertisement (capver 144: 'a' + 32-byte key), v4 and v6; no pong for it", () => {
    const key = Array.from({ length: 32 }, (_, i) => i + 1);
    const a4 = new Uint8Array(20 + 33);
    a4[0] = 0x45;
    a4[3] = a4.length;
    a4[8] = 64;
    a4[9] = 99;
    a4.set([100, 64, 0, 2], 12);
    a4.set([100, 64, 0, 1], 16);
    a4[20] = 0x61;
    a4.set(key, 21);
    expect([...parseTsmpDiscoAdvert(a4)!.discoKey]).toEqual(key);
    expect(parseTsmpDiscoAdvert(a4)!.empty).toBe(false);
    expect(tsmpPongFor(a4)).toBeNull();
    const a6 = new Uint8Array(40 + 33);
    a6[0] = 0x60;
    a6[5] = 33;
    a6[6] = 99;
    a6[7] = 64;
    a6[40] = 0x61;
    a6.set(key, 41);
    expect([...parseTsmpDiscoAdvert(a6)!.discoKey]).toEqual(key);
    // tailscaled drops an all-zero advertisement silently: we mark it empty.
    const zero = a4.slice();
    zero.fill(0, 21);
    expect(parseTsmpDiscoAdvert(zero)!.empty).toBe(true);
    // Too short, another TSMP type, another protocol: not an advertisement.
    const short = a4.slice();
    short[3] = 52;
    expect(parseTsmpDiscoAdvert(short)).toBeNull();
    expect(parseTsmpDiscoAdvert(ping4([1, 2, 3, 4, 5, 6, 7, 8]))).toBeNull();
    const udp = a4.slice();
    udp[9] = 17;
    expect(parseTsmpDiscoAdvert(udp)).toBeNull();
  });

  it('never throws reading random or mutated advertisements', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        parseTsmpDiscoAdvert(b);
      }),
      fuzz(100),
    );
  });
});
