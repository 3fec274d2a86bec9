// Early first-contact retries (timers.ts, "First contact"): a peer that has not yet heard of us
// from control drops our first initiation; we try again after 0.25 s, 0.5 s and 1 s more, then
// on WireGuard's normal REKEY_TIMEOUT schedule. Driven on the VirtualClock: the initiation times
// asserted are virtual times, exact by construction (no real timing involved).
import { describe, expect, it } from 'vitest';
import { equalBytes } from '../../crypto/bytes.js';
import { decodeInitiation, MESSAGE_INITIATION, messageType } from './messages.js';
import { ipv4Packet, TestNet } from './test-net.testkit.js';
import type { WireGuardDevice, WireGuardDeviceOptions } from './device.js';

/** A device whose initiations are recorded with the virtual time they were sent at. */
function recordingDevice(net: TestNet, extra: Partial<WireGuardDeviceOptions> = {}) {
  const sent: { at: number; datagram: Uint8Array }[] = [];
  let self: WireGuardDevice | undefined;
  const dev = net.device({
    ...extra,
    send: (to, datagram) => {
      if (messageType(datagram) === MESSAGE_INITIATION) sent.push({ at: net.clock.now(), datagram: datagram.slice() });
      net.wires.push({ from: self!.publicKey, to, datagram });
    },
  });
  self = dev;
  return { dev, sent };
}

/** Runs virtual time in 50 ms steps, pumping the link, until `until` (ms after start). */
async function runFor(net: TestNet, ms: number): Promise<void> {
  await net.advance(ms, 50);
}

describe('WireGuard first-contact retries', () => {
  it('a silent new peer gets initiations at 0, 0.25, 0.75, 1.75 s, then every REKEY_TIMEOUT (5 s + jitter) until REKEY_ATTEMPT_TIME', async () => {
    const net = new TestNet();
    const { dev: a, sent } = recordingDevice(net);
    const b = net.device();
    a.addPeer(b.publicKey);
    net.filter = () => false; // b never hears anything
    const t0 = net.clock.now();
    a.send(b.publicKey, ipv4Packet(60));
    await runFor(net, 200_000);
    const at = sent.map((s) => s.at - t0);
    expect(at.slice(0, 4)).toEqual([0, 250, 750, 1750]);
    // Then WireGuard's own schedule, anchored at the first initiation as before: the first
    // REKEY_TIMEOUT retry 5 s + jitter after it, each next one 5 s + jitter after the previous.
    expect(at[4]).toBeGreaterThanOrEqual(5000);
    expect(at[4]).toBeLessThan(5000 + 334);
    const gaps = at.slice(5).map((t, i) => t - at[4 + i]!);
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(5000);
      expect(g).toBeLessThan(5000 + 334);
    }
    // 1 + 3 early + 19 REKEY_TIMEOUT retries; the early ones are not counted as attempts, so the
    // give-up comes where plain WireGuard's does: after the retries span REKEY_ATTEMPT_TIME.
    expect(sent).toHaveLength(23);
    expect(a.stats.handshakeEarlyRetries).toBe(3);
    expect(a.stats.handshakesGivenUp).toBe(1);
    expect(a.stats.txDropGaveUp).toBe(1);
    expect(a.peerStatus(b.publicKey)!.handshakeAttempts).toBe(19);
    expect(at.at(-1)!).toBeGreaterThanOrEqual(90_000);
    expect(at.at(-1)!).toBeLessThan(100_000);
    // Each retry is a new initiation: its own sender index and ephemeral key.
    const msgs = sent.map((s) => decodeInitiation(s.datagram)!);
    expect(new Set(msgs.map((m) => m.sender)).size).toBe(msgs.length);
    for (let i = 1; i < msgs.length; i++) expect(equalBytes(msgs[i]!.ephemeral, msgs[i - 1]!.ephemeral)).toBe(false);
    // Nothing after giving up, and no storm from new data either: new traffic starts one new
    // series (again with its three early retries), and more data inside it adds nothing.
    const n = sent.length;
    const t1 = net.clock.now();
    a.send(b.publicKey, ipv4Packet(60));
    for (let i = 0; i < 40; i++) {
      await runFor(net, 100);
      a.send(b.publicKey, ipv4Packet(60));
    }
    expect(sent.slice(n).map((s) => s.at - t1)).toEqual([0, 250, 750, 1750]);
  });

  it('a peer that starts answering stops the early retries; nothing more is sent once the handshake completes', async () => {
    const net = new TestNet();
    const { dev: a, sent } = recordingDevice(net);
    const b = net.device();
    a.addPeer(b.publicKey);
    // b learns about a (control's netmap) only 0.6 s after a's first initiation: until then it
    // drops a's initiations as from an unknown peer, as tailscaled does.
    const t0 = net.clock.now();
    a.send(b.publicKey, ipv4Packet(60));
    await runFor(net, 600);
    expect(b.stats.rxDropUnknownPeer).toBe(2);
    b.addPeer(a.publicKey);
    await runFor(net, 200);
    expect(a.stats.handshakesCompleted).toBe(1);
    expect(net.inbox(b)).toHaveLength(1);
    await runFor(net, 100_000);
    expect(sent.map((s) => s.at - t0)).toEqual([0, 250, 750]);
    expect(a.stats.handshakeEarlyRetries).toBe(2);
    expect(a.stats.handshakesGivenUp).toBe(0);
  });

  it('a peer that answers the first initiation gets no retry at all', async () => {
    const net = new TestNet();
    const { dev: a, sent } = recordingDevice(net);
    const b = net.device();
    a.addPeer(b.publicKey);
    b.addPeer(a.publicKey);
    a.send(b.publicKey, ipv4Packet(60));
    await runFor(net, 30_000);
    expect(sent).toHaveLength(1);
    expect(a.stats.handshakeEarlyRetries).toBe(0);
  });

  it('a slow answer: a peer that sent us anything authenticated (here its own initiation) stops them', async () => {
    const net = new TestNet();
    const { dev: a, sent } = recordingDevice(net);
    const b = net.device();
    a.addPeer(b.publicKey);
    b.addPeer(a.publicKey);
    net.filter = (w) => !equalBytes(w.from, a.publicKey); // a's datagrams are lost, b's arrive
    a.send(b.publicKey, ipv4Packet(60));
    await runFor(net, 100);
    b.send(a.publicKey, ipv4Packet(61)); // b initiates; a answers (the response is lost)
    await runFor(net, 3000);
    expect(a.stats.handshakeResponsesSent).toBeGreaterThanOrEqual(1); // b retries early too: a answers each
    expect(sent).toHaveLength(1); // a's early retries from 0.25 s on were cancelled
  });

  it('no early retries for a peer we already had a session with (rekeying keeps the plain schedule)', async () => {
    const net = new TestNet();
    const { dev: a, sent } = recordingDevice(net);
    const b = net.device();
    a.addPeer(b.publicKey);
    b.addPeer(a.publicKey);
    a.send(b.publicKey, ipv4Packet(60));
    await net.pump();
    expect(a.stats.handshakesCompleted).toBe(1);
    net.filter = () => false; // b goes silent
    await runFor(net, 130_000); // past REKEY_AFTER_TIME (and the 15 s re-handshake series, given up)
    const n = sent.length;
    const t1 = net.clock.now();
    a.send(b.publicKey, ipv4Packet(60)); // old session: sent, and a rekey starts
    await runFor(net, 12_000);
    // (The rekey starts once the packet was sealed, i.e. at the next pump, 50 ms later.)
    const at = sent.slice(n).map((s) => s.at - t1);
    expect(at[0]).toBeLessThanOrEqual(50);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(5000);
    expect(at).toHaveLength(3);
    expect(a.stats.handshakeEarlyRetries).toBe(0);
  });

  it('under load: the cookie from the refused first initiation is used by the first early retry, which succeeds', async () => {
    const net = new TestNet();
    const { dev: a, sent } = recordingDevice(net);
    const b = net.device({ underLoadThreshold: 0 }); // always under load: MAC2 required
    a.addPeer(b.publicKey);
    b.addPeer(a.publicKey);
    const t0 = net.clock.now();
    a.send(b.publicKey, ipv4Packet(60));
    await net.pump();
    expect(b.stats.cookieRepliesSent).toBe(1);
    expect(a.stats.cookieRepliesAccepted).toBe(1);
    await runFor(net, 30_000);
    expect(sent.map((s) => s.at - t0)).toEqual([0, 250]);
    // The retry carried a MAC2 (non-zero last 16 bytes) and b consumed it.
    expect(sent[0]!.datagram.subarray(132).every((x) => x === 0)).toBe(true);
    expect(sent[1]!.datagram.subarray(132).some((x) => x !== 0)).toBe(true);
    expect(b.stats.handshakeInitiationsReceived).toBe(1);
    expect(b.stats.rxDropNeedCookie).toBe(1);
    expect(a.stats.handshakesCompleted).toBe(1);
    expect(net.inbox(b)).toHaveLength(1);
  });

  it('early retries that would not come before the first REKEY_TIMEOUT retry are not sent', async () => {
    const net = new TestNet();
    const { dev: a, sent } = recordingDevice(net, { timers: { rekeyTimeoutMs: 1000, rekeyTimeoutJitterMaxMs: 0 } });
    const b = net.device();
    a.addPeer(b.publicKey);
    net.filter = () => false;
    const t0 = net.clock.now();
    a.send(b.publicKey, ipv4Packet(60));
    await runFor(net, 3500);
    expect(sent.map((s) => s.at - t0)).toEqual([0, 250, 750, 1000, 2000, 3000]);
  });
});
