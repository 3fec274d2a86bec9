import { describe, expect, it } from 'vitest';
import { toHex } from '../crypto/bytes.js';
import { seededRandom } from '../crypto/random.js';
import { generateKeyPair } from '../crypto/x25519.js';
import { applyMapResponse, emptyNetworkMap, toPlainNetMap, type NetworkMap } from '../control/netmap.js';
import type { MapResponse, Node } from '../control/tailcfg.js';
import { TailnetNode, type NodeLayers, type NodeNetMap } from '../node/node.js';
import { PeerStatusChanges } from '../node/status-changes.js';
import type { PortLike } from '../platform/port.js';
import { NodeService } from './node-service.js';
import type { PeerView } from './node-api.js';
import { MemoryWorkerStore } from './store.js';

const random = seededRandom(16);
const PEERS = 500;

function peerNode(i: number): Node {
  return {
    ID: 1000 + i,
    Name: `host-${i}.tail.example.`,
    Key: `nodekey:${toHex(random(32))}`,
    DiscoKey: `discokey:${toHex(random(32))}`,
    Addresses: [`100.64.${i >> 8}.${i & 255}/32`],
    HomeDERP: 1,
    Online: true,
    Hostinfo: { OS: 'linux', Hostname: `host-${i}` },
  };
}

interface StatusEvent {
  status: { peers: PeerView[] };
  peersDiff?: { upsert: PeerView[]; remove: string[] };
}

/** A real TailnetNode (control, DERP and netstack faked) behind a real NodeService, and one window's status events. */
async function tailnet() {
  const selfKey = generateKeyPair(random);
  let emit: ((nm: NodeNetMap) => void) | undefined;
  const layers: NodeLayers = {
    async startControl() {
      return {
        nodePrivateKey: selfKey.privateKey,
        onNetMap: (cb) => void (emit = cb),
        setPreferredDerp() {},
        close() {},
      };
    },
    createDerpPool: () => ({ start() {}, setDerpMap() {}, send() {}, close() {} }),
    createNetStack: () => ({
      input() {},
      connect: () => Promise.reject(new Error('none')),
      listen: () => {
        throw new Error('none');
      },
      close() {},
    }),
  };
  const node = new TailnetNode(layers);
  const svc = new NodeService({
    createNode: async () => node,
    persistentStore: new MemoryWorkerStore(),
    statusIntervalMs: 3_600_000,
    statusMinIntervalMs: 0,
  });
  const events: StatusEvent[] = [];
  /** The peers a window has, built up from its status events as node-client.ts does (whole, then diffs). */
  const windows: Map<string, PeerView>[] = [];
  const port = (): PortLike => {
    const seen = new Map<string, PeerView>();
    windows.push(seen);
    return {
      addEventListener() {},
      postMessage(m: unknown) {
        const ev = (m as { event?: StatusEvent & { type?: string } }).event;
        if (ev?.type !== 'status') return;
        events.push(ev);
        if (!ev.peersDiff) {
          seen.clear();
          for (const p of ev.status.peers) seen.set(p.id, p);
        } else {
          for (const id of ev.peersDiff.remove) seen.delete(id);
          for (const p of ev.peersDiff.upsert) seen.set(p.id, p);
        }
      },
    };
  };
  svc.attach(port());
  // What the node reported to the service on each tick: how many peers it made a status for.
  const made: { full: boolean; peers: number }[] = [];
  const real = node.peerStatusChanges.bind(node);
  node.peerStatusChanges = () => {
    const r = real();
    made.push({ full: r.full, peers: r.peers.length });
    return r;
  };
  const up = svc.up({ controlUrl: 'http://control.invalid', hostname: 'me', ephemeral: true, profileId: 't' });
  await expect.poll(() => emit !== undefined).toBe(true);
  let nm: NetworkMap = applyMapResponse(
    emptyNetworkMap(),
    {
      Node: {
        ID: 1,
        Name: 'me.tail.example.',
        Key: `nodekey:${toHex(selfKey.publicKey)}`,
        Addresses: ['100.100.0.1/32'],
      },
      Peers: Array.from({ length: PEERS }, (_, i) => peerNode(i)),
      DERPMap: { Regions: { 1: { RegionID: 1, RegionCode: 'r1', RegionName: 'Region 1', Nodes: [] } } },
    },
    'now',
  );
  emit!(toPlainNetMap(nm) as NodeNetMap);
  await up;
  await expect.poll(() => windows[0]!.size).toBe(PEERS);
  return {
    windows,
    svc,
    node,
    events,
    made,
    port,
    /** Applies a delta from control and waits for the status push it causes. */
    async delta(resp: MapResponse) {
      const n = events.length;
      nm = applyMapResponse(nm, resp, 'now');
      emit!(toPlainNetMap(nm) as NodeNetMap);
      await expect.poll(() => events.length).toBeGreaterThan(n);
      return events.at(-1)!;
    },
  };
}

describe('status of a large tailnet is made from what changed', () => {
  it('a delta of one peer: the node makes one peer status and the window is sent that one peer', async () => {
    const t = await tailnet();
    expect(t.made).toContainEqual({ full: true, peers: PEERS });

    const ev = await t.delta({ OnlineChange: { '1007': false } });
    expect(t.made.at(-1)).toEqual({ full: false, peers: 1 });
    expect(ev.status.peers).toEqual([]);
    expect(ev.peersDiff!.remove).toEqual([]);
    expect(ev.peersDiff!.upsert.map((p) => [p.id, p.online])).toEqual([['1007', false]]);

    const gone = await t.delta({ PeersRemoved: [1009] });
    expect(t.made.at(-1)).toEqual({ full: false, peers: 0 });
    expect(gone.peersDiff).toEqual({ upsert: [], remove: ['1009'] });

    const patched = await t.delta({
      PeersChangedPatch: [
        { NodeID: 1001, DERPRegion: 1, Endpoints: ['192.0.2.1:41641'] },
        { NodeID: 1002, Online: false },
      ],
    });
    expect(t.made.at(-1)).toEqual({ full: false, peers: 2 });
    // 1001's patch changed nothing a window shows; 1002 went offline.
    expect(patched.peersDiff!.upsert.map((p) => p.id)).toEqual(['1002']);

    // A tick with nothing changed: no peer made, none sent.
    const n = t.events.length;
    (t.svc as unknown as { pushStatus(): void }).pushStatus();
    await expect.poll(() => t.events.length).toBe(n + 1);
    expect(t.made.at(-1)).toEqual({ full: false, peers: 0 });
    expect(t.events.at(-1)!.peersDiff).toEqual({ upsert: [], remove: [] });

    // A second window gets the whole list as it is now; both windows see the same peers.
    t.svc.attach(t.port());
    (t.svc as unknown as { pushStatus(): void }).pushStatus();
    await expect.poll(() => t.windows[1]!.size).toBe(PEERS - 1);
    for (const all of t.windows) {
      expect(all.size).toBe(PEERS - 1);
      expect(all.get('1007')!.online).toBe(false);
      expect(all.get('1002')!.online).toBe(false);
      expect(all.has('1009')).toBe(false);
    }
    expect([...t.windows[0]!.values()].sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      [...t.windows[1]!.values()].sort((a, b) => a.id.localeCompare(b.id)),
    );
    await t.svc.down();
  });

  it('new route choices remake every peer status; so does a full map', async () => {
    const t = await tailnet();
    t.node.setRoutePrefs({ acceptRoutes: true });
    await t.delta({ OnlineChange: { '1003': false } });
    expect(t.made.at(-1)).toEqual({ full: true, peers: PEERS });
    await t.delta({ Peers: Array.from({ length: 10 }, (_, i) => peerNode(i)) });
    expect(t.made.at(-1)).toEqual({ full: true, peers: 10 });
    expect(t.events.at(-1)!.peersDiff!.remove).toHaveLength(PEERS - 10);
    expect(t.windows[0]!.size).toBe(10);
    await t.svc.down();
  });
});

describe('PeerStatusChanges', () => {
  const peers = new Map([
    ['1', { key: 'aa' }],
    ['2', { key: 'bb' }],
    ['3', { key: 'cc' }],
  ]);
  const keyOf = (p: { key: string }) => p.key;

  it('is full first, then names the changed peers, and peers WireGuard talks to on every take', () => {
    const c = new PeerStatusChanges();
    expect(c.take(901, peers, keyOf)).toEqual({ full: true });
    expect(c.take(901, peers, keyOf)).toEqual({ full: false, ids: [], removed: [] });
    c.markDelta(['2'], ['3']);
    c.markActive('aa');
    expect(c.take(901, peers, keyOf)).toEqual({ full: false, ids: ['2', '1'], removed: ['3'] });
    // The active peer's handshake age and byte counts move: it is taken again without a delta.
    expect(c.take(901, peers, keyOf)).toEqual({ full: false, ids: ['1'], removed: [] });
    // Our home region is where peers without one are shown: a change is a full take.
    expect(c.take(902, peers, keyOf)).toEqual({ full: true });
    c.markAll();
    c.markDelta(['2'], []);
    expect(c.take(902, peers, keyOf)).toEqual({ full: true });
    // A peer that left is no longer taken as active.
    expect(c.take(902, new Map([['2', { key: 'bb' }]]), keyOf)).toEqual({ full: false, ids: [], removed: [] });
  });
});
