// TailnetNode wiring with in-memory stand-ins for control, DERP and netstack (unit test only; the
// interop proof is e2e/node.test.ts against real Headscale, derper and tailscaled).
import { describe, expect, it } from 'vitest';
import { toHex } from '../crypto/bytes.js';
import { seededRandom } from '../crypto/random.js';
import { generateKeyPair } from '../crypto/x25519.js';
import { turnsUntil } from '../platform/virtual-time.testkit.js';
import { VirtualClock } from '../platform/clock.js';
import type { FilterRule } from './filter.js';
import { buildRouteTable, parseIp } from './routes.js';
import { applyMapResponse, emptyNetworkMap, toPlainNetMap } from '../control/netmap.js';
import type { MapResponse, Node } from '../control/tailcfg.js';
import { TailnetNode, type NodeLayers, type NodeNetMap, type NetStackLike } from './node.js';

type Relay = Map<string, (src: Uint8Array, pkt: Uint8Array, region: number) => void>;

function icmpEcho(src: string, dst: string, type: number, id: number, proto = 1): Uint8Array {
  const p = new Uint8Array(28);
  p[0] = 0x45;
  p[3] = 28;
  p[8] = 64;
  p[9] = proto;
  p.set(parseIp(src)!, 12);
  p.set(parseIp(dst)!, 16);
  p[20] = type;
  p[24] = id >> 8;
  p[25] = id & 0xff;
  return p;
}

// A tiny stack: answers echo requests, resolves pings on echo replies.
function fakeStack(addr: string, output: (ip: Uint8Array) => void): NetStackLike & { got: Uint8Array[] } {
  const waiting = new Map<number, () => void>();
  let nextId = 1;
  const got: Uint8Array[] = [];
  return {
    got,
    input(ip) {
      got.push(ip);
      const src = Array.from(ip.subarray(12, 16)).join('.');
      if (ip[9] === 1 && ip[20] === 8) output(icmpEcho(addr, src, 0, (ip[24]! << 8) | ip[25]!));
      if (ip[9] === 1 && ip[20] === 0) waiting.get((ip[24]! << 8) | ip[25]!)?.();
    },
    connect: () => Promise.reject(new Error('no tcp in fake')),
    listen: () => {
      throw new Error('no listen in fake');
    },
    ping(dst) {
      const id = nextId++;
      return new Promise((resolve) => {
        waiting.set(id, () => resolve(1));
        output(icmpEcho(addr, dst, 8, id));
      });
    },
    close() {},
  };
}

/** restarts: how many times this machine restarted before (same node key, new disco key). */
function makeNode(relay: Relay, name: string, addr: string, home: number, restarts = 0) {
  const random = seededRandom(addr.length * 31 + home);
  const nodeKey = generateKeyPair(random);
  if (restarts) random(32 * restarts);
  let emit!: (nm: NodeNetMap) => void;
  let discoPub!: Uint8Array;
  let preferred = 0;
  let stack!: ReturnType<typeof fakeStack>;
  const layers: NodeLayers = {
    async startControl(o) {
      discoPub = o.discoPublicKey;
      return {
        nodePrivateKey: nodeKey.privateKey,
        onNetMap(cb) {
          emit = cb;
        },
        setPreferredDerp(r) {
          preferred = r;
        },
        close() {},
      };
    },
    createDerpPool(o) {
      return {
        start() {
          relay.set(toHex(nodeKey.publicKey), o.onPacket);
        },
        setDerpMap() {},
        send(region, dst, pkt) {
          const to = relay.get(toHex(dst));
          queueMicrotask(() => to?.(nodeKey.publicKey, pkt, region));
        },
        close() {
          relay.delete(toHex(nodeKey.publicKey));
        },
      };
    },
    createNetStack(o) {
      return (stack = fakeStack(o.addresses[0]!, o.output));
    },
  };
  const node = new TailnetNode(layers);
  return {
    node,
    name,
    addr,
    home,
    nodeKey,
    get stack() {
      return stack;
    },
    get discoPub() {
      return discoPub;
    },
    get preferred() {
      return preferred;
    },
    /** up() has reached control and listens for netmaps. */
    get listening() {
      return emit !== undefined;
    },
    emit: (nm: NodeNetMap) => emit(nm),
    up: () => node.up({ controlUrl: 'http://control.invalid', hostname: name, random, homeRegion: home }),
  };
}

const derpMap = {
  regions: [
    { regionId: 901, nodes: [] },
    { regionId: 902, nodes: [] },
  ],
};
const allowAll: FilterRule[] = [{ SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] }];

function netmapFor(
  self: ReturnType<typeof makeNode>,
  other: ReturnType<typeof makeNode>,
  filter: FilterRule[],
): NodeNetMap {
  return {
    self: { name: `${self.name}.tail.example.`, addresses: [`${self.addr}/32`] },
    peers: [
      {
        id: other.name,
        name: `${other.name}.tail.example.`,
        nodeKey: other.nodeKey.publicKey,
        discoKey: other.discoPub,
        addresses: [`${other.addr}/32`],
        homeDerp: other.home,
        online: true,
      },
    ],
    derpMap,
    packetFilter: filter,
  };
}

/** Two nodes, alpha (region 901) and beta (902), sharing one in-memory relay, each up() started. */
async function twoNodes() {
  const relay: Relay = new Map();
  const a = makeNode(relay, 'alpha', '100.64.0.1', 901);
  const b = makeNode(relay, 'beta', '100.64.0.2', 902);
  const upA = a.up(),
    upB = b.up();
  await turnsUntil(() => a.listening && b.listening);
  return { a, b, upA, upB, relay };
}

describe('TailnetNode wiring', () => {
  it('pings a peer by MagicDNS name through WireGuard over its home region; filter drops what rules deny', async () => {
    const { a, b, upA, upB } = await twoNodes();
    a.emit(netmapFor(a, b, allowAll));
    b.emit(netmapFor(b, a, allowAll));
    await Promise.all([upA, upB]);
    expect(a.node.status().state).toBe('running');
    expect(a.preferred).toBe(901);
    expect(a.node.status().self?.discoKey).toMatch(/^discokey:[0-9a-f]{64}$/);
    const r = await a.node.ping('beta');
    expect(r.ip).toBe('100.64.0.2');
    const st = a.node.status();
    expect(st.peers[0]!.relayRegion).toBe(902);
    expect(st.peers[0]!.handshakeAgeMs).toBeGreaterThanOrEqual(0);
    expect(st.peers[0]!.txBytes).toBeGreaterThan(0);
    expect(await a.node.discoPing('beta.tail.example.')).toBeGreaterThanOrEqual(0);

    // b now allows nothing inbound: a's echo request is dropped and counted, b's own ping still works.
    b.emit(netmapFor(b, a, []));
    const before = b.stack.got.length;
    const lost = a.node.ping('100.64.0.2');
    await turnsUntil(() => b.node.status().counters['filter.droppedByRule'] > 0);
    expect(b.stack.got.length).toBe(before);
    expect(b.node.status().counters['filter.droppedByRule']).toBeGreaterThan(0);
    await b.node.ping('alpha');
    void lost;
    // TSMP and other unknown protocols are ignored and counted.
    (a.node as unknown as { outbound(ip: Uint8Array): void }).outbound(icmpEcho('100.64.0.1', '100.64.0.2', 0, 0, 99));
    await turnsUntil(() => b.node.status().counters.rxUnknownProto === 1);
    expect(b.node.status().counters.rxUnknownProto).toBe(1);
    // A TSMP disco key advertisement (capver 144 peers send one after each handshake) is read and
    // counted, not an unknown protocol; a key that is not the netmap's is counted as new.
    const advert = new Uint8Array(20 + 33);
    advert[0] = 0x45;
    advert[3] = advert.length;
    advert[8] = 64;
    advert[9] = 99;
    advert.set([100, 64, 0, 1], 12);
    advert.set([100, 64, 0, 2], 16);
    advert[20] = 0x61;
    advert.fill(7, 21);
    (a.node as unknown as { outbound(ip: Uint8Array): void }).outbound(advert);
    await turnsUntil(() => b.node.status().counters.tsmpDiscoAdverts === 1);
    expect(b.node.status().counters.tsmpDiscoAdverts).toBe(1);
    expect(b.node.status().counters.tsmpDiscoAdvertsNewKey).toBe(1);
    expect(b.node.status().counters.rxUnknownProto).toBe(1);
    await a.node.down();
    await b.node.down();
    expect(a.node.status().state).toBe('stopped');
  });

  it('a peer that restarted (new disco key in the map) gets its session reset and is reached at once; a key first announced over TSMP resets nothing', async () => {
    const { a, b, upA, upB, relay } = await twoNodes();
    const debug: string[] = [];
    a.node.on('debug', (t) => debug.push(t));
    a.emit(netmapFor(a, b, allowAll));
    b.emit(netmapFor(b, a, allowAll));
    await Promise.all([upA, upB]);
    await a.node.ping('beta');
    expect(debug).toContain('wg: beta: handshake initiation sent');
    expect(debug).toContain('wg: beta: handshake response received');
    // beta restarts: same node key, new disco key, no WireGuard session.
    await b.node.down();
    const b2 = makeNode(relay, 'beta', '100.64.0.2', 902, 1);
    const upB2 = b2.up();
    await turnsUntil(() => b2.listening);
    b2.emit(netmapFor(b2, a, allowAll));
    await upB2;
    expect(toHex(b2.nodeKey.publicKey)).toBe(toHex(b.nodeKey.publicKey));
    expect(toHex(b2.discoPub)).not.toBe(toHex(b.discoPub));
    // Control tells alpha about the new disco key: the old session goes, the next ping handshakes
    // at once (without the reset it was sealed with keys beta no longer has, for 15 s).
    debug.length = 0;
    a.emit(netmapFor(a, b2, allowAll));
    expect(a.node.status().counters.peerResets).toBe(1);
    expect(debug[0]).toBe('wg: beta: session reset');
    expect((await a.node.ping('beta')).ip).toBe('100.64.0.2');
    expect(b2.node.status().counters['wg.rxDropUnknownIndex'] ?? 0).toBe(0);
    // beta announces yet another disco key over TSMP (a working session): when control's map then
    // shows that key, the session stays (tailscaled: tsmpLearnedDisco).
    const advert = new Uint8Array(20 + 33);
    advert[0] = 0x45;
    advert[3] = advert.length;
    advert[8] = 64;
    advert[9] = 99;
    advert.set([100, 64, 0, 2], 12);
    advert.set([100, 64, 0, 1], 16);
    advert[20] = 0x61;
    advert.fill(7, 21);
    (b2.node as unknown as { outbound(ip: Uint8Array): void }).outbound(advert);
    await turnsUntil(() => a.node.status().counters.tsmpDiscoAdvertsNewKey === 1);
    const withKey = (k: Uint8Array) => {
      const nm = netmapFor(a, b2, allowAll);
      nm.peers[0] = { ...nm.peers[0]!, discoKey: k };
      return nm;
    };
    a.emit(withKey(new Uint8Array(32).fill(7)));
    expect(a.node.status().counters.peerResets).toBe(1);
    // A change control reports that no TSMP advert announced: a restart again.
    a.emit(withKey(new Uint8Array(32).fill(8)));
    expect(a.node.status().counters.peerResets).toBe(2);
    await a.node.down();
    await b2.node.down();
  });

  // The attacker is a peer with a real WireGuard session to us that writes another machine's
  // address (or an address behind a route we did not choose) as the source of its packets.
  it('drops and counts packets whose source is not routed to the peer that sent them (cryptokey routing)', async () => {
    const { a, b, upA, upB } = await twoNodes();
    a.emit(netmapFor(a, b, allowAll));
    // b knows a third machine, gamma, and alpha advertises a subnet that b has not accepted.
    const nmB = netmapFor(b, a, allowAll);
    nmB.peers[0]!.allowedIPs = ['100.64.0.1/32', '10.77.0.0/24'];
    const gammaKey = generateKeyPair(seededRandom(7)).publicKey;
    nmB.peers.push({
      id: 'gamma',
      name: 'gamma.tail.example.',
      nodeKey: gammaKey,
      addresses: ['100.64.0.3/32'],
      homeDerp: 901,
    });
    b.emit(nmB);
    await Promise.all([upA, upB]);
    const send = (a.node as unknown as { outbound(ip: Uint8Array): void }).outbound.bind(a.node);
    // a routes 100.64.0.2 to b; the forged source addresses ride inside a's genuine session.
    send(icmpEcho('100.64.0.3', '100.64.0.2', 8, 41)); // gamma's address
    send(icmpEcho('10.77.0.9', '100.64.0.2', 8, 42)); // a subnet b did not accept
    send(icmpEcho('198.51.100.7', '100.64.0.2', 8, 43)); // an address nobody routes
    await turnsUntil(() => b.node.status().counters.rxSpoofedSource === 3);
    const seen = () => b.stack.got.map((p) => (p[24]! << 8) | p[25]!);
    expect(seen()).toEqual([]);
    expect(b.node.status().counters.rxSpoofedSource).toBe(3);
    // Legitimate traffic in the same session still flows.
    send(icmpEcho('100.64.0.1', '100.64.0.2', 8, 44));
    await turnsUntil(() => seen().length > 0);
    expect(seen()).toEqual([44]);
    // Once b accepts alpha's subnet route, alpha may speak for it.
    b.node.setRoutePrefs({ acceptRoutes: true });
    send(icmpEcho('10.77.0.9', '100.64.0.2', 8, 45));
    send(icmpEcho('100.64.0.3', '100.64.0.2', 8, 46)); // still gamma's, still refused
    await turnsUntil(() => seen().length > 1 && b.node.status().counters.rxSpoofedSource === 4);
    expect(seen()).toEqual([44, 45]);
    expect(b.node.status().counters.rxSpoofedSource).toBe(4);
    await a.node.down();
    await b.node.down();
  });

  it('refuses IP literals that no route reaches, and reaches them once the route is chosen', async () => {
    const { a, b, upA, upB } = await twoNodes();
    const nmA = netmapFor(a, b, allowAll);
    nmA.peers[0]!.allowedIPs = ['100.64.0.2/32', '10.77.0.0/24', '0.0.0.0/0'];
    a.emit(nmA);
    b.emit(netmapFor(b, a, allowAll));
    await Promise.all([upA, upB]);
    expect(a.node.resolve('100.64.0.2')).toBe('100.64.0.2');
    expect(a.node.resolve('100.64.0.1')).toBe('100.64.0.1');
    expect(() => a.node.resolve('10.77.0.9')).toThrow(/not reachable through the tailnet/);
    expect(() => a.node.resolve('198.51.100.7')).toThrow(/not reachable through the tailnet/);
    a.node.setRoutePrefs({ acceptRoutes: true });
    expect(a.node.resolve('10.77.0.9')).toBe('10.77.0.9');
    expect(() => a.node.resolve('198.51.100.7')).toThrow(/not reachable/);
    expect(() => a.node.setRoutePrefs({ exitNodeId: 'nobody' })).toThrow(/not a peer/);
    a.node.setRoutePrefs({ exitNodeId: 'beta' });
    expect(a.node.resolve('198.51.100.7')).toBe('198.51.100.7');
    expect(() => a.node.resolve('10.77.0.9')).not.toThrow(); // through the exit node now
    await a.node.down();
    await b.node.down();
  });
});

describe('TailnetNode with a large map and deltas (issue 16: O(changes) per delta)', () => {
  type Internals = {
    wg: { addPeer(k: Uint8Array): void; removePeer(k: Uint8Array): void; hasPeer(k: Uint8Array): boolean };
    routes: { lookup(ip: Uint8Array): { id: string; nodeKey: Uint8Array } | undefined };
    magic: { peer(k: Uint8Array): { homeDerp?: number } | undefined };
  };
  const peerOf = (
    i: number,
    key: Uint8Array,
    extra: Partial<NodeNetMap['peers'][number]> = {},
  ): NodeNetMap['peers'][number] => ({
    id: String(i),
    name: `p${i}.tail.example.`,
    nodeKey: key,
    addresses: [`100.64.${i >> 8}.${i & 255}/32`],
    allowedIPs: [`100.64.${i >> 8}.${i & 255}/32`, ...(i % 7 === 0 ? [`10.${i & 255}.0.0/16`] : [])],
    homeDerp: 901,
    online: true,
    ...extra,
  });

  it('a delta rebuilds nothing for unchanged peers, and the result equals a full rebuild after every delta', async () => {
    const relay: Relay = new Map();
    const a = makeNode(relay, 'alpha', '100.100.0.1', 901);
    const up = a.up();
    await turnsUntil(() => a.listening);
    const random = seededRandom(42);
    let keys = 0;
    // Distinct keys (any 32 bytes but the low-order points are valid peer keys for the device).
    const keyOf = () => {
      const k = random(32);
      k[0] = keys & 255;
      k[1] = keys++ >> 8;
      k[2] = 0x55;
      return k;
    };
    let peers = Array.from({ length: 300 }, (_, i) => peerOf(i + 1, keyOf()));
    const map = (ps: typeof peers): NodeNetMap => ({
      self: { name: 'alpha.tail.example.', addresses: ['100.100.0.1/32'] },
      peers: ps,
      derpMap,
      packetFilter: allowAll,
    });
    a.emit(map(peers));
    await up;
    a.node.setRoutePrefs({ acceptRoutes: true });
    const inner = a.node as unknown as Internals;
    const adds: number[] = [],
      removes: number[] = [];
    const realAdd = inner.wg.addPeer.bind(inner.wg),
      realRemove = inner.wg.removePeer.bind(inner.wg);
    inner.wg.addPeer = (k) => {
      adds.push(1);
      realAdd(k);
    };
    inner.wg.removePeer = (k) => {
      removes.push(1);
      realRemove(k);
    };

    // One peer's online flag: one new object, nothing added to or removed from WireGuard.
    peers = peers.map((p) => (p.id === '17' ? { ...p, online: false } : p));
    a.emit(map(peers));
    expect(adds.length + removes.length).toBe(0);
    expect(inner.routes.lookup(parseIp('100.64.0.17')!)).toBe(peers[16]);

    let next = 1000;
    for (let step = 0; step < 100; step++) {
      const r = random(1)[0]!;
      const at = r % peers.length;
      const p = peers[at]!;
      if (r % 5 === 0)
        peers = peers.filter((_, i) => i !== at); // removed
      else if (r % 5 === 1)
        peers = [...peers, peerOf(next++, keyOf())]; // added
      else if (r % 5 === 2)
        peers = peers.map((q, i) => (i === at ? { ...q, nodeKey: keyOf() } : q)); // re-keyed
      else if (r % 5 === 3)
        peers = peers.map((q, i) =>
          i === at ? { ...q, allowedIPs: [...(q.allowedIPs ?? []), `172.16.${step}.0/24`] } : q,
        ); // new route
      else peers = peers.map((q, i) => (i === at ? { ...q, homeDerp: 902, online: !q.online } : q)); // patch
      if (step % 50 === 49) {
        // Two peers claim the same subnet: the later one holds it, as a rebuild has it.
        const x = peers[3]!,
          y = peers[4]!;
        peers = peers.map((q) =>
          q === x || q === y ? { ...q, allowedIPs: [...(q.allowedIPs ?? []), '192.168.77.0/24'] } : q,
        );
      }
      a.emit(map(peers));
      void p;
      const full = buildRouteTable(peers, { acceptRoutes: true }).table;
      for (const q of peers) {
        for (const text of q.allowedIPs ?? []) {
          const ip = parseIp(text.split('/')[0]!)!;
          expect(inner.routes.lookup(ip)).toBe(full.lookup(ip));
        }
        expect(inner.wg.hasPeer(q.nodeKey)).toBe(true);
        expect(inner.magic.peer(q.nodeKey)?.homeDerp, `step ${step} kind ${r % 5} peer ${q.id}`).toBe(q.homeDerp);
      }
      expect(inner.routes.lookup(parseIp('192.168.77.1')!)).toBe(full.lookup(parseIp('192.168.77.1')!));
    }
    // Every WireGuard peer belongs to a current peer (nothing left behind by removals and re-keys).
    expect(
      a.node
        .status()
        .peers.map((p) => p.id)
        .sort(),
    ).toEqual(peers.map((p) => p.id).sort());
    const knownKeys = (a.node as unknown as { knownWgPeers: Set<string> }).knownWgPeers;
    expect([...knownKeys].sort()).toEqual(peers.map((q) => toHex(q.nodeKey)).sort());
    expect(adds.length).toBeLessThan(100);
    await a.node.down();
  });
});

describe('TailnetNode fed by control/netmap deltas (peerDelta)', () => {
  it('applies only the delta, and ends where a full rebuild of the same map ends', async () => {
    const relay: Relay = new Map();
    const a = makeNode(relay, 'alpha', '100.100.0.1', 901);
    const up = a.up();
    await turnsUntil(() => a.listening);
    const random = seededRandom(7);
    let keys = 0;
    const keyText = () => {
      const k = random(32);
      k[0] = keys & 255;
      k[1] = keys++ >> 8;
      k[2] = 0x55;
      return `nodekey:${toHex(k)}`;
    };
    const node = (id: number): Node => ({
      ID: id,
      Name: `p${id}.tail.example.`,
      Key: keyText(),
      Addresses: [`100.64.${id >> 8}.${id & 255}/32`],
      AllowedIPs: [`100.64.${id >> 8}.${id & 255}/32`, ...(id % 9 === 0 ? [`10.${id & 255}.0.0/16`] : [])],
      HomeDERP: 901,
      Online: true,
    });
    const self: Node = { ID: 1, Name: 'alpha.tail.example.', Key: keyText(), Addresses: ['100.100.0.1/32'] };
    let nm = applyMapResponse(
      emptyNetworkMap(),
      {
        Node: self,
        Peers: Array.from({ length: 200 }, (_, i) => node(i + 2)),
        DERPMap: { Regions: { 901: { RegionID: 901, RegionCode: 'a', RegionName: 'A', Nodes: [] } } },
        PacketFilter: allowAll as MapResponse['PacketFilter'],
      },
      'now',
    );
    a.emit(toPlainNetMap(nm) as NodeNetMap);
    await up;
    a.node.setRoutePrefs({ acceptRoutes: true });
    const inner = a.node as unknown as {
      routes: { lookup(ip: Uint8Array): { id: string } | undefined };
      peerById: Map<string, unknown>;
      knownWgPeers: Set<string>;
    };
    let next = 1000;
    let deltas = 0;
    for (let step = 0; step < 90; step++) {
      const ids = [...nm.peers.keys()];
      const pick = () => ids[random(1)[0]! % ids.length]!;
      const r = step % 6;
      const resp: MapResponse =
        r === 0
          ? {
              PeersChangedPatch: [
                { NodeID: pick(), DERPRegion: 902 },
                { NodeID: pick(), Key: keyText() },
              ],
            }
          : r === 1
            ? { OnlineChange: { [String(pick())]: false } }
            : r === 2
              ? { PeerSeenChange: { [String(pick())]: true } }
              : r === 3
                ? { PeersRemoved: [pick()], PeersChanged: [node(next++)] }
                : r === 4
                  ? {
                      PeersChanged: [
                        {
                          ...nm.peers.get(pick())!,
                          AllowedIPs: [...nm.peers.get(pick())!.AllowedIPs!, `172.16.${step}.0/24`],
                        },
                      ],
                    }
                  : { PeersChanged: [{ ...node(next++), Key: 'nodekey:zz' }] }; // an unusable key: left out
      nm = applyMapResponse(nm, resp, 'now');
      const plain = toPlainNetMap(nm) as NodeNetMap;
      if (plain.peerDelta) deltas++;
      a.emit(plain);
      const full = buildRouteTable(plain.peers, { acceptRoutes: true }).table;
      for (const p of plain.peers)
        for (const text of p.allowedIPs ?? []) {
          const ip = parseIp(text.split('/')[0]!)!;
          expect(inner.routes.lookup(ip)?.id).toBe(full.lookup(ip)?.id);
        }
      expect([...inner.peerById.keys()].sort()).toEqual(plain.peers.map((p) => p.id).sort());
      expect([...inner.knownWgPeers].sort()).toEqual(plain.peers.map((p) => toHex(p.nodeKey)).sort());
      // The plain list equals one made from scratch (sorted by ID, expired and keyless peers out).
      expect(plain.peers.map((p) => p.id)).toEqual(
        [...nm.peers.values()]
          .filter((n) => /^nodekey:[0-9a-f]{64}$/.test(n.Key))
          .map((n) => n.ID)
          .sort((x, y) => x - y)
          .map(String),
      );
      for (const p of plain.peers)
        expect([p.online, p.homeDerp]).toEqual([
          nm.peers.get(Number(p.id))!.Online,
          nm.peers.get(Number(p.id))!.HomeDERP,
        ]);
    }
    expect(deltas).toBe(90);
    await a.node.down();
  });
});

describe('TailnetNode.up() never waits for good', () => {
  function controlOnly(lastError?: string) {
    let stateCb: ((s: string, d?: string) => void) | undefined;
    let closed = false;
    const layers: NodeLayers = {
      async startControl() {
        return {
          nodePrivateKey: generateKeyPair(seededRandom(1)).privateKey,
          onNetMap() {},
          setPreferredDerp() {},
          onState(cb) {
            stateCb = cb;
          },
          status: () => ({ state: 'reconnecting', lastError }),
          close() {
            closed = true;
          },
        };
      },
      createDerpPool() {
        throw new Error('no map, no DERP');
      },
      createNetStack() {
        throw new Error('no map, no netstack');
      },
    };
    return {
      node: new TailnetNode(layers),
      state: (s: string, d?: string) => stateCb!(s, d),
      get listening() {
        return stateCb !== undefined;
      },
      get closed() {
        return closed;
      },
    };
  }

  it("fails with control's words when control refuses the node (401 on the map request)", async () => {
    const t = controlOnly();
    const failed = t.node.up({ controlUrl: 'http://control.invalid', hostname: 'me' }).catch((e: Error) => e.message);
    await turnsUntil(() => t.listening);
    expect(t.node.status().state).toBe('starting');
    t.state('key-expired', "control refused this machine's map request: … Log in again. (HTTP 401)");
    expect(await failed).toBe("control refused this machine's map request: … Log in again. (HTTP 401)");
    expect(t.node.status()).toMatchObject({
      state: 'error',
      error: "control refused this machine's map request: … Log in again. (HTTP 401)",
    });
    expect(t.closed).toBe(true);
  });

  it("fails when no map comes within firstMapTimeoutMs, saying control's last error", async () => {
    const clock = new VirtualClock();
    const t = controlOnly(
      'control did not answer the map request (POST /machine/map) within 30 s (stage: map response head)',
    );
    const failed = t.node
      .up({ controlUrl: 'http://control.invalid', hostname: 'me', clock, firstMapTimeoutMs: 90_000 })
      .catch((e: Error) => e.message);
    await turnsUntil(() => clock.pending > 0);
    clock.advance(89_999);
    await turnsUntil(() => false, 5);
    expect(t.node.status().state).toBe('starting');
    clock.advance(1);
    expect(await failed).toBe(
      'no network map from control within 90 s after logging in; last error: control did not answer the map request (POST /machine/map) within 30 s (stage: map response head)',
    );
    expect(t.node.status().state).toBe('error');
    expect(t.closed).toBe(true);
  });
});
