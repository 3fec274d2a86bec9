import { describe, expect, it } from 'vitest';
import { equalBytes } from '../../crypto/bytes.js';
import { ipv4Packet, TestNet } from './test-net.testkit.js';

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

  it('both sides initiating at the same moment still converge to one working session', async () => {
    const { net, a, b } = await connectedPair();
    a.send(b.publicKey, ipv4Packet(61));
    b.send(a.publicKey, ipv4Packet(62));
    expect(a.stats.handshakeInitiationsSent + b.stats.handshakeInitiationsSent).toBe(2);
    await net.advance(30_000, 100);
    expect(net.inbox(b).map((p) => p.length)).toEqual([61]);
    expect(net.inbox(a).map((p) => p.length)).toEqual([62]);
    a.send(b.publicKey, ipv4Packet(63));
    b.send(a.publicKey, ipv4Packet(64));
    await net.pump();
    expect(net.inbox(b).at(-1)!.length).toBe(63);
    expect(net.inbox(a).at(-1)!.length).toBe(64);
  });

  it('a removed peer gets nothing and its sessions are forgotten; re-adding starts afresh', async () => {
    const { net, a, b } = await connectedPair();
    a.send(b.publicKey, ipv4Packet(70));
    await net.pump();
    b.removePeer(a.publicKey);
    expect(b.hasPeer(a.publicKey)).toBe(false);
    expect(b.peerStatus(a.publicKey)).toBeUndefined();
    a.send(b.publicKey, ipv4Packet(71));
    await net.pump();
    expect(b.stats.rxDropUnknownIndex).toBe(1);
    b.send(a.publicKey, ipv4Packet(72));
    expect(b.stats.txDropNoPeer).toBe(1);
    b.addPeer(a.publicKey);
    await net.advance(20_000, 500); // a stops hearing back and re-handshakes
    a.send(b.publicKey, ipv4Packet(73));
    await net.pump();
    expect(net.inbox(b).map((p) => p.length)).toEqual([70, 73]);
  });

  it('close() stops everything and later calls are harmless', async () => {
    const { net, a, b } = await connectedPair();
    a.send(b.publicKey, ipv4Packet(70));
    await net.pump();
    b.close();
    b.close();
    a.send(b.publicKey, ipv4Packet(71));
    await net.pump();
    expect(b.stats.rxDropClosed).toBeGreaterThan(0);
    expect(() => b.send(a.publicKey, ipv4Packet(1))).not.toThrow();
    expect(net.clock.pending).toBeGreaterThan(0); // a's timers only
    await net.advance(600_000, 10_000);
    expect(b.stats.handshakeInitiationsSent).toBe(0);
  });

  it('rejects configuration errors loudly (they are not network input)', () => {
    const net = new TestNet();
    const a = net.device();
    expect(() => a.addPeer(new Uint8Array(31))).toThrow();
    expect(() => a.addPeer(new Uint8Array(32))).toThrow(); // the all-zero (low-order) point
    expect(() => a.addPeer(a.publicKey)).toThrow();
  });
});
