import { describe, expect, it } from 'vitest';
import { seededRandom } from '../crypto/random.js';
import { generateKeyPair } from '../crypto/x25519.js';
import { toHex } from '../crypto/bytes.js';
import { VirtualClock } from '../platform/clock.js';
import { nextTurn, turnsUntil } from '../platform/virtual-time.testkit.js';
import { WireGuardDevice } from '../noise/wireguard/device.js';
import { boxBeforeNm, sealWithRandomNonce } from '../crypto/box.js';
import { concatBytes } from '../crypto/bytes.js';
import { DISCO_MAGIC, DiscoCodec } from './disco.js';
import { Magicsock } from './magicsock.js';

// An in-memory stand-in for DERP relays (unit test only): delivers by destination node key and
// records the region each packet went through.
function setup() {
  const random = seededRandom(11);
  const clock = new VirtualClock();
  const sockets = new Map<string, { ms: Magicsock; key: Uint8Array }>();
  const sentRegions: number[] = [];
  const make = (home: number) => {
    const node = generateKeyPair(random),
      disco = generateKeyPair(random);
    const received: Uint8Array[] = [];
    const pongs: Uint8Array[] = [];
    let dev!: WireGuardDevice;
    const ms: Magicsock = new Magicsock({
      disco: new DiscoCodec(disco.privateKey, disco.publicKey, random),
      random,
      derpSend: (region, dst, pkt) => {
        sentRegions.push(region);
        queueMicrotask(() => sockets.get(toHex(dst))?.ms.receiveDerp(node.publicKey, pkt, region));
      },
      wireguardReceive: (d, from) => dev.receive(d, from),
      homeRegion: () => home,
      onPong: (_f, tx) => pongs.push(tx),
    });
    dev = new WireGuardDevice({
      privateKey: node.privateKey,
      clock,
      random,
      send: (p, d) => ms.sendWireGuard(p, d),
      onPacket: (_p, ip) => received.push(ip),
      aead: undefined,
    });
    sockets.set(toHex(node.publicKey), { ms, key: node.publicKey });
    return { node, disco, ms, dev, received, pongs, home };
  };
  return { make, sentRegions, clock };
}

function ipv4(): Uint8Array {
  const p = new Uint8Array(28);
  p[0] = 0x45;
  p[3] = 28;
  p[8] = 64;
  p[9] = 17;
  p.set([100, 64, 0, 1], 12);
  p.set([100, 64, 0, 2], 16);
  return p;
}

describe('magicsock', () => {
  it("carries WireGuard over each peer's home region and answers disco pings with DERP-magic pongs", async () => {
    const { make, sentRegions } = setup();
    const a = make(901),
      b = make(902);
    a.ms.setPeers([{ nodeKey: b.node.publicKey, discoKey: b.disco.publicKey, homeDerp: 902 }]);
    b.ms.setPeers([{ nodeKey: a.node.publicKey, discoKey: a.disco.publicKey, homeDerp: 901 }]);
    a.dev.addPeer(b.node.publicKey);
    b.dev.addPeer(a.node.publicKey);
    a.dev.send(b.node.publicKey, ipv4());
    for (let i = 0; i < 50 && b.received.length === 0; i++) {
      await nextTurn();
      await a.dev.flush();
      await b.dev.flush();
    }
    expect(b.received.length).toBe(1);
    expect(sentRegions.includes(902) && sentRegions.includes(901)).toBe(true);
    const tx = a.ms.sendDiscoPing(b.node.publicKey, a.node.publicKey)!;
    await turnsUntil(() => a.pongs.length > 0);
    expect(b.ms.stats.pingsAnswered).toBe(1);
    expect(a.pongs).toEqual([tx]);
    // Garbage that carries the disco magic is counted, not thrown.
    b.ms.receiveDerp(
      a.node.publicKey,
      new Uint8Array([0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac, ...new Uint8Array(80)]),
      901,
    );
    expect(b.ms.stats.rxDiscoBad).toBe(1);
  });

  it('a disco message of a type it does not speak (a newer peer) is dropped and counted apart from garbage, unanswered', async () => {
    const { make, sentRegions } = setup();
    const a = make(901),
      b = make(902);
    b.ms.setPeers([{ nodeKey: a.node.publicKey, discoKey: a.disco.publicKey, homeDerp: 901 }]);
    // A correctly sealed disco packet from a's disco key with type 0x7f (disco.go defines none).
    const sealed = (type: number) =>
      concatBytes(
        DISCO_MAGIC,
        a.disco.publicKey,
        sealWithRandomNonce(
          boxBeforeNm(a.disco.privateKey, b.disco.publicKey),
          new Uint8Array([type, 0, 1, 2, 3]),
          seededRandom(3),
        ),
      );
    const before = sentRegions.length;
    b.ms.receiveDerp(a.node.publicKey, sealed(0x7f), 901);
    b.ms.receiveDerp(a.node.publicKey, sealed(0x7e), 901);
    await nextTurn();
    expect(b.ms.stats).toMatchObject({ rxDisco: 2, rxDiscoUnknownType: 2, rxDiscoBad: 0, pingsAnswered: 0 });
    expect(sentRegions.length).toBe(before);
    // A known type that is too short is still malformed.
    b.ms.receiveDerp(a.node.publicKey, sealed(0x02), 901);
    expect(b.ms.stats).toMatchObject({ rxDiscoUnknownType: 2, rxDiscoBad: 1 });
  });
});
