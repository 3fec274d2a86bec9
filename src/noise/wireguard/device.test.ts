import { describe, expect, it } from 'vitest';
import { equalBytes } from '../../crypto/bytes.js';
import { ipv4Packet, TestNet } from './test-link.js';

async function connectedPair(net = new TestNet()) {
  const a = net.device();
  const b = net.device();
  a.addPeer(b.publicKey);
  b.addPeer(a.publicKey);
  return { net, a, b };
}

describe('WireGuardDevice between two instances', () => {
  it('handshakes on first send, delivers queued packets both ways, strips padding', async () => {
    const { net, a, b } = await connectedPair();
    const p1 = ipv4Packet(100, 1);
    a.send(b.publicKey, p1);
    await net.pump();
    expect(a.stats.handshakeInitiationsSent).toBe(1);
    expect(b.stats.handshakeResponsesSent).toBe(1);
    expect(net.inbox(b)).toHaveLength(1);
    expect(equalBytes(net.inbox(b)[0], p1)).toBe(true);
    // b's session is confirmed by a's first data packet: b can now send.
    const p2 = ipv4Packet(1280, 2);
    b.send(a.publicKey, p2);
    await net.pump();
    expect(net.inbox(a)).toHaveLength(1);
    expect(equalBytes(net.inbox(a)[0], p2)).toBe(true);
    expect(a.peerStatus(b.publicKey)?.hasSession).toBe(true);
    expect(b.peerStatus(a.publicKey)?.hasSession).toBe(true);
    expect(a.peerStatus(b.publicKey)?.lastHandshakeAt).toBe(net.clock.now());
  });

  it('keeps per-peer order for many packets, and bounds the queue while no session exists', async () => {
    const { net, a, b } = await connectedPair();
    for (let i = 0; i < 200; i++) a.send(b.publicKey, ipv4Packet(60 + i, i & 0xff));
    await net.pump();
    // 128 wait for the handshake; the 72 oldest were dropped and counted.
    expect(a.stats.txDropQueueFull).toBe(72);
    expect(net.inbox(b).map((p) => p.length)).toEqual(Array.from({ length: 128 }, (_, i) => 60 + 72 + i));
    net.inbox(b).length = 0;
    for (let i = 0; i < 500; i++) a.send(b.publicKey, ipv4Packet(60 + i, i & 0xff));
    await net.pump();
    expect(net.inbox(b).map((p) => p.length)).toEqual(Array.from({ length: 500 }, (_, i) => 60 + i));
  });
});
