// A tailnet of 10,000 machines (issue 16, scale): a synthetic but wire-true map stream — one full
// MapResponse with 10,000 realistic peers (keys, addresses, AllowedIPs with some subnet and exit
// routes, Hostinfo with OS/hostname/SSH host keys, HomeDERP, CapMap), then 1,000 deltas
// (PeersChangedPatch, OnlineChange, PeerSeenChange, PeersChanged/PeersRemoved of a few peers) —
// through the code the app runs: the map-stream decoder (framing + zstd + JSON, fed in 16 KiB HTTP/2
// DATA-sized chunks), applyMapResponse, toPlainNetMap (as layers.ts hands maps to the node),
// TailnetNode.applyNetMap (with in-memory DERP and netstack), and NodeService, whose status
// events are posted to a fake window port and measured as structured clones (v8.serialize, what
// postMessage copies). Not through Noise and HTTP/2: their cost is per byte, not per peer.
//
// `npm run bench -- netmap`: 1,000 and 10,000 peers (NETMAP_PEERS, a comma list, and NETMAP_DELTAS
// override them and the 1,000 deltas), then 50 deltas of 100 PeersChangedPatch each.
import { execFileSync } from 'node:child_process';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { toHex } from '../src/crypto/bytes.js';
import { seededRandom } from '../src/crypto/random.js';
import { generateKeyPair } from '../src/crypto/x25519.js';
import { DEFAULT_MAX_MAP_MESSAGE, MapStreamDecoder, encodeMapMessage } from '../src/control/mapstream.js';
import { applyMapResponse, emptyNetworkMap, toPlainNetMap, type NetworkMap } from '../src/control/netmap.js';
import type { MapResponse, Node } from '../src/control/tailcfg.js';
import { TailnetNode, type NodeLayers, type NodeNetMap } from '../src/node/node.js';
import { buildRouteTable } from '../src/node/routes.js';
import { NodeService } from '../src/app/node-service.js';
import { MemoryWorkerStore } from '../src/app/store.js';
import { toStatusView } from '../src/app/status.js';
import type { PortLike } from '../src/platform/port.js';
import type { BenchRow } from './run.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const SIZES = (process.env.NETMAP_PEERS ?? '1000,10000').split(',').map(Number);
const DELTAS = Number(process.env.NETMAP_DELTAS ?? 1_000);
const CHUNK = 16_384;
const REGIONS = 20;
const random = seededRandom(16);
const hex = (n: number) => toHex(random(n));
const b64 = (n: number) => Buffer.from(random(n)).toString('base64');
const OSES = ['linux', 'windows', 'macOS', 'iOS', 'android', 'freebsd'];

function peerNode(i: number): Node {
  const id = 1000 + i;
  const v4 = `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`;
  const v6 = `fd7a:115c:a1e0::${(i + 1).toString(16)}/128`;
  const allowed = [v4, v6];
  if (i % 50 === 7) allowed.push(`10.${(i >> 8) & 255}.${i & 255}.0/24`, `192.168.${i & 255}.0/24`);
  if (i % 1000 === 3) allowed.push('0.0.0.0/0', '::/0');
  const host = `host-${i}`;
  return {
    ID: id,
    StableID: `n${hex(8)}CNTRL`,
    Name: `${host}.tail1234.ts.net.`,
    User: 1 + (i % 50),
    Key: `nodekey:${hex(32)}`,
    KeyExpiry: '2027-06-01T00:00:00Z',
    Machine: `mkey:${hex(32)}`,
    DiscoKey: `discokey:${hex(32)}`,
    Addresses: [v4, v6],
    AllowedIPs: allowed,
    Endpoints: [
      `203.0.${(i >> 8) & 255}.${i & 255}:41641`,
      `192.168.1.${i & 255}:41641`,
      `[2001:db8::${i.toString(16)}]:41641`,
    ],
    HomeDERP: 1 + (i % REGIONS),
    Hostinfo: {
      IPNVersion: '1.102.3-t0123456789-gabcdef012345',
      OS: OSES[i % OSES.length],
      OSVersion: 'Debian 12.8 (bookworm); kernel=6.1.0-28-amd64',
      Hostname: host,
      GoArch: 'amd64',
      GoVersion: 'go1.26.0',
      Machine: 'x86_64',
      ...(i % 50 === 7 ? { RoutableIPs: allowed.slice(2) } : {}),
      Services: [
        { Proto: 'tcp', Port: 22 },
        { Proto: 'peerapi4', Port: 40000 + (i % 1000) },
      ],
      sshHostKeys: [`ssh-ed25519 ${b64(51)}`, `ecdsa-sha2-nistp256 ${b64(104)}`, `ssh-rsa ${b64(279)}`],
      NetInfo: { PreferredDERP: 1 + (i % REGIONS), WorkingUDP: true, LinkType: 'wired' },
    },
    Created: '2026-01-02T03:04:05Z',
    Cap: 113,
    LastSeen: '2026-12-01T10:00:00Z',
    Online: i % 3 !== 0,
    MachineAuthorized: true,
    CapMap: {
      'https://tailscale.com/cap/file-sharing': null,
      'https://tailscale.com/cap/ssh': null,
      'https://tailscale.com/cap/is-admin': null,
    },
    ComputedName: host,
    ComputedNameWithHost: host,
  };
}

function fullMap(self: Node, PEERS: number): MapResponse {
  const regions: NonNullable<MapResponse['DERPMap']>['Regions'] = {};
  for (let r = 1; r <= REGIONS; r++) {
    regions[String(r)] = {
      RegionID: r,
      RegionCode: `r${r}`,
      RegionName: `Region ${r}`,
      Nodes: [{ Name: `${r}a`, RegionID: r, HostName: `derp${r}.example.com`, IPv4: `198.51.100.${r}` }],
    };
  }
  return {
    Node: self,
    Peers: Array.from({ length: PEERS }, (_, i) => peerNode(i)),
    DERPMap: { Regions: regions },
    DNSConfig: { Domains: ['tail1234.ts.net'], Proxied: true },
    Domain: 'tail1234.ts.net',
    PacketFilter: [{ SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] }],
    UserProfiles: Array.from({ length: 50 }, (_, u) => ({
      ID: u + 1,
      LoginName: `user${u}@example.com`,
      DisplayName: `User ${u}`,
    })),
  } as MapResponse;
}

/** Delta i: a mix like a busy tailnet's — mostly patches and online/seen flips, some churn. */
function delta(i: number, liveIds: number[], nextId: () => number): MapResponse {
  const pick = () => liveIds[Math.floor((random(2)[0]! * 256 + random(1)[0]!) % liveIds.length)]!;
  switch (i % 10) {
    case 0:
    case 1:
    case 2:
    case 3:
      return {
        PeersChangedPatch: Array.from({ length: 10 }, () => ({
          NodeID: pick(),
          DERPRegion: 1 + (i % REGIONS),
          Endpoints: [`203.0.113.${i & 255}:41641`],
        })),
      };
    case 4:
    case 5:
      return {
        OnlineChange: Object.fromEntries(Array.from({ length: 5 }, (_, k) => [String(pick()), (i + k) % 2 === 0])),
      };
    case 6:
    case 7:
      return {
        PeerSeenChange: Object.fromEntries(Array.from({ length: 5 }, (_, k) => [String(pick()), (i + k) % 2 === 0])),
      };
    case 8: {
      // A peer re-keyed and one re-added.
      const old = pick();
      const n = peerNode(old - 1000);
      return { PeersChanged: [{ ...n, Key: `nodekey:${hex(32)}`, DiscoKey: `discokey:${hex(32)}` }] };
    }
    default: {
      // One peer leaves, a new one joins.
      const gone = pick();
      liveIds.splice(liveIds.indexOf(gone), 1);
      const id = nextId();
      liveIds.push(id);
      return { PeersRemoved: [gone], PeersChanged: [{ ...peerNode(id - 1000), ID: id }] };
    }
  }
}

function chunks(b: Uint8Array, size = CHUNK): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < b.length; o += size) out.push(b.subarray(o, o + size));
  return out;
}

function fakeLayers(nodePrivateKey: Uint8Array, control: { emit?: (nm: NodeNetMap) => void }): NodeLayers {
  return {
    async startControl() {
      return {
        nodePrivateKey,
        onNetMap(cb) {
          control.emit = cb;
        },
        setPreferredDerp() {},
        close() {},
      };
    },
    createDerpPool() {
      return { start() {}, setDerpMap() {}, send() {}, close() {} };
    },
    createNetStack() {
      return {
        input() {},
        connect: () => Promise.reject(new Error('none')),
        listen: () => {
          throw new Error('none');
        },
        close() {},
      };
    },
  };
}

const ms = (t0: number) => performance.now() - t0;

/** One map message framed with zstd -1 (the `zstd` program), or undefined without it. */
function zstdFramed(json: Uint8Array): Uint8Array | undefined {
  let z: Buffer;
  try {
    z = execFileSync('zstd', ['-1', '-q', '-c', '--no-check'], { input: json, maxBuffer: 1 << 30 });
  } catch {
    return undefined;
  }
  const out = new Uint8Array(4 + z.length);
  new DataView(out.buffer).setUint32(0, z.length, true);
  out.set(z, 4);
  return out;
}
const heapMb = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const peers of SIZES) {
    const size = peers >= 1000 ? `${peers / 1000}k` : String(peers);
    for (const r of await runSize(peers)) rows.push({ ...r, name: `${size}: ${r.name}` });
  }
  return rows;
}

async function runSize(PEERS: number): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const heap0 = heapMb();
  const selfKey = generateKeyPair(random);
  const self: Node = {
    ID: 1,
    Name: 'browser.tail1234.ts.net.',
    Key: `nodekey:${toHex(selfKey.publicKey)}`,
    User: 1,
    Addresses: ['100.100.0.1/32', 'fd7a:115c:a1e0::ffff:1/128'],
    MachineAuthorized: true,
    KeyExpiry: '2027-06-01T00:00:00Z',
  };
  const wire = encodeMapMessage(fullMap(self, PEERS));
  rows.push({
    name: `full map of ${PEERS} peers on the wire (JSON, uncompressed)`,
    value: wire.length / 2 ** 20,
    unit: 'MiB',
  });

  // The default cap: does a map of this size get through at all?
  let refusal = '';
  try {
    const d = new MapStreamDecoder();
    for (const c of chunks(wire)) d.push(c);
  } catch (e) {
    refusal = (e as Error).message;
  }
  rows.push({
    name: `default map-message cap (${DEFAULT_MAX_MAP_MESSAGE / 2 ** 20} MiB) takes the full map`,
    value: refusal ? 0 : 1,
    unit: 'yes=1',
    note: refusal || 'accepted',
  });

  // A node and the app's service, with one window listening.
  const control: { emit?: (nm: NodeNetMap) => void } = {};
  const node = new TailnetNode(fakeLayers(selfKey.privateKey, control));
  const svc = new NodeService({
    createNode: async () => node,
    persistentStore: new MemoryWorkerStore(),
    statusIntervalMs: 3_600_000,
  });
  const posted: { bytes: number; peers: number }[] = [];
  const port: PortLike = {
    addEventListener() {},
    postMessage(m: unknown) {
      const ev = (
        m as { event?: { type?: string; status?: { peers?: unknown[] }; peersDiff?: { upsert?: unknown[] } } }
      ).event;
      if (ev?.type !== 'status') return;
      posted.push({
        bytes: v8.serialize(m).length,
        peers: (ev.status?.peers?.length ?? 0) + (ev.peersDiff?.upsert?.length ?? 0),
      });
    },
  };
  svc.attach(port);

  // First map: decode, apply, hand to the node (which starts running on it). As tailscaled
  // receives it: zstd-compressed (the `zstd` program at level 1, like Headscale's zstdframe
  // FastestCompression), decoded by fzstd; plain JSON where the program is missing.
  const zwire = zstdFramed(wire.subarray(4));
  const decoder = new MapStreamDecoder({ maxMessage: Math.max(DEFAULT_MAX_MAP_MESSAGE, 64 << 20), zstd: !!zwire });
  // The chunks before the last are decoded as they arrive (while the rest is on the way); what is
  // left after the last byte is the user's wait.
  const firstChunks = chunks(zwire ?? wire);
  let t0 = performance.now();
  for (const c of firstChunks.slice(0, -1)) decoder.push(c);
  const tArriving = ms(t0);
  t0 = performance.now();
  const msgs = decoder.push(firstChunks[firstChunks.length - 1]!);
  const tLast = ms(t0);
  const tDecode = tArriving + tLast;
  if (zwire)
    rows.push({
      name: 'full map on the wire, zstd -1 (as Headscale sends it)',
      value: zwire.length / 2 ** 20,
      unit: 'MiB',
      note: `${(wire.length / zwire.length).toFixed(1)}× smaller`,
    });
  else
    rows.push({
      name: 'full map zstd rows',
      value: 0,
      unit: 'skipped',
      note: 'the zstd program is not installed: fed plain JSON',
    });
  // The same map in plain JSON, to tell the decompression's share.
  t0 = performance.now();
  const plainDecoder = new MapStreamDecoder(Math.max(DEFAULT_MAX_MAP_MESSAGE, 64 << 20));
  for (const c of chunks(wire)) plainDecoder.push(c);
  const tDecodePlain = ms(t0);
  t0 = performance.now();
  let nm: NetworkMap = applyMapResponse(emptyNetworkMap(), msgs[0]!, new Date().toISOString());
  const tApply = ms(t0);
  const up = svc.up({
    controlUrl: 'http://control.invalid',
    hostname: 'browser',
    ephemeral: false,
    profileId: 'bench',
  });
  while (!control.emit) await new Promise((r) => setTimeout(r, 1));
  posted.length = 0;
  t0 = performance.now();
  const plain = toPlainNetMap(nm) as NodeNetMap;
  const tPlain = ms(t0);
  // Time inside the service's status making and posting, to tell it from the node's own work.
  let tPush = 0;
  const svcPush = svc as unknown as { pushStatus(): void };
  const realPush = svcPush.pushStatus;
  svcPush.pushStatus = () => {
    const s = performance.now();
    realPush();
    tPush += ms(s);
  };
  t0 = performance.now();
  control.emit(plain);
  const tNode = ms(t0);
  const tPushFirst = tPush;
  await up;
  await new Promise((r) => setTimeout(r, 0));
  const firstPosts = posted.splice(0);
  rows.push({
    name: `first map: framing + ${zwire ? 'zstd + ' : ''}JSON.parse (16 KiB chunks)`,
    value: tDecode,
    unit: 'ms',
    note: `after the last chunk: ${tLast.toFixed(0)} ms; plain JSON alone: ${tDecodePlain.toFixed(0)} ms`,
  });
  rows.push({ name: 'first map: applyMapResponse', value: tApply, unit: 'ms' });
  rows.push({ name: 'first map: toPlainNetMap', value: tPlain, unit: 'ms' });
  rows.push({
    name: 'first map: node applyNetMap + status pushes',
    value: tNode,
    unit: 'ms',
    note: `of which status made and posted: ${tPushFirst.toFixed(0)} ms`,
  });
  rows.push({
    name: 'first map: total',
    value: tDecode + tApply + tPlain + tNode,
    unit: 'ms',
  });
  rows.push({
    name: 'first map: after its last byte (last chunk, JSON.parse, apply, node, status)',
    value: tLast + tApply + tPlain + tNode,
    unit: 'ms',
    note: 'issue target ≤200 ms',
  });
  rows.push({
    name: 'first map: status messages to the window',
    value: firstPosts.length,
    unit: 'messages',
    note: `${(firstPosts.reduce((a, p) => a + p.bytes, 0) / 2 ** 20).toFixed(2)} MiB in all`,
  });

  // Route table, plain map and status view on their own.
  t0 = performance.now();
  buildRouteTable(plain.peers, { acceptRoutes: true });
  rows.push({ name: `route table full build (${PEERS} peers, subnet routes on)`, value: ms(t0), unit: 'ms' });
  t0 = performance.now();
  toPlainNetMap(nm);
  rows.push({ name: 'toPlainNetMap again (same map)', value: ms(t0), unit: 'ms' });
  t0 = performance.now();
  const view = toStatusView(node.status(), plain);
  rows.push({ name: 'node.status() + toStatusView', value: ms(t0), unit: 'ms' });
  const ev = { kind: 'event', event: { type: 'status', status: view } };
  rows.push({
    name: 'full status message (structured clone)',
    value: v8.serialize(ev).length / 2 ** 20,
    unit: 'MiB',
    note: `${view.peers.length} peers`,
  });

  // Deltas (plain JSON: one zstd process per delta would measure process starts, not decoding).
  const deltaDecoder = new MapStreamDecoder();
  const liveIds = Array.from({ length: PEERS }, (_, i) => 1000 + i);
  let next = 1000 + PEERS;
  const wires = Array.from({ length: DELTAS }, (_, i) => encodeMapMessage(delta(i, liveIds, () => next++)));
  const per: number[] = [];
  const perKind = new Map<string, number[]>();
  const stage = { decode: 0, apply: 0, plain: 0, node: 0 };
  const tAll = performance.now();
  for (let i = 0; i < DELTAS; i++) {
    const s = performance.now();
    let a = performance.now();
    for (const m of deltaDecoder.push(wires[i]!)) {
      let b = performance.now();
      stage.decode += b - a;
      nm = applyMapResponse(nm, m, new Date().toISOString());
      a = performance.now();
      stage.apply += a - b;
      const plainMap = toPlainNetMap(nm) as NodeNetMap;
      b = performance.now();
      stage.plain += b - a;
      control.emit(plainMap);
      a = performance.now();
      stage.node += a - b;
    }
    const d = ms(s);
    per.push(d);
    const kind = [
      'patch×10',
      'patch×10',
      'patch×10',
      'patch×10',
      'online×5',
      'online×5',
      'seen×5',
      'seen×5',
      'changed×1',
      'removed+added',
    ][i % 10]!;
    perKind.set(kind, [...(perKind.get(kind) ?? []), d]);
  }
  const tDeltas = ms(tAll);
  // Whatever the service still has to send for them (a throttled push) goes out now.
  await new Promise((r) => setTimeout(r, 1500));
  const deltaPosts = posted.splice(0);
  rows.push({ name: `${DELTAS} deltas: total`, value: tDeltas, unit: 'ms' });
  rows.push({
    name: 'per delta: mean',
    value: tDeltas / DELTAS,
    unit: 'ms',
    note: 'issue target ≤5 ms per 100-patch delta',
  });
  rows.push({
    name: 'per delta: p50 / p99',
    value: quantile(per, 0.5),
    unit: 'ms',
    note: `p99 ${quantile(per, 0.99).toFixed(2)} ms, max ${Math.max(...per).toFixed(2)} ms`,
  });
  rows.push({
    name: 'per delta: framing+JSON / applyMapResponse / toPlainNetMap / node',
    value: (stage.decode + stage.apply + stage.plain + stage.node) / DELTAS,
    unit: 'ms',
    note: [stage.decode, stage.apply, stage.plain, stage.node].map((x) => (x / DELTAS).toFixed(2)).join(' / '),
  });
  for (const [k, xs] of perKind)
    rows.push({ name: `per delta: ${k} (mean)`, value: xs.reduce((a, b) => a + b, 0) / xs.length, unit: 'ms' });
  const deltaBytes = deltaPosts.reduce((a, p) => a + p.bytes, 0);
  rows.push({
    name: `status messages to the window for ${DELTAS} deltas`,
    value: deltaPosts.length,
    unit: 'messages',
    note: `${(deltaBytes / 2 ** 20).toFixed(1)} MiB in all, peers in them ${deltaPosts.reduce((a, p) => a + p.peers, 0)}`,
  });

  // The measure: a delta of 100 PeersChangedPatch (endpoints and home region of 100 peers).
  const big: number[] = [];
  for (let i = 0; i < 50; i++) {
    const patch: MapResponse = {
      PeersChangedPatch: Array.from({ length: 100 }, (_, k) => ({
        NodeID: liveIds[(i * 100 + k * 97) % liveIds.length]!,
        DERPRegion: 1 + ((i + k) % REGIONS),
        Endpoints: [`198.18.${i & 255}.${k & 255}:41641`],
      })),
    };
    const w = encodeMapMessage(patch);
    const s = performance.now();
    for (const m of deltaDecoder.push(w)) {
      nm = applyMapResponse(nm, m, new Date().toISOString());
      control.emit(toPlainNetMap(nm) as NodeNetMap);
    }
    big.push(ms(s));
  }
  rows.push({
    name: '100-patch delta: mean (50 of them)',
    value: big.reduce((a, b) => a + b, 0) / big.length,
    unit: 'ms',
    note: `p50 ${quantile(big, 0.5).toFixed(2)} ms, max ${Math.max(...big).toFixed(2)} ms; issue target ≤5 ms`,
  });
  await new Promise((r) => setTimeout(r, 1500));
  posted.length = 0;

  // A periodic status tick with nothing changed.
  posted.length = 0;
  t0 = performance.now();
  (svc as unknown as { pushStatus(): void }).pushStatus();
  const tTick = ms(t0);
  await new Promise((r) => setTimeout(r, 0));
  const tick = posted.splice(0);
  rows.push({ name: 'status tick (nothing changed): time', value: tTick, unit: 'ms' });
  rows.push({
    name: 'status tick (nothing changed): message size',
    value: tick.reduce((a, p) => a + p.bytes, 0) / 1024,
    unit: 'KiB',
  });

  // A tick after one peer went on- or offline.
  const flip = liveIds[1]!;
  nm = applyMapResponse(
    nm,
    { OnlineChange: { [String(flip)]: !nm.peers.get(flip)!.Online } },
    new Date().toISOString(),
  );
  control.emit(toPlainNetMap(nm) as NodeNetMap);
  posted.length = 0;
  t0 = performance.now();
  (svc as unknown as { pushStatus(): void }).pushStatus();
  const tTick1 = ms(t0);
  await new Promise((r) => setTimeout(r, 0));
  const tick1 = posted.splice(0);
  rows.push({
    name: 'status tick (one peer went on- or offline): time',
    value: tTick1,
    unit: 'ms',
    note: `peers in the message: ${tick1.reduce((a, p) => a + p.peers, 0)}`,
  });

  rows.push({
    name: 'heap after (map + node + service)',
    value: heapMb() - heap0,
    unit: 'MiB',
    note: `${nm.peers.size} peers`,
  });
  await svc.down();
  return rows;
}
