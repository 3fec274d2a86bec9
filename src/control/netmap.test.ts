import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { applyMapResponse, effectiveAllowedIPs, emptyNetworkMap, peerList, toPlainNetMap } from './netmap.js';
import type { MapResponse, Node } from './tailcfg.js';

const NOW = '2026-01-01T00:00:00Z';
const key = (i: number) => 'nodekey:' + i.toString(16).padStart(64, '0');
const node = (id: number, extra: Partial<Node> = {}): Node => ({
  ID: id,
  Name: `n${id}.ts.net.`,
  Key: key(id),
  Addresses: [`100.64.0.${id}/32`],
  ...extra,
});

describe('netmap delta application (controlclient/map.go semantics)', () => {
  it('Peers replaces, PeersChanged upserts, PeersRemoved deletes, patches and online/seen change fields', () => {
    let nm = applyMapResponse(
      emptyNetworkMap(),
      { Node: node(1), Peers: [node(2), node(3, { DERP: '127.3.3.40:901' })] },
      NOW,
    );
    expect(peerList(nm).map((p) => p.ID)).toEqual([2, 3]);
    expect(nm.peers.get(3)!.HomeDERP).toBe(901);
    const before = nm;
    nm = applyMapResponse(nm, { PeersChanged: [node(4), node(2, { Name: 'renamed.' })], PeersRemoved: [3] }, NOW);
    expect(peerList(nm).map((p) => [p.ID, p.Name])).toEqual([
      [2, 'renamed.'],
      [4, 'n4.ts.net.'],
    ]);
    expect(peerList(before).map((p) => p.ID)).toEqual([2, 3]); // old map untouched
    nm = applyMapResponse(
      nm,
      {
        PeersChangedPatch: [
          { NodeID: 2, DERPRegion: 900, Endpoints: ['1.2.3.4:5'], Online: true },
          { NodeID: 99, Online: true },
        ],
      },
      NOW,
    );
    expect(nm.peers.get(2)).toMatchObject({ HomeDERP: 900, Endpoints: ['1.2.3.4:5'], Online: true, Name: 'renamed.' });
    nm = applyMapResponse(nm, { OnlineChange: { '2': false }, PeerSeenChange: { '4': true } }, NOW);
    expect(nm.peers.get(2)!.Online).toBe(false);
    expect(nm.peers.get(4)!.LastSeen).toBe(NOW);
    nm = applyMapResponse(nm, { Peers: [] }, NOW);
    expect(nm.peers.size).toBe(0);
  });

  it('DERPMap: nil Regions keeps old regions, null regions are dropped', () => {
    const r = (id: number) => ({ RegionID: id, RegionCode: `r${id}`, RegionName: `R${id}`, Nodes: [] });
    let nm = applyMapResponse(emptyNetworkMap(), { DERPMap: { Regions: { '900': r(900), '901': r(901) } } }, NOW);
    nm = applyMapResponse(nm, { DERPMap: { Regions: null, OmitDefaultRegions: true } }, NOW);
    expect(Object.keys(nm.derpMap!.Regions!)).toEqual(['900', '901']);
    nm = applyMapResponse(nm, { DERPMap: { Regions: { '900': r(900), '901': null } } }, NOW);
    expect(Object.keys(nm.derpMap!.Regions!)).toEqual(['900']);
    expect(toPlainNetMap(nm).derpMap!.regions.map((x) => x.regionId)).toEqual([900]);
  });

  it('plain peers carry last seen and Tailscale SSH host keys only when control sent them', () => {
    const nodeKey = 'nodekey:' + '11'.repeat(32);
    const nm = applyMapResponse(
      emptyNetworkMap(),
      {
        Node: node(1),
        Peers: [
          node(2, {
            Key: nodeKey,
            LastSeen: '2026-11-24T10:00:00Z',
            Hostinfo: { OS: 'linux', sshHostKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA'] },
          }),
          node(3, { Key: nodeKey, Hostinfo: { OS: 'linux' } }),
        ],
      },
      NOW,
    );
    const [a, b] = toPlainNetMap(nm).peers;
    expect(a).toMatchObject({
      id: '2',
      lastSeen: '2026-11-24T10:00:00Z',
      sshHostKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA'],
    });
    expect(b!.lastSeen).toBeUndefined();
    expect(b!.sshHostKeys).toBeUndefined();
  });

  it('packet filters: PacketFilter resets to base; named chunks add/remove; "*" clears', () => {
    const rule = (s: string) => ({ SrcIPs: [s], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] });
    let nm = applyMapResponse(emptyNetworkMap(), { PacketFilter: [rule('a')] }, NOW);
    expect(nm.packetFilter.map((r) => r.SrcIPs[0])).toEqual(['a']);
    nm = applyMapResponse(nm, { PacketFilters: { z: [rule('z')], b: [rule('b')] } }, NOW);
    expect(nm.packetFilter.map((r) => r.SrcIPs[0])).toEqual(['b', 'a', 'z']);
    nm = applyMapResponse(nm, { PacketFilters: { b: null } }, NOW);
    expect(nm.packetFilter.map((r) => r.SrcIPs[0])).toEqual(['a', 'z']);
    nm = applyMapResponse(nm, { PacketFilters: { '*': null, c: [rule('c')] } }, NOW);
    expect(nm.packetFilter.map((r) => r.SrcIPs[0])).toEqual(['c']);
    nm = applyMapResponse(nm, { KeepAlive: true }, NOW);
    expect(nm.packetFilter.map((r) => r.SrcIPs[0])).toEqual(['c']);
  });

  it('user profiles are a delta; DNS, domain, SSH policy, health replace; nil AllowedIPs = Addresses', () => {
    let nm = applyMapResponse(
      emptyNetworkMap(),
      {
        Node: node(1, { User: 7 }),
        UserProfiles: [{ ID: 7, LoginName: 'alice', DisplayName: 'A' }],
        Domain: 'ts.net',
        DNSConfig: { Domains: ['ts.net'] },
        Health: ['x'],
      },
      NOW,
    );
    nm = applyMapResponse(nm, { UserProfiles: [{ ID: 8, LoginName: 'bob', DisplayName: 'B' }], Health: [] }, NOW);
    expect([...nm.userProfiles.keys()]).toEqual([7, 8]);
    expect(nm.health).toEqual([]);
    expect(nm.domain).toBe('ts.net');
    expect(toPlainNetMap(nm).self.user).toBe('alice');
    expect(effectiveAllowedIPs(node(5))).toEqual(['100.64.0.5/32']);
    expect(effectiveAllowedIPs(node(5, { AllowedIPs: ['10.0.0.0/8'] }))).toEqual(['10.0.0.0/8']);
  });

  it('peers control marks expired are left out of the plain map the node configures (nmcfg), and named', () => {
    let nm = applyMapResponse(emptyNetworkMap(), { Node: node(1), Peers: [node(2), node(3)] }, NOW);
    expect(toPlainNetMap(nm).peers.map((p) => p.id)).toEqual(['2', '3']);
    nm = applyMapResponse(nm, { PeersChanged: [node(3, { Expired: true, KeyExpiry: '2026-01-01T00:00:00Z' })] }, NOW);
    const plain = toPlainNetMap(nm);
    expect(plain.peers.map((p) => p.id)).toEqual(['2']);
    expect(plain.expiredPeers).toEqual(['n3.ts.net.']);
    nm = applyMapResponse(nm, { PeersChanged: [node(3)] }, NOW); // re-authenticated: a fresh node without Expired
    expect(toPlainNetMap(nm).peers.map((p) => p.id)).toEqual(['2', '3']);
    expect(toPlainNetMap(nm).expiredPeers).toBeUndefined();
  });

  it('property: random delta sequences agree with a simple model and never throw', () => {
    const id = fc.integer({ min: 1, max: 8 });
    const op = fc.oneof(
      fc.record({
        Peers: fc.array(
          id.map((i) => node(i)),
          { maxLength: 5 },
        ),
      }),
      fc.record({
        PeersChanged: fc.array(
          id.map((i) => node(i, { Name: `c${i}.` })),
          { maxLength: 3 },
        ),
      }),
      fc.record({ PeersRemoved: fc.array(id, { maxLength: 3 }) }),
      fc.record({ OnlineChange: fc.dictionary(id.map(String), fc.boolean()) }),
      fc.record({
        PeersChangedPatch: fc.array(fc.record({ NodeID: id, DERPRegion: fc.integer({ min: 1, max: 3 }) }), {
          maxLength: 3,
        }),
      }),
      fc.constant({ KeepAlive: true }),
      fc
        .anything()
        .map(
          (x) =>
            ({ Peers: x, PeersChanged: x, PeersRemoved: x, DERPMap: x, PacketFilters: x }) as unknown as MapResponse,
        ),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 20 }), (ops) => {
        let nm = emptyNetworkMap();
        const model = new Map<number, boolean>();
        const ok = (p: unknown): p is Node =>
          !!p && typeof p === 'object' && typeof (p as Node).ID === 'number' && typeof (p as Node).Key === 'string';
        for (const r0 of ops) {
          const r = r0 as Record<string, unknown>;
          nm = applyMapResponse(nm, r as MapResponse, NOW);
          if (Array.isArray(r.Peers)) {
            model.clear();
            for (const p of r.Peers) if (ok(p)) model.set(p.ID, true);
          } else {
            if (Array.isArray(r.PeersRemoved)) for (const i of r.PeersRemoved) model.delete(i as number);
            if (Array.isArray(r.PeersChanged)) for (const p of r.PeersChanged) if (ok(p)) model.set(p.ID, true);
          }
          expect([...nm.peers.keys()].sort()).toEqual([...model.keys()].sort());
        }
        toPlainNetMap(nm);
      }),
      fuzz(100),
    );
  });

  it('fields a newer control server adds are skipped and counted, the map applies as without them', () => {
    const stats = { applied: 0, keepAlives: 0, ignoredPatches: 0, unknownMapFields: 0, lastUnknownMapField: '' };
    const plain = applyMapResponse(emptyNetworkMap(), { Node: node(1), Peers: [node(2)], Domain: 'ts.net' }, NOW);
    // Names tailcfg v1.102.3 does not have: one on the response, one on our Node (capability 148's
    // Node.StableTailnetID), and a hostile one of any type.
    const newer = {
      Node: { ...node(1), StableTailnetID: 'T123' },
      Peers: [node(2)],
      Domain: 'ts.net',
      FutureThing: { a: [1] },
      ['x'.repeat(200)]: null,
    };
    const nm = applyMapResponse(emptyNetworkMap(), newer as unknown as MapResponse, NOW, stats);
    expect(toPlainNetMap(nm)).toEqual(toPlainNetMap(plain));
    expect(stats).toMatchObject({ applied: 1, unknownMapFields: 3 });
    expect(stats.lastUnknownMapField).toBe('Node.StableTailnetID');
    applyMapResponse(nm, { ['y'.repeat(200)]: 1 } as unknown as MapResponse, NOW, stats);
    expect(stats.lastUnknownMapField).toBe(`MapResponse.${'y'.repeat(68)}`); // bounded
    stats.unknownMapFields = 3;
    // Fields of v1.102.3 that we read or knowingly leave alone are not counted.
    applyMapResponse(nm, { KeepAlive: true }, NOW, stats);
    applyMapResponse(
      nm,
      {
        ControlTime: NOW,
        Debug: {},
        ClientVersion: {},
        Seq: 2,
        DefaultAutoUpdate: true,
        Node: { ...node(1), Cap: 148, HomeDERP: 900 },
      } as unknown as MapResponse,
      NOW,
      stats,
    );
    expect(stats).toMatchObject({ applied: 4, unknownMapFields: 3 });
  });

  it('property: counting unknown fields never throws on any JSON object, whatever its Node is', () => {
    const stats = { applied: 0, keepAlives: 0, ignoredPatches: 0, unknownMapFields: 0, lastUnknownMapField: '' };
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.jsonValue(), (top, n) => {
        const before = stats.unknownMapFields;
        const r = { ...top, Node: n };
        applyMapResponse(emptyNetworkMap(), r as unknown as MapResponse, NOW, stats);
        expect(stats.unknownMapFields).toBeGreaterThanOrEqual(before);
        expect(stats.lastUnknownMapField.length).toBeLessThanOrEqual(80);
      }),
    );
  });
});
