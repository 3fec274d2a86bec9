// Differential test of our inbound packet filter (src/node/filter.ts) against tailscale.com's own
// wgengine/filter (v1.102.3, built offline from the module cache): random FilterRules (wildcards,
// CIDRs, ranges, port ranges, IPProto) and random IPv4/IPv6 TCP/UDP/ICMP/SCTP/other packets must get
// the same verdict from both.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '../src/crypto/bytes.js';
import { seededRandom } from '../src/crypto/random.js';
import { PacketFilter, type FilterRule } from '../src/node/filter.js';
import { parseIp } from '../src/node/routes.js';

function buildGoHelper(): string {
  const out = join(mkdtempSync(join(tmpdir(), 'node-filter-go-')), 'helper');
  try {
    execFileSync('go', ['build', '-o', out, '.'], {
      cwd: join(import.meta.dirname, 'node-filter-go'),
      env: { ...process.env, GOPROXY: 'off', GOFLAGS: '-mod=mod', GOSUMDB: 'off' },
      stdio: 'pipe',
    });
  } catch (e) {
    throw new Error(
      `cannot build the Go filter helper (needs go and tailscale.com v1.102.3 in the module cache): ${String((e as { stderr?: Buffer }).stderr ?? e)}`,
    );
  }
  return out;
}

const rnd = seededRandom(2024);
const pick = <T>(xs: readonly T[]): T => xs[rnd(1)[0]! % xs.length]!;
const chance = (n: number) => rnd(1)[0]! % n === 0;

const LOCAL = ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'];
const SRC_SPECS = [
  '*',
  '100.64.0.2',
  '100.64.0.0/30',
  '100.64.0.2-100.64.0.4',
  '100.64.0.9/32',
  'fd7a:115c:a1e0::2',
  'fd7a:115c:a1e0::/120',
  'fd7a:115c:a1e0::2-fd7a:115c:a1e0::4',
];
const DST_SPECS = ['*', '100.64.0.1', '100.64.0.0/24', 'fd7a:115c:a1e0::1', 'fd7a:115c:a1e0::/64', '100.64.0.5'];
const PORTS = [
  { First: 22, Last: 22 },
  { First: 80, Last: 443 },
  { First: 0, Last: 65535 },
  { First: 1000, Last: 2000 },
];
const PROTOS = [6, 17, 1, 58, 132, 47];

function randomRules(): FilterRule[] {
  const rules: FilterRule[] = [];
  const n = rnd(1)[0]! % 4;
  for (let i = 0; i < n; i++) {
    const srcs = Array.from({ length: 1 + (rnd(1)[0]! % 2) }, () => pick(SRC_SPECS));
    const dsts = Array.from({ length: 1 + (rnd(1)[0]! % 2) }, () => ({ IP: pick(DST_SPECS), Ports: pick(PORTS) }));
    const rule: FilterRule = { SrcIPs: srcs, DstPorts: dsts };
    if (chance(3)) rule.IPProto = Array.from({ length: 1 + (rnd(1)[0]! % 2) }, () => pick(PROTOS));
    rules.push(rule);
  }
  return rules;
}

function packet(v6: boolean): Uint8Array {
  const src = v6
    ? pick(['fd7a:115c:a1e0::2', 'fd7a:115c:a1e0::3', 'fd7a:115c:a1e0::9'])
    : pick(['100.64.0.2', '100.64.0.3', '100.64.0.9']);
  const dst = v6
    ? pick(['fd7a:115c:a1e0::1', 'fd7a:115c:a1e0::1', 'fd7a:115c:a1e0::5'])
    : pick(['100.64.0.1', '100.64.0.1', '100.64.0.5']);
  const proto = pick(v6 ? [6, 17, 58, 132, 47] : [6, 17, 1, 132, 47]);
  const l4len = proto === 6 ? 20 : proto === 132 ? 12 : 8;
  const l4 = new Uint8Array(l4len);
  const sport = pick([40000, 22, 5555]),
    dport = pick([22, 80, 443, 1500, 9999]);
  if (proto === 1 || proto === 58) {
    l4[0] = proto === 1 ? pick([8, 0, 3]) : pick([128, 129, 1]);
    l4[4] = 0x12;
    l4[5] = 0x34;
  } else {
    l4[0] = sport >> 8;
    l4[1] = sport & 0xff;
    l4[2] = dport >> 8;
    l4[3] = dport & 0xff;
    if (proto === 6) {
      l4[12] = 0x50;
      l4[13] = pick([0x02, 0x12, 0x10, 0x02]);
    }
    if (proto === 17) {
      l4[5] = 8;
    }
  }
  if (!v6) {
    const p = new Uint8Array(20 + l4len);
    p[0] = 0x45;
    p[2] = 0;
    p[3] = p.length;
    p[8] = 64;
    p[9] = proto;
    p.set(parseIp(src)!, 12);
    p.set(parseIp(dst)!, 16);
    p.set(l4, 20);
    return p;
  }
  const p = new Uint8Array(40 + l4len);
  p[0] = 0x60;
  p[5] = l4len;
  p[6] = proto;
  p[7] = 64;
  p.set(parseIp(src)!, 8);
  p.set(parseIp(dst)!, 24);
  p.set(l4, 40);
  return p;
}

describe('packet filter vs tailscale wgengine/filter', () => {
  it('gives the same verdicts on random rules and packets', () => {
    const helper = buildGoHelper();
    let compared = 0,
      accepted = 0;
    const mismatches: string[] = [];
    for (let round = 0; round < 40; round++) {
      const rules = randomRules();
      const packets = Array.from({ length: 40 }, () => packet(chance(2)));
      const ref = JSON.parse(
        execFileSync(helper, {
          input: JSON.stringify({ rules, local: LOCAL, packets: packets.map(toHex) }),
        }).toString(),
      ) as { verdicts: string[] };
      const f = new PacketFilter();
      f.setLocalAddresses(LOCAL);
      f.setRules(rules);
      packets.forEach((p, i) => {
        const ours = f.check(p) === 'accept' ? 'Accept' : 'Drop';
        compared++;
        if (ours === 'Accept') accepted++;
        if (ours !== ref.verdicts[i])
          mismatches.push(`${JSON.stringify(rules)} ${toHex(p)} ours=${ours} go=${ref.verdicts[i]}`);
      });
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
    // Both outcomes must actually occur, or the comparison proves little.
    expect(accepted).toBeGreaterThan(compared / 10);
    expect(accepted).toBeLessThan(compared * 0.9);
  });
});
