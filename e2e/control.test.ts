// The control client against REAL Headscale v0.29.2 (e2e/rig): ts2021 over WebSocket, Noise,
// our HTTP/2, register and the streaming map poll, with real tailscaled peers in the tailnet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRig, type Rig } from './rig/index.js';
import { makeControlClient, waitForMap, waitForState } from './helpers/control-client.testkit.js';
import { MemoryStore } from '../src/control/storage.js';
import { peerList, toPlainNetMap } from '../src/control/netmap.js';
import { keyToText } from '../src/crypto/keys.js';
import type { ControlClient } from '../src/control/client.js';

let rig: Rig;
const clients: ControlClient[] = [];
const log: string[] = [];

beforeAll(async () => {
  rig = await startRig({ peers: [{ name: 'peer1', homeRegion: 900 }], sshd: false });
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await rig?.stop();
});

interface HsNode {
  id: number | string;
  name: string;
  given_name?: string;
  node_key?: string;
  machine_key?: string;
  expiry?: string | { seconds: number | string };
}
/** Headscale's node expiry as ms since the epoch (absent/zero = never expires). */
function expiryMs(n: HsNode): number {
  const e = n.expiry;
  if (!e) return 0;
  return typeof e === 'string' ? Date.parse(e) : Number(e.seconds) * 1000;
}
async function headscaleNode(name: string): Promise<HsNode> {
  const n = (await headscaleNodes()).find((x) => x.given_name === name || x.name === name);
  if (!n) throw new Error(`headscale has no node ${name}`);
  return n;
}

async function headscaleNodes(): Promise<HsNode[]> {
  return JSON.parse(await rig.headscale(['nodes', 'list', '-o', 'json'])) ?? [];
}

describe('control client against Headscale v0.29.2', () => {
  const store = new MemoryStore();
  let first: ControlClient;

  it('registers with a pre-auth key and receives a map listing the tailscaled peer', async () => {
    first = makeControlClient(rig.headscaleUrl, store, log);
    clients.push(first);
    const rr = await first.login({ authKey: rig.authKey, hostname: 'tailtab-e2e' });
    expect(rr.MachineAuthorized).toBe(true);
    first.setPreferredDerp(900);
    first.start();
    const p1 = rig.peer('peer1');
    const nm = await waitForMap(first, (m) => peerList(m).some((p) => p.Key === p1.nodeKey), 'peer1 in the map');
    const peer = peerList(nm).find((p) => p.Key === p1.nodeKey)!;
    expect(peer.Addresses).toEqual(expect.arrayContaining([`${p1.ipv4}/32`, `${p1.ipv6}/128`]));
    expect(peer.Name).toBe(`${p1.fqdn}.`);
    expect(peer.HomeDERP).toBe(900);
    expect(peer.DiscoKey).toMatch(/^discokey:[0-9a-f]{64}$/);
    expect(nm.self?.Key).toBe(keyToText('nodekey', first.nodePublicKey));
    expect(nm.self?.Name).toBe(`tailtab-e2e.${rig.baseDomain}.`);
    expect(nm.self?.Addresses?.some((a) => a.startsWith('100.'))).toBe(true);
    expect(Object.keys(nm.derpMap?.Regions ?? {}).sort()).toEqual(
      rig.derpRegions.map((r) => String(r.regionId)).sort(),
    );
    expect(nm.dns?.Domains ?? []).toContain(rig.baseDomain); // MagicDNS search domain
    // We asked for zstd as tailscaled does: every map message came compressed and was decoded here.
    expect(first.stats.compressedMaps).toBeGreaterThan(0);
    expect(first.stats.malformedMaps).toBe(0);
    expect(first.stats.mapDecodedBytes).toBeGreaterThan(first.stats.mapBytes);
    console.log(
      `map stream from Headscale: ${first.stats.compressedMaps} zstd messages, ${first.stats.mapBytes} bytes on the wire → ${first.stats.mapDecodedBytes} bytes of JSON`,
    );
    // Headscale sees us with our node key, and the tailscaled peer sees us too.
    const ours = (await headscaleNodes()).filter((n) => n.given_name === 'tailtab-e2e' || n.name === 'tailtab-e2e');
    expect(ours.length).toBe(1);
    await expect.poll(async () => JSON.stringify(await p1.status()), { timeout: 30_000 }).toContain('tailtab-e2e');
    // What we reported in Hostinfo reached the other side: tailscaled relays to us via region 900
    // (our PreferredDERP) and knows our non-zero disco key.
    const ourRegion = rig.derpRegions.find((r) => r.regionId === 900)!.regionCode;
    await expect
      .poll(
        async () => {
          const st = await p1.status();
          return Object.values(st.Peer ?? {}).find((p) => p.HostName === 'tailtab-e2e')?.Relay;
        },
        { timeout: 30_000 },
      )
      .toBe(ourRegion);
    const hs = (await headscaleNodes()).find(
      (n) => n.given_name === 'tailtab-e2e' || n.name === 'tailtab-e2e',
    ) as HsNode & { disco_key?: string };
    expect(hs.disco_key).toBe(keyToText('discokey', first.discoPublicKey));
  });

  it('a peer added and removed in the tailnet shows up as a delta on the open stream', async () => {
    const streamsBefore = first.stats.mapStreams;
    const p2 = await rig.addPeer({ name: 'peer2', homeRegion: 901 });
    const nm = await waitForMap(first, (m) => peerList(m).some((p) => p.Key === p2.nodeKey), 'peer2 added');
    expect(peerList(nm).find((p) => p.Key === p2.nodeKey)!.Name).toBe(`${p2.fqdn}.`);
    await rig.removePeer('peer2');
    await waitForMap(first, (m) => !peerList(m).some((p) => p.Key === p2.nodeKey), 'peer2 removed');
    expect(first.stats.mapStreams).toBe(streamsBefore); // same stream: deltas, not a reconnect
    expect(first.stats.malformedMaps).toBe(0); // the deltas were zstd too, and decoded
    expect(peerList(first.netMap).some((p) => p.Key === rig.peer('peer1').nodeKey)).toBe(true);
  });

  it('survives Headscale restarting mid-stream: reconnects and the map continues', async () => {
    const before = first.stats.reconnects;
    let sawEmpty = false;
    first.onNetMap((m) => {
      if (m.peers.size === 0) sawEmpty = true;
    });
    await rig.restart('headscale');
    await expect.poll(() => first.stats.reconnects, { timeout: 60_000 }).toBeGreaterThan(before);
    await waitForState(first, 'streaming');
    await waitForMap(first, (m) => peerList(m).some((p) => p.Key === rig.peer('peer1').nodeKey), 'peer1 after restart');
    expect(sawEmpty).toBe(false); // the last map was kept while reconnecting
  });

  it('restarts with the same storage as the same machine, without re-auth', async () => {
    const machine = keyToText('mkey', first.machinePublicKey!);
    const nodeKey = keyToText('nodekey', first.nodePublicKey);
    const selfId = first.netMap.self!.ID;
    await first.close();
    const second = makeControlClient(rig.headscaleUrl, store, log);
    clients.push(second);
    let authUrl = '';
    const rr = await second.login({
      hostname: 'tailtab-e2e',
      onAuthUrl: (u) => {
        authUrl = u;
      },
    });
    expect(authUrl).toBe('');
    expect(rr.MachineAuthorized).toBe(true);
    expect(keyToText('mkey', second.machinePublicKey!)).toBe(machine);
    expect(keyToText('nodekey', second.nodePublicKey)).toBe(nodeKey);
    second.start();
    const nm = await waitForMap(second, (m) => !!m.self, 'self after restart');
    expect(nm.self!.ID).toBe(selfId);
    expect(
      (await headscaleNodes()).filter((n) => n.given_name === 'tailtab-e2e' || n.name === 'tailtab-e2e').length,
    ).toBe(1);
    await second.close();
  });

  it('an interactive login approved with `headscale auth register` succeeds', async () => {
    const c = makeControlClient(rig.headscaleUrl, new MemoryStore(), log);
    clients.push(c);
    let approved: Promise<string> | undefined;
    const rr = await c.login({
      hostname: 'tailtab-interactive',
      onAuthUrl: (url) => {
        const authId = url.split('/').filter(Boolean).pop()!;
        approved = rig.headscale(['auth', 'register', '--user', rig.user.name, '--auth-id', authId]);
      },
    });
    expect(approved).toBeDefined();
    await approved;
    expect(rr.MachineAuthorized).toBe(true);
    c.start();
    const nm = await waitForMap(
      c,
      (m) => peerList(m).some((p) => p.Key === rig.peer('peer1').nodeKey),
      'peer1 for the interactive node',
    );
    expect(nm.self!.Name).toBe(`tailtab-interactive.${rig.baseDomain}.`);
    await c.close();
  });

  it('node key expired by `headscale nodes expire`: the client says so, and a new login keeps the same node', async () => {
    const store = new MemoryStore();
    const c = makeControlClient(rig.headscaleUrl, store, log);
    clients.push(c);
    await c.login({ authKey: rig.authKey, hostname: 'tailtab-expiry' });
    c.start();
    const nm = await waitForMap(c, (m) => !!m.self && peerList(m).length > 0, 'self and peers');
    const id = nm.self!.ID;
    const firstKey = keyToText('nodekey', c.nodePublicKey);
    let detail = '';
    c.onState((s, d) => {
      if (s === 'key-expired') detail = d ?? '';
    });
    await rig.headscale(['nodes', 'expire', '-i', String(id)]);
    await waitForState(c, 'key-expired', 30_000);
    expect(detail).toMatch(/^the node key expired at \d{4}-.*: log in again$/);
    expect(c.netMap.self!.Expired).toBe(true);
    expect(await store.load()).toMatchObject({ loggedIn: false, nodeKeyExpired: true });
    await c.close();

    // The app restarts: it knows it must log in; with a pre-auth key it registers a NEW node key
    // (OldNodeKey = the expired one) and Headscale keeps the same node: same ID, name and addresses.
    const again = makeControlClient(rig.headscaleUrl, store, log);
    clients.push(again);
    expect(() => again.start()).toThrow(/not logged in/);
    const rr = await again.login({ authKey: rig.authKey, hostname: 'tailtab-expiry' });
    expect(rr.MachineAuthorized).toBe(true);
    expect(keyToText('nodekey', again.nodePublicKey)).not.toBe(firstKey);
    again.start();
    const nm2 = await waitForMap(again, (m) => !!m.self && !m.self.Expired, 'a fresh, unexpired self');
    expect(nm2.self!.ID).toBe(id);
    expect(nm2.self!.Addresses).toEqual(nm.self!.Addresses);
    expect(again.state).toBe('streaming');
    const hs = await headscaleNode('tailtab-expiry');
    expect(hs.node_key).toBe(keyToText('nodekey', again.nodePublicKey));
    expect(expiryMs(hs) === 0 || expiryMs(hs) > Date.now()).toBe(true);
    await again.close();
  });

  it('logout expires the node key at Headscale; the machine key stays and a later login works', async () => {
    const store = new MemoryStore();
    const c = makeControlClient(rig.headscaleUrl, store, log);
    clients.push(c);
    await c.login({ authKey: rig.authKey, hostname: 'tailtab-logout' });
    c.start();
    await waitForMap(c, (m) => !!m.self, 'self');
    const machine = keyToText('mkey', c.machinePublicKey!);
    const nodeKey = keyToText('nodekey', c.nodePublicKey);
    const before = await headscaleNode('tailtab-logout');
    expect(expiryMs(before) === 0 || expiryMs(before) > Date.now()).toBe(true);
    await c.logout();
    expect(c.state).toBe('logged-out');
    expect(c.netMap.peers.size).toBe(0); // nothing of the tailnet is kept after logout
    const after = await headscaleNode('tailtab-logout');
    expect(after.node_key).toBe(nodeKey);
    expect(expiryMs(after)).toBeGreaterThan(0);
    expect(expiryMs(after)).toBeLessThanOrEqual(Date.now()); // Headscale lists it as expired
    const st = await store.load();
    expect(st!.loggedIn).toBe(false);
    expect(keyToText('mkey', c.machinePublicKey!)).toBe(machine);
    // Logging in again: same machine, a new node key.
    const rr = await c.login({ authKey: rig.authKey, hostname: 'tailtab-logout' });
    expect(rr.MachineAuthorized).toBe(true);
    expect(keyToText('nodekey', c.nodePublicKey)).not.toBe(nodeKey);
    expect(keyToText('mkey', c.machinePublicKey!)).toBe(machine);
    await c.close();
  });

  it('a node key that expires by time (`headscale nodes expire --expiry <soon>`) is reported when the time comes', async () => {
    const store = new MemoryStore();
    const c = makeControlClient(rig.headscaleUrl, store, log);
    clients.push(c);
    await c.login({ authKey: rig.authKey, hostname: 'tailtab-expiry-time' });
    c.start();
    const nm = await waitForMap(c, (m) => !!m.self, 'self');
    const expiry = new Date(Date.now() + 4000).toISOString().replace(/\.\d+Z$/, 'Z');
    await rig.headscale(['nodes', 'expire', '-i', String(nm.self!.ID), '--expiry', expiry]);
    await waitForMap(
      c,
      (m) => !!m.self?.KeyExpiry && Date.parse(m.self.KeyExpiry) === Date.parse(expiry),
      'the new KeyExpiry in the map',
      15_000,
    );
    expect(c.state).toBe('streaming'); // not yet
    await waitForState(c, 'key-expired', 20_000);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiry));
    expect(await store.load()).toMatchObject({ loggedIn: false, nodeKeyExpired: true });
    await c.close();
  });

  it('a tailscaled peer whose key Headscale expires is marked Expired and left out of the map the node configures', async () => {
    // Last in this file: it expires the rig's peer1.
    const c = makeControlClient(rig.headscaleUrl, new MemoryStore(), log);
    clients.push(c);
    await c.login({ authKey: rig.authKey, hostname: 'tailtab-peer-expiry' });
    c.start();
    const p1 = rig.peer('peer1');
    const nm = await waitForMap(c, (m) => peerList(m).some((p) => p.Key === p1.nodeKey), 'peer1');
    expect(toPlainNetMap(nm).peers.some((p) => p.name === `${p1.fqdn}.`)).toBe(true);
    const id = peerList(nm).find((p) => p.Key === p1.nodeKey)!.ID;
    await rig.headscale(['nodes', 'expire', '-i', String(id)]);
    const after = await waitForMap(
      c,
      (m) => !!peerList(m).find((p) => p.ID === id)?.Expired,
      'peer1 marked expired',
      30_000,
    );
    const plain = toPlainNetMap(after);
    expect(plain.peers.some((p) => p.name === `${p1.fqdn}.`)).toBe(false);
    expect(plain.expiredPeers).toContain(`${p1.fqdn}.`);
    expect(c.state).toBe('streaming'); // our own key is fine
    await c.close();
  });
});
