// The receive path of a WireGuardDevice (wireguard-go device/receive.go): datagrams sorted by type,
// transport data checked, decrypted in order per peer and delivered.
import { DeviceHandshake } from './device-handshake.js';
import type { Keypair } from './keypair.js';
import {
  COOKIE_REPLY_SIZE,
  decodeTransportHeader,
  INITIATION_SIZE,
  KEEPALIVE_SIZE,
  MAX_MESSAGE_SIZE,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  MESSAGE_TRANSPORT,
  messageType,
  RESPONSE_SIZE,
  TRANSPORT_HEADER_SIZE,
} from './messages.js';
import type { Peer } from './peer.js';

export abstract class DeviceReceive extends DeviceHandshake {
  protected receiveDatagram(d: Uint8Array, hint: Uint8Array | undefined): void {
    this.stats.rxDatagrams++;
    if (this.closed) {
      this.stats.rxDropClosed++;
      return;
    }
    if (d.length < KEEPALIVE_SIZE) {
      this.stats.rxDropTooShort++;
      return;
    }
    if (d.length > MAX_MESSAGE_SIZE) {
      this.stats.rxDropTooLong++;
      return;
    }
    const type = messageType(d);
    switch (type) {
      case MESSAGE_TRANSPORT:
        this.receiveTransport(d);
        return;
      case MESSAGE_INITIATION:
      case MESSAGE_RESPONSE:
        if (d.length !== (type === MESSAGE_INITIATION ? INITIATION_SIZE : RESPONSE_SIZE)) {
          this.stats.rxDropBadLength++;
          return;
        }
        if (!this.admitHandshake(d, hint)) return;
        if (type === MESSAGE_INITIATION) this.receiveInitiation(d);
        else this.receiveResponse(d);
        return;
      case MESSAGE_COOKIE_REPLY:
        if (d.length !== COOKIE_REPLY_SIZE) {
          this.stats.rxDropBadLength++;
          return;
        }
        this.receiveCookieReply(d);
        return;
      default:
        this.stats.rxDropUnknownType++;
    }
  }

  protected receiveTransport(d: Uint8Array): void {
    const header = decodeTransportHeader(d);
    if (!header) {
      this.stats.rxDropBadLength++;
      return;
    }
    const entry = this.indices.get(header.receiver);
    const kp = entry?.keypair;
    if (!entry || !kp) {
      this.stats.rxDropUnknownIndex++;
      return;
    }
    const peer = entry.peer;
    if (this.o.clock.now() - kp.createdAt >= this.cfg.rejectAfterTimeMs) {
      this.stats.rxDropExpiredKeypair++;
      return;
    }
    if (!(header.counter < this.cfg.rejectAfterMessages)) {
      this.stats.rxDropCounterLimit++;
      return;
    }
    // Cheap early drop of a sure replay; the authoritative check runs after authentication.
    if (!kp.replay.mayAccept(header.counter, this.cfg.rejectAfterMessages)) {
      this.stats.rxDropReplay++;
      return;
    }
    // Decryption is asynchronous: a sender faster than our engine must not grow the queue without bound.
    if (peer.rxQueue.pending >= this.maxQueued) {
      this.stats.rxDropBacklog++;
      return;
    }
    const counter = header.counter;
    // A view: every engine reads the ciphertext before open() returns (WebCrypto copies it at call time).
    const ciphertext = d.subarray(TRANSPORT_HEADER_SIZE);
    this.rxInFlight++;
    peer.rxQueue.push(kp.receiver.open(counter, ciphertext), (pt) => {
      this.rxInFlight--;
      try {
        this.deliver(peer, kp, counter, pt ?? null);
      } finally {
        if (this.rxInFlight === 0) this.o.onReceiveIdle?.();
      }
    });
  }

  protected rxInFlight = 0;

  /** Runs in arrival order per peer, after decryption (wireguard-go RoutineSequentialReceiver). */
  protected deliver(peer: Peer, kp: Keypair, counter: number, pt: Uint8Array | null): void {
    if (peer.removed || this.closed) {
      this.stats.rxDropPeerGone++;
      return;
    }
    if (!pt) {
      this.stats.rxDropDecrypt++;
      return;
    }
    if (!kp.replay.validate(counter, this.cfg.rejectAfterMessages)) {
      this.stats.rxDropReplay++;
      return;
    }
    const { confirmed, gone } = peer.keypairs.receivedWith(kp);
    this.freeKeypairs(gone);
    if (confirmed) {
      this.handshakeComplete(peer);
      this.sendStaged(peer);
    }
    peer.rxBytes += pt.length + KEEPALIVE_SIZE;
    this.keepKeyFreshReceiving(peer);
    peer.timers.anyAuthenticatedPacketTraversal();
    peer.timers.anyAuthenticatedPacketReceived();
    if (pt.length === 0) {
      this.stats.rxKeepalives++;
      return;
    }
    peer.timers.dataReceived();
    const packet = trimIpPacket(pt);
    if (!packet) {
      this.stats.rxDropBadIpPacket++;
      return;
    }
    this.stats.rxPackets++;
    try {
      this.o.onPacket(peer.publicKey, packet);
    } catch {
      this.stats.callbackErrors++;
    }
  }
}

/** Cuts the padding off a decrypted IP packet using its own length field (wireguard-go receive.go). */
export function trimIpPacket(p: Uint8Array): Uint8Array | null {
  const version = p[0] >> 4;
  if (version === 4) {
    if (p.length < 20) return null;
    const len = (p[2] << 8) | p[3];
    if (len > p.length || len < 20) return null;
    return p.subarray(0, len);
  }
  if (version === 6) {
    if (p.length < 40) return null;
    const len = ((p[4] << 8) | p[5]) + 40;
    if (len > p.length) return null;
    return p.subarray(0, len);
  }
  return null;
}
