// Our DERP client against two real derper processes (tailscale.com v1.102.3) from the rig.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRig, type Rig } from './rig/index.js';
import { DerpPool, type DerpMap } from '../src/derp-client/pool.js';
import { nodeWebSocketFactory } from '../src/derp-client/websocket.node.js';
import { generateKeyPair } from '../src/crypto/x25519.js';
import { secureRandom } from '../src/crypto/random.js';
import { equalBytes } from '../src/crypto/bytes.js';
import { realClock } from '../src/platform/clock.js';
import { freePort } from './rig/net.js';
import { spawnLogged, waitFor } from './rig/proc.js';
import { rigBinaries } from './rig/index.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let rig: Rig;
let map: DerpMap;
const pools: DerpPool[] = [];

beforeAll(async () => {
  rig = await startRig({ derpers: 2, peers: [], sshd: false });
  map = {
    regions: rig.derpRegions.map((r) => ({
      regionId: r.regionId,
      regionCode: r.regionCode,
      regionName: r.regionCode,
      nodes: [{ name: `${r.regionId}a`, regionId: r.regionId, hostName: r.host, derpPort: r.port }],
    })),
  };
}, 120_000);
afterAll(async () => {
  for (const p of pools) p.close();
  await rig?.stop();
});

function node(home: number, derpMap: DerpMap = map) {
  const kp = generateKeyPair(secureRandom);
  const got: { src: Uint8Array; pkt: Uint8Array; region: number }[] = [];
  const gone: Uint8Array[] = [];
  const pool = new DerpPool({
    privateKey: kp.privateKey,
    derpMap,
    homeRegion: home,
    webSocketFactory: nodeWebSocketFactory,
    clock: realClock,
    random: secureRandom,
    allowInsecure: true,
    // As the node sends it (layers.ts): every test here also shows derper v1.102.3 takes a ClientInfo with AppName.
    appName: 'tailtab',
    onPacket: (src, pkt, region) => got.push({ src, pkt, region }),
    onPeerGone: (k) => gone.push(k),
  });
  pools.push(pool);
  pool.start();
  return { kp, pool, got, gone };
}
async function until(what: string, f: () => boolean, ms = 15_000) {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const connected = (p: DerpPool, id: number) => p.status().find((s) => s.regionId === id)?.state === 'connected';

describe('DERP client against real derper', () => {
  it('two clients exchange packets through one region, with ping/pong RTT', async () => {
    const r = map.regions[0].regionId;
    const a = node(r),
      b = node(r);
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
    const a = node(r1),
      b = node(r2);
    await until('homes connected', () => connected(a.pool, r1) && connected(b.pool, r2));
    a.pool.send(r2, b.kp.publicKey, new Uint8Array([1, 2, 3]));
    await until('a→b', () => b.got.length > 0);
    expect(b.got[0].region).toBe(r2);
    b.pool.send(r1, a.kp.publicKey, new Uint8Array([4, 5]));
    await until('b→a', () => a.got.length > 0);
    expect(a.got[0].region).toBe(r1);
    expect(
      a.pool
        .status()
        .map((s) => s.regionId)
        .sort(),
    ).toEqual([r1, r2].sort());
  }, 30_000);

  it('gets PeerGone when the peer disconnects', async () => {
    const r = map.regions[0].regionId;
    const a = node(r),
      b = node(r);
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
    const a = node(r),
      b = node(r);
    await until('connected', () => connected(a.pool, r) && connected(b.pool, r));
    await rig.restart(`derper:${r}`);
    await until(
      'reconnected',
      () =>
        a.pool.client(r)!.stats.reconnects > 0 &&
        connected(a.pool, r) &&
        b.pool.client(r)!.stats.reconnects > 0 &&
        connected(b.pool, r),
      30_000,
    );
    a.pool.send(r, b.kp.publicKey, new Uint8Array([7, 7]));
    await until('traffic after restart', () => b.got.length > 0);
  }, 60_000);

  it('fails over to the second node of a region when the first does not answer', async () => {
    const real = map.regions[0];
    const dead = await freePort(); // nothing listens here: connection refused
    const twoNodes: DerpMap = {
      regions: [{ ...real, nodes: [{ ...real.nodes[0], name: 'dead', derpPort: dead }, real.nodes[0]] }],
    };
    const a = node(real.regionId, twoNodes),
      b = node(real.regionId);
    await until('a connected via the second node', () => connected(a.pool, real.regionId), 20_000);
    const st = a.pool.status()[0];
    expect(st.url).toBe(`ws://${real.nodes[0].hostName}:${real.nodes[0].derpPort}/derp`);
    expect(st.lastError).toBeTruthy(); // the refused first node, in words
    await until('b connected', () => connected(b.pool, real.regionId));
    a.pool.send(real.regionId, b.kp.publicKey, new Uint8Array([4, 2]));
    await until('b got it', () => b.got.length > 0);
    expect(equalBytes(b.got[0].src, a.kp.publicKey)).toBe(true);
  }, 30_000);

  it('chooses the home region by GET /derp/latency-check (CORS *), skipping an unreachable region', async () => {
    const dead = await freePort();
    const withDead: DerpMap = {
      regions: [
        {
          regionId: 1,
          regionCode: 'dead',
          regionName: 'dead',
          nodes: [{ name: '1a', regionId: 1, hostName: '127.0.0.1', derpPort: dead }],
        },
        ...map.regions,
      ],
    };
    const r = await fetch(
      `http://${map.regions[0].nodes[0].hostName}:${map.regions[0].nodes[0].derpPort}/derp/latency-check`,
    );
    expect(r.status).toBe(200);
    expect(r.headers.get('access-control-allow-origin')).toBe('*'); // a page may probe it cross-origin
    const a = node(1, withDead); // configured home is the dead region; no fetchLatency: the default prober
    const home = await a.pool.chooseHomeRegion();
    expect(map.regions.map((x) => x.regionId)).toContain(home);
    const lat = a.pool.latencies();
    expect([...lat.keys()].sort()).toEqual(map.regions.map((x) => x.regionId).sort());
    for (const ms of lat.values()) expect(ms).toBeGreaterThan(0);
    await until('new home connected', () => connected(a.pool, home));
    expect(a.pool.status().find((s) => s.regionId === home)!.home).toBe(true);
  }, 30_000);

  it('when the region node it uses dies, the client fails over to the next node and traffic flows there', async () => {
    // A third, short-lived derper process as the region's first node; the rig's derper is the second.
    const real = map.regions[0];
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'derper-extra-'));
    const extra = spawnLogged({
      name: 'derper:extra',
      cmd: rigBinaries().derper,
      logPath: join(dir, 'derper.log'),
      args: [
        '-a',
        `127.0.0.1:${port}`,
        '-c',
        join(dir, 'derper.json'),
        `-stun-port=${await freePort()}`,
        '-hostname',
        '127.0.0.1',
      ],
    });
    try {
      await waitFor(
        'extra derper',
        async () =>
          (await fetch(`http://127.0.0.1:${port}/derp/probe`).catch(() => undefined))?.ok ? true : undefined,
        20_000,
        50,
      );
      const twoNodes: DerpMap = {
        regions: [{ ...real, nodes: [{ ...real.nodes[0], name: 'extra', derpPort: port }, real.nodes[0]] }],
      };
      const a = node(real.regionId, twoNodes),
        b = node(real.regionId);
      await until('a on the first node', () => connected(a.pool, real.regionId));
      expect(a.pool.status()[0].url).toBe(`ws://127.0.0.1:${port}/derp`);
      await until('b connected', () => connected(b.pool, real.regionId));
      await extra.stop();
      await until(
        'a failed over to the second node',
        () => connected(a.pool, real.regionId) && a.pool.status()[0].url !== `ws://127.0.0.1:${port}/derp`,
        20_000,
      );
      expect(a.pool.status()[0]).toMatchObject({
        url: `ws://${real.nodes[0].hostName}:${real.nodes[0].derpPort}/derp`,
        reconnects: 1,
      });
      a.pool.send(real.regionId, b.kp.publicKey, new Uint8Array([1]));
      b.pool.send(real.regionId, a.kp.publicKey, new Uint8Array([2]));
      await until('traffic both ways on the second node', () => a.got.length > 0 && b.got.length > 0);
    } finally {
      await extra.stop();
    }
  }, 60_000);
});
