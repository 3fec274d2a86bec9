// The WireGuard device with an asynchronous static key (a non-extractable WebCrypto CryptoKey,
// or a GatedKey whose DHs answer when the test says): handshakes complete, data never waits for a
// DH, and the orderings asynchrony allows — initiations crossing, a response arriving while we
// still derive, copies racing, a peer removed or the device closed mid-derivation — end in one
// working session or a counted drop, never a throw or a stale session.
import { describe, expect, it } from 'vitest';
import { equalBytes } from '../../crypto/bytes.js';
import { generateWebCryptoX25519Key, RawX25519Key, type StaticX25519Key } from '../../crypto/static-key.js';
import { generateKeyPair } from '../../crypto/x25519.js';
import { MAX_DERIVATIONS, type WireGuardDevice } from './device.js';
import { MESSAGE_INITIATION, MESSAGE_RESPONSE, messageType } from './messages.js';
import { GatedKey, ipv4Packet, TestNet } from './test-net.testkit.js';

/** Counts the DHs asked of a key (to show the data path asks none). */
function counting(k: StaticX25519Key): StaticX25519Key & { calls: number } {
  const c = { kind: k.kind, publicKey: k.publicKey, calls: 0, dh: (p: Uint8Array) => (c.calls++, k.dh(p)) };
  return c;
}

function pair(net: TestNet, ka?: StaticX25519Key, kb?: StaticX25519Key) {
  const a = net.device(ka ? { privateKey: ka } : {});
  const b = net.device(kb ? { privateKey: kb } : {});
  a.addPeer(b.publicKey);
  b.addPeer(a.publicKey);
  return { a, b };
}

async function exchange(net: TestNet, a: WireGuardDevice, b: WireGuardDevice, tag: number) {
  const pa = ipv4Packet(100 + tag, tag);
  const pb = ipv4Packet(200 + tag, tag + 1);
  a.send(b.publicKey, pa);
  await net.pump();
  b.send(a.publicKey, pb);
  await net.pump();
  expect(equalBytes(net.inbox(b).at(-1)!, pa)).toBe(true);
  expect(equalBytes(net.inbox(a).at(-1)!, pb)).toBe(true);
}

describe('WireGuardDevice with a WebCrypto static key', () => {
  it('handshakes with a WebCrypto peer and a noble peer; data packets ask the key for nothing', async () => {
    const net = new TestNet();
    const wc = counting(await generateWebCryptoX25519Key());
    const other = await generateWebCryptoX25519Key();
    const { a, b } = pair(net, wc, other);
    await exchange(net, a, b, 1);
    expect(a.stats.handshakesCompleted).toBeGreaterThanOrEqual(1);
    // One static-static (cached for the peer) and one DH for the response: nothing per packet.
    const afterHandshake = wc.calls;
    expect(afterHandshake).toBe(2);
    for (let i = 0; i < 50; i++) a.send(b.publicKey, ipv4Packet(80, i));
    await net.pump();
    expect(net.inbox(b)).toHaveLength(51);
    expect(wc.calls).toBe(afterHandshake);

    const c = net.device({ privateKey: new RawX25519Key(generateKeyPair(net.random()).privateKey) });
    a.addPeer(c.publicKey);
    c.addPeer(a.publicKey);
    await exchange(net, c, a, 3); // noble initiator, WebCrypto responder
    expect(a.peerStatus(c.publicKey)?.hasSession).toBe(true);
    expect(a.handshakeDerivations).toBe(0);
  });
});

describe('WireGuardDevice handshake orderings with an asynchronous key', () => {
  it('the first initiation waits for the static-static, then goes once however many packets asked', async () => {
    const net = new TestNet();
    const ka = new GatedKey(net.random());
    const { a, b } = pair(net, ka);
    for (let i = 0; i < 5; i++) a.send(b.publicKey, ipv4Packet(60 + i));
    expect(net.wires).toHaveLength(0);
    expect(ka.pending).toBe(1); // one static-static DH, not five
    await ka.release();
    expect(a.stats.handshakeInitiationsSent).toBe(1);
    ka.gated = false;
    await net.pump();
    expect(net.inbox(b).map((p) => p.length)).toEqual([60, 61, 62, 63, 64]);
  });

  it('initiations crossing while both sides derive converge to one working session, in either finishing order', async () => {
    for (const newestFirst of [false, true]) {
      const net = new TestNet();
      const ka = new GatedKey(net.random());
      const kb = new GatedKey(net.random());
      const { a, b } = pair(net, ka, kb);
      a.send(b.publicKey, ipv4Packet(61));
      b.send(a.publicKey, ipv4Packet(62));
      await ka.release();
      await kb.release(); // static-statics: both initiations go out
      expect(net.wires.map((w) => messageType(w.datagram))).toEqual([MESSAGE_INITIATION, MESSAGE_INITIATION]);
      net.deliver();
      expect(ka.pending + kb.pending).toBe(2); // each deriving the other's initiation
      await ka.release(1, newestFirst);
      await kb.release(1, newestFirst);
      // Each answered the other's initiation, abandoning its own; the responses cross too.
      expect(a.stats.handshakeResponsesSent + b.stats.handshakeResponsesSent).toBe(2);
      ka.gated = false;
      kb.gated = false;
      await net.advance(30_000, 100);
      expect(net.inbox(b).map((p) => p.length)).toContain(61);
      expect(net.inbox(a).map((p) => p.length)).toContain(62);
      a.send(b.publicKey, ipv4Packet(63));
      b.send(a.publicKey, ipv4Packet(64));
      await net.pump();
      expect(net.inbox(b).at(-1)!.length).toBe(63);
      expect(net.inbox(a).at(-1)!.length).toBe(64);
      expect(a.stats.internalErrors + b.stats.internalErrors).toBe(0);
    }
  });

  it('a response that finishes deriving after a newer initiation replaced ours is dropped as superseded', async () => {
    const net = new TestNet();
    const ka = new GatedKey(net.random());
    const { a, b } = pair(net, ka);
    a.send(b.publicKey, ipv4Packet(70));
    await ka.release(); // static-static
    net.deliver(); // initiation → b, whose response is now in flight
    const response = net.wires.splice(0);
    expect(response.map((w) => messageType(w.datagram))).toEqual([MESSAGE_RESPONSE]);
    net.wires.push(...response);
    net.deliver();
    expect(ka.pending).toBe(1); // deriving se for that response
    // Meanwhile REKEY_TIMEOUT passes: a retry replaces the initiation (and zeroes its ephemeral key).
    net.clock.advance(5_000 + 400);
    expect(a.stats.handshakeInitiationsSent).toBeGreaterThanOrEqual(2);
    const retries = net.wires.splice(0);
    await ka.release();
    expect(a.stats.rxDropHandshakeSuperseded).toBe(1);
    expect(a.stats.handshakeResponsesReceived).toBe(0);
    expect(a.peerStatus(b.publicKey)?.hasSession).toBe(false);
    // The latest retry (the first-contact ones went out meanwhile too) completes the handshake.
    ka.gated = false;
    net.wires.push(retries.at(-1)!);
    await net.pump();
    expect(a.peerStatus(b.publicKey)?.hasSession).toBe(true);
    expect(net.inbox(b).map((p) => p.length)).toEqual([70]);
  });

  it('two copies of one response racing: one session, the other superseded', async () => {
    const net = new TestNet();
    const ka = new GatedKey(net.random());
    const { a, b } = pair(net, ka);
    a.send(b.publicKey, ipv4Packet(71));
    await ka.release();
    net.deliver();
    const [resp] = net.wires.splice(0);
    a.receive(resp.datagram.slice(), resp.from);
    a.receive(resp.datagram.slice(), resp.from);
    expect(ka.pending).toBe(2);
    await ka.release(1, true); // the second copy finishes first
    await ka.release();
    expect(a.stats.handshakeResponsesReceived).toBe(1);
    expect(a.stats.rxDropHandshakeSuperseded).toBe(1);
    ka.gated = false;
    await net.pump();
    expect(net.inbox(b).map((p) => p.length)).toEqual([71]);
  });

  it('two copies of one initiation racing: one answered, the other refused as a replay', async () => {
    const net = new TestNet();
    const kb = new GatedKey(net.random());
    const { a, b } = pair(net, undefined, kb);
    a.send(b.publicKey, ipv4Packet(72));
    const [init] = net.wires.splice(0);
    b.receive(init.datagram.slice(), init.from);
    b.receive(init.datagram.slice(), init.from);
    expect(kb.pending).toBe(2); // es for each copy
    await kb.release(); // es done; the static-static is computed once, shared by both
    await kb.release();
    expect(kb.pending).toBe(0);
    expect(b.stats.handshakeResponsesSent).toBe(1);
    expect(b.stats.rxDropStaleTimestamp).toBe(1);
    kb.gated = false;
    await net.pump();
    expect(net.inbox(b).map((p) => p.length)).toEqual([72]);
  });

  it('a peer removed, or the device closed, mid-derivation: counted, nothing installed, nothing thrown', async () => {
    const net = new TestNet();
    const kb = new GatedKey(net.random());
    const { a, b } = pair(net, undefined, kb);
    a.send(b.publicKey, ipv4Packet(73));
    const [init] = net.wires.splice(0);
    b.receive(init.datagram, init.from);
    await kb.release(1); // es: the peer is found, its static-static now computing
    b.removePeer(a.publicKey);
    await kb.release();
    expect(b.stats.rxDropPeerGone).toBe(1);
    expect(b.stats.handshakeResponsesSent).toBe(0);
    expect(net.wires).toHaveLength(0);

    b.addPeer(a.publicKey);
    b.receive(init.datagram, init.from);
    b.close();
    await kb.release();
    expect(b.stats.rxDropClosed).toBeGreaterThanOrEqual(1);
    expect(b.stats.internalErrors).toBe(0);
    expect(net.wires).toHaveLength(0);
  });

  it(`at most ${MAX_DERIVATIONS} DHs wait at once; a flood beyond is dropped and counted`, async () => {
    const net = new TestNet();
    const kb = new GatedKey(net.random());
    const a = net.device();
    // Above the cookie threshold a flood meets MAC2 first (device-input.test.ts); here the bound itself.
    const b = net.device({ privateKey: kb, underLoadThreshold: 10_000 });
    a.addPeer(b.publicKey);
    b.addPeer(a.publicKey);
    a.send(b.publicKey, ipv4Packet(74));
    const [init] = net.wires.splice(0);
    for (let i = 0; i < MAX_DERIVATIONS + 10; i++) b.receive(init.datagram.slice(), init.from);
    expect(kb.pending).toBe(MAX_DERIVATIONS);
    expect(b.stats.rxDropHandshakeBusy).toBe(10);
    kb.gated = false;
    await kb.release();
    await b.flush();
    expect(b.stats.handshakeResponsesSent).toBe(1);
    expect(b.handshakeDerivations).toBe(0);
  });
});
