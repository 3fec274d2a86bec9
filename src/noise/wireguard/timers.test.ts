// Timer behaviour of WireGuardDevice (WireGuard paper §6; wireguard-go device/timers.go), driven by
// a VirtualClock over an in-memory link.
import { describe, expect, it } from 'vitest';
import { messageType, MESSAGE_INITIATION, MESSAGE_TRANSPORT } from './messages.js';
import { ipv4Packet, TestNet } from './test-net.testkit.js';
import { equalBytes } from '../../crypto/bytes.js';
import type { WireGuardDevice } from './device.js';

async function established(extraA = {}, extraB = {}) {
  const net = new TestNet();
  const a = net.device(extraA);
  const b = net.device(extraB);
  a.addPeer(b.publicKey);
  b.addPeer(a.publicKey);
  a.send(b.publicKey, ipv4Packet(64));
  await net.pump();
  expect(net.inbox(b)).toHaveLength(1);
  net.inbox(b).length = 0;
  return { net, a, b };
}

const from = (d: WireGuardDevice) => (w: { from: Uint8Array }) => equalBytes(w.from, d.publicKey);

describe('WireGuard timers', () => {
  it('the initiator rekeys once REKEY_AFTER_TIME (120 s) has passed, on the next packet it sends', async () => {
    const { net, a, b } = await established();
    const start = net.clock.now();
    let rekeyAt = -1;
    for (let s = 1; s <= 130 && rekeyAt < 0; s++) {
      await net.advance(1000, 1000);
      a.send(b.publicKey, ipv4Packet(60));
      b.send(a.publicKey, ipv4Packet(60));
      await net.pump();
      if (a.stats.handshakeInitiationsSent === 2) rekeyAt = net.clock.now() - start;
    }
    expect(rekeyAt).toBeGreaterThan(120_000);
    expect(rekeyAt).toBeLessThanOrEqual(122_000);
    expect(a.stats.handshakesCompleted).toBe(2);
    expect(b.stats.handshakeInitiationsSent).toBe(0); // only the initiator rekeys on time
    // Traffic keeps flowing on the new session.
    a.send(b.publicKey, ipv4Packet(77));
    b.send(a.publicKey, ipv4Packet(78));
    await net.pump();
    expect(net.inbox(b).at(-1)!.length).toBe(77);
    expect(net.inbox(a).at(-1)!.length).toBe(78);
  });

  it('REKEY_AFTER_MESSAGES triggers a rekey (constant shortened for the test)', async () => {
    const { net, a, b } = await established({ timers: { rekeyAfterMessages: 10 } });
    await net.advance(6000, 1000); // past REKEY_TIMEOUT since the first initiation
    for (let i = 0; i < 12; i++) a.send(b.publicKey, ipv4Packet(60));
    await net.pump();
    expect(a.stats.handshakeInitiationsSent).toBe(2);
    expect(a.stats.handshakesCompleted).toBe(2);
  });

  it('retries every REKEY_TIMEOUT (5 s + jitter) and gives up after REKEY_ATTEMPT_TIME (90 s): 20 attempts', async () => {
    // The plain WireGuard schedule: first-contact retries switched off (they are tested below).
    const net = new TestNet();
    const a = net.device({ timers: { firstContactRetriesMs: [] } });
    const b = net.device();
    a.addPeer(b.publicKey);
    net.filter = () => false; // b never hears anything
    a.send(b.publicKey, ipv4Packet(60));
    const times: number[] = [];
    let last = 0;
    for (let t = 0; t < 200_000; t += 100) {
      net.clock.advance(100);
      await net.pump();
      if (a.stats.handshakeInitiationsSent !== last) {
        last = a.stats.handshakeInitiationsSent;
        times.push(t);
      }
    }
    expect(a.stats.handshakeInitiationsSent).toBe(20);
    expect(a.stats.handshakesGivenUp).toBe(1);
    expect(a.stats.txDropGaveUp).toBe(1); // the queued packet was dropped
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(5000);
      expect(g).toBeLessThanOrEqual(5000 + 334 + 100);
    }
    expect(times.at(-1)! + 5000).toBeGreaterThan(90_000); // attempts span at least REKEY_ATTEMPT_TIME
    expect(a.peerStatus(b.publicKey)!.handshakeAttempts).toBe(19);
    // New traffic starts a fresh round of attempts.
    a.send(b.publicKey, ipv4Packet(60));
    expect(a.stats.handshakeInitiationsSent).toBe(21);
    expect(a.peerStatus(b.publicKey)!.handshakeAttempts).toBe(0);
  });

  it('sends a keepalive KEEPALIVE_TIMEOUT (10 s) after receiving data it did not answer', async () => {
    const { net, a, b } = await established();
    expect(b.stats.txKeepalives).toBe(0);
    await net.advance(9900);
    expect(b.stats.txKeepalives).toBe(0);
    await net.advance(200);
    expect(b.stats.txKeepalives).toBe(1);
    expect(a.stats.rxKeepalives).toBe(1);
    expect(net.inbox(a)).toHaveLength(0); // keepalives are not delivered
    await net.advance(30_000, 1000);
    expect(b.stats.txKeepalives).toBe(1); // only one per received burst
  });

  it('re-handshakes when it sent data and heard nothing back for KEEPALIVE + REKEY_TIMEOUT (15 s)', async () => {
    const { net, a, b } = await established();
    await net.advance(11_000, 1000); // b's passive keepalive reaches a, which clears a's pending timer
    expect(a.stats.rxKeepalives).toBe(1);
    net.filter = (w) => !from(b)(w) || messageType(w.datagram) !== MESSAGE_TRANSPORT; // b's transport packets are lost
    a.send(b.publicKey, ipv4Packet(60));
    await net.pump();
    const sentAt = net.clock.now();
    const before = a.stats.handshakeInitiationsSent;
    await net.advance(14_900, 100);
    expect(a.stats.handshakeInitiationsSent).toBe(before);
    await net.advance(500, 100);
    expect(a.stats.handshakeInitiationsSent).toBe(before + 1);
    expect(net.clock.now() - sentAt).toBeGreaterThanOrEqual(15_000);
    // The new handshake goes through (only b's transport packets were lost): a is heard again.
    expect(a.stats.handshakesCompleted).toBe(2);
  });

  it('REJECT_AFTER_TIME (180 s): an old session is neither used to send nor accepted; keys are wiped at 3× that', async () => {
    const { net, a, b } = await established();
    net.filter = (w) => messageType(w.datagram) !== MESSAGE_INITIATION; // no rekey can succeed
    const held: Uint8Array[] = [];
    await net.advance(170_000, 5000);
    // Capture a valid transport datagram from a, delivered later.
    const keep = net.filter;
    net.filter = (w) => {
      if (from(a)(w) && messageType(w.datagram) === MESSAGE_TRANSPORT) {
        held.push(w.datagram);
        return false;
      }
      return keep(w);
    };
    a.send(b.publicKey, ipv4Packet(60));
    await net.pump();
    expect(held).toHaveLength(1);
    net.filter = keep;
    expect(a.peerStatus(b.publicKey)!.hasSession).toBe(true);
    await net.advance(11_000, 1000);
    expect(a.peerStatus(b.publicKey)!.hasSession).toBe(false);
    b.receive(held[0], a.publicKey);
    await net.flushAll();
    expect(b.stats.rxDropExpiredKeypair).toBe(1);
    expect(net.inbox(b)).toHaveLength(0);
    // 3 × REJECT_AFTER_TIME after the last session was derived, all keys are gone: the index is unknown.
    await net.advance(540_000, 10_000);
    b.receive(held[0], a.publicKey);
    await net.flushAll();
    expect(b.stats.rxDropUnknownIndex).toBe(1);
  });

  it('persistent keepalive: starts the session at once and keeps it warm every N seconds', async () => {
    const net = new TestNet();
    const a = net.device();
    const b = net.device();
    b.addPeer(a.publicKey);
    a.addPeer(b.publicKey, { persistentKeepaliveSeconds: 25 });
    await net.pump();
    expect(a.stats.handshakesCompleted).toBe(1);
    const k0 = a.stats.txKeepalives;
    await net.advance(100_500, 500);
    expect(a.stats.txKeepalives - k0).toBe(4);
  });

  it('an initiator that only receives rekeys once its session is REJECT - KEEPALIVE - REKEY_TIMEOUT (165 s) old', async () => {
    // keepKeyFreshReceiving (wireguard-go receive.go): the send-side REKEY_AFTER_TIME rule is switched
    // off here so only the receive-side rule can start the handshake.
    const { net, a, b } = await established({ timers: { rekeyAfterTimeMs: 10 ** 9 } });
    const start = net.clock.now();
    let rekeyAt = -1;
    for (let t = 0; t < 175 && rekeyAt < 0; t++) {
      await net.advance(1000, 1000);
      b.send(a.publicKey, ipv4Packet(60)); // a only answers with keepalives
      await net.pump();
      if (a.stats.handshakeInitiationsSent === 2) rekeyAt = net.clock.now() - start;
    }
    expect(rekeyAt).toBeGreaterThan(165_000);
    expect(rekeyAt).toBeLessThanOrEqual(167_000);
    expect(a.stats.handshakesCompleted).toBe(2);
    expect(b.stats.handshakeInitiationsSent).toBe(0); // the responder never rekeys on time
    // Exactly one such "last minute" handshake per session.
    await net.advance(10_000, 1000);
    expect(a.stats.handshakeInitiationsSent).toBe(2);
    b.send(a.publicKey, ipv4Packet(61));
    await net.pump();
    expect(net.inbox(a).at(-1)!.length).toBe(61);
  });
});
