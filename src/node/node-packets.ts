// The packet path of a TailnetNode (node/README.md): netstack output routed by AllowedIPs to the
// WireGuard device; decrypted packets checked by cryptokey routing, TSMP answered, filtered, then
// handed to netstack.
import { equalBytes, toHex } from '../crypto/bytes.js';
import { Proto, summarize } from './filter.js';
import { IPPROTO_TSMP, parseTsmpDiscoAdvert, tsmpPongFor } from './tsmp.js';
import { keyHex, NodeCore } from './node-core.js';

export abstract class NodePackets extends NodeCore {
  /** netstack output: route by AllowedIPs, note the flow, encrypt to the peer. */
  protected outbound(ip: Uint8Array): void {
    const s = summarize(ip);
    if (!s || !this.routes) {
      this.counters.txNoRoute++;
      return;
    }
    const peer = this.routes.lookup(s.dst);
    if (!peer) {
      this.counters.txNoRoute++;
      return;
    }
    this.filter.noteOutbound(ip, s);
    this.wg!.send(peer.nodeKey, ip);
  }

  /** A decrypted packet from a peer: cryptokey routing, filter, then netstack. */
  protected inbound(peer: Uint8Array, ip: Uint8Array): void {
    const s = summarize(ip);
    if (!s) {
      this.counters.rxMalformed++;
      return;
    }
    // Cryptokey routing (WireGuard paper §2; wireguard-go device/receive.go): the source address
    // must be one the sending peer's AllowedIPs route to that same peer, or the peer is speaking for
    // another machine (or a subnet/exit route we did not choose) and the packet is dropped.
    const owner = this.routes?.lookup(s.src);
    if (!owner || !equalBytes(owner.nodeKey, peer)) {
      this.counters.rxSpoofedSource++;
      return;
    }
    if (s?.proto === IPPROTO_TSMP) {
      // TSMP pings are answered before the filter, as tailscale's tstun does.
      const pong = tsmpPongFor(ip);
      if (pong) {
        this.counters.tsmpPongs++;
        this.wg?.send(peer, pong);
        return;
      }
      // Newer peers announce their disco key after each handshake: read, counted, nothing else
      // (control's map stays the source of disco keys for magicsock).
      const advert = parseTsmpDiscoAdvert(ip);
      if (advert) {
        this.counters.tsmpDiscoAdverts++;
        if (!advert.empty && !(owner.discoKey && equalBytes(owner.discoKey, advert.discoKey))) {
          // A new disco key over a working session (tailscaled: controlclient direct.go updates the
          // peer's disco key, LocalBackend.PatchDiscoKey notes it so the map delta that follows does
          // not reset the session). Disco messages go to the new key from now on.
          this.counters.tsmpDiscoAdvertsNewKey++;
          const k = keyHex(owner);
          if (this.tsmpLearnedDisco.size >= 4096 && !this.tsmpLearnedDisco.has(k))
            this.tsmpLearnedDisco.delete(this.tsmpLearnedDisco.keys().next().value!);
          this.tsmpLearnedDisco.set(k, toHex(advert.discoKey));
          this.magic?.upsertPeer({
            nodeKey: owner.nodeKey,
            discoKey: advert.discoKey.slice(),
            homeDerp: owner.homeDerp,
          });
        }
        return;
      }
    }
    if (s.proto !== Proto.TCP && s.proto !== Proto.UDP && s.proto !== Proto.ICMP && s.proto !== Proto.ICMPv6) {
      // TSMP (99) and anything else we do not speak.
      this.counters.rxUnknownProto++;
      return;
    }
    if (this.filter.check(ip, s) === 'drop') {
      this.counters.rxFiltered++;
      return;
    }
    if (!this.stack) {
      this.counters.rxNoStack++;
      return;
    }
    // Packets behind this one are already being decrypted: one ACK for the batch (released by the
    // device's onReceiveIdle) instead of one per two segments, for each of which our WebCrypto,
    // WebSocket, the derper and the sending peer do per-packet work.
    if ((this.wg?.receiveBacklog ?? 0) > 0) this.stack.holdAcks?.();
    this.stack.input(ip);
  }
}
