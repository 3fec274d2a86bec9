import { describe, expect, it, vi } from 'vitest';
import { importWebCryptoX25519Key } from '../crypto/static-key.js';
import { DerpClient, type DerpClientOptions } from './client.js';
import type { WebSocketLike } from '../platform/websocket.js';
import { encodeFrame, FrameReassembler, MAGIC } from './frames.js';
import { VirtualClock } from '../platform/clock.js';
import { seededRandom } from '../crypto/random.js';
import { generateKeyPair } from '../crypto/x25519.js';
import { boxBeforeNm, openNonceAndBox, sealWithRandomNonce } from '../crypto/box.js';

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
  send(d: Uint8Array) {
    this.sent.push(d);
  }
  close() {
    this.closed = true;
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  deliver(b: Uint8Array) {
    this.onmessage?.({ data: b.slice().buffer });
  }
  /** The connection breaks (or never comes up): the server is gone. */
  fail() {
    this.readyState = 3;
    this.onclose?.({ code: 1006 } as never);
  }
}

function setup(extra: Partial<DerpClientOptions> = {}) {
  const clock = new VirtualClock();
  const random = seededRandom(7);
  const server = generateKeyPair(random);
  const me = generateKeyPair(random);
  const sockets: FakeWs[] = [];
  const got: Uint8Array[] = [];
  const c = new DerpClient({
    url: 'ws://x/derp',
    privateKey: me.privateKey,
    clock,
    random,
    webSocketFactory: () => {
      const w = new FakeWs();
      sockets.push(w);
      return w;
    },
    onPacket: (_s, p) => got.push(p),
    ...extra,
  });
  const handshake = (w: FakeWs) => {
    w.open();
    w.deliver(encodeFrame({ type: 'serverKey', serverKey: server.publicKey }));
    const k = boxBeforeNm(server.privateKey, me.publicKey);
    w.deliver(
      encodeFrame({ type: 'serverInfo', sealed: sealWithRandomNonce(k, new TextEncoder().encode('{}'), random) }),
    );
  };
  /** The JSON our ClientInfo frame carried on socket w (opened with the server's key). */
  const clientInfo = (w: FakeWs): Record<string, unknown> => {
    const f = new FrameReassembler()
      .push(
        w.sent.reduce((a, b) => {
          const o = new Uint8Array(a.length + b.length);
          o.set(a);
          o.set(b, a.length);
          return o;
        }, new Uint8Array(0)),
      )
      .find((r) => r.ok && r.frame.type === 'clientInfo');
    if (!f?.ok || f.frame.type !== 'clientInfo') throw new Error('no clientInfo frame');
    const json = openNonceAndBox(boxBeforeNm(server.privateKey, me.publicKey), f.frame.sealed);
    return JSON.parse(new TextDecoder().decode(json!)) as Record<string, unknown>;
  };
  return { clock, c, sockets, got, handshake, server, clientInfo };
}

describe('DerpClient with a hostile fake server', () => {
  const badInputs: [string, Uint8Array][] = [
    [
      'wrong magic',
      (() => {
        const p = new Uint8Array(40);
        p.set(MAGIC);
        p[0] = 0;
        return encodeFrame({ type: 'unknown', frameType: 1, payload: p });
      })(),
    ],
    ['oversized', new Uint8Array([5, 0x7f, 0xff, 0xff, 0xff])],
    ['truncated server key', encodeFrame({ type: 'unknown', frameType: 1, payload: new Uint8Array(10) })],
    ['unknown before key', encodeFrame({ type: 'unknown', frameType: 0x42, payload: new Uint8Array(3) })],
  ];
  for (const [name, bytes] of badInputs) {
    it(`${name}: clean close, counted, reconnect after backoff`, () => {
      const { clock, c, sockets } = setup();
      c.start();
      sockets[0].open();
      expect(() => sockets[0].deliver(bytes)).not.toThrow();
      expect(sockets[0].closed).toBe(true);
      expect(c.state).toBe('backoff');
      expect(c.stats.malformed).toBe(1);
      expect(c.stats.lastError).toBeTruthy();
      clock.advance(4);
      expect(sockets.length).toBe(1); // no reconnect storm: at least the first step (10 ms) × 0.5
      clock.advance(11);
      expect(sockets.length).toBe(2);
    });
  }

  it('connects, receives packets split across messages, answers pings', () => {
    const { c, sockets, got, handshake } = setup();
    c.start();
    handshake(sockets[0]);
    expect(c.state).toBe('connected');
    const f = encodeFrame({ type: 'recvPacket', srcKey: new Uint8Array(32), packet: new Uint8Array([1, 2, 3]) });
    sockets[0].deliver(f.slice(0, 3));
    sockets[0].deliver(f.slice(3));
    expect(got).toEqual([new Uint8Array([1, 2, 3])]);
    sockets[0].deliver(encodeFrame({ type: 'ping', data: new Uint8Array(8).fill(9) }));
    expect(sockets[0].sent.at(-1)).toEqual(encodeFrame({ type: 'pong', data: new Uint8Array(8).fill(9) }));
  });

  it('a frame type it does not know (a newer derper) is skipped and counted: the connection stays, packets still flow', () => {
    const { c, sockets, got, handshake } = setup();
    c.start();
    handshake(sockets[0]);
    // 0x7f is no type derp.go defines; a newer server may send such frames to any client.
    for (let i = 0; i < 3; i++)
      sockets[0].deliver(encodeFrame({ type: 'unknown', frameType: 0x7f, payload: new Uint8Array([i, 1, 2, 3]) }));
    sockets[0].deliver(encodeFrame({ type: 'unknown', frameType: 0x7e, payload: new Uint8Array(0) }));
    sockets[0].deliver(encodeFrame({ type: 'recvPacket', srcKey: new Uint8Array(32), packet: new Uint8Array([4, 5]) }));
    expect(c.state).toBe('connected');
    expect(sockets[0].closed).toBe(false);
    expect(c.stats.unknownFrames).toBe(4);
    expect(c.stats.malformed).toBe(0);
    expect(c.stats.lastError).toBeUndefined();
    expect(got).toEqual([new Uint8Array([4, 5])]);
  });

  it('ClientInfo: version 2, CanAckPings, and AppName only when one is given', () => {
    const named = setup({ appName: 'tailtab' });
    named.c.start();
    named.handshake(named.sockets[0]);
    expect(named.clientInfo(named.sockets[0])).toEqual({ version: 2, CanAckPings: true, AppName: 'tailtab' });
    const plain = setup();
    plain.c.start();
    plain.handshake(plain.sockets[0]);
    expect(plain.clientInfo(plain.sockets[0])).toEqual({ version: 2, CanAckPings: true });
  });

  it("reconnects on tailscaled's schedule: n²·10 ms after the n-th failure, jittered, capped at 5 s, reset by a success", () => {
    const { clock, c, sockets, handshake } = setup();
    c.start();
    handshake(sockets[0]);
    // The relay goes away: each failed attempt waits longer, on the n² curve (×0.5–1.5 jitter).
    const waits: number[] = [];
    for (let n = 1; n <= 25; n++) {
      sockets[sockets.length - 1].fail();
      expect(c.state).toBe('backoff');
      const wait = c.retryInMs!;
      waits.push(wait);
      const base = Math.min(n * n * 10, 5000);
      expect(wait).toBeGreaterThanOrEqual(Math.floor(base * 0.5));
      expect(wait).toBeLessThanOrEqual(Math.ceil(base * 1.5));
      const before = sockets.length;
      clock.advance(wait - 1);
      expect(sockets.length).toBe(before);
      clock.advance(1);
      expect(sockets.length).toBe(before + 1); // the next attempt, exactly when it was due
    }
    expect(Math.max(...waits)).toBeLessThanOrEqual(7500);
    expect(c.stats.lastError).toBeTruthy();
    // Back: the schedule starts over at 10 ms.
    handshake(sockets[sockets.length - 1]);
    expect(c.state).toBe('connected');
    expect(c.retryInMs).toBeUndefined();
    sockets[sockets.length - 1].fail();
    expect(c.retryInMs!).toBeLessThanOrEqual(15);
  });

  it('Restarting frame reconnects after the given delay', () => {
    const { clock, c, sockets, handshake } = setup();
    c.start();
    handshake(sockets[0]);
    sockets[0].deliver(encodeFrame({ type: 'restarting', reconnectInMs: 5000, tryForMs: 10000 }));
    expect(c.state).toBe('backoff');
    clock.advance(4999);
    expect(sockets.length).toBe(1);
    clock.advance(1);
    expect(sockets.length).toBe(2);
  });

  it('send queue is bounded: oldest dropped and counted', () => {
    const { c, sockets, handshake } = setup();
    c.start();
    for (let i = 0; i < 600; i++) c.send(new Uint8Array(32), new Uint8Array([i & 0xff]));
    expect(c.queuedPackets).toBe(512);
    expect(c.stats.drops).toBe(88);
    handshake(sockets[0]);
    expect(c.stats.packetsOut).toBe(512);
  });

  it('a congested socket (slow relay): packets wait in the bounded queue, oldest dropped, then drain in order', () => {
    const { clock, c, sockets, handshake } = setup();
    c.start();
    handshake(sockets[0]);
    const w = sockets[0];
    const sentBefore = w.sent.length;
    w.bufferedAmount = 8 << 20; // above the 4 MiB default: the relay is not keeping up
    for (let i = 0; i < 1000; i++) c.send(new Uint8Array(32), Uint8Array.of(i >> 8, i & 0xff));
    expect(w.sent.length).toBe(sentBefore); // nothing more pushed into the socket's buffer
    expect(c.queuedPackets).toBe(512);
    expect(c.stats.drops).toBe(488);
    clock.advance(100);
    expect(w.sent.length).toBe(sentBefore); // still congested: still waiting
    w.bufferedAmount = 0;
    clock.advance(5);
    expect(c.queuedPackets).toBe(0);
    const seqs = w.sent.slice(sentBefore).map((f) => (f[5 + 32] << 8) | f[5 + 33]);
    expect(seqs).toEqual(Array.from({ length: 512 }, (_, i) => 488 + i)); // the newest 512, in order
    expect(c.state).toBe('connected');
  });
});

describe('DerpClient with a non-extractable WebCrypto node key (asynchronous DH)', () => {
  it('connects once the DH is done; a reconnection to the same server needs none; a low-order server key is refused', async () => {
    const key = await importWebCryptoX25519Key(generateKeyPair(seededRandom(12)).privateKey);
    let dhs = 0;
    const counted = { kind: key.kind, publicKey: key.publicKey, dh: (p: Uint8Array) => (dhs++, key.dh(p)) };
    const { c, sockets, server, clock } = setup({ privateKey: counted });
    const random = seededRandom(8);
    const k = boxBeforeNm(server.privateKey, key.publicKey);
    c.start();
    sockets[0].open();
    sockets[0].deliver(encodeFrame({ type: 'serverKey', serverKey: server.publicKey }));
    expect(c.state).not.toBe('awaitingServerInfo'); // still deriving
    await vi.waitFor(() => expect(c.state).toBe('awaitingServerInfo'), { timeout: 5000, interval: 1 });
    // Our ClientInfo opens with the server's box key for our public key.
    const ci = new FrameReassembler().push(sockets[0].sent.at(-1)!).find((r) => r.ok && r.frame.type === 'clientInfo');
    if (!ci?.ok || ci.frame.type !== 'clientInfo') throw new Error('no clientInfo frame');
    expect(JSON.parse(new TextDecoder().decode(openNonceAndBox(k, ci.frame.sealed)!)).version).toBe(2);
    sockets[0].deliver(
      encodeFrame({ type: 'serverInfo', sealed: sealWithRandomNonce(k, new TextEncoder().encode('{}'), random) }),
    );
    expect(c.state).toBe('connected');
    // The connection drops; the next one to the same server is keyed at once.
    sockets[0].onclose?.({ code: 1006 });
    clock.advance(1000);
    sockets[1].open();
    sockets[1].deliver(encodeFrame({ type: 'serverKey', serverKey: server.publicKey }));
    expect(c.state).toBe('awaitingServerInfo');
    expect(dhs).toBe(1);
    // A server whose key is a low-order point: refused in words, never a ClientInfo.
    const bad = setup({ privateKey: key });
    bad.c.start();
    bad.sockets[0].open();
    bad.sockets[0].deliver(encodeFrame({ type: 'serverKey', serverKey: new Uint8Array(32) }));
    await vi.waitFor(() => expect(bad.c.stats.lastError).toMatch(/server key is invalid/), {
      timeout: 5000,
      interval: 1,
    });
    expect(bad.sockets[0].closed).toBe(true);
  });
});
