// Per-peer path choice and inbound demultiplexing (reference: tailscale wgengine/magicsock).
// Today a peer's only path is DERP: its HomeDERP region (falling back to ours). Inbound DERP
// packets starting with the disco magic are disco messages; everything else is WireGuard.
// Disco pings are answered with pongs whose source is the DERP magic address 127.3.3.40:<region>,
// as magicsock does for DERP-sourced pings (tailcfg.DerpMagicIPAddr).

import { toHex } from '../crypto/bytes.js';
import type { RandomSource } from '../crypto/random.js';
import { DERP_MAGIC_IP, DiscoCodec, looksLikeDisco } from './disco.js';

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
}

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
  };
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
    this.peers.clear();
    for (const p of peers) this.peers.set(toHex(p.nodeKey), p);
  }

  /** Adds or updates one peer (a delta), leaving the others as they are. */
  upsertPeer(p: MagicPeer): void {
    this.peers.set(toHex(p.nodeKey), p);
  }

  removePeer(nodeKey: Uint8Array): void {
    this.peers.delete(toHex(nodeKey));
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
    const region = this.regionFor(peerNodeKey);
    if (!region) {
      this.stats.txNoRegion++;
      return;
    }
    this.stats.txWireGuard++;
    this.o.derpSend(region, peerNodeKey, datagram);
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
    } else {
      // Direct UDP paths do not exist in a browser; nothing to do with the endpoints.
      this.stats.callMeMaybeReceived++;
    }
  }
}
