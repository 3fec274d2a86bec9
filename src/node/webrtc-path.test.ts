// WebRtcPaths wired into two Magicsocks whose DERP is an in-memory hop (fake peer connections:
// webrtc-path.testkit.ts), on a virtual clock.
import { describe, expect, it } from 'vitest';
import { toHex } from '../crypto/bytes.js';
import { secureRandom } from '../crypto/random.js';
import { generateKeyPair } from '../crypto/x25519.js';
import { VirtualClock } from '../platform/clock.js';
import { runUntil } from '../platform/virtual-time.testkit.js';
import { DiscoCodec } from './disco.js';
import { Magicsock } from './magicsock.js';
import { MAX_EARLY_CANDIDATES } from './webrtc-path.js';
import { stunServersOf } from './webrtc-peer.js';
import { FakePeerConnection } from './webrtc-path.testkit.js';

interface Side {
  ms: Magicsock;
  nodeKey: Uint8Array;
  hex: string;
  codec: DiscoCodec;
  got: Uint8Array[];
  derpTx: Uint8Array[];
  pcs: FakePeerConnection[];
}

/** Two nodes over an in-memory DERP; `drop(from, packet)` true loses that DERP packet. */
function twoNodes(o: { noFactory?: 0 | 1; drop?: (from: 0 | 1, packet: Uint8Array) => boolean } = {}) {
  const clock = new VirtualClock();
  const sides: Side[] = [];
  for (const i of [0, 1] as const) {
    const disco = generateKeyPair(secureRandom);
    const nodeKey = secureRandom(32);
    const codec = new DiscoCodec(disco.privateKey, disco.publicKey, secureRandom);
    const side: Side = { nodeKey, hex: toHex(nodeKey), codec, got: [], derpTx: [], pcs: [], ms: undefined! };
    side.ms = new Magicsock({
      disco: codec,
      random: secureRandom,
      derpSend: (_r, _dst, pkt) => {
        side.derpTx.push(pkt);
        if (o.drop?.(i, pkt)) return;
        queueMicrotask(() => sides[1 - i]!.ms.receiveDerp(nodeKey, pkt, 900));
      },
      wireguardReceive: (d) => side.got.push(d),
      homeRegion: () => 900,
    });
    sides.push(side);
  }
  for (const i of [0, 1]) {
    const me = sides[i]!;
    const other = sides[1 - i]!;
    me.ms.setPeers([{ nodeKey: other.nodeKey, discoKey: other.codec.publicKey, homeDerp: 900 }]);
    me.ms.attachWebRtc(
      {
        clock,
        createPeerConnection:
          o.noFactory === i
            ? undefined
            : () => {
                const pc = new FakePeerConnection();
                me.pcs.push(pc);
                return pc;
              },
        iceServers: () => [],
        log: (t) => {
          if (process.env.WEBRTC_TEST_LOG) console.log(i, t);
        },
      },
      me.nodeKey,
    );
  }
  const [a, b] = sides as [Side, Side];
  const wg = (n: number) => new Uint8Array([4, 0, 0, 0, n, 1, 2, 3]);
  const active = () => a.ms.direct!.isActive(b.hex) && b.ms.direct!.isActive(a.hex);
  return { clock, a, b, wg, active };
}

describe('WebRTC path beside DERP', () => {
  it('the side with data to send offers; once a disco ping over the channel is answered, packets leave DERP', async () => {
    const { clock, a, b, wg, active } = twoNodes();
    a.ms.sendWireGuard(b.nodeKey, wg(1));
    await runUntil(clock, active, 10_000, 10);
    expect(b.got.map((p) => p[4])).toEqual([1]);
    expect(a.ms.direct!.stats.offersSent).toBe(1);
    expect(b.ms.direct!.stats.answersSent).toBe(1);
    const derpBefore = a.ms.derpPacketsOf(b.hex).tx;
    for (let n = 2; n <= 4; n++) a.ms.sendWireGuard(b.nodeKey, wg(n));
    await runUntil(clock, () => b.got.length === 4, 1_000, 1);
    expect(b.got.map((p) => p[4])).toEqual([1, 2, 3, 4]);
    expect(a.ms.derpPacketsOf(b.hex).tx).toBe(derpBefore);
    expect(a.ms.stats.txDirect).toBe(3);
    expect(a.ms.direct!.status(b.hex)).toMatchObject({ state: 'active', txPackets: 3 });
    expect(a.ms.direct!.status(b.hex)!.rttMs).toBeGreaterThanOrEqual(0);
  });

  it('glare: both offer at once, the lower disco key keeps its offer, and one path comes up', async () => {
    const { clock, a, b, wg, active } = twoNodes();
    a.ms.sendWireGuard(b.nodeKey, wg(1));
    b.ms.sendWireGuard(a.nodeKey, wg(2));
    await runUntil(clock, active, 10_000, 10);
    const aLower = toHex(a.codec.publicKey) < toHex(b.codec.publicKey);
    const [winner, loser] = aLower ? [a, b] : [b, a];
    expect(winner.ms.direct!.stats.glareWon).toBe(1);
    expect(loser.ms.direct!.stats.glareLost).toBe(1);
    // The loser's own offer was closed; the connected pair is the winner's offer and the loser's answer.
    expect(loser.pcs.filter((pc) => pc.connected).length).toBe(1);
    expect(winner.pcs.filter((pc) => pc.connected).length).toBe(1);
  });

  it('closing the channel puts the peer back on DERP at once; a new path comes up on a later send', async () => {
    const { clock, a, b, wg, active } = twoNodes();
    a.ms.sendWireGuard(b.nodeKey, wg(1));
    await runUntil(clock, active, 10_000, 10);
    a.pcs.find((pc) => pc.connected)!.channels[0]!.close();
    await runUntil(clock, () => !a.ms.direct!.isActive(b.hex) && !b.ms.direct!.isActive(a.hex), 100, 1);
    expect(a.ms.direct!.stats.fallbacks).toBe(1);
    const derp = a.ms.derpPacketsOf(b.hex).tx;
    a.ms.sendWireGuard(b.nodeKey, wg(2));
    await runUntil(clock, () => b.got.length === 2, 100, 1);
    expect(a.ms.derpPacketsOf(b.hex).tx).toBe(derp + 1);
    // Retried after 15 s when there is traffic to send.
    clock.advance(15_000);
    a.ms.sendWireGuard(b.nodeKey, wg(3));
    await runUntil(clock, active, 10_000, 10);
    expect(a.ms.direct!.stats.pathsUp).toBe(2);
  });

  it('pings over the channel going unanswered move the peer back to DERP', async () => {
    const { clock, a, b, wg, active } = twoNodes();
    a.ms.sendWireGuard(b.nodeKey, wg(1));
    await runUntil(clock, active, 10_000, 10);
    // The channel stays open but b stops answering (its magicsock no longer sends pongs on the path).
    b.ms.direct!.sendDisco = () => false;
    await runUntil(clock, () => !a.ms.direct!.isActive(b.hex), 30_000, 100);
    expect(a.ms.direct!.stats.fallbacks).toBe(1);
    a.ms.sendWireGuard(b.nodeKey, wg(2));
    expect(a.ms.derpPacketsOf(b.hex).tx).toBe(2);
  });

  it('a lost offer is sent again until answered (DERP is best-effort)', async () => {
    let lost = 0;
    const { clock, a, b, wg, active } = twoNodes({
      // The first two offers a sends (the larger disco packets) are lost on the way.
      drop: (from, pkt) => {
        if (from !== 0 || pkt[0] !== 0x54 || pkt.length <= 200 || lost >= 2) return false;
        lost++;
        return true;
      },
    });
    a.ms.sendWireGuard(b.nodeKey, wg(1));
    await runUntil(clock, active, 15_000, 10);
    expect(lost).toBe(2);
    expect(a.ms.direct!.stats.offersResent).toBeGreaterThanOrEqual(1);
  });

  it('a replayed sealed signal and one from a disco key not the peer’s are dropped and counted', async () => {
    const { clock, a, b, wg, active } = twoNodes();
    a.ms.sendWireGuard(b.nodeKey, wg(1));
    await runUntil(clock, active, 10_000, 10);
    const offer = a.derpTx.find((p) => p.length > 200)!;
    const offersBefore = b.ms.direct!.stats.offersReceived;
    b.ms.receiveDerp(a.nodeKey, offer, 900);
    expect(b.ms.stats.rxSignalReplayed).toBe(1);
    expect(b.ms.direct!.stats.offersReceived).toBe(offersBefore);
    const stranger = generateKeyPair(secureRandom);
    const sc = new DiscoCodec(stranger.privateKey, stranger.publicKey, secureRandom);
    b.ms.receiveDerp(a.nodeKey, sc.seal(b.codec.publicKey, { type: 'webrtcOffer', sdp: 'v=0\r\n' }), 900);
    expect(b.ms.stats.rxSignalWrongSender).toBe(1);
    expect(active()).toBe(true);
  });

  it('a peer offering new sessions faster than one per 3 s gets one answerer, the rest dropped and counted', () => {
    const { a, b } = twoNodes();
    const offer = (u: string) =>
      a.codec.seal(b.codec.publicKey, {
        type: 'webrtcOffer',
        sdp: `v=0\r\na=ice-ufrag:${u}\r\na=fingerprint:sha-256 X${u}\r\n`,
      });
    for (const u of ['x1', 'x2', 'x3']) b.ms.receiveDerp(a.nodeKey, offer(u), 900);
    expect(b.pcs.length).toBe(1);
    expect(b.ms.direct!.stats.offersThrottled).toBe(2);
  });

  it('candidates before the offer are held, up to a bound; the rest are dropped and counted', () => {
    const { a, b } = twoNodes();
    for (let i = 0; i < MAX_EARLY_CANDIDATES + 8; i++)
      b.ms.receiveDerp(
        a.nodeKey,
        a.codec.seal(b.codec.publicKey, {
          type: 'webrtcCandidate',
          candidate: { candidate: `candidate:${i} 1 udp 1 192.0.2.9 ${i + 1} typ host`, sdpMid: '0', sdpMLineIndex: 0 },
        }),
        900,
      );
    expect(b.ms.direct!.stats.candidatesBuffered).toBe(MAX_EARLY_CANDIDATES);
    expect(b.ms.direct!.stats.candidatesDropped).toBe(8);
  });

  it('a peer that never answers (no WebRTC there) leaves DERP in use; a node without RTCPeerConnection says why', async () => {
    const { clock, a, b, wg } = twoNodes({ noFactory: 1 });
    expect(b.ms.direct!.unavailable).toMatch(/no RTCPeerConnection/);
    a.ms.sendWireGuard(b.nodeKey, wg(1));
    await runUntil(clock, () => a.ms.direct!.stats.connectTimeouts === 1, 30_000, 100);
    a.ms.sendWireGuard(b.nodeKey, wg(2));
    expect(b.got.length).toBeGreaterThanOrEqual(1);
    expect(a.ms.derpPacketsOf(b.hex).tx).toBe(2);
    expect(a.ms.direct!.status(b.hex)!.state).toBe('failed');
  });

  it('turned off: no offer, everything over DERP, open paths closed', async () => {
    const { clock, a, b, wg, active } = twoNodes();
    a.ms.sendWireGuard(b.nodeKey, wg(1));
    await runUntil(clock, active, 10_000, 10);
    a.ms.direct!.setEnabled(false);
    expect(a.ms.direct!.unavailable).toBe('turned off');
    a.ms.sendWireGuard(b.nodeKey, wg(2));
    expect(a.ms.derpPacketsOf(b.hex).tx).toBe(2);
    clock.advance(60_000);
    a.ms.sendWireGuard(b.nodeKey, wg(3));
    expect(a.pcs.every((pc) => pc.closed)).toBe(true);
  });

  it('STUN servers are the DERP map’s own nodes (port 0 is 3478, -1 is off), nothing else', () => {
    expect(
      stunServersOf({
        regions: [
          { nodes: [{ hostName: 'derp1.example', ipv4: '127.0.0.1', stunPort: 3479 }] },
          {
            nodes: [
              { hostName: 'derp2.example', stunPort: 0 },
              { hostName: 'x', ipv6: '::1', stunPort: -1 },
            ],
          },
        ],
      }),
    ).toEqual([{ urls: ['stun:127.0.0.1:3479', 'stun:derp2.example:3478'] }]);
    expect(stunServersOf(undefined)).toEqual([]);
  });
});
