// Node-runtime per-packet costs in this process (filter verdict, AllowedIPs lookup, disco seal/open).
// The tailnet measurements of issue 7 (download/upload and TCP/ICMP RTT through tailscaled, with
// two native tailscaled peers as the ceiling) are in tailnet.bench.ts.
import { secureRandom } from '../src/crypto/random.js';
import { generateKeyPair } from '../src/crypto/x25519.js';
import { DiscoCodec } from '../src/node/disco.js';
import { PacketFilter } from '../src/node/filter.js';
import { RouteTable, parseIp, parsePrefix } from '../src/node/routes.js';
import type { BenchRow } from './run.js';

function rate(fn: (i: number) => void, minMs = 300): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < minMs) {
    for (let k = 0; k < 1000; k++) fn(n++);
    t = performance.now();
  }
  return n / ((t - t0) / 1000);
}

function tcpSyn(src: number, dport: number): Uint8Array {
  const p = new Uint8Array(40);
  p[0] = 0x45;
  p[3] = 40;
  p[8] = 64;
  p[9] = 6;
  p.set([100, 64, (src >> 8) & 0xff, src & 0xff], 12);
  p.set([100, 64, 0, 1], 16);
  p[22] = dport >> 8;
  p[23] = dport & 0xff;
  p[32] = 0x50;
  p[33] = 0x02;
  return p;
}

export async function run(): Promise<BenchRow[]> {
  const f = new PacketFilter();
  f.setLocalAddresses(['100.64.0.1/32']);
  f.setRules(
    Array.from({ length: 50 }, (_, i) => ({
      SrcIPs: [`100.64.${i}.0/24`],
      DstPorts: [{ IP: '*', Ports: { First: 1000 + i, Last: 1000 + i } }],
    })),
  );
  const pkts = Array.from({ length: 256 }, (_, i) => tcpSyn(i * 37, 1000 + (i % 60)));
  const filterRate = rate((i) => f.check(pkts[i & 255]!));

  const t = new RouteTable<number>();
  for (let i = 0; i < 1000; i++) {
    t.insert(parsePrefix(`100.${64 + (i >> 8)}.${i & 255}.1/32`)!, i);
    t.insert(parsePrefix(`fd7a:115c:a1e0::${i.toString(16)}/128`)!, i);
  }
  const ips = Array.from({ length: 256 }, (_, i) =>
    parseIp(i & 1 ? `fd7a:115c:a1e0::${i.toString(16)}` : `100.64.${i}.1`)!,
  );
  const routeRate = rate((i) => t.lookup(ips[i & 255]!));

  const a = generateKeyPair(secureRandom),
    b = generateKeyPair(secureRandom);
  const ca = new DiscoCodec(a.privateKey, a.publicKey, secureRandom),
    cb = new DiscoCodec(b.privateKey, b.publicKey, secureRandom);
  const txId = secureRandom(12),
    nodeKey = secureRandom(32);
  const discoRate = rate(() => {
    cb.open(ca.seal(b.publicKey, { type: 'ping', txId, nodeKey, padding: 0 }));
  }, 300);

  return [
    {
      name: 'filter verdict (50 rules, TCP SYN)',
      value: Math.round(filterRate),
      unit: 'packets/s',
      note: 'in-process; no native reference',
    },
    {
      name: 'AllowedIPs lookup (2000 prefixes, v4+v6)',
      value: Math.round(routeRate),
      unit: 'lookups/s',
      note: 'in-process',
    },
    { name: 'disco ping seal+open', value: Math.round(discoRate), unit: 'messages/s', note: 'in-process' },
  ];
}
