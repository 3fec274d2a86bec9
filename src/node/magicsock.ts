// Per-peer path choice and inbound demultiplexing (reference: tailscale wgengine/magicsock).
// Today a peer's only path is DERP: its HomeDERP region (falling back to ours). Inbound DERP
// packets starting with the disco magic are disco messages; everything else is WireGuard.
// Disco pings are answered with pongs whose source is the DERP magic address 127.3.3.40:<region>,
// as magicsock does for DERP-sourced pings (tailcfg.DerpMagicIPAddr).
// A peer may also have a WebRTC path (webrtc-path.ts): once disco pings over it are answered it
// carries the peer's WireGuard packets instead of DERP; its signalling arrives here as disco.

import { toHex } from '../crypto/bytes.js';
import type { RandomSource } from '../crypto/random.js';
import { DERP_MAGIC_IP, DiscoCodec, looksLikeDisco, type DiscoMessage } from './disco.js';
import { WebRtcPaths, type WebRtcPathsOptions } from './webrtc-path.js';
import { WEBRTC_MAGIC_IP, WEBRTC_MAGIC_PORT, type WebRtcSignal } from './webrtc-signal.js';

export interface MagicPeer {
  nodeKey: Uint8Array;
  discoKey?: Uint8Array;
  homeDerp?: number;
}

export interface MagicsockStats {
  rxDerpPackets: number;
  rxWireGuard: number;
  rxDisco: number;
  rxDiscoBad: number;
  rxDiscoUnknownType: number;
  rxFromUnknownPeer: number;
  pingsAnswered: number;
  pongsReceived: number;
  callMeMaybeReceived: number;
  txWireGuard: number;
  txDisco: number;
  txNoRegion: number;
  /** WireGuard packets over a WebRTC path instead of DERP. */
  txDirect: number;
  rxDirect: number;
  rxDirectDisco: number;
  /** WebRTC signalling over DERP: received, sent, replayed (a sealed box seen before), from a disco key not the peer's. */
  rxSignals: number;
  txSignals: number;
  rxSignalReplayed: number;
  rxSignalWrongSender: number;
}

/** Disco box nonces of signalling messages remembered to drop replays (a sealed box is replayable as is). */
const SIGNAL_NONCES = 1024;

export interface MagicsockOptions {
  disco: DiscoCodec;
  random: RandomSource;
  /** Send over DERP to a region (derp-client DerpPool.send). */
  derpSend: (regionId: number, dstNodeKey: Uint8Array, packet: Uint8Array) => void;
  /** Hand a WireGuard datagram to the device (WireGuardDevice.receive). */
  wireguardReceive: (datagram: Uint8Array, fromNodeKey: Uint8Array) => void;
  homeRegion: () => number | undefined;
  onPong?: (fromNodeKey: Uint8Array, txId: Uint8Array) => void;
  log?: (text: string) => void;
}

export class Magicsock {
  private readonly peers = new Map<string, MagicPeer>();
  readonly stats: MagicsockStats = {
    rxDerpPackets: 0,
    rxWireGuard: 0,
    rxDisco: 0,
    rxDiscoBad: 0,
    rxDiscoUnknownType: 0,
    rxFromUnknownPeer: 0,
    pingsAnswered: 0,
    pongsReceived: 0,
    callMeMaybeReceived: 0,
    txWireGuard: 0,
    txDisco: 0,
    txNoRegion: 0,
    txDirect: 0,
    rxDirect: 0,
    rxDirectDisco: 0,
    rxSignals: 0,
    txSignals: 0,
    rxSignalReplayed: 0,
    rxSignalWrongSender: 0,
  };
  /** The WebRTC paths, when attachWebRtc was called. */
  direct?: WebRtcPaths;
  /** WireGuard packets to and from each peer over DERP (per-path counters; the WebRTC ones are in `direct`). */
  private readonly derpPackets = new Map<string, { tx: number; rx: number }>();
  private readonly signalNonces = new Set<string>();
  /** Region each peer last reached us from; answers go back the same way. */
  private readonly lastRegion = new Map<string, number>();

  constructor(private readonly o: MagicsockOptions) {}

  // Every packet names its peer by a 32-byte key (a fresh array per DERP frame); a bulk transfer
  // names the same peer over and over, so the last key's map id is kept instead of re-hexed.
  private lastKey: Uint8Array | undefined;
  private lastId = '';

  private idOf(k: Uint8Array): string {
    const last = this.lastKey;
    if (last && last.length === k.length) {
      let same = true;
      for (let i = 0; i < k.length; i++)
        if (last[i] !== k[i]) {
          same = false;
          break;
        }
      if (same) return this.lastId;
    }
    this.lastKey = k.slice();
    this.lastId = toHex(k);
    return this.lastId;
  }

  setPeers(peers: MagicPeer[]): void {
    if (this.direct || this.derpPackets.size) {
      const keep = new Set(peers.map((p) => toHex(p.nodeKey)));
      for (const id of this.peers.keys())
        if (!keep.has(id)) {
          this.direct?.removePeer(id);
          this.derpPackets.delete(id);
        }
    }
    this.peers.clear();
    for (const p of peers) this.peers.set(toHex(p.nodeKey), p);
  }

  /** Adds or updates one peer (a delta), leaving the others as they are. */
  upsertPeer(p: MagicPeer): void {
    this.peers.set(toHex(p.nodeKey), p);
  }

  removePeer(nodeKey: Uint8Array): void {
    const id = toHex(nodeKey);
    this.peers.delete(id);
    this.direct?.removePeer(id);
    this.derpPackets.delete(id);
  }

  /** Starts the WebRTC paths (webrtc-path.ts), wired to this magicsock's disco and DERP. */
  attachWebRtc(
    o: Pick<WebRtcPathsOptions, 'clock' | 'createPeerConnection' | 'unavailableReason' | 'iceServers' | 'log'>,
    ourNodeKey: Uint8Array,
  ): WebRtcPaths {
    this.direct = new WebRtcPaths({
      ...o,
      ourDiscoKey: () => this.o.disco.publicKey,
      peerDiscoKey: (k) => this.peer(k)?.discoKey,
      sendSignal: (k, m) => this.sendSignal(k, m),
      makePing: (k) => {
        const disco = this.peer(k)?.discoKey;
        if (!disco) return null;
        const txId = this.o.random(12);
        return { txId, packet: this.o.disco.seal(disco, { type: 'ping', txId, nodeKey: ourNodeKey, padding: 0 }) };
      },
      deliver: (k, packet) => this.receiveDirect(k, packet),
    });
    return this.direct;
  }

  /** WireGuard packets to and from a peer over DERP. */
  derpPacketsOf(hex: string): { tx: number; rx: number } {
    return this.derpPackets.get(hex) ?? { tx: 0, rx: 0 };
  }

  private countDerp(id: string, dir: 'tx' | 'rx'): void {
    let c = this.derpPackets.get(id);
    if (!c) {
      if (!this.peers.has(id)) return;
      this.derpPackets.set(id, (c = { tx: 0, rx: 0 }));
    }
    c[dir]++;
  }

  peer(nodeKey: Uint8Array): MagicPeer | undefined {
    return this.peers.get(toHex(nodeKey));
  }

  /** The DERP region a peer is reached through: its HomeDERP, else where it last spoke from, else ours. */
  regionFor(nodeKey: Uint8Array, hex?: string): number | undefined {
    const id = hex ?? this.idOf(nodeKey);
    const home = this.peers.get(id)?.homeDerp;
    if (home) return home;
    return this.lastRegion.get(id) ?? this.o.homeRegion();
  }

  /** WireGuardDevice's send callback. */
  sendWireGuard(peerNodeKey: Uint8Array, datagram: Uint8Array): void {
    const id = this.idOf(peerNodeKey);
    // WebRTC when its pings are answered (ranked above DERP, as the branch's betterAddr does).
    if (this.direct?.send(id, datagram)) {
      this.stats.txDirect++;
      return;
    }
    const region = this.regionFor(peerNodeKey, id);
    if (!region) {
      this.stats.txNoRegion++;
      return;
    }
    this.stats.txWireGuard++;
    this.countDerp(id, 'tx');
    this.o.derpSend(region, peerNodeKey, datagram);
    this.direct?.wantPath(peerNodeKey, id);
  }

  /** Sends a WebRTC signalling message to a peer over DERP, sealed to its disco key. */
  private sendSignal(peerNodeKey: Uint8Array, m: WebRtcSignal): void {
    const disco = this.peer(peerNodeKey)?.discoKey;
    const region = this.regionFor(peerNodeKey);
    if (!disco || !region) return;
    this.stats.txSignals++;
    this.o.derpSend(region, peerNodeKey, this.o.disco.seal(disco, m));
  }

  /** Sends a disco ping to a peer over DERP; returns the TxID. */
  sendDiscoPing(peerNodeKey: Uint8Array, ourNodeKey: Uint8Array): Uint8Array | null {
    const p = this.peer(peerNodeKey);
    const region = this.regionFor(peerNodeKey);
    if (!p?.discoKey || !region) return null;
    const txId = this.o.random(12);
    this.stats.txDisco++;
    this.o.derpSend(
      region,
      peerNodeKey,
      this.o.disco.seal(p.discoKey, { type: 'ping', txId, nodeKey: ourNodeKey, padding: 0 }),
    );
    return txId;
  }

  /** DerpPool's onPacket callback. */
  receiveDerp(srcNodeKey: Uint8Array, packet: Uint8Array, regionId: number): void {
    this.stats.rxDerpPackets++;
    const id = this.idOf(srcNodeKey);
    if (!this.peers.has(id)) {
      this.stats.rxFromUnknownPeer++;
    }
    this.lastRegion.set(id, regionId);
    if (this.lastRegion.size > 4096) this.lastRegion.delete(this.lastRegion.keys().next().value!);
    if (!looksLikeDisco(packet)) {
      this.stats.rxWireGuard++;
      this.countDerp(id, 'rx');
      this.o.wireguardReceive(packet, srcNodeKey);
      return;
    }
    this.stats.rxDisco++;
    const r = this.o.disco.open(packet);
    if (r === 'unknownType') {
      this.stats.rxDiscoUnknownType++;
      return;
    }
    if (typeof r === 'string') {
      this.stats.rxDiscoBad++;
      return;
    }
    const m = r.message;
    if (m.type === 'ping') {
      // Answer on the path the ping came in on: DERP region regionId, magic source address.
      this.stats.pingsAnswered++;
      this.stats.txDisco++;
      this.o.derpSend(
        regionId,
        srcNodeKey,
        this.o.disco.seal(r.sender, { type: 'pong', txId: m.txId, src: { ip: DERP_MAGIC_IP, port: regionId } }),
      );
    } else if (m.type === 'pong') {
      this.stats.pongsReceived++;
      this.o.onPong?.(srcNodeKey, m.txId);
    } else if (m.type === 'callMeMaybe') {
      // Direct UDP paths do not exist in a browser; nothing to do with the endpoints.
      this.stats.callMeMaybeReceived++;
    } else {
      this.receiveSignal(srcNodeKey, id, r.sender, packet, m);
    }
  }

  /** WebRTC signalling over DERP: only from the peer's own disco key, each sealed box once. */
  private receiveSignal(src: Uint8Array, id: string, sender: Uint8Array, packet: Uint8Array, m: WebRtcSignal): void {
    this.stats.rxSignals++;
    const disco = this.peers.get(id)?.discoKey;
    if (!disco || toHex(disco) !== toHex(sender)) {
      this.stats.rxSignalWrongSender++;
      return;
    }
    // The nonce (after magic and sender key) names the box: a derper replaying an old offer is dropped.
    const nonce = toHex(packet.subarray(38, 62));
    if (this.signalNonces.has(nonce)) {
      this.stats.rxSignalReplayed++;
      return;
    }
    this.signalNonces.add(nonce);
    if (this.signalNonces.size > SIGNAL_NONCES) this.signalNonces.delete(this.signalNonces.values().next().value!);
    this.direct?.onSignal(src, id, m);
  }

  /** A packet from a peer's WebRTC data channel: disco (pings answered on that path) or WireGuard. */
  private receiveDirect(src: Uint8Array, packet: Uint8Array): void {
    const id = this.idOf(src);
    if (!looksLikeDisco(packet)) {
      this.stats.rxDirect++;
      this.o.wireguardReceive(packet, src);
      return;
    }
    this.stats.rxDirectDisco++;
    const r = this.o.disco.open(packet);
    if (typeof r === 'string') {
      this.stats.rxDiscoBad++;
      return;
    }
    const m: DiscoMessage = r.message;
    if (m.type === 'ping') {
      this.stats.pingsAnswered++;
      const pong = this.o.disco.seal(r.sender, {
        type: 'pong',
        txId: m.txId,
        src: { ip: WEBRTC_MAGIC_IP, port: WEBRTC_MAGIC_PORT },
      });
      this.direct?.sendDisco(id, pong);
    } else if (m.type === 'pong') {
      this.stats.pongsReceived++;
      if (!this.direct?.onPong(id, m.txId)) this.o.onPong?.(src, m.txId);
    } else {
      // Signalling and call-me-maybe belong on DERP.
      this.stats.rxDiscoUnknownType++;
    }
  }
}
