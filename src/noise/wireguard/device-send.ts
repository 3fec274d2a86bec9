// The send path of a WireGuardDevice (wireguard-go device/send.go): packets staged while no session
// exists, sealed in order with the current keypair, padded, and the rekey-on-send/receive checks.
import { DeviceCore } from './device-core.js';
import { TRANSPORT_HEADER_SIZE, writeTransportHeader } from './messages.js';
import type { Peer } from './peer.js';
import type { InitiationKind } from './timers.js';

export abstract class DeviceSend extends DeviceCore {
  protected stage(peer: Peer, packet: Uint8Array): void {
    if (peer.staged.length >= this.maxStaged) {
      peer.staged.shift();
      this.stats.txDropQueueFull++;
    }
    peer.staged.push(packet);
  }

  /** wireguard-go SendStagedPackets: encrypt what waits with the current keypair, or start a handshake. */
  protected sendStaged(peer: Peer): void {
    if (peer.staged.length === 0 || peer.removed) return;
    const kp = peer.keypairs.current;
    if (!this.usableForSending(kp)) {
      this.sendInitiation(peer, 'fresh');
      return;
    }
    const batch = peer.staged;
    peer.staged = [];
    for (const packet of batch) {
      if (peer.txQueue.pending >= this.maxQueued) {
        this.stats.txDropBacklog++;
        continue;
      }
      const counter = kp.sendCounter++;
      const plaintext = this.pad(packet);
      peer.txQueue.push(kp.sender.seal(counter, plaintext), (ct, err) => {
        if (err || !ct) {
          this.stats.txDropEncrypt++;
          return;
        }
        if (peer.removed || this.closed) return;
        const datagram = new Uint8Array(TRANSPORT_HEADER_SIZE + ct.length);
        writeTransportHeader(datagram, kp.remoteIndex, counter);
        datagram.set(ct, TRANSPORT_HEADER_SIZE);
        peer.timers.anyAuthenticatedPacketTraversal();
        peer.timers.anyAuthenticatedPacketSent();
        this.transmit(peer, datagram);
        if (packet.length > 0) {
          this.stats.txPackets++;
          peer.timers.dataSent();
        } else {
          this.stats.txKeepalives++;
        }
        this.keepKeyFreshSending(peer);
      });
    }
  }

  protected sendKeepalive(peer: Peer): void {
    if (peer.removed) return;
    if (peer.staged.length === 0) peer.staged.push(new Uint8Array(0));
    this.sendStaged(peer);
  }

  /** wireguard-go calculatePaddingSize: pad to a multiple of 16 without exceeding the MTU. */
  protected pad(packet: Uint8Array): Uint8Array {
    let last = packet.length;
    if (last > this.mtu) last %= this.mtu;
    const padded = Math.min((last + 15) & ~15, this.mtu);
    const padding = Math.max(0, padded - last);
    if (padding === 0) return packet;
    const out = new Uint8Array(packet.length + padding);
    out.set(packet);
    return out;
  }

  protected keepKeyFreshSending(peer: Peer): void {
    const kp = peer.keypairs.current;
    if (!kp) return;
    if (
      kp.sendCounter > this.cfg.rekeyAfterMessages ||
      (kp.isInitiator && this.o.clock.now() - kp.createdAt > this.cfg.rekeyAfterTimeMs)
    ) {
      this.sendInitiation(peer, 'fresh');
    }
  }

  protected keepKeyFreshReceiving(peer: Peer): void {
    if (peer.timers.sentLastMinuteHandshake) return;
    const kp = peer.keypairs.current;
    const c = this.cfg;
    if (
      kp &&
      kp.isInitiator &&
      this.o.clock.now() - kp.createdAt > c.rejectAfterTimeMs - c.keepaliveTimeoutMs - c.rekeyTimeoutMs
    ) {
      peer.timers.sentLastMinuteHandshake = true;
      this.sendInitiation(peer, 'fresh');
    }
  }

  /** Starts a handshake with the peer (device-handshake.ts). */
  protected abstract sendInitiation(peer: Peer, kind: InitiationKind): void;
}
