// DerpPool and DerpClient timing and failure behaviour on a VirtualClock with scripted fake
// sockets: idle on-demand regions, dead-connection detection, latency-based home choice, Health,
// bad frames on an established connection, and failover between the nodes of one region.
import { describe, expect, it } from 'vitest';
import { DerpPool, derpNodeUrl, httpLatencyProber, latencyCheckUrl, type DerpMap } from './pool.js';
import type { WebSocketLike } from '../platform/websocket.js';
import { encodeFrame, FrameReassembler, type Frame } from './frames.js';
import { VirtualClock } from '../platform/clock.js';
import { seededRandom } from '../crypto/random.js';
import { generateKeyPair } from '../crypto/x25519.js';
import { boxBeforeNm, sealWithRandomNonce } from '../crypto/box.js';

class FakeWs implements WebSocketLike {
  binaryType = 'blob';
  readyState = 0;
  bufferedAmount = 0;
  sent: Uint8Array[] = [];
  closed = false;
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  constructor(readonly url: string) {}
  send(d: Uint8Array) {
    this.sent.push(d.slice());
  }
  close() {
    this.closed = true;
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  deliver(b: Uint8Array | string) {
    this.onmessage?.({ data: typeof b === 'string' ? b : b.slice().buffer });
  }
  /** The frames the client wrote, decoded. */
  frames(): Frame[] {
    const r = new FrameReassembler();
    return this.sent.flatMap((b) => r.push(b)).flatMap((x) => (x.ok ? [x.frame] : []));
  }
}

const mapOf = (...regions: { id: number; hosts: string[]; avoid?: boolean }[]): DerpMap => ({
  regions: regions.map((r) => ({
    regionId: r.id,
    regionCode: `r${r.id}`,
    regionName: `r${r.id}`,
    avoid: r.avoid,
    nodes: r.hosts.map((h, i) => ({ name: `${r.id}${'abc'[i]}`, regionId: r.id, hostName: h, derpPort: 3340 })),
  })),
});

function setup(o: { map?: DerpMap; home?: number; fetchLatency?: ((url: string) => Promise<number>) | null } = {}) {
  const clock = new VirtualClock();
  const random = seededRandom(11);
  const server = generateKeyPair(random);
  const me = generateKeyPair(random);
  const sockets: FakeWs[] = [];
  const got: { pkt: Uint8Array; region: number }[] = [];
  const pool = new DerpPool({
    privateKey: me.privateKey,
    derpMap: o.map ?? mapOf({ id: 1, hosts: ['d1'] }, { id: 2, hosts: ['d2'] }),
    homeRegion: o.home ?? 1,
    clock,
    random,
    allowInsecure: true,
    fetchLatency: o.fetchLatency ?? null,
    webSocketFactory: (url) => {
      const w = new FakeWs(url);
      sockets.push(w);
      return w;
    },
    onPacket: (_s, pkt, region) => got.push({ pkt, region }),
  });
  const handshake = (w: FakeWs) => {
    w.open();
    w.deliver(encodeFrame({ type: 'serverKey', serverKey: server.publicKey }));
    const k = boxBeforeNm(server.privateKey, me.publicKey);
    w.deliver(
      encodeFrame({ type: 'serverInfo', sealed: sealWithRandomNonce(k, new TextEncoder().encode('{}'), random) }),
    );
  };
  const open = (host: string) => sockets.filter((s) => s.url.includes(`//${host}:`) && !s.closed);
  const st = (id: number) => pool.status().find((s) => s.regionId === id);
  /** Advances time with the servers alive: each open socket gets a keepalive every 30 s. */
  const live = (ms: number) => {
    for (let t = 0; t < ms; t += 30_000) {
      clock.advance(Math.min(30_000, ms - t));
      for (const w of sockets) if (!w.closed && w.readyState === 1) w.deliver(encodeFrame({ type: 'keepAlive' }));
    }
  };
  return { clock, live, pool, sockets, got, handshake, open, st, peer: new Uint8Array(32).fill(5) };
}

describe('DerpPool on-demand regions', () => {
  it('closes a non-home region after 60 s without traffic; traffic postpones it; home stays', () => {
    const { clock, live, pool, handshake, open, st, peer } = setup();
    pool.start();
    handshake(open('d1')[0]);
    pool.send(2, peer, new Uint8Array([1]));
    handshake(open('d2')[0]);
    expect(st(2)?.state).toBe('connected');
    expect(
      open('d2')[0]
        .frames()
        .some((f) => f.type === 'sendPacket'),
    ).toBe(true);
    live(50_000);
    pool.send(2, peer, new Uint8Array([2])); // traffic at t=50 s: idle clock restarts
    live(59_000);
    expect(open('d2').length).toBe(1);
    expect(st(2)?.state).toBe('connected');
    clock.advance(1_000);
    expect(open('d2').length).toBe(0); // closed at 60 s after the last packet (keepalives do not count)
    expect(st(2)).toBeUndefined();
    live(10 * 60_000);
    expect(open('d1').length).toBe(1); // the home region is never idle-closed
    expect(st(1)?.state).toBe('connected');
  });

  it('received packets count as activity for an on-demand region', () => {
    const { clock, pool, handshake, open, st, peer, got } = setup();
    pool.start();
    handshake(open('d1')[0]);
    pool.send(2, peer, new Uint8Array([1]));
    const w = open('d2')[0];
    handshake(w);
    for (let i = 0; i < 5; i++) {
      clock.advance(40_000);
      w.deliver(encodeFrame({ type: 'recvPacket', srcKey: peer, packet: new Uint8Array([i]) }));
    }
    expect(st(2)?.state).toBe('connected');
    expect(got.filter((g) => g.region === 2).length).toBe(5);
    clock.advance(60_000);
    expect(st(2)).toBeUndefined();
  });

  it('the old home region becomes idle-closable when the home moves', () => {
    const { live, pool, handshake, open, st } = setup();
    pool.start();
    handshake(open('d1')[0]);
    pool.setHomeRegion(2);
    handshake(open('d2')[0]);
    expect(open('d2')[0].frames()).toContainEqual({ type: 'notePreferred', preferred: true });
    expect(open('d1')[0].frames()).toContainEqual({ type: 'notePreferred', preferred: false });
    live(60_000);
    expect(st(1)).toBeUndefined();
    expect(st(2)?.home).toBe(true);
  });
});

describe('DerpClient dead-connection detection', () => {
  it('derper keepalives every 60 s keep it up; 75 s of silence closes it and reconnects', () => {
    const { clock, pool, handshake, open, st } = setup();
    pool.start();
    const w = open('d1')[0];
    handshake(w);
    for (let i = 0; i < 10; i++) {
      clock.advance(60_000);
      w.deliver(encodeFrame({ type: 'keepAlive' }));
    }
    expect(w.closed).toBe(false);
    expect(pool.client(1)!.stats.keepAlivesIn).toBe(10);
    clock.advance(74_999);
    expect(w.closed).toBe(false);
    clock.advance(1);
    expect(w.closed).toBe(true);
    expect(st(1)?.state).toBe('backoff');
    expect(st(1)?.lastError).toBe('no data from server for 75 s');
    clock.advance(500);
    const w2 = open('d1')[0];
    expect(w2).toBeDefined();
    handshake(w2);
    expect(st(1)).toMatchObject({ state: 'connected', reconnects: 1 });
  });

  it('a socket that never completes the handshake is abandoned after 15 s', () => {
    const { clock, pool, open, st } = setup();
    pool.start();
    const w = open('d1')[0];
    w.open(); // TCP/WebSocket up, but the server never sends its key
    clock.advance(14_999);
    expect(w.closed).toBe(false);
    clock.advance(1);
    expect(w.closed).toBe(true);
    expect(st(1)?.lastError).toBe('handshake timed out');
  });
});

describe('DerpClient: bad frames on an established connection', () => {
  const peer = new Uint8Array(32).fill(5);
  const cases: [string, Uint8Array | string][] = [
    ['oversized frame length', Uint8Array.of(0x05, 0xff, 0xff, 0xff, 0xff)],
    ['a second server key', encodeFrame({ type: 'serverKey', serverKey: new Uint8Array(32) })],
    ['a truncated ping payload', encodeFrame({ type: 'unknown', frameType: 0x12, payload: new Uint8Array(3) })],
    [
      'a packet frame shorter than a key',
      encodeFrame({ type: 'unknown', frameType: 0x05, payload: new Uint8Array(31) }),
    ],
    ['a text WebSocket message', 'hello'],
    [
      'a client-only frame (SendPacket) from the server',
      encodeFrame({ type: 'sendPacket', dstKey: peer, packet: new Uint8Array(4) }),
    ],
  ];
  for (const [name, bytes] of cases) {
    it(`${name}: counted, clean close, reconnect, traffic resumes`, () => {
      const { clock, pool, handshake, open, st, got } = setup();
      pool.start();
      const w = open('d1')[0];
      handshake(w);
      w.deliver(encodeFrame({ type: 'recvPacket', srcKey: peer, packet: new Uint8Array([1]) }));
      expect(() => w.deliver(bytes)).not.toThrow();
      expect(w.closed).toBe(true);
      expect(st(1)).toMatchObject({ state: 'backoff', malformed: 1 });
      expect(st(1)?.lastError).toBeTruthy();
      // Frames that were queued behind the bad one in the same message are not delivered.
      expect(got.length).toBe(1);
      clock.advance(500);
      const w2 = open('d1')[0];
      handshake(w2);
      w2.deliver(encodeFrame({ type: 'recvPacket', srcKey: peer, packet: new Uint8Array([2]) }));
      expect(got.map((g) => g.pkt[0])).toEqual([1, 2]);
      expect(st(1)).toMatchObject({ state: 'connected', malformed: 1, reconnects: 1 });
    });
  }

  it('unknown frame types are skipped without closing and counted in the region status (forward compatibility)', () => {
    const { pool, handshake, open, st } = setup();
    pool.start();
    const w = open('d1')[0];
    handshake(w);
    w.deliver(encodeFrame({ type: 'unknown', frameType: 0x7e, payload: new Uint8Array(9) }));
    w.deliver(encodeFrame({ type: 'unknown', frameType: 0x7f, payload: new Uint8Array(0) }));
    expect(w.closed).toBe(false);
    expect(st(1)).toMatchObject({ state: 'connected', malformed: 0, unknownFrames: 2 });
  });
});

describe('Health frames', () => {
  it('show up in the region status and clear when the server sends an empty one', () => {
    const { pool, handshake, open, st } = setup();
    pool.start();
    const w = open('d1')[0];
    handshake(w);
    expect(st(1)?.health).toBeUndefined();
    w.deliver(encodeFrame({ type: 'health', problem: 'duplicate client key in use elsewhere' }));
    expect(st(1)?.health).toBe('duplicate client key in use elsewhere');
    expect(st(1)?.state).toBe('connected');
    w.deliver(encodeFrame({ type: 'health', problem: '' }));
    expect(st(1)?.health).toBeUndefined();
  });

  it('a huge Health text is bounded', () => {
    const { pool, handshake, open, st } = setup();
    pool.start();
    const w = open('d1')[0];
    handshake(w);
    w.deliver(encodeFrame({ type: 'health', problem: 'x'.repeat(100_000) }));
    expect(st(1)?.health?.length).toBe(512);
  });
});

describe('home region by latency', () => {
  const map = mapOf(
    { id: 1, hosts: ['d1'] },
    { id: 2, hosts: ['d2'] },
    { id: 3, hosts: ['d3'] },
    { id: 4, hosts: ['d4'], avoid: true },
  );
  it('picks the region with the lowest measured latency, skips unreachable and avoided ones', async () => {
    const asked: string[] = [];
    const ms: Record<string, number> = { d1: 80, d2: 20, d4: 1 };
    const { pool, handshake, open, st } = setup({
      map,
      home: 1,
      fetchLatency: async (url) => {
        asked.push(url);
        const host = new URL(url).hostname;
        if (!(host in ms)) throw new Error('unreachable');
        return ms[host];
      },
    });
    pool.start();
    handshake(open('d1')[0]);
    expect(await pool.chooseHomeRegion()).toBe(2);
    expect(asked.sort()).toEqual([
      'http://d1:3340/derp/latency-check',
      'http://d1:3340/derp/latency-check',
      'http://d2:3340/derp/latency-check',
      'http://d2:3340/derp/latency-check',
      'http://d3:3340/derp/latency-check',
      'http://d3:3340/derp/latency-check',
    ]);
    expect(pool.homeRegion()).toBe(2);
    expect([...pool.latencies()].sort()).toEqual([
      [1, 80],
      [2, 20],
    ]);
    handshake(open('d2')[0]);
    expect(open('d2')[0].frames()).toContainEqual({ type: 'notePreferred', preferred: true });
    expect(st(2)).toMatchObject({ home: true, latencyMs: 20 });
    expect(st(1)).toMatchObject({ home: false, latencyMs: 80 });
  });

  it('keeps the configured home when no region answers', async () => {
    const { pool } = setup({
      map,
      home: 3,
      fetchLatency: async () => {
        throw new Error('offline');
      },
    });
    expect(await pool.chooseHomeRegion()).toBe(3);
  });

  it('takes the best of two probes per region (the first may include connection setup)', async () => {
    const calls: Record<string, number> = {};
    const { pool } = setup({
      map: mapOf({ id: 1, hosts: ['d1'] }, { id: 2, hosts: ['d2'] }),
      home: 1,
      fetchLatency: async (url) => {
        const h = new URL(url).hostname;
        calls[h] = (calls[h] ?? 0) + 1;
        // d1: 300 ms cold, 10 ms warm; d2: a steady 30 ms.
        return h === 'd1' ? (calls[h] === 1 ? 300 : 10) : 30;
      },
    });
    expect(await pool.chooseHomeRegion()).toBe(1);
  });

  it('the default prober times an HTTP GET with no caching and rejects non-2xx', async () => {
    let t = 1000;
    const seen: { url: string; cache?: string }[] = [];
    const probe = httpLatencyProber(
      async (url, init) => {
        seen.push({ url, cache: init?.cache });
        t += 42;
        return {
          ok: !url.includes('bad'),
          status: url.includes('bad') ? 502 : 200,
          arrayBuffer: async () => new ArrayBuffer(0),
        };
      },
      () => t,
    );
    expect(await probe('http://d1:3340/derp/latency-check')).toBe(42);
    expect(seen[0]).toEqual({ url: 'http://d1:3340/derp/latency-check', cache: 'no-store' });
    await expect(probe('http://bad/derp/latency-check')).rejects.toThrow(/HTTP 502/);
  });
});

describe('failover between the nodes of one region', () => {
  it('a region with two nodes moves to the second when the first does not answer', () => {
    const { clock, pool, handshake, open, st, sockets } = setup({ map: mapOf({ id: 1, hosts: ['n1', 'n2'] }) });
    pool.start();
    const first = open('n1')[0];
    first.onerror?.({}); // connection refused
    expect(first.closed).toBe(true);
    expect(st(1)?.state).toBe('backoff');
    clock.advance(15); // the shortest step, not the growing backoff
    const second = open('n2')[0];
    expect(second).toBeDefined();
    handshake(second);
    expect(st(1)).toMatchObject({ state: 'connected', url: 'ws://n2:3340/derp' });
    expect(sockets.length).toBe(2);
  });

  it('when every node fails the backoff grows; the next round starts again with the other node', () => {
    const { clock, pool, open, st, sockets } = setup({ map: mapOf({ id: 1, hosts: ['n1', 'n2'] }) });
    pool.start();
    const urls: string[] = [];
    const delays: number[] = [];
    let last = 0;
    for (let i = 0; i < 8; i++) {
      const w = sockets.at(-1)!;
      urls.push(new URL(w.url).hostname);
      delays.push(clock.now() - last);
      last = clock.now();
      w.onclose?.({ code: 1006 });
      const n = sockets.length;
      while (sockets.length === n) clock.advance(1);
    }
    expect(urls).toEqual(['n1', 'n2', 'n1', 'n2', 'n1', 'n2', 'n1', 'n2']);
    // Switching node: the first step (10 ms ×[0.5, 1.5)); after the k-th failed round: k²·10 ms ×[0.5, 1.5).
    for (const i of [1, 3, 5, 7]) expect(delays[i]).toBeLessThanOrEqual(15);
    expect(delays[4]).toBeGreaterThanOrEqual(20); // round 2 failed: 40 ms ×[0.5, 1.5)
    expect(delays[6]).toBeGreaterThanOrEqual(45); // round 3 failed: 90 ms ×[0.5, 1.5)
    expect(delays[6]).toBeLessThanOrEqual(135);
    sockets.at(-1)!.onclose?.({ code: 1006 });
    expect(st(1)?.state).toBe('failed');
    expect(sockets.every((w) => w.closed)).toBe(true); // no socket leaked across attempts
  });

  it("a DERP map that changes a region's node list reopens that region only", () => {
    const { pool, handshake, open, st } = setup({ map: mapOf({ id: 1, hosts: ['n1'] }, { id: 2, hosts: ['d2'] }) });
    pool.start();
    handshake(open('n1')[0]);
    pool.send(2, new Uint8Array(32), new Uint8Array([1]));
    handshake(open('d2')[0]);
    pool.setDerpMap(mapOf({ id: 1, hosts: ['n1', 'n2'] }, { id: 2, hosts: ['d2'] }));
    expect(open('d2').length).toBe(1); // untouched
    expect(st(2)?.state).toBe('connected');
    const n1 = open('n1');
    expect(n1.length).toBe(1); // region 1 reopened (first node again) with the new failover list
    expect(st(1)?.state).toBe('connecting');
    expect(pool.client(1)!.allUrls).toEqual(['ws://n1:3340/derp', 'ws://n2:3340/derp']);
  });
});

describe('DERP node URLs', () => {
  const node = { name: '1a', regionId: 1, hostName: 'derp1.example.com' };
  it('are wss:// unless the map marks the node insecure-for-tests or the pool allows it', () => {
    expect(derpNodeUrl(node, false)).toBe('wss://derp1.example.com/derp');
    expect(derpNodeUrl({ ...node, derpPort: 8443 }, false)).toBe('wss://derp1.example.com:8443/derp');
    expect(derpNodeUrl({ ...node, insecureForTests: true, derpPort: 3340 }, false)).toBe(
      'ws://derp1.example.com:3340/derp',
    );
    expect(derpNodeUrl(node, true)).toBe('ws://derp1.example.com/derp');
    expect(derpNodeUrl({ ...node, hostName: 'fd7a::1' }, false)).toBe('wss://[fd7a::1]/derp');
    expect(latencyCheckUrl(node, false)).toBe('https://derp1.example.com/derp/latency-check');
    expect(latencyCheckUrl({ ...node, insecureForTests: true }, false)).toBe(
      'http://derp1.example.com/derp/latency-check',
    );
  });
});
