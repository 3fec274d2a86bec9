// A WireGuard device: peers, handshakes, sessions, timers and the transport data path, with time,
// randomness, AEAD engine and datagram transport injected. Spec: the WireGuard paper (§5 protocol,
// §6 timers); behaviour modelled on wireguard-go device/{receive,send,timers,peer}.go.
// Over Tailscale the "endpoint" of a peer is its node key: datagrams go out through opts.send and
// come in through receive(); magicsock (DERP, later direct paths) lives above this layer.
//
// The device is one object whose methods live in files by role (see device-core.ts): device-core.ts
// (shared state), device-send.ts, device-handshake.ts (with the rules that hold when our static key
// is asynchronous), device-receive.ts; peer.ts, device-stats.ts and device-options.ts hold its
// types. This file keeps the public API.
import { equalBytes, toHex } from '../../crypto/bytes.js';
import { isLowOrderPoint } from '../../crypto/x25519.js';
import { type AeadEngine, OrderedQueue } from './aead-batch.js';
import { CookieGenerator } from './cookie.js';
import { DeviceReceive } from './device-receive.js';
import { Keypairs } from './keypair.js';
import { KEEPALIVE_SIZE, MAX_MESSAGE_SIZE } from './messages.js';
import type { Peer, WireGuardPeerStatus } from './peer.js';
import { PeerTimers } from './timers.js';

export type { HandshakeEvent, WireGuardDeviceOptions } from './device-options.js';
export type { WireGuardStatKey } from './device-stats.js';
export type { WireGuardPeerStatus } from './peer.js';
export { MAX_DERIVATIONS } from './device-core.js';
export { trimIpPacket } from './device-receive.js';

/** Largest IP packet we encrypt: the transport message must fit MAX_MESSAGE_SIZE. */
const MAX_PLAINTEXT = MAX_MESSAGE_SIZE - KEEPALIVE_SIZE;

export class WireGuardDevice extends DeviceReceive {
  /** The AEAD engine in use (after detection). */
  aeadEngine(): Promise<AeadEngine> {
    return this.enginePromise;
  }

  addPeer(publicKey: Uint8Array, o: { persistentKeepaliveSeconds?: number } = {}): void {
    if (this.closed) throw new Error('wireguard: device closed');
    if (publicKey.length !== 32) throw new Error('wireguard: peer public key must be 32 bytes');
    const id = toHex(publicKey);
    const existing = this.peers.get(id);
    const keepaliveMs = Math.max(0, Math.floor((o.persistentKeepaliveSeconds ?? 0) * 1000));
    if (existing) {
      const was = existing.timers.persistentKeepaliveMs;
      existing.timers.persistentKeepaliveMs = keepaliveMs;
      if (keepaliveMs > 0 && was === 0) this.sendKeepalive(existing);
      return;
    }
    // A low-order key is a config error; checked by comparison, not by an X25519 per peer (10,000
    // peers took 13.5 s). The DH itself happens at the first handshake with the peer.
    if (isLowOrderPoint(publicKey)) throw new Error('wireguard: low-order peer public key');
    if (equalBytes(publicKey, this.publicKey)) throw new Error('wireguard: a peer cannot have our own key');
    const pk = publicKey.slice();
    const peer: Peer = {
      publicKey: pk,
      cookies: new CookieGenerator(pk, this.o.clock, this.cfg.cookieRefreshTimeMs),
      keypairs: new Keypairs(),
      handshake: { state: 'none' },
      lastTimestamp: new Uint8Array(12),
      lastInitiationConsumedAt: Number.NEGATIVE_INFINITY,
      lastSentHandshakeAt: Number.NEGATIVE_INFINITY,
      staged: [],
      rxBytes: 0,
      txBytes: 0,
      txQueue: new OrderedQueue(),
      rxQueue: new OrderedQueue(),
      removed: false,
      timers: undefined as unknown as PeerTimers,
    };
    (peer as { timers: PeerTimers }).timers = new PeerTimers(
      this.o.clock,
      this.o.random,
      this.cfg,
      {
        sendInitiation: (kind) => this.sendInitiation(peer, kind),
        sendKeepalive: () => this.sendKeepalive(peer),
        giveUp: () => {
          this.stats.handshakesGivenUp++;
          this.event(peer, { type: 'gave-up', attempts: peer.timers.handshakeAttempts });
          this.stats.txDropGaveUp += peer.staged.length;
          peer.staged = [];
        },
        zeroKeyMaterial: () => this.zeroKeyMaterial(peer),
      },
      keepaliveMs,
    );
    this.peers.set(id, peer);
    // wireguard-go sends a keepalive when a peer with persistent keepalive comes up: it starts the session.
    if (keepaliveMs > 0) this.sendKeepalive(peer);
  }

  /**
   * Forgets a peer's session (keypairs, handshake, timers, the replay state of its initiations) as
   * if it were new, keeping the packets waiting for a session and its keepalive setting: what
   * tailscaled does when a peer's disco key changes (wgengine/userspace.go ResetDevicePeer removes
   * the peer from wireguard-go, re-created on demand): the peer restarted and its old session is
   * dead, so the next packet starts a handshake at once instead of being sealed with keys the peer
   * no longer has until the 15 s new-handshake timer (KEEPALIVE + REKEY_TIMEOUT) gives up on them.
   * A peer we had a session with gets a new initiation at once. Returns false when the peer is unknown.
   */
  resetPeer(publicKey: Uint8Array): boolean {
    const peer = this.peers.get(toHex(publicKey));
    if (!peer || this.closed) return false;
    const staged = peer.staged;
    const keepalive = peer.timers.persistentKeepaliveMs;
    const hadSession = this.usableForSending(peer.keypairs.current);
    peer.staged = [];
    this.removePeer(publicKey);
    this.addPeer(publicKey);
    const fresh = this.peers.get(toHex(publicKey))!;
    fresh.timers.persistentKeepaliveMs = keepalive;
    fresh.timers.restarted();
    this.event(fresh, { type: 'reset' });
    if (staged.length) {
      fresh.staged = staged;
      this.sendStaged(fresh);
    } else if (keepalive > 0) {
      this.sendKeepalive(fresh);
    } else if (hadSession) {
      // We were talking to it: have a new session ready when the next packet (a TCP retransmission)
      // comes, rather than starting the handshake then. (tailscaled re-creates the peer lazily, on
      // the next packet; this saves that packet's wait for one handshake round trip.)
      this.sendInitiation(fresh, 'fresh');
    }
    return true;
  }

  removePeer(publicKey: Uint8Array): void {
    const id = toHex(publicKey);
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    peer.removed = true;
    peer.timers.stop();
    this.zeroKeyMaterial(peer);
    peer.staticStatic?.fill(0);
    peer.staticStatic = undefined;
    peer.initiationWanted = undefined;
    peer.staged = [];
  }

  hasPeer(publicKey: Uint8Array): boolean {
    return this.peers.has(toHex(publicKey));
  }

  /** `id`: toHex(publicKey) when the caller has it already (status of 10,000 peers). */
  peerStatus(publicKey: Uint8Array, id = toHex(publicKey)): WireGuardPeerStatus | undefined {
    const peer = this.peers.get(id);
    if (!peer) return undefined;
    return {
      lastHandshakeAt: peer.timers.lastHandshakeAt,
      rxBytes: peer.rxBytes,
      txBytes: peer.txBytes,
      handshakeAttempts: peer.timers.handshakeAttempts,
      hasSession: this.usableForSending(peer.keypairs.current),
    };
  }

  /** Encrypt and send an IP packet; queues (bounded) and starts a handshake when no session. */
  send(peerPublicKey: Uint8Array, ipPacket: Uint8Array): void {
    try {
      const peer = this.peers.get(toHex(peerPublicKey));
      if (!peer || this.closed) {
        this.stats.txDropNoPeer++;
        return;
      }
      if (ipPacket.length > MAX_PLAINTEXT) {
        this.stats.txDropTooLong++;
        return;
      }
      this.stage(peer, ipPacket.slice());
      this.sendStaged(peer);
    } catch {
      this.stats.internalErrors++;
    }
  }

  /** Any incoming WireGuard datagram. Malformed/forged/replayed input is dropped and counted, never throws. */
  receive(datagram: Uint8Array, fromPeerHint?: Uint8Array): void {
    try {
      this.receiveDatagram(datagram, fromPeerHint);
    } catch {
      this.stats.internalErrors++;
    }
  }

  /** Resolves when every packet handed in so far has been encrypted/decrypted and delivered, and every handshake DH finished. */
  async flush(): Promise<void> {
    for (;;) {
      const busy = [...this.peers.values()].filter((p) => p.rxQueue.pending > 0 || p.txQueue.pending > 0);
      if (busy.length === 0 && this.derivations.size === 0) return;
      await Promise.all([...busy.flatMap((p) => [p.rxQueue.idle(), p.txQueue.idle()]), ...this.derivations]);
    }
  }

  /** Handshake DHs of our static key in flight (asynchronous keys only). */
  get handshakeDerivations(): number {
    return this.derivations.size;
  }

  close(): void {
    if (this.closed) return;
    for (const peer of [...this.peers.values()]) this.removePeer(peer.publicKey);
    this.closed = true;
  }

  /** Transport packets received but not yet decrypted and delivered (all peers). */
  get receiveBacklog(): number {
    return this.rxInFlight;
  }
}
