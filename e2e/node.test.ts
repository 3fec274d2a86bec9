// Our node (TailnetNode over the real layers: ControlClient, DerpPool, WireGuardDevice, netstack)
// in a real tailnet: Headscale v0.29.2, two derpers (regions 900/901) and unmodified tailscaled
// v1.102.3 peers, all on loopback inside a netns:
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/node.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRig, type Rig, type RigPeer } from './rig/index.js';
import { TailnetNode } from '../src/node/node.js';
import { createNodeLayers } from '../src/node/layers.node.js';
import { MemoryStore } from '../src/control/storage.js';

let rig: Rig;
let node: TailnetNode;
let peer1: RigPeer;
let peer2: RigPeer;
const log: string[] = [];

beforeAll(async () => {
  rig = await startRig({
    peers: [
      { name: 'peer1', homeRegion: 900, derpOnly: true },
      { name: 'peer2', homeRegion: 901, derpOnly: true },
    ],
    sshd: false,
  });
  peer1 = rig.peer('peer1');
  peer2 = rig.peer('peer2');
  node = new TailnetNode(createNodeLayers());
  node.on('log', (t) => log.push(t));
  await node.up({
    controlUrl: rig.headscaleUrl, authKey: rig.authKey, hostname: 'tailtab-node', storage: new MemoryStore(),
    allowInsecureDerp: true, wallClockMs: () => Date.now(), homeRegion: 900,
  });
});
afterAll(async () => {
  await node?.down();
  await rig?.stop();
});

const selfIp = (v6 = false) => node.status().self!.ips.find((ip) => ip.includes(':') === v6)!;

describe('tailtab node in a real tailnet', () => {
  it('comes up with the pre-auth key and lists the tailscaled peers with their addresses and home regions', async () => {
    const st = node.status();
    expect(st.state).toBe('running');
    expect(st.self!.ips.some((ip) => /^100\./.test(ip))).toBe(true);
    expect(st.self!.name).toBe(`tailtab-node.${rig.baseDomain}.`);
    for (const p of [peer1, peer2]) {
      const seen = st.peers.find((x) => x.nodeKey === p.nodeKey);
      expect(seen, `${p.name} in our map`).toBeDefined();
      expect(seen!.ips).toEqual(expect.arrayContaining([p.ipv4, p.ipv6]));
      expect(seen!.relayRegion).toBe(p.homeRegion);
    }
    // tailscaled sees us, homed on region 900.
    await expect.poll(async () => {
      const s = await peer1.status();
      const us = Object.values(s.Peer ?? {}).find((x) => x.TailscaleIPs?.includes(selfIp()));
      return us ? `${us.HostName} online=${us.Online} relay=${us.Relay}` : 'absent';
    }, { timeout: 30_000, interval: 500 }).toBe('tailtab-node online=true relay=rig900');
  });

  it('`tailscale ping` (disco) from a tailscaled peer gets pongs from our node over DERP', async () => {
    const out = await peer1.tailscale(['ping', '--c=3', '--until-direct=false', selfIp()], { timeoutMs: 60_000 });
    expect(out).toMatch(/pong from tailtab-node \(100\.[\d.]+\) via DERP\(rig900\)/);
    expect(node.status().counters['magicsock.pingsAnswered']).toBeGreaterThan(0);
  });

  it('our disco ping reaches a peer on each region and returns its pong', async () => {
    expect(await node.discoPing('peer1')).toBeGreaterThanOrEqual(0);
    expect(await node.discoPing(peer2.fqdn)).toBeGreaterThanOrEqual(0);
  });

  it('a tailscaled peer on the other region handshakes WireGuard with us and gets TSMP pongs', async () => {
    // TSMP rides inside WireGuard: tailscaled must complete a handshake with us first.
    const out = await peer2.tailscale(['ping', '--tsmp', '--c=2', selfIp()], { timeoutMs: 60_000 });
    expect(out).toMatch(/pong from tailtab-node \(100\.[\d.]+\)/);
    const seen = node.status().peers.find((p) => p.nodeKey === peer2.nodeKey)!;
    expect(seen.handshakeAgeMs).toBeGreaterThanOrEqual(0);
    expect(seen.rxBytes).toBeGreaterThan(0);
    expect(node.status().counters['wg.handshakesCompleted']).toBeGreaterThan(0);
    expect(node.status().counters.tsmpPongs).toBeGreaterThan(0);
  });

  it('survives the tailscaled peer restarting (new process, new WireGuard session)', async () => {
    const before = node.status().counters['wg.handshakesCompleted'] ?? 0;
    await rig.restart('peer:peer1');
    const out = await peer1.tailscale(['ping', '--tsmp', '--c=2', selfIp()], { timeoutMs: 60_000 });
    expect(out).toMatch(/pong from tailtab-node/);
    expect(node.status().counters['wg.handshakesCompleted']).toBeGreaterThan(before);
    expect(await node.discoPing('peer1')).toBeGreaterThanOrEqual(0);
  });

  it('survives our home derper restarting: reconnects and peers reach us again', async () => {
    const derp = () => (node.status().derp as { regionId: number; state: string }[]).find((r) => r.regionId === 900)?.state;
    expect(derp()).toBe('connected');
    await rig.restart('derper:900');
    await expect.poll(derp, { timeout: 30_000, interval: 200 }).toBe('connected');
    const out = await peer1.tailscale(['ping', '--c=3', '--until-direct=false', selfIp()], { timeoutMs: 60_000 });
    expect(out).toMatch(/pong from tailtab-node .* via DERP\(rig900\)/);
    expect(await node.discoPing('peer1')).toBeGreaterThanOrEqual(0);
  });
});
