// A peer that restarts (same node key, new process) has lost its WireGuard session. tailscaled
// learns so from the peer's new disco key and resets the peer in its device (ResetDevicePeer);
// resetPeer() is that reset. Without it our next packets are sealed with keys the peer no longer
// has and dropped there, until WireGuard's new-handshake timer (KEEPALIVE + REKEY_TIMEOUT, 15 s)
// gives up on the session. Virtual time: the times asserted are exact by construction.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../crypto/random.js';
import { generateKeyPair } from '../../crypto/x25519.js';
import { toHex } from '../../crypto/bytes.js';
import type { HandshakeEvent } from './device.js';
import { MESSAGE_INITIATION, messageType } from './messages.js';
import { ipv4Packet, TestNet } from './test-net.testkit.js';

function restartScenario() {
  const net = new TestNet();
  const events: string[] = [];
  const a = net.device({
    onHandshakeEvent: (_k, ev: HandshakeEvent) =>
      events.push(ev.type === 'initiation-sent' ? `${ev.type}:${ev.kind}` : ev.type),
  });
  const bKeys = generateKeyPair(seededRandom(42));
  const b = net.device({ privateKey: bKeys.privateKey });
  a.addPeer(b.publicKey);
  b.addPeer(a.publicKey);
  /** The peer restarts: a new device with the same key, no session. */
  const restartB = () => {
    b.close();
    const b2 = net.device({ privateKey: bKeys.privateKey });
    b2.addPeer(a.publicKey);
    return b2;
  };
  return { net, a, b, restartB, events };
}

describe('WireGuardDevice.resetPeer (a peer restarted)', () => {
  it('without a reset: packets to the restarted peer are lost until the 15 s new-handshake timer', async () => {
    const { net, a, b, restartB } = restartScenario();
    a.send(b.publicKey, ipv4Packet(60));
    await net.pump();
    expect(net.inbox(b)).toHaveLength(1);
    const b2 = restartB();
    const t0 = net.clock.now();
    let deliveredAt: number | undefined;
    // An application retrying every second (what TCP's SYN retransmissions look like).
    for (let i = 0; i < 30 && deliveredAt === undefined; i++) {
      a.send(b.publicKey, ipv4Packet(60, i));
      await net.advance(1000, 100);
      if (net.inbox(b2).length) deliveredAt = net.clock.now() - t0;
    }
    expect(b2.stats.rxDropUnknownIndex).toBeGreaterThan(5);
    expect(deliveredAt).toBeGreaterThanOrEqual(15_000);
  });

  it('after resetPeer: the next packet starts a handshake at once and arrives; the debug events show it', async () => {
    const { net, a, b, restartB, events } = restartScenario();
    a.send(b.publicKey, ipv4Packet(60));
    await net.pump();
    const b2 = restartB();
    events.length = 0;
    expect(a.resetPeer(b.publicKey)).toBe(true);
    expect(a.peerStatus(b.publicKey)).toMatchObject({ hasSession: false, handshakeAttempts: 0 });
    // We had a session: the new handshake starts with the reset, before any packet.
    const t0 = net.clock.now();
    await net.pump();
    expect(a.peerStatus(b.publicKey)).toMatchObject({ hasSession: true });
    a.send(b.publicKey, ipv4Packet(60, 7));
    await net.pump();
    expect(net.clock.now() - t0).toBe(0);
    expect(net.inbox(b2)).toHaveLength(1);
    expect(net.inbox(b2)[0]![10]).toBe(7);
    expect(b2.stats.rxDropUnknownIndex).toBe(0);
    expect(events).toEqual(['reset', 'initiation-sent:fresh', 'response-received']);
    expect(a.resetPeer(new Uint8Array(32).fill(9))).toBe(false);
  });

  it('keeps the packets waiting for a session across the reset and sends them on the new one', async () => {
    const { net, a, b, restartB } = restartScenario();
    net.filter = () => false; // b hears nothing yet: the packets wait in a's staging queue
    a.send(b.publicKey, ipv4Packet(60, 1));
    a.send(b.publicKey, ipv4Packet(60, 2));
    await net.pump();
    const b2 = restartB();
    net.filter = () => true;
    a.resetPeer(b.publicKey);
    await net.pump();
    expect(net.inbox(b2).map((p) => p[10])).toEqual([1, 2]);
    expect(toHex(b2.publicKey)).toBe(toHex(b.publicKey));
  });

  it('a restarted peer that is not ready yet gets an initiation about every second until the REKEY_TIMEOUT retry, and is reached as soon as it answers', async () => {
    const { net, a, b, restartB } = restartScenario();
    a.send(b.publicKey, ipv4Packet(60));
    await net.pump();
    const b2 = restartB();
    const sentAt: number[] = [];
    const t0 = net.clock.now();
    let ready = false;
    net.filter = (w) => {
      if (toHex(w.from) === toHex(a.publicKey) && messageType(w.datagram) === MESSAGE_INITIATION)
        sentAt.push(net.clock.now() - t0);
      return ready; // b2 has no relay yet: nothing reaches it
    };
    a.resetPeer(b.publicKey);
    a.send(b.publicKey, ipv4Packet(60, 3)); // waits for the session
    await net.pump();
    await net.advance(3000, 50);
    expect(sentAt).toEqual([0, 250, 750, 1750, 2750]);
    ready = true; // b2 is ready: the next early retry (3.75 s) reaches it, and the waiting packet follows
    await net.advance(1000, 50);
    expect(sentAt).toEqual([0, 250, 750, 1750, 2750, 3750]);
    expect(net.inbox(b2).map((p) => p[10])).toEqual([3]);
    expect(a.peerStatus(b.publicKey)!.hasSession).toBe(true);
  });
});
