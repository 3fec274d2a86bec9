// Our DERP client against two real derper processes (tailscale.com v1.102.3) from the rig.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRig, type Rig } from './rig/index.js';
import { DerpPool, type DerpMap } from '../src/derp-client/pool.js';
import { nodeWebSocketFactory } from '../src/derp-client/websocket.node.js';
import { generateKeyPair } from '../src/crypto/x25519.js';
import { secureRandom } from '../src/crypto/random.js';
import { equalBytes } from '../src/crypto/bytes.js';
import { realClock } from '../src/platform/clock.js';

let rig: Rig;
let map: DerpMap;
const pools: DerpPool[] = [];

beforeAll(async () => {
  rig = await startRig({ derpers: 2, peers: [], sshd: false });
  map = { regions: rig.derpRegions.map((r) => ({ regionId: r.regionId, regionCode: r.regionCode, regionName: r.regionCode,
    nodes: [{ name: `${r.regionId}a`, regionId: r.regionId, hostName: r.host, derpPort: r.port }] })) };
}, 120_000);
afterAll(async () => { for (const p of pools) p.close(); await rig?.stop(); });

function node(home: number) {
  const kp = generateKeyPair(secureRandom);
  const got: { src: Uint8Array; pkt: Uint8Array; region: number }[] = [];
  const gone: Uint8Array[] = [];
  const pool = new DerpPool({ privateKey: kp.privateKey, derpMap: map, homeRegion: home, webSocketFactory: nodeWebSocketFactory,
    clock: realClock, random: secureRandom, allowInsecure: true,
    onPacket: (src, pkt, region) => got.push({ src, pkt, region }), onPeerGone: (k) => gone.push(k) });
  pools.push(pool);
  pool.start();
  return { kp, pool, got, gone };
}
async function until(what: string, f: () => boolean, ms = 15_000) {
  const end = Date.now() + ms;
  while (!f()) { if (Date.now() > end) throw new Error(`timed out waiting for ${what}`); await new Promise((r) => setTimeout(r, 20)); }
}
const connected = (p: DerpPool, id: number) => p.status().find((s) => s.regionId === id)?.state === 'connected';

describe('DERP client against real derper', () => {
  it('two clients exchange packets through one region, with ping/pong RTT', async () => {
    const r = map.regions[0].regionId;
    const a = node(r), b = node(r);
    await until('both connected', () => connected(a.pool, r) && connected(b.pool, r));
    const pkt = new TextEncoder().encode('hello over derp');
    a.pool.send(r, b.kp.publicKey, pkt);
    b.pool.send(r, a.kp.publicKey, pkt);
    await until('packets', () => a.got.length > 0 && b.got.length > 0);
    expect(equalBytes(b.got[0].src, a.kp.publicKey)).toBe(true);
    expect(b.got[0].pkt).toEqual(pkt);
    await until('rtt', () => a.pool.status()[0].rttMs !== undefined);
    expect(a.pool.client(r)!.stats.pongsIn).toBeGreaterThan(0);
  }, 30_000);

  it('across regions: the sender opens the peer home region on demand', async () => {
    const [r1, r2] = map.regions.map((x) => x.regionId);
    const a = node(r1), b = node(r2);
    await until('homes connected', () => connected(a.pool, r1) && connected(b.pool, r2));
    a.pool.send(r2, b.kp.publicKey, new Uint8Array([1, 2, 3]));
    await until('a→b', () => b.got.length > 0);
    expect(b.got[0].region).toBe(r2);
    b.pool.send(r1, a.kp.publicKey, new Uint8Array([4, 5]));
    await until('b→a', () => a.got.length > 0);
    expect(a.got[0].region).toBe(r1);
    expect(a.pool.status().map((s) => s.regionId).sort()).toEqual([r1, r2].sort());
  }, 30_000);

  it('gets PeerGone when the peer disconnects', async () => {
    const r = map.regions[0].regionId;
    const a = node(r), b = node(r);
    await until('connected', () => connected(a.pool, r) && connected(b.pool, r));
    b.pool.send(r, a.kp.publicKey, new Uint8Array([9]));
    await until('a got', () => a.got.length > 0);
    a.pool.send(r, b.kp.publicKey, new Uint8Array([9]));
    await until('b got', () => b.got.length > 0);
    b.pool.close();
    await until('peer gone', () => a.gone.some((k) => equalBytes(k, b.kp.publicKey)));
  }, 30_000);

  it('survives a derper restart and traffic resumes', async () => {
    const r = map.regions[1].regionId;
    const a = node(r), b = node(r);
    await until('connected', () => connected(a.pool, r) && connected(b.pool, r));
    await rig.restart(`derper:${r}`);
    await until('reconnected', () => (a.pool.client(r)!.stats.reconnects > 0 && connected(a.pool, r)) && (b.pool.client(r)!.stats.reconnects > 0 && connected(b.pool, r)), 30_000);
    a.pool.send(r, b.kp.publicKey, new Uint8Array([7, 7]));
    await until('traffic after restart', () => b.got.length > 0);
  }, 60_000);
});
