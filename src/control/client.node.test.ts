// ControlClient against a hostile control server: our ts2021 Noise responder (respondHandshake)
// in front of Node's own HTTP/2 server (nghttp2), reached through a fake WebSocket. The server
// answers register normally and then serves map streams whose framing or JSON is broken. What a
// user must see: the client never crashes, counts each bad stream, reconnects, and keeps the last
// good network map meanwhile.
import { afterEach, describe, expect, it } from 'vitest';
import * as http2 from 'node:http2';
import { Duplex } from 'node:stream';
import { ControlClient, type ControlClientOptions, type ControlClientState } from './client.js';
import { MemoryStore } from './storage.js';
import { encodeMapMessage } from './mapstream.js';
import { encodeZstdMapMessage } from './zstd.testkit.js';
import { peerList, type NetworkMap } from './netmap.js';
import type { MapResponse, Node } from './tailcfg.js';
import type { WebSocketLike } from '../platform/websocket.js';
import { respondHandshake, RecordCipher, HEADER_LEN, MAX_PLAINTEXT_SIZE, MSG_RECORD } from '../noise/controlbase.js';
import { fromBase64, toHex } from '../crypto/bytes.js';
import { WebCryptoX25519Key } from '../crypto/static-key.js';
import { keyToText } from '../crypto/keys.js';
import { generateKeyPair, publicKeyOf } from '../crypto/x25519.js';
import { seededRandom } from '../crypto/random.js';
import { realClock, type Clock } from '../platform/clock.js';

type MapScript = (res: http2.ServerHttp2Stream, req: MapRequestSeen) => void;
interface MapRequestSeen {
  NodeKey: string;
  DiscoKey: string;
  Stream: boolean;
  Version: number;
  Compress?: string;
}

/** A WebSocket whose far end is a ts2021 server: Noise records around an HTTP/2 byte stream. */
class FakeControlSocket implements WebSocketLike {
  binaryType = 'blob';
  readyState = 0;
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onerror: WebSocketLike['onerror'] = null;
  onclose: WebSocketLike['onclose'] = null;
  private tx!: RecordCipher;
  private rx!: RecordCipher;
  private inBuf = new Uint8Array(0);
  private h2side!: Duplex;

  constructor(
    url: string,
    private readonly srv: FakeControl,
  ) {
    const init = fromBase64(decodeURIComponent(new URL(url).searchParams.get('X-Tailscale-Handshake')!));
    queueMicrotask(() => {
      const { response, keys, machinePublicKey } = respondHandshake({
        initiation: init,
        controlPrivateKey: srv.key.privateKey,
        random: seededRandom(3),
      });
      srv.machineKeys.push(toHex(machinePublicKey));
      this.tx = new RecordCipher(keys.tx);
      this.rx = new RecordCipher(keys.rx);
      this.readyState = 1;
      this.onopen?.({});
      this.toClient(response);
      const self = this;
      this.h2side = new Duplex({
        read() {},
        write(chunk: Buffer, _enc, cb) {
          for (let off = 0; off < chunk.length; off += MAX_PLAINTEXT_SIZE) {
            self.toClient(self.tx.seal(new Uint8Array(chunk.subarray(off, off + MAX_PLAINTEXT_SIZE))));
          }
          cb();
        },
        final(cb) {
          self.close();
          cb();
        },
        destroy(_e, cb) {
          self.close();
          cb(null);
        },
      });
      srv.sockets.add(this);
      srv.h2.emit('connection', this.h2side);
    });
  }

  private toClient(b: Uint8Array): void {
    if (this.readyState !== 1) return;
    const copy = b.slice();
    queueMicrotask(() => {
      if (this.readyState === 1) this.onmessage?.({ data: copy.buffer });
    });
  }

  send(data: Uint8Array | ArrayBuffer): void {
    if (this.readyState !== 1) return;
    const b = data instanceof Uint8Array ? data : new Uint8Array(data);
    const nb = new Uint8Array(this.inBuf.length + b.length);
    nb.set(this.inBuf);
    nb.set(b, this.inBuf.length);
    this.inBuf = nb;
    while (this.inBuf.length >= HEADER_LEN) {
      const len = (this.inBuf[1] << 8) | this.inBuf[2];
      if (this.inBuf.length < HEADER_LEN + len) break;
      if (this.inBuf[0] !== MSG_RECORD) {
        this.close();
        return;
      }
      const p = this.rx.open(this.inBuf.subarray(HEADER_LEN, HEADER_LEN + len));
      this.inBuf = this.inBuf.slice(HEADER_LEN + len);
      if (!p) {
        this.close();
        return;
      }
      this.h2side.push(Buffer.from(p));
    }
  }

  close(): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.srv.sockets.delete(this);
    try {
      this.h2side?.push(null);
      this.h2side?.destroy();
    } catch {
      /* gone */
    }
    queueMicrotask(() => this.onclose?.({ code: 1000 }));
  }
}

class FakeControl {
  readonly key: ReturnType<typeof generateKeyPair>;
  /** What /machine/register answers (default: authorized). */
  registerScript: () => object = () => ({
    MachineAuthorized: true,
    User: { ID: 1 },
    Login: { ID: 1, LoginName: 'tester' },
  });
  readonly h2 = http2.createServer();
  readonly sockets = new Set<FakeControlSocket>();
  readonly mapRequests: MapRequestSeen[] = [];
  /** The machine key of each Noise handshake (hex). */
  readonly machineKeys: string[] = [];
  readonly registerRequests: { NodeKey: string; OldNodeKey: string; Auth?: { AuthKey?: string } | null }[] = [];
  registers = 0;
  /** The map request's answer: 200 and the script (default), another status, or null: no answer at all. */
  mapStatus: number | null = 200;
  /** An HTTP status to refuse a map request with (Headscale: 404 for a node key it does not know). */
  mapRefusal: (req: MapRequestSeen) => number = () => 0;
  constructor(
    private readonly scripts: MapScript[],
    keySeed = 99,
  ) {
    this.key = generateKeyPair(seededRandom(keySeed));
    this.h2.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      const parts: Buffer[] = [];
      stream.on('data', (d: Buffer) => parts.push(d));
      stream.on('end', () => {
        const body = JSON.parse(Buffer.concat(parts).toString() || '{}');
        if (headers[':path'] === '/machine/register') {
          this.registers++;
          this.registerRequests.push(body);
          stream.respond({ ':status': 200, 'content-type': 'application/json' });
          stream.end(JSON.stringify(this.registerScript()));
        } else if (headers[':path'] === '/machine/map') {
          this.mapRequests.push(body);
          if (this.mapStatus === null) return; // silent: no response head, ever
          if (this.mapStatus !== 200) {
            stream.respond({ ':status': this.mapStatus });
            stream.end('node not found');
            return;
          }
          const refused = this.mapRefusal(body);
          if (refused) {
            stream.respond({ ':status': refused });
            stream.end('node not found');
            return;
          }
          const script = this.scripts[Math.min(this.mapRequests.length - 1, this.scripts.length - 1)];
          stream.respond({ ':status': 200 });
          script(stream, body);
        } else {
          stream.respond({ ':status': 404 });
          stream.end();
        }
      });
    });
  }
  factory = (url: string) => new FakeControlSocket(url, this);
  stop(): void {
    for (const s of [...this.sockets]) s.close();
  }
}

const nodeKey = (i: number) => 'nodekey:' + i.toString(16).padStart(64, '0');
const peer = (id: number): Node => ({
  ID: id,
  Name: `peer${id}.example.`,
  Key: nodeKey(id),
  Addresses: [`100.64.0.${id}/32`],
  DERP: '127.3.3.40:900',
});
const fullMap = (self: string, peers: Node[]): MapResponse => ({
  Node: { ID: 1, Name: 'me.example.', Key: self, Addresses: ['100.64.0.1/32'] },
  Peers: peers,
  DERPMap: { Regions: { '900': { RegionID: 900, RegionCode: 'r900', RegionName: 'R900', Nodes: [] } } },
  Domain: 'example',
});

const fakes: FakeControl[] = [];
const clients: ControlClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const f of fakes.splice(0)) f.stop();
});

function makeClient(
  fake: FakeControl,
  maxMapMessage?: number,
  store = new MemoryStore(),
  watchdogMs?: number,
  clock: Clock = realClock,
  extra: Partial<ControlClientOptions> = {},
  mapCompression: 'zstd' | 'none' = 'none',
) {
  // The scripted servers below write plain JSON (and hand-made broken frames): the client asks for
  // no compression unless a test is about zstd.
  const c = new ControlClient({
    ...extra,
    controlUrl: 'http://control.localhost',
    store,
    watchdogMs,
    wallTime: () => new Date().toISOString(),
    webSocketFactory: fake.factory,
    controlKey: keyToText('mkey', fake.key.publicKey),
    clock,
    random: seededRandom(5),
    discoPublicKey: new Uint8Array(32).fill(7),
    backoffBaseMs: 5,
    backoffMaxMs: 20,
    maxMapMessage,
    mapCompression,
  });
  const states: ControlClientState[] = [];
  const maps: NetworkMap[] = [];
  c.onState((s) => states.push(s));
  c.onNetMap((m) => maps.push(m));
  clients.push(c);
  const log: string[] = [];
  c.onState((s, d) => log.push(`${s} ${d ?? ''}`));
  dbg = () => ({ state: c.state, stats: c.stats, maps: fake.mapRequests.length, log });
  return { c, states, maps };
}

let dbg: () => unknown = () => null;
async function until(what: string, f: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(dbg())}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Writes raw bytes on the map stream and leaves it open (the client must close it). */
const raw =
  (b: Uint8Array): MapScript =>
  (res) => {
    res.write(Buffer.from(b));
  };
const lenPrefix = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};
const concat = (...p: Uint8Array[]) => {
  const o = new Uint8Array(p.reduce((a, x) => a + x.length, 0));
  let off = 0;
  for (const x of p) {
    o.set(x, off);
    off += x.length;
  }
  return o;
};

describe('ControlClient with a control server that sends malformed map streams', () => {
  it('bad length prefix, bad JSON, oversized, non-object and truncated messages: counted, reconnect, last good map kept', async () => {
    let selfKey = '';
    const good =
      (peers: Node[]): MapScript =>
      (res, req) => {
        selfKey = req.NodeKey;
        res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, peers))));
      };
    const fake = new FakeControl([
      // 1: a good full map, then a length prefix far above the 64 KiB limit set below (also what a
      //    desynchronised stream looks like).
      (res, req) => {
        good([peer(2)])(res, req);
        setTimeout(
          () => res.write(Buffer.from(concat(encodeMapMessage({ KeepAlive: true }), lenPrefix(0xffff_fff0)))),
          20,
        );
      },
      // 2: a well-framed message that is not JSON.
      raw(concat(lenPrefix(9), new TextEncoder().encode('{"Peers":'))),
      // 3: a complete but oversized message (over maxMapMessage = 64 KiB).
      raw(encodeMapMessage({ Peers: Array.from({ length: 800 }, (_, i) => peer(i + 10)) })),
      // 4: valid JSON, but not an object.
      raw(encodeMapMessage(new TextEncoder().encode('[1,2,3]'))),
      // 5: the server ends the stream in the middle of a message.
      (res) => {
        res.end(Buffer.from(concat(lenPrefix(100), new Uint8Array(10))));
      },
      good([peer(2), peer(3)]),
    ]);
    fakes.push(fake);
    const { c, maps } = makeClient(fake, 64 << 10);
    await c.login({ hostname: 'me', authKey: 'k' });
    c.start();
    await until('first map', () => peerList(c.netMap).length === 1);
    expect(c.state).toBe('streaming');
    await until('the last, good stream', () => peerList(c.netMap).length === 2);
    expect(c.state).toBe('streaming');
    expect(fake.mapRequests.length).toBe(6);
    expect(c.stats.streamErrors).toBe(5);
    expect(c.stats.malformedMaps).toBe(5);
    expect(c.stats.reconnects).toBe(5);
    expect(c.stats.mapStreams).toBe(6);
    // Every map the node saw while the server misbehaved still held peer 2: nothing was lost.
    expect(maps.every((m) => peerList(m).some((p) => p.Key === nodeKey(2)))).toBe(true);
    expect(maps.map((m) => peerList(m).length)).toEqual([1, 2]);
    expect(selfKey).toBe(keyToText('nodekey', c.nodePublicKey));
    expect(fake.registers).toBe(1); // a broken stream is not a reason to log in again
  });

  it('asks for zstd by default, as tailscaled does, and decodes the zstd messages; a plain-JSON answer to it is a malformed map', async () => {
    const compress: (string | undefined)[] = [];
    const fake = new FakeControl([
      (res, req) => {
        compress.push(req.Compress);
        res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2)]))));
      },
      (res, req) => {
        compress.push(req.Compress);
        res.write(Buffer.from(encodeZstdMapMessage(fullMap(req.NodeKey, [peer(2), peer(3)]))));
        setTimeout(() => res.write(Buffer.from(encodeZstdMapMessage({ KeepAlive: true }))), 10);
      },
    ]);
    fakes.push(fake);
    const { c } = makeClient(fake, undefined, new MemoryStore(), undefined, realClock, {}, 'zstd');
    await c.login({ hostname: 'me', authKey: 'k' });
    c.start();
    await until('the zstd map', () => peerList(c.netMap).length === 2);
    await until('the zstd keepalive', () => c.stats.compressedMaps === 2);
    expect(compress).toEqual(['zstd', 'zstd']);
    expect(c.stats.malformedMaps).toBe(1);
    expect(c.stats.lastError).toMatch(/not valid zstd/);
    expect(c.stats.mapDecodedBytes).toBeGreaterThan(0);
  });

  it('logout goes out on the connection already open (no new WebSocket or handshake), so a closing tab can still say it', async () => {
    const fake = new FakeControl([
      (res, req) => {
        res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2)]))));
      },
    ]);
    fakes.push(fake);
    let sockets = 0;
    const factory = fake.factory;
    fake.factory = (url: string) => {
      sockets++;
      return factory(url);
    };
    const { c } = makeClient(fake);
    await c.login({ hostname: 'me', authKey: 'k' });
    c.start();
    await until('first map', () => peerList(c.netMap).length === 1);
    const before = sockets;
    await c.logout();
    expect(sockets).toBe(before);
    const last = fake.registerRequests.at(-1) as { Expiry?: string };
    expect(fake.registers).toBe(2);
    expect(new Date(last.Expiry!).getTime()).toBeLessThan(Date.now());
    expect(c.state).toBe('logged-out');
  });

  it('a new preferred DERP restarts the map stream on the open connection: no reconnect, and a logout right then still goes out on it', async () => {
    const fake = new FakeControl([
      (res, req) => {
        res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2)]))));
      },
    ]);
    fakes.push(fake);
    let sockets = 0;
    const factory = fake.factory;
    fake.factory = (url: string) => {
      sockets++;
      return factory(url);
    };
    const { c, states } = makeClient(fake);
    await c.login({ hostname: 'me', authKey: 'k' });
    c.start();
    await until('first map', () => peerList(c.netMap).length === 1);
    const before = sockets;
    c.setPreferredDerp(900);
    const derpOf = (i: number) =>
      (fake.mapRequests[i] as unknown as { Hostinfo?: { NetInfo?: { PreferredDERP?: number } } }).Hostinfo?.NetInfo
        ?.PreferredDERP;
    await until('a second map request', () => fake.mapRequests.length === 2);
    expect(derpOf(1)).toBe(900);
    await c.logout();
    expect(sockets).toBe(before);
    expect(states).not.toContain('reconnecting');
    expect(c.stats.streamErrors).toBe(0);
    expect(fake.registers).toBe(2);
    expect(c.state).toBe('logged-out');
  });

  it('sends no NetInfo until a home region is known, then remembers it: a returning client reports it in its first map request', async () => {
    const fake = new FakeControl([
      (res, req) => {
        res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2)]))));
      },
    ]);
    fakes.push(fake);
    const store = new MemoryStore();
    const netInfoOf = (i: number) =>
      (fake.mapRequests[i] as unknown as { Hostinfo?: { NetInfo?: { PreferredDERP?: number } } }).Hostinfo?.NetInfo;
    const first = makeClient(fake, undefined, store).c;
    await first.login({ hostname: 'me', authKey: 'k' });
    first.start();
    await until('first map', () => peerList(first.netMap).length === 1);
    // PreferredDERP 0 would make Headscale forget our relay and peers drop our handshakes.
    expect(netInfoOf(0)).toBeUndefined();
    first.setPreferredDerp(901);
    await until('a second map request', () => fake.mapRequests.length === 2);
    expect(netInfoOf(1)).toEqual({ PreferredDERP: 901 });
    await first.close();
    // The next visit, same storage: its very first map request already names region 901.
    const again = makeClient(fake, undefined, store).c;
    await again.login({ hostname: 'me' });
    expect(again.preferredDerpRegion).toBe(901);
    again.start();
    await until('the returning map request', () => fake.mapRequests.length === 3);
    expect(netInfoOf(2)).toEqual({ PreferredDERP: 901 });
  });

  it('pins the control key on first use and refuses a changed one with both fingerprints', async () => {
    const store = new MemoryStore();
    const fake = new FakeControl([
      (res, req) => {
        res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2)]))));
      },
    ]);
    fakes.push(fake);
    const first = makeClient(fake, undefined, store).c;
    await first.login({ hostname: 'me', authKey: 'k' });
    const pinned = (await store.load())!.controlPublicKey;
    expect(pinned).toBe(keyToText('mkey', fake.key.publicKey));
    await first.close();
    // Another server answers in its place (or the server was reinstalled): a new key.
    const impostor = new FakeControl(
      [
        (res, req) => {
          res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2)]))));
        },
      ],
      100,
    );
    fakes.push(impostor);
    const again = makeClient(impostor, undefined, store).c;
    const err = await again.login({ hostname: 'me', authKey: 'k' }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/control server's key changed/);
    expect(err?.message).toContain(pinned!);
    expect(err?.message).toContain(keyToText('mkey', impostor.key.publicKey));
    expect(impostor.registers).toBe(0);
    expect((await store.load())!.controlPublicKey).toBe(pinned);
  });

  it('refuses a javascript: login link from control, and a plain-http control URL for a remote host', async () => {
    const fake = new FakeControl([]);
    fakes.push(fake);
    fake.registerScript = () => ({ AuthURL: 'javascript:alert(document.cookie)', MachineAuthorized: false });
    const { c } = makeClient(fake);
    const urls: string[] = [];
    const err = await c.login({ hostname: 'me', onAuthUrl: (u) => urls.push(u) }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/login link we will not show: the login link is javascript:/);
    expect(urls).toEqual([]);
    expect(c.state).not.toBe('needs-login');
    expect(
      () =>
        new ControlClient({
          controlUrl: 'http://hs.example',
          store: new MemoryStore(),
          wallTime: () => '',
          webSocketFactory: fake.factory,
          clock: realClock,
          random: seededRandom(1),
          discoPublicKey: new Uint8Array(32),
        }),
    ).toThrow(/plain http: use https/);
  });

  it('reports each kind of breakage in words', async () => {
    const errors: string[] = [];
    const fake = new FakeControl([
      (res, req) => {
        res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2)]))));
        setTimeout(() => res.write(Buffer.from(lenPrefix(0xffff_fff0))), 20);
      },
      raw(concat(lenPrefix(3), new TextEncoder().encode('{{{'))),
      (res, req) => res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2)])))),
    ]);
    fakes.push(fake);
    const { c } = makeClient(fake, 64 << 10);
    c.onState((s, d) => {
      if (s === 'reconnecting' && d) errors.push(d);
    });
    await c.login({ hostname: 'me', authKey: 'k' });
    c.start();
    await until('third stream', () => fake.mapRequests.length === 3 && c.state === 'streaming');
    expect(errors).toEqual([
      'map message of 4294967280 bytes exceeds the 65536-byte limit',
      'map message is not valid JSON (3 bytes)',
    ]);
    expect(peerList(c.netMap).length).toBe(1);
  });

  it('an HTTP/2 reset of the map stream and a dropped connection are survived the same way', async () => {
    const fake = new FakeControl([
      (res, req) => {
        res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2)]))));
        setTimeout(() => res.close(http2.constants.NGHTTP2_INTERNAL_ERROR), 20);
      },
      () =>
        setTimeout(() => {
          for (const s of [...fake.sockets]) s.close();
        }, 20),
      (res, req) => res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2), peer(4)])))),
    ]);
    fakes.push(fake);
    const { c, maps } = makeClient(fake);
    await c.login({ hostname: 'me', authKey: 'k' });
    c.start();
    await until('recovered map', () => peerList(c.netMap).length === 2, 15_000);
    expect(c.stats.reconnects).toBe(2);
    expect(c.stats.streamErrors).toBe(2);
    expect(c.stats.malformedMaps).toBe(0); // transport failures are not counted as malformed maps
    expect(maps.every((m) => peerList(m).length >= 1)).toBe(true);
  });
});

describe('ControlClient: node key expiry reported by control', () => {
  it('Node.Expired in the map → key-expired, no reconnecting once the stream ends, remembered in storage; the next login uses a new node key with OldNodeKey', async () => {
    const expiredSelf = (req: MapRequestSeen): MapResponse => {
      const m = fullMap(req.NodeKey, [peer(2)]);
      return { ...m, Node: { ...m.Node!, Expired: true, KeyExpiry: '2026-01-01T00:00:00Z' } };
    };
    const fake = new FakeControl([
      (res, req) => {
        res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2)]))));
        setTimeout(() => res.write(Buffer.from(encodeMapMessage(expiredSelf(req)))), 20);
        setTimeout(() => res.end(), 40); // control ends the stream
      },
      (res, req) => res.write(Buffer.from(encodeMapMessage(expiredSelf(req)))),
    ]);
    fakes.push(fake);
    const store = new MemoryStore();
    const { c, states } = makeClient(fake, undefined, store);
    const details: string[] = [];
    c.onState((s, d) => {
      if (s === 'key-expired' && d) details.push(d);
    });
    await c.login({ hostname: 'me', authKey: 'k' });
    const firstKey = keyToText('nodekey', c.nodePublicKey);
    c.start();
    await until('the stream to end', () => c.stats.streamErrors === 1);
    await new Promise((r) => setTimeout(r, 100)); // many backoff periods (5-20 ms)
    expect(c.state).toBe('key-expired');
    // With an expired key there is nothing to reconnect for until a person logs in again.
    expect(fake.mapRequests.length).toBe(1);
    expect(states.filter((s) => s === 'streaming').length).toBe(1);
    expect(details[0]).toBe('the node key expired at 2026-01-01T00:00:00Z: log in again');
    expect(details.length).toBe(1); // said once, not on every map
    expect(await store.load()).toMatchObject({
      loggedIn: false,
      nodeKeyExpired: true,
      nodeKeyExpiry: '2026-01-01T00:00:00Z',
    });
    await c.close();

    const { c: c2 } = makeClient(fake, undefined, store);
    expect(() => c2.start()).toThrow(/not logged in/);
    await c2.login({ hostname: 'me', authKey: 'k2' });
    const reg = fake.registerRequests.at(-1)!;
    expect(reg.OldNodeKey).toBe(firstKey);
    expect(reg.NodeKey).not.toBe(firstKey);
    expect(reg.NodeKey).toBe(keyToText('nodekey', c2.nodePublicKey));
    expect(await store.load()).toMatchObject({ loggedIn: true });
    expect((await store.load())!.nodeKeyExpired).toBeUndefined();
  });
});

describe('ControlClient: a map stream that goes silent', () => {
  it('is declared dead by the watchdog and re-established, keeping the map meanwhile', async () => {
    const fake = new FakeControl([
      (res, req) => res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2)])))), // then nothing, stream left open
      (res, req) => res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2), peer(3)])))),
    ]);
    fakes.push(fake);
    const { c, maps } = makeClient(fake, undefined, new MemoryStore(), 300);
    const reasons: string[] = [];
    c.onState((s, d) => {
      if (s === 'reconnecting' && d) reasons.push(d);
    });
    await c.login({ hostname: 'me', authKey: 'k' });
    c.start();
    await until('the second stream', () => peerList(c.netMap).length === 2, 10_000);
    expect(fake.mapRequests.length).toBe(2);
    expect(reasons).toEqual(['no map message for 300 ms: the stream is dead']);
    expect(maps.every((m) => peerList(m).length >= 1)).toBe(true);
    expect(c.state).toBe('streaming');
  });
});

describe('ControlClient: node key expiry by time', () => {
  it('a KeyExpiry in the map is noticed when its time comes, without a word from control', async () => {
    const expiry = new Date(Date.now() + 400).toISOString();
    const fake = new FakeControl([
      (res, req) => {
        const m = fullMap(req.NodeKey, [peer(2)]);
        res.write(Buffer.from(encodeMapMessage({ ...m, Node: { ...m.Node!, KeyExpiry: expiry } })));
      },
    ]);
    fakes.push(fake);
    const store = new MemoryStore();
    const { c } = makeClient(fake, undefined, store);
    let detail = '';
    c.onState((s, d) => {
      if (s === 'key-expired') detail = d ?? '';
    });
    await c.login({ hostname: 'me', authKey: 'k' });
    c.start();
    await until('streaming', () => c.state === 'streaming');
    await until('key-expired', () => c.state === 'key-expired', 5_000);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiry));
    expect(detail).toBe(`the node key expired at ${expiry}: log in again`);
    expect(await store.load()).toMatchObject({ loggedIn: false, nodeKeyExpired: true });
  });

  it("a key that expires in 180 days does not trip the timer now (setTimeout's 2^31 ms limit)", async () => {
    const fake = new FakeControl([
      (res, req) => {
        const m = fullMap(req.NodeKey, [peer(2)]);
        res.write(
          Buffer.from(
            encodeMapMessage({
              ...m,
              Node: { ...m.Node!, KeyExpiry: new Date(Date.now() + 180 * 86_400_000).toISOString() },
            }),
          ),
        );
      },
    ]);
    fakes.push(fake);
    const delays: number[] = [];
    const recording: Clock = {
      ...realClock,
      setTimeout: (fn, ms) => {
        delays.push(ms);
        return realClock.setTimeout(fn, ms);
      },
    };
    const { c } = makeClient(fake, undefined, new MemoryStore(), undefined, recording);
    await c.login({ hostname: 'me', authKey: 'k' });
    c.start();
    await until('streaming', () => c.state === 'streaming');
    await new Promise((r) => setTimeout(r, 200));
    expect(c.state).toBe('streaming');
    expect(Math.max(...delays)).toBe(2 ** 31 - 1); // the expiry timer, capped: no 1 ms overflow re-fire loop
    expect(delays.filter((d) => d === 2 ** 31 - 1).length).toBe(1);
  });

  it('control lifting the expiry (Expired false again) brings the client back to streaming and logged in', async () => {
    const fake = new FakeControl([
      (res, req) => {
        const m = fullMap(req.NodeKey, [peer(2)]);
        res.write(
          Buffer.from(
            encodeMapMessage({ ...m, Node: { ...m.Node!, Expired: true, KeyExpiry: '2026-01-01T00:00:00Z' } }),
          ),
        );
        setTimeout(
          () =>
            res.write(Buffer.from(encodeMapMessage({ ...m, Node: { ...m.Node!, KeyExpiry: '2036-01-01T00:00:00Z' } }))),
          30,
        );
      },
    ]);
    fakes.push(fake);
    const store = new MemoryStore();
    const { c, states } = makeClient(fake, undefined, store);
    await c.login({ hostname: 'me', authKey: 'k' });
    c.start();
    await until('expired then back', () => states.includes('key-expired') && c.state === 'streaming');
    expect(await store.load()).toMatchObject({ loggedIn: true });
    expect((await store.load())!.nodeKeyExpired).toBeUndefined();
  });
});

describe('ControlClient: a map request that control never answers, or refuses', () => {
  it('no response head within the deadline: an error naming the stage, then retries on the backoff; the status says why and when', async () => {
    const fake = new FakeControl([
      (res, req) => res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2)])))),
    ]);
    fakes.push(fake);
    fake.mapStatus = null;
    const { c } = makeClient(fake, undefined, new MemoryStore(), undefined, realClock, {
      timeouts: { mapHeadMs: 200 },
      backoffBaseMs: 100,
      backoffMaxMs: 400,
    });
    const errors: string[] = [];
    c.onState((s, d) => {
      if (s === 'reconnecting' && d) errors.push(d);
    });
    await c.login({ hostname: 'me', authKey: 'k' });
    c.start();
    await until('a failed map request', () => c.state === 'reconnecting');
    expect(errors[0]).toBe(
      'control did not answer the map request (POST /machine/map) within 0.2 s (stage: map response head)',
    );
    const st = c.status();
    expect(st.state).toBe('reconnecting');
    expect(st.lastError).toContain('stage: map response head');
    expect(st.retryInMs).toBeGreaterThanOrEqual(0);
    expect(st.retryInMs).toBeLessThanOrEqual(150); // the first step: 100 ms ×[0.5, 1.5)
    await until('three failed map requests', () => fake.mapRequests.length >= 3, 10_000);
    expect(c.status().failures).toBeGreaterThanOrEqual(2);
    // Control answers again: the stream comes back, the error is gone from the status.
    fake.mapStatus = 200;
    await until('streaming', () => c.state === 'streaming', 10_000);
    expect(c.status()).toEqual({ state: 'streaming', failures: 0 });
    expect(peerList(c.netMap).length).toBe(1);
  });

  it('404 on the map request (Headscale: the machine was deleted): the same sentence, no retrying', async () => {
    const fake = new FakeControl([() => {}]);
    fakes.push(fake);
    fake.mapStatus = 404;
    const { c } = makeClient(fake);
    await c.login({ hostname: 'me', authKey: 'k' });
    c.start();
    await until('key-expired', () => c.state === 'key-expired');
    expect(c.status().lastError).toBe(
      "control refused this machine's map request: its node key is unknown or expired there, or the machine was removed. Log in again. (HTTP 404: node not found)",
    );
    expect(fake.mapRequests.length).toBe(1);
  });

  it('401 on the map request: key-expired with a sentence saying to log in again, and no retrying', async () => {
    const fake = new FakeControl([() => {}]);
    fakes.push(fake);
    fake.mapStatus = 401;
    const { c, states } = makeClient(fake);
    await c.login({ hostname: 'me', authKey: 'k' });
    c.start();
    await until('key-expired', () => c.state === 'key-expired');
    expect(c.status().lastError).toBe(
      "control refused this machine's map request: its node key is unknown or expired there, or the machine was removed. Log in again. (HTTP 401: node not found)",
    );
    expect(states).not.toContain('reconnecting');
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.mapRequests.length).toBe(1);
    expect(c.loggedIn).toBe(false);
  });
});

describe('ControlClient: where the machine and node keys live', () => {
  const rawMachine = generateKeyPair(seededRandom(41)).privateKey;
  const rawNode = generateKeyPair(seededRandom(42)).privateKey;
  const oneMap: MapScript = (res, req) => {
    res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2)]))));
  };

  it('a profile that kept raw keys moves them into non-extractable CryptoKeys, and control sees the same machine and node', async () => {
    const fake = new FakeControl([oneMap]);
    fakes.push(fake);
    const store = new MemoryStore('cryptokey');
    await store.save({ machinePrivateKey: toHex(rawMachine), nodePrivateKey: toHex(rawNode), loggedIn: true });
    const { c } = makeClient(fake, undefined, store);
    await c.login({ hostname: 'me' });
    c.start();
    await until('a map', () => peerList(c.netMap).length === 1);
    // Same identity at control: the Noise handshake's machine key and the registered node key.
    expect(fake.machineKeys[0]).toBe(toHex(publicKeyOf(rawMachine)));
    // (A returning login goes straight to the map request, without register: that names the node.)
    expect(fake.mapRequests[0].NodeKey).toBe(keyToText('nodekey', publicKeyOf(rawNode)));
    // The store now holds CryptoKeys that cannot be exported, and no raw private bytes.
    const st = (await store.load())!;
    for (const k of [st.machinePrivateKey, st.nodePrivateKey]) {
      expect(typeof k).toBe('object');
      const ck = (k as { privateKey: CryptoKey }).privateKey;
      expect(ck).toBeInstanceOf(CryptoKey);
      expect(ck.extractable).toBe(false);
      await expect(crypto.subtle.exportKey('pkcs8', ck)).rejects.toThrow();
    }
    const text = JSON.stringify(st, (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : v));
    expect(text).not.toContain(toHex(rawMachine));
    expect(text).not.toContain(toHex(rawNode));
    expect(c.nodeKey).toBeInstanceOf(WebCryptoX25519Key);
    // A later run loads the CryptoKeys as they are (nothing to migrate) and is still the same node.
    await c.close();
    const fake2 = new FakeControl([oneMap]);
    fakes.push(fake2);
    const again = makeClient(fake2, undefined, store).c;
    await again.login({ hostname: 'me' });
    expect(fake2.machineKeys[0]).toBe(toHex(publicKeyOf(rawMachine)));
    expect(fake2.mapRequests[0].NodeKey).toBe(keyToText('nodekey', publicKeyOf(rawNode)));
    const ck = (k: unknown) => (k as { privateKey: CryptoKey }).privateKey;
    expect(ck((await store.load())!.machinePrivateKey)).toBe(ck(st.machinePrivateKey)); // the same CryptoKey, not a new key
  });

  it("a store that keeps text (a file: custody 'raw') keeps hex keys, made and used by noble", async () => {
    const fake = new FakeControl([oneMap]);
    fakes.push(fake);
    const store = new MemoryStore('raw');
    const { c } = makeClient(fake, undefined, store);
    await c.login({ hostname: 'me', authKey: 'k' });
    const st = (await store.load())!;
    expect(st.machinePrivateKey).toMatch(/^[0-9a-f]{64}$/);
    expect(st.nodePrivateKey).toMatch(/^[0-9a-f]{64}$/);
    expect(fake.machineKeys[0]).toBe(
      toHex(publicKeyOf(Uint8Array.from(Buffer.from(st.machinePrivateKey as string, 'hex')))),
    );
    expect(c.nodeKey.kind).toBe('raw');
  });

  it('a damaged stored key is refused in words, not replaced by a new machine', async () => {
    const fake = new FakeControl([oneMap]);
    fakes.push(fake);
    const store = new MemoryStore('cryptokey');
    await store.save({ machinePrivateKey: 'not a key', loggedIn: true });
    const { c } = makeClient(fake, undefined, store);
    await expect(c.login({ hostname: 'me' })).rejects.toThrow(/damaged.*new machine/);
    expect((await store.load())!.machinePrivateKey).toBe('not a key');
  });
});

describe('ControlClient: a returning node', () => {
  const serve: MapScript = (res, req) => {
    res.write(Buffer.from(encodeMapMessage(fullMap(req.NodeKey, [peer(2)]))));
  };

  it('goes straight to the map request with its stored login: no register round trip, same node key', async () => {
    const fake = new FakeControl([serve]);
    fakes.push(fake);
    const store = new MemoryStore();
    const first = makeClient(fake, undefined, store).c;
    await first.login({ hostname: 'me', authKey: 'k' });
    first.start();
    await until('first map', () => peerList(first.netMap).length === 1);
    const key = keyToText('nodekey', first.nodePublicKey);
    await first.close();
    expect(fake.registers).toBe(1);
    // The next visit: the same storage, the auth key given again (the demo's config does so).
    const { c, states } = makeClient(fake, undefined, store);
    await c.login({ hostname: 'me', authKey: 'k' });
    expect(fake.registers).toBe(1);
    expect(c.resumedLogins).toBe(1);
    expect(fake.mapRequests.length).toBe(2); // sent by login() itself, answered before it resolved
    c.start();
    await until('the returning map', () => peerList(c.netMap).length === 1);
    expect(fake.mapRequests.length).toBe(2); // start() used that response: no second request
    expect(fake.mapRequests[1]!.NodeKey).toBe(key);
    expect(states).toContain('streaming');
  });

  it('registers again when control no longer knows the stored key (node deleted): then streams as before', async () => {
    const fake = new FakeControl([serve]);
    fakes.push(fake);
    const store = new MemoryStore();
    const first = makeClient(fake, undefined, store).c;
    await first.login({ hostname: 'me', authKey: 'k' });
    await first.close();
    // Control forgot the node (an admin deleted it): the first map request is refused once.
    let refusals = 1;
    fake.mapRefusal = () => (refusals-- > 0 ? 404 : 0);
    const c = makeClient(fake, undefined, store).c;
    await c.login({ hostname: 'me', authKey: 'k' });
    expect(c.resumedLogins).toBe(0);
    expect(fake.registers).toBe(2);
    c.start();
    await until('a map after registering again', () => peerList(c.netMap).length === 1);
    expect(c.state).toBe('streaming');
  });

  it('still refuses a control server whose key changed, before anything is sent', async () => {
    const store = new MemoryStore();
    const fake = new FakeControl([serve]);
    fakes.push(fake);
    const first = makeClient(fake, undefined, store).c;
    await first.login({ hostname: 'me', authKey: 'k' });
    await first.close();
    const impostor = new FakeControl([serve], 100);
    fakes.push(impostor);
    const again = makeClient(impostor, undefined, store).c;
    await expect(again.login({ hostname: 'me' })).rejects.toThrow(/control server's key changed/);
    expect(impostor.mapRequests.length).toBe(0);
  });
});
