import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { generateKeyPair } from '../crypto/x25519.js';
import { seededRandom } from '../crypto/random.js';
import {
  DiscoCodec,
  bytes16ToIp,
  decodeDiscoPlaintext,
  encodeDiscoPlaintext,
  ipToBytes16,
  looksLikeDisco,
  DERP_MAGIC_IP,
} from './disco.js';
import { RouteTable, buildRouteTable, parseIPv4, parseIp, parsePrefix, prefixKey } from './routes.js';
import { PacketFilter } from './filter.js';
import { resolveHost } from './magicdns.js';

const rnd = seededRandom(7);

describe('disco', () => {
  const a = generateKeyPair(rnd),
    b = generateKeyPair(rnd);
  const ca = new DiscoCodec(a.privateKey, a.publicKey, rnd);
  const cb = new DiscoCodec(b.privateKey, b.publicKey, rnd);

  it('seals a ping that the peer opens, and the pong carries the DERP magic source', () => {
    const txId = rnd(12),
      nodeKey = rnd(32);
    const pkt = ca.seal(b.publicKey, { type: 'ping', txId, nodeKey, padding: 0 });
    expect(looksLikeDisco(pkt)).toBe(true);
    const got = cb.open(pkt);
    if (typeof got === 'string') throw new Error(got);
    expect(got.sender).toEqual(a.publicKey);
    expect(got.message).toEqual({ type: 'ping', txId, nodeKey, padding: 0 });
    const pong = cb.seal(a.publicKey, { type: 'pong', txId, src: { ip: DERP_MAGIC_IP, port: 901 } });
    const back = ca.open(pong);
    if (typeof back === 'string') throw new Error(back);
    expect(back.message).toEqual({ type: 'pong', txId, src: { ip: '127.3.3.40', port: 901 } });
  });

  it('rejects tampered boxes and non-disco input without throwing', () => {
    const pkt = ca.seal(b.publicKey, { type: 'callMeMaybe', endpoints: [{ ip: 'fd7a:115c:a1e0::1', port: 41641 }] });
    const bad = pkt.slice();
    bad[bad.length - 1]! ^= 1;
    expect(cb.open(bad)).toBe('badBox');
    expect(cb.open(new Uint8Array([1, 2, 3]))).toBe('notDisco');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (junk, pos) => {
        const m = pkt.slice();
        if (m.length) m[pos % m.length]! ^= 0x5a;
        expect(['notDisco', 'badBox', 'badPayload']).toContain(
          typeof cb.open(junk) === 'string' ? cb.open(junk) : 'badBox',
        );
        const r = cb.open(m);
        expect(typeof r === 'string').toBe(true);
        decodeDiscoPlaintext(junk);
      }),
      fuzz(200),
    );
  });

  it('round-trips plaintexts and IP encodings', () => {
    const m = {
      type: 'callMeMaybe' as const,
      endpoints: [
        { ip: '100.64.0.1', port: 1 },
        { ip: 'fd7a:115c:a1e0::5', port: 65535 },
      ],
    };
    expect(decodeDiscoPlaintext(encodeDiscoPlaintext(m))).toEqual(m);
    expect(bytes16ToIp(ipToBytes16('::1'))).toBe('::1');
    expect(bytes16ToIp(ipToBytes16('fd7a:115c:a1e0:ab12:4843:cd96:6258:b240'))).toBe(
      'fd7a:115c:a1e0:ab12:4843:cd96:6258:b240',
    );
    expect(bytes16ToIp(ipToBytes16('1:0:0:2::3'))).toBe('1:0:0:2::3');
  });
});

describe('routes', () => {
  it('picks the longest prefix in both families', () => {
    const t = new RouteTable<string>();
    t.insert(parsePrefix('100.64.0.0/10')!, 'wide');
    t.insert(parsePrefix('100.64.0.7/32')!, 'host');
    t.insert(parsePrefix('fd7a:115c:a1e0::/48')!, 'v6wide');
    t.insert(parsePrefix('fd7a:115c:a1e0::7/128')!, 'v6host');
    expect(t.lookup(parseIp('100.64.0.7')!)).toBe('host');
    expect(t.lookup(parseIp('100.100.1.1')!)).toBe('wide');
    expect(t.lookup(parseIp('10.0.0.1')!)).toBeUndefined();
    expect(t.lookup(parseIp('fd7a:115c:a1e0::7')!)).toBe('v6host');
    expect(t.lookup(parseIp('fd7a:115c:a1e0::8')!)).toBe('v6wide');
  });
  it('property: parseIPv4 equals the split-and-regex reference on any string of digits and dots', () => {
    const reference = (ip: string): Uint8Array | null => {
      const p = ip.split('.');
      if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) return null;
      return Uint8Array.from(p.map(Number));
    };
    const chars = fc.constantFrom(...'0123456789.....x/ '.split(''));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: chars, maxLength: 20 }),
          fc.ipV4(),
          fc.tuple(fc.ipV4(), fc.string({ maxLength: 3 })).map(([a, b]) => a + b),
        ),
        (s) => {
          expect(parseIPv4(s)).toEqual(reference(s));
        },
      ),
      fuzz(500),
    );
  });

  it('property: lookups after random inserts, removes and replaces match a brute-force longest match', () => {
    // Few distinct addresses and lengths so that routes overlap; host routes (/32, /128) live apart from the tries.
    const prefix = fc
      .tuple(fc.boolean(), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }))
      .map(([v6, a, cut]) => {
        const bytes = new Uint8Array(v6 ? 16 : 4);
        bytes[0] = 10;
        bytes[bytes.length - 1] = a;
        const max = bytes.length * 8;
        return { bytes, bits: [max, max - 1, max - 8, 8][cut]!, v6 };
      });
    const op = fc.tuple(fc.constantFrom('insert', 'remove', 'replace'), prefix, fc.integer({ min: 0, max: 2 }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const t = new RouteTable<string>();
        const model = new Map<string, { p: { bytes: Uint8Array; bits: number; v6: boolean }; v: string }>();
        // Host bits past the length do not count (10.0.0.2/31 and 10.0.0.3/31 are one route).
        const key = prefixKey;
        for (const [kind, p, v] of ops) {
          const k = key(p);
          const val = `v${v}`;
          if (kind === 'insert') {
            t.insert(p, val);
            model.set(k, { p, v: val });
          } else if (kind === 'remove') {
            const ok = t.remove(p, val);
            expect(ok).toBe(model.get(k)?.v === val);
            if (ok) model.delete(k);
          } else {
            const ok = t.replace(p, val, 'r');
            expect(ok).toBe(model.get(k)?.v === val);
            if (ok) model.set(k, { p, v: 'r' });
          }
        }
        expect(t.size).toBe(model.size);
        for (const v6 of [false, true])
          for (let a = 0; a < 4; a++) {
            const ip = new Uint8Array(v6 ? 16 : 4);
            ip[0] = 10;
            ip[ip.length - 1] = a;
            let best: { bits: number; v: string } | undefined;
            for (const { p, v } of model.values()) {
              if (p.v6 !== v6) continue;
              let match = true;
              for (let i = 0; i < p.bits; i++)
                if (((ip[i >> 3]! >> (7 - (i & 7))) & 1) !== ((p.bytes[i >> 3]! >> (7 - (i & 7))) & 1)) match = false;
              if (match && (!best || p.bits > best.bits)) best = { bits: p.bits, v };
            }
            expect(t.lookup(ip)).toBe(best?.v);
          }
      }),
      fuzz(200),
    );
  });

  it('falls back to Addresses and counts bad prefixes', () => {
    const { table, badPrefixes } = buildRouteTable([
      { id: '1', addresses: ['100.64.0.2/32'] },
      { id: '2', addresses: ['100.64.0.3/32'], allowedIPs: ['nonsense', '100.64.0.3/32'] },
    ]);
    expect(badPrefixes).toBe(1);
    expect(table.lookup(parseIp('100.64.0.2')!)?.id).toBe('1');
    expect(table.lookup(parseIp('100.64.0.3')!)?.id).toBe('2');
  });
  // A subnet router and an exit node, as Headscale sends them once their routes are approved.
  const router = {
    id: 'router',
    addresses: ['100.64.0.5/32', 'fd7a:115c:a1e0::5/128'],
    allowedIPs: ['100.64.0.5/32', 'fd7a:115c:a1e0::5/128', '10.77.0.0/24', '192.0.2.9/32'],
  };
  const exit = { id: 'exit', addresses: ['100.64.0.6/32'], allowedIPs: ['100.64.0.6/32', '0.0.0.0/0', '::/0'] };
  it('leaves out subnet routes and exit routes the person did not choose, as tailscaled does', () => {
    const b = buildRouteTable([router, exit]);
    expect(b.skippedSubnetRoutes).toBe(2); // the /24 and a single IP that is not the router's own
    expect(b.skippedExitRoutes).toBe(2);
    expect(b.table.lookup(parseIp('100.64.0.5')!)?.id).toBe('router');
    expect(b.table.lookup(parseIp('fd7a:115c:a1e0::5')!)?.id).toBe('router');
    expect(b.table.lookup(parseIp('100.64.0.6')!)?.id).toBe('exit');
    expect(b.table.lookup(parseIp('10.77.0.3')!)).toBeUndefined();
    expect(b.table.lookup(parseIp('192.0.2.9')!)).toBeUndefined();
    expect(b.table.lookup(parseIp('198.51.100.1')!)).toBeUndefined();
    expect(b.table.lookup(parseIp('2001:db8::1')!)).toBeUndefined();
  });
  it('uses subnet routes with acceptRoutes, and default routes only of the chosen exit node', () => {
    const subnets = buildRouteTable([router, exit], { acceptRoutes: true });
    expect(subnets.table.lookup(parseIp('10.77.0.3')!)?.id).toBe('router');
    expect(subnets.table.lookup(parseIp('192.0.2.9')!)?.id).toBe('router');
    expect(subnets.table.lookup(parseIp('198.51.100.1')!)).toBeUndefined();
    const viaExit = buildRouteTable([router, exit], { exitNodeId: 'exit' });
    expect(viaExit.table.lookup(parseIp('198.51.100.1')!)?.id).toBe('exit');
    expect(viaExit.table.lookup(parseIp('2001:db8::1')!)?.id).toBe('exit');
    expect(viaExit.table.lookup(parseIp('10.77.0.3')!)?.id).toBe('exit'); // router's subnet still off
    expect(viaExit.table.lookup(parseIp('100.64.0.5')!)?.id).toBe('router');
    // A peer that is not the chosen exit node gets no default route even with acceptRoutes.
    expect(
      buildRouteTable([exit], { acceptRoutes: true, exitNodeId: 'router' }).table.lookup(parseIp('198.51.100.1')!),
    ).toBeUndefined();
  });
});

function ipv4Packet(
  proto: number,
  src: string,
  dst: string,
  sport: number,
  dport: number,
  extra = 20,
  tcpFlags = 0x02,
): Uint8Array {
  const p = new Uint8Array(20 + extra);
  p[0] = 0x45;
  p[9] = proto;
  p.set(parseIp(src)!, 12);
  p.set(parseIp(dst)!, 16);
  if (proto === 1) {
    p[20] = 8;
    p[24] = sport >> 8;
    p[25] = sport & 0xff;
  } else {
    p[20] = sport >> 8;
    p[21] = sport & 0xff;
    p[22] = dport >> 8;
    p[23] = dport & 0xff;
  }
  if (proto === 6) p[33] = tcpFlags;
  return p;
}

describe('filter', () => {
  it('applies rules, lets replies to our flows in, and counts drops', () => {
    const f = new PacketFilter(2);
    f.setLocalAddresses(['100.64.0.1/32']);
    f.setRules([{ SrcIPs: ['100.64.0.2-100.64.0.5'], DstPorts: [{ IP: '*', Ports: { First: 22, Last: 80 } }] }]);
    expect(f.check(ipv4Packet(6, '100.64.0.3', '100.64.0.1', 5000, 22))).toBe('accept');
    expect(f.check(ipv4Packet(6, '100.64.0.3', '100.64.0.1', 5000, 81))).toBe('drop');
    expect(f.check(ipv4Packet(6, '100.64.0.9', '100.64.0.1', 5000, 22))).toBe('drop');
    expect(f.check(ipv4Packet(132, '100.64.0.3', '100.64.0.1', 5000, 22))).toBe('drop');
    expect(f.check(ipv4Packet(1, '100.64.0.3', '100.64.0.1', 7, 7))).toBe('accept');
    expect(f.check(ipv4Packet(6, '100.64.0.3', '100.64.0.8', 5000, 22))).toBe('drop');
    expect(f.check(new Uint8Array([0x45, 0]))).toBe('drop');
    expect(f.stats.droppedByRule).toBe(3);
    expect(f.stats.droppedNotForUs).toBe(1);
    expect(f.stats.droppedMalformed).toBe(1);
    // Our outbound UDP flow to a denied source: its replies pass; the bounded table evicts the oldest.
    f.noteOutbound(ipv4Packet(17, '100.64.0.1', '100.64.0.9', 40000, 443));
    expect(f.check(ipv4Packet(17, '100.64.0.9', '100.64.0.1', 443, 40000))).toBe('accept');
    f.noteOutbound(ipv4Packet(17, '100.64.0.1', '100.64.0.9', 40001, 443));
    f.noteOutbound(ipv4Packet(17, '100.64.0.1', '100.64.0.9', 40002, 443));
    expect(f.flowCount).toBe(2);
    expect(f.check(ipv4Packet(17, '100.64.0.9', '100.64.0.1', 443, 40000))).toBe('drop');
    // As tailscale's filter: TCP without a bare SYN and ICMP echo replies pass from anyone.
    expect(f.check(ipv4Packet(6, '100.64.0.9', '100.64.0.1', 443, 40000, 20, 0x12))).toBe('accept');
    expect(f.check(ipv4Packet(6, '100.64.0.9', '100.64.0.1', 443, 40000, 20, 0x10))).toBe('accept');
    const reply = ipv4Packet(1, '100.64.0.9', '100.64.0.1', 7, 7);
    reply[20] = 0;
    expect(f.check(reply)).toBe('accept');
  });
  it('never throws on random packets', () => {
    const f = new PacketFilter();
    f.setRules([{ SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] }]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (p) => {
        f.check(p);
        f.noteOutbound(p);
      }),
      fuzz(500),
    );
  });
});

describe('magicdns', () => {
  const peers = [
    { name: 'alpha.tail.example.', addresses: ['100.64.0.2/32', 'fd7a:115c:a1e0::2/128'] },
    { name: 'beta.tail.example.', addresses: ['100.64.0.3/32'] },
  ];
  it('resolves short names, FQDNs with and without dot, and literals', () => {
    expect(resolveHost('alpha', peers)?.[0]?.ip).toBe('100.64.0.2');
    expect(resolveHost('ALPHA.tail.example.', peers)?.[0]?.ip).toBe('100.64.0.2');
    expect(resolveHost('alpha.tail.example', peers, { preferV6: true })?.[0]?.ip).toBe('fd7a:115c:a1e0::2');
    expect(resolveHost('fd7a:115c:a1e0::9', peers)).toEqual([{ ip: 'fd7a:115c:a1e0::9', v6: true }]);
    expect(resolveHost('gamma', peers)).toBeNull();
  });
});
