// Header codecs: known answers, round trips, and random/mutated packets fed to a stack, which must
// drop and count them and never throw (nor hit an internal error).
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../crypto/random.js';
import { VirtualClock } from '../platform/clock.js';
import { formatIp, parseIp } from './addr.js';
import { checksum, finish, pseudoHeaderSum, sumWords } from './checksum.js';
import { decodeIcmp, encodeIcmpHeader } from './icmp.js';
import { decodeIp, encodeIpHeader, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP } from './ip.js';
import { createNetStack } from './index.js';
import { ACK, decodeTcp, encodeTcpHeader, FIN, PSH, RST, SYN, type TcpOptions } from './tcp-segment.js';
import { decodeUdp, encodeUdpHeader } from './udp.js';

const A4 = parseIp('100.64.0.1')!;
const B4 = parseIp('100.64.0.2')!;
const A6 = parseIp('fd7a:115c:a1e0::1')!;
const B6 = parseIp('fd7a:115c:a1e0::2')!;

function tcpPacket(
  src: Uint8Array,
  dst: Uint8Array,
  o: { sport: number; dport: number; seq: number; ack: number; flags: number; window: number } & TcpOptions,
  payload: Uint8Array,
): Uint8Array {
  const ipLen = src.length === 4 ? 20 : 40;
  // options length first, by encoding into a scratch buffer
  const scratch = new Uint8Array(ipLen + 60 + payload.length);
  const hlen = encodeTcpHeader(
    scratch,
    ipLen,
    {
      srcPort: o.sport,
      dstPort: o.dport,
      seq: o.seq,
      ack: o.ack,
      flags: o.flags,
      window: o.window,
      urgent: 0,
      mss: o.mss,
      windowScale: o.windowScale,
      sackPermitted: o.sackPermitted,
      sack: o.sack,
      timestamps: o.timestamps,
      payloadLength: 0,
    },
    src,
    dst,
  );
  const pkt = new Uint8Array(ipLen + hlen + payload.length);
  pkt.set(payload, ipLen + hlen);
  encodeTcpHeader(
    pkt,
    ipLen,
    {
      srcPort: o.sport,
      dstPort: o.dport,
      seq: o.seq,
      ack: o.ack,
      flags: o.flags,
      window: o.window,
      urgent: 0,
      mss: o.mss,
      windowScale: o.windowScale,
      sackPermitted: o.sackPermitted,
      sack: o.sack,
      timestamps: o.timestamps,
      payloadLength: payload.length,
    },
    src,
    dst,
  );
  encodeIpHeader(pkt, { src, dst, proto: PROTO_TCP, payloadLength: hlen + payload.length, id: 7 });
  return pkt;
}

function udpPacket(src: Uint8Array, dst: Uint8Array, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const ipLen = src.length === 4 ? 20 : 40;
  const pkt = new Uint8Array(ipLen + 8 + payload.length);
  pkt.set(payload, ipLen + 8);
  encodeUdpHeader(pkt, ipLen, sport, dport, payload.length, src, dst);
  encodeIpHeader(pkt, { src, dst, proto: PROTO_UDP, payloadLength: 8 + payload.length });
  return pkt;
}

function icmpPacket(
  src: Uint8Array,
  dst: Uint8Array,
  type: number,
  code: number,
  rest: number,
  body: Uint8Array,
): Uint8Array {
  const v6 = src.length === 16;
  const ipLen = v6 ? 40 : 20;
  const pkt = new Uint8Array(ipLen + 8 + body.length);
  pkt.set(body, ipLen + 8);
  encodeIcmpHeader(pkt, ipLen, type, code, rest, body.length, v6, src, dst);
  encodeIpHeader(pkt, { src, dst, proto: v6 ? PROTO_ICMPV6 : PROTO_ICMP, payloadLength: 8 + body.length });
  return pkt;
}

describe('checksum (RFC 1071)', () => {
  it('matches the RFC 1071 §3 worked example', () => {
    const b = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
    expect(finish(sumWords(b, 0, b.length))).toBe(~0xddf2 & 0xffff);
  });
  it('a buffer with its checksum inserted sums to zero, for any length (odd included)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 3000 }), (b) => {
        const buf = new Uint8Array(b.length + 2);
        buf.set(b, 2);
        const c = checksum(buf);
        buf[0] = c >> 8;
        buf[1] = c & 0xff;
        return checksum(buf) === 0;
      }),
      fuzz(100),
    );
  });
  it('pseudo-header sum covers addresses, protocol and length', () => {
    expect(pseudoHeaderSum(A4, B4, 6, 20)).not.toBe(pseudoHeaderSum(A4, B4, 17, 20));
    expect(pseudoHeaderSum(A4, B4, 6, 20)).not.toBe(pseudoHeaderSum(A4, B4, 6, 21));
  });
});

describe('addresses', () => {
  it('formats IPv6 canonically per RFC 5952', () => {
    const cases: [string, string][] = [
      ['fd7a:115c:a1e0:0:0:0:0:1', 'fd7a:115c:a1e0::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['::', '::'],
      ['::1', '::1'],
      ['FD7A:115C:A1E0::', 'fd7a:115c:a1e0::'],
      ['::ffff:100.64.0.1', '::ffff:6440:1'],
    ];
    for (const [i, o] of cases) expect(formatIp(parseIp(i)!)).toBe(o);
  });
  it('rejects malformed text', () => {
    for (const s of [
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.2.3.4',
      '1::2::3',
      ':::',
      '1:2:3:4:5:6:7:8:9',
      'g::1',
      '',
      '1.2.3.4/24',
    ])
      expect(parseIp(s)).toBeUndefined();
  });
  it('round-trips any address', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })),
        (b) => {
          expect(Array.from(parseIp(formatIp(b))!)).toEqual(Array.from(b));
        },
      ),
      fuzz(100),
    );
  });
});

const optsArb = fc.record(
  {
    mss: fc.integer({ min: 0, max: 65535 }),
    windowScale: fc.integer({ min: 0, max: 14 }),
    sackPermitted: fc.constant(true),
    timestamps: fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })),
    sack: fc.array(fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })), {
      minLength: 1,
      maxLength: 2,
    }),
  },
  { requiredKeys: [] },
);

describe('TCP segment codec', () => {
  it('decode(encode(x)) == x for random headers, options and payloads (IPv4 and IPv6)', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 1, max: 65535 }),
        fc.integer({ min: 1, max: 65535 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: 65535 }),
        optsArb,
        fc.uint8Array({ maxLength: 1200 }),
        (v6, sport, dport, seq, ack, flags, window, o, payload) => {
          const [s, d] = v6 ? [A6, B6] : [A4, B4];
          const pkt = tcpPacket(s, d, { sport, dport, seq, ack, flags, window, ...o }, payload);
          const ip = decodeIp(pkt);
          expect(ip.ok).toBe(true);
          if (!ip.ok) return;
          const t = decodeTcp(ip.value.payload, ip.value.src, ip.value.dst);
          expect(t.ok).toBe(true);
          if (!t.ok) return;
          const seg = t.value;
          expect([seg.srcPort, seg.dstPort, seg.seq, seg.ack, seg.flags, seg.window]).toEqual([
            sport,
            dport,
            seq,
            ack,
            flags,
            window,
          ]);
          expect(seg.mss).toBe(o.mss);
          expect(seg.windowScale).toBe(o.windowScale);
          expect(seg.sackPermitted).toBe(o.sackPermitted);
          expect(seg.timestamps).toEqual(o.timestamps);
          expect(seg.sack).toEqual(o.sack);
          expect(Array.from(seg.payload)).toEqual(Array.from(payload));
        },
      ),
      fuzz(300),
    );
  });

  it('any single flipped bit of a segment is detected by the checksum or the header checks', () => {
    const pkt = tcpPacket(
      A4,
      B4,
      { sport: 1234, dport: 80, seq: 1, ack: 2, flags: ACK | PSH, window: 100, timestamps: [1, 2] },
      new Uint8Array(100).fill(7),
    );
    fc.assert(
      fc.property(fc.integer({ min: 20, max: pkt.length * 8 - 1 }), (bit) => {
        const m = pkt.slice();
        m[bit >> 3] ^= 1 << (bit & 7);
        const ip = decodeIp(m);
        if (!ip.ok) return true;
        return !decodeTcp(ip.value.payload, ip.value.src, ip.value.dst).ok;
      }),
      fuzz(100),
    );
  });

  it('malformed options are rejected: bad lengths, truncation, overrun', () => {
    const base = tcpPacket(
      A4,
      B4,
      { sport: 1, dport: 2, seq: 0, ack: 0, flags: SYN, window: 0, mss: 1000 },
      new Uint8Array(0),
    );
    const withOpt = (opt: number[]) => {
      const tcp = new Uint8Array(20 + Math.ceil(opt.length / 4) * 4);
      tcp.set(base.subarray(20, 40));
      tcp.set(opt, 20);
      tcp[12] = (tcp.length / 4) << 4;
      tcp[16] = tcp[17] = 0;
      const c = finish(sumWords(tcp, 0, tcp.length, pseudoHeaderSum(A4, B4, PROTO_TCP, tcp.length)));
      tcp[16] = c >> 8;
      tcp[17] = c & 0xff;
      return decodeTcp(tcp, A4, B4);
    };
    expect(withOpt([2, 4, 5, 0]).ok).toBe(true);
    for (const bad of [
      [2, 3, 5, 0],
      [2, 5, 5, 0, 0, 0, 0, 0],
      [3, 2, 0, 0],
      [8, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [5, 2, 0, 0],
      [5, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [99, 1, 0, 0],
      [99, 0, 0, 0],
      [2, 40, 0, 0],
      [1, 1, 1, 2],
    ])
      expect(withOpt(bad).ok, JSON.stringify(bad)).toBe(false);
  });
});

describe('UDP and ICMP codecs', () => {
  it('UDP round trip; zero checksum accepted on IPv4, rejected on IPv6 (RFC 8200 §8.1)', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 1, max: 65535 }),
        fc.integer({ min: 1, max: 65535 }),
        fc.uint8Array({ maxLength: 1200 }),
        (v6, sp, dp, data) => {
          const [s, d] = v6 ? [A6, B6] : [A4, B4];
          const pkt = udpPacket(s, d, sp, dp, data);
          const ip = decodeIp(pkt);
          if (!ip.ok) return false;
          const u = decodeUdp(ip.value.payload, s, d);
          return (
            u.ok &&
            u.value.srcPort === sp &&
            u.value.dstPort === dp &&
            Buffer.from(u.value.payload).equals(Buffer.from(data))
          );
        },
      ),
      fuzz(100),
    );
    const p4 = udpPacket(A4, B4, 1, 2, Uint8Array.of(1, 2, 3));
    p4[26] = p4[27] = 0;
    expect(decodeUdp(p4.subarray(20), A4, B4).ok).toBe(true);
    const p6 = udpPacket(A6, B6, 1, 2, Uint8Array.of(1, 2, 3));
    p6[46] = p6[47] = 0;
    expect(decodeUdp(p6.subarray(40), A6, B6)).toEqual({ ok: false, reason: 'udpZeroChecksumV6' });
  });
  it('ICMPv6 checksum covers the pseudo-header; ICMPv4 does not', () => {
    const p6 = icmpPacket(A6, B6, 128, 0, 0x10002, Uint8Array.of(9, 9));
    expect(decodeIcmp(p6.subarray(40), true, A6, B6).ok).toBe(true);
    expect(decodeIcmp(p6.subarray(40), true, B6, A6).ok).toBe(true); // symmetric sum
    expect(decodeIcmp(p6.subarray(40), true, A6, parseIp('fd7a:115c:a1e0::3')!).ok).toBe(false);
    const p4 = icmpPacket(A4, B4, 8, 0, 0x10002, Uint8Array.of(9, 9));
    expect(decodeIcmp(p4.subarray(20), false, A4, parseIp('1.2.3.4')!).ok).toBe(true);
  });
});

describe('stack input: hostile packets are dropped and counted, never thrown', () => {
  function victim() {
    const clock = new VirtualClock(0);
    const out: Uint8Array[] = [];
    const s = createNetStack({
      addresses: ['100.64.0.2', 'fd7a:115c:a1e0::2'],
      clock,
      random: seededRandom(5),
      output: (p) => out.push(p),
    });
    s.listen(80);
    s.udpBind(53);
    return { s, out, clock };
  }

  it('random bytes', () => {
    const { s } = victim();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (b) => {
        const before = s.stats.rxPackets;
        s.input(b);
        expect(s.stats.rxPackets).toBe(before + 1);
      }),
      fuzz(2000),
    );
    expect(s.stats.inputErrors).toBe(0);
    expect(s.stats.rxDropped).toBeGreaterThan(1900);
  });

  it('random IP headers with plausible versions and lengths, addressed to us', () => {
    const { s } = victim();
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 0, max: 255 }),
        fc.uint8Array({ maxLength: 1400 }),
        (v6, proto, body) => {
          const [src, dst] = v6 ? [A6, B6] : [A4, B4];
          const pkt = new Uint8Array((v6 ? 40 : 20) + body.length);
          pkt.set(body, v6 ? 40 : 20);
          encodeIpHeader(pkt, { src, dst, proto, payloadLength: body.length });
          s.input(pkt);
        },
      ),
      fuzz(2000),
    );
    expect(s.stats.inputErrors).toBe(0);
  });

  it('mutated valid TCP/UDP/ICMP packets (flipped bytes, truncation, extension, lengths, flags) never cause an internal error', () => {
    const { s, clock } = victim();
    const valid = [
      tcpPacket(
        A4,
        B4,
        {
          sport: 4000,
          dport: 80,
          seq: 100,
          ack: 0,
          flags: SYN,
          window: 65535,
          mss: 1240,
          windowScale: 7,
          sackPermitted: true,
          timestamps: [1, 0],
        },
        new Uint8Array(0),
      ),
      tcpPacket(
        A4,
        B4,
        { sport: 4000, dport: 80, seq: 101, ack: 5, flags: ACK, window: 65535, timestamps: [2, 1] },
        new Uint8Array(0),
      ),
      tcpPacket(
        A6,
        B6,
        { sport: 4001, dport: 80, seq: 7, ack: 9, flags: ACK | PSH | FIN, window: 1000, sack: [[1, 2]] },
        new Uint8Array(300).fill(1),
      ),
      tcpPacket(A4, B4, { sport: 4002, dport: 81, seq: 7, ack: 9, flags: RST, window: 0 }, new Uint8Array(0)),
      udpPacket(A4, B4, 5000, 53, new Uint8Array(40).fill(2)),
      udpPacket(A6, B6, 5000, 54, new Uint8Array(40).fill(2)),
      icmpPacket(A4, B4, 8, 0, 0x10001, new Uint8Array(56)),
      icmpPacket(A6, B6, 128, 0, 0x10001, new Uint8Array(56)),
      icmpPacket(A4, B4, 3, 3, 0, udpPacket(B4, A4, 53, 5000, new Uint8Array(8))),
      icmpPacket(
        A6,
        B6,
        1,
        4,
        0,
        tcpPacket(B6, A6, { sport: 80, dport: 4001, seq: 1, ack: 1, flags: ACK, window: 1 }, new Uint8Array(0)),
      ),
    ];
    const mutation = fc.record({
      which: fc.integer({ min: 0, max: valid.length - 1 }),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      truncate: fc.option(fc.nat(), { nil: undefined }),
      extend: fc.uint8Array({ maxLength: 20 }),
    });
    fc.assert(
      fc.property(mutation, (m) => {
        let p = valid[m.which].slice();
        for (const [pos, v] of m.flips) p[pos % p.length] = v;
        if (m.truncate !== undefined) p = p.subarray(0, m.truncate % (p.length + 1));
        if (m.extend.length) {
          const q = new Uint8Array(p.length + m.extend.length);
          q.set(p);
          q.set(m.extend, p.length);
          p = q;
        }
        s.input(p);
        clock.advance(50);
      }),
      fuzz(3000),
    );
    expect(s.stats.inputErrors).toBe(0);
    expect(s.stats.drop_tcpBadChecksum).toBeGreaterThan(0);
    expect(s.stats.drop_ipBadChecksum).toBeGreaterThan(0);
    // No state grew from garbage beyond the listener's half-open bound.
    expect(s.connectionCount).toBeLessThanOrEqual(128);
  });

  it('a segment with a bad TCP checksum is dropped and counted, not answered', () => {
    const { s, out } = victim();
    const p = tcpPacket(
      A4,
      B4,
      { sport: 4000, dport: 80, seq: 100, ack: 0, flags: SYN, window: 65535 },
      new Uint8Array(0),
    );
    p[p.length - 1] ^= 0xff; // corrupt the last header byte (urgent pointer)
    s.input(p);
    expect(s.stats.drop_tcpBadChecksum).toBe(1);
    expect(out.length).toBe(0);
    expect(s.connectionCount).toBe(0);
  });

  it('SYN+FIN and SYN+RST are dropped; a bare SYN gets a SYN-ACK with MSS 1240 (IPv4, MTU 1280)', () => {
    const { s, out } = victim();
    s.input(
      tcpPacket(A4, B4, { sport: 4000, dport: 80, seq: 1, ack: 0, flags: SYN | FIN, window: 1 }, new Uint8Array(0)),
    );
    s.input(
      tcpPacket(A4, B4, { sport: 4000, dport: 80, seq: 1, ack: 0, flags: SYN | RST, window: 1 }, new Uint8Array(0)),
    );
    expect(s.stats.drop_tcpBadFlags).toBe(2);
    expect(out.length).toBe(0);
    s.input(
      tcpPacket(
        A4,
        B4,
        { sport: 4000, dport: 80, seq: 1, ack: 0, flags: SYN, window: 1, mss: 1460 },
        new Uint8Array(0),
      ),
    );
    expect(out.length).toBe(1);
    const ip = decodeIp(out[0]);
    if (!ip.ok) throw new Error('bad');
    const t = decodeTcp(ip.value.payload, ip.value.src, ip.value.dst);
    if (!t.ok) throw new Error('bad');
    expect(t.value.flags).toBe(SYN | ACK);
    expect(t.value.mss).toBe(1240);
    expect(t.value.ack).toBe(2);
  });

  it('IPv6 extension headers (hop-by-hop, destination options) are walked past to the TCP header', () => {
    const { s: st, out } = victim();
    const syn = tcpPacket(
      A6,
      B6,
      { sport: 4000, dport: 80, seq: 1, ack: 0, flags: SYN, window: 100, mss: 1220 },
      new Uint8Array(0),
    );
    const tcp = syn.subarray(40);
    const ext = Uint8Array.of(60, 0, 1, 4, 0, 0, 0, 0, /* dst opts: */ 6, 0, 1, 4, 0, 0, 0, 0);
    const pkt = new Uint8Array(40 + ext.length + tcp.length);
    pkt.set(ext, 40);
    pkt.set(tcp, 40 + ext.length);
    encodeIpHeader(pkt, { src: A6, dst: B6, proto: 0, payloadLength: ext.length + tcp.length });
    st.input(pkt);
    expect(out.length).toBe(1);
    const ip = decodeIp(out[0]);
    if (!ip.ok) throw new Error('bad');
    const t = decodeTcp(ip.value.payload, ip.value.src, ip.value.dst);
    expect(t.ok && t.value.flags).toBe(SYN | ACK);
  });

  it('an unknown protocol draws ICMP protocol unreachable (IPv4) / parameter problem (IPv6)', () => {
    const { s: st, out } = victim();
    for (const [src, dst] of [
      [A4, B4],
      [A6, B6],
    ]) {
      const pkt = new Uint8Array((src.length === 4 ? 20 : 40) + 8);
      encodeIpHeader(pkt, { src, dst, proto: 253, payloadLength: 8 });
      st.input(pkt);
    }
    expect(out.length).toBe(2);
    const i4 = decodeIp(out[0]);
    const i6 = decodeIp(out[1]);
    if (!i4.ok || !i6.ok) throw new Error('bad');
    expect([i4.value.proto, i4.value.payload[0], i4.value.payload[1]]).toEqual([PROTO_ICMP, 3, 2]);
    expect([i6.value.proto, i6.value.payload[0], i6.value.payload[1], i6.value.payload[7]]).toEqual([
      PROTO_ICMPV6,
      4,
      1,
      6,
    ]);
  });
});
