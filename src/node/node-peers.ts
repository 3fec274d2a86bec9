// Peers and routes of a TailnetNode from the network map: WireGuard and magicsock peers by node key,
// the AllowedIPs route table (rebuilt or updated in place from control's deltas), and the session
// reset when a peer restarted (new disco key).
import { equalBytes, toHex } from '../crypto/bytes.js';
import { RouteTable, peerRoutes, prefixKey, type Prefix } from './routes.js';
import { keyHex } from './node-core.js';
import { NodePackets } from './node-packets.js';
import type { NetMapPeer } from './node-types.js';

function isZero(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

export abstract class NodePeers extends NodePackets {
  /**
   * Brings WireGuard, magicsock and the route table to `peers`. Control's deltas change a few peers
   * and keep the others as the very same objects (control/netmap.ts toPlainNetMap), so the peers
   * that differ by identity are the work: a delta flipping one peer's online flag in a tailnet of
   * 10,000 touches one peer here, not 10,000 (a full rebuild is for the first map, new route
   * choices, and a map where most peers changed).
   */
  protected applyPeers(peers: NetMapPeer[]): void {
    const prev = this.peerById;
    const next = new Map<string, NetMapPeer>();
    for (const p of peers) next.set(p.id, p);
    const changed: { old?: NetMapPeer; now: NetMapPeer }[] = [];
    for (const p of next.values()) {
      const old = prev.get(p.id);
      if (old !== p) changed.push({ old, now: p });
    }
    const removed: NetMapPeer[] = [];
    if (next.size !== prev.size + changed.filter((c) => !c.old).length) {
      for (const [id, old] of prev) if (!next.has(id)) removed.push(old);
    }
    this.peerById = next;
    if (!this.routes || changed.length + removed.length > Math.max(64, next.size / 4)) {
      this.rebuildRoutes(next.values());
      this.magic!.setPeers(
        [...next.values()].map((p) => ({ nodeKey: p.nodeKey, discoKey: p.discoKey, homeDerp: p.homeDerp })),
      );
      this.keyRefs.clear();
      for (const p of next.values()) {
        const k = keyHex(p);
        this.keyRefs.set(k, (this.keyRefs.get(k) ?? 0) + 1);
      }
      for (const key of this.knownWgPeers) if (!this.keyRefs.has(key)) this.dropWgPeer(key);
      for (const p of next.values()) this.ensureWgPeer(p.nodeKey, keyHex(p));
      for (const { old, now } of changed)
        if (old && keyHex(old) === keyHex(now)) this.noteDiscoChange(now, old.discoKey, now.discoKey);
      return;
    }
    this.applyChanges(changed, removed);
  }

  /** A delta from control: the peers changed or added, and the ids removed (peerById is updated in place). */
  protected applyPeerDelta(changedPeers: NetMapPeer[], removedIds: string[]): void {
    const changed: { old?: NetMapPeer; now: NetMapPeer }[] = [];
    const removed: NetMapPeer[] = [];
    for (const id of removedIds) {
      const old = this.peerById.get(id);
      if (old) {
        removed.push(old);
        this.peerById.delete(id);
      }
    }
    for (const p of changedPeers) {
      const old = this.peerById.get(p.id);
      if (p.nodeKey?.length !== 32) {
        this.counters.badPeerKeys++;
        if (old) {
          removed.push(old);
          this.peerById.delete(p.id);
        }
        continue;
      }
      if (old === p) continue;
      changed.push({ old, now: p });
      this.peerById.set(p.id, p);
    }
    this.applyChanges(changed, removed);
  }

  /** WireGuard, magicsock and routes for a few changed peers (peerById already holds the new ones). */
  protected applyChanges(changed: { old?: NetMapPeer; now: NetMapPeer }[], removed: NetMapPeer[]): void {
    if (!changed.length && !removed.length) return;
    this.updateRoutes(changed, removed);
    const unref = (p: NetMapPeer) => {
      const k = keyHex(p);
      const n = (this.keyRefs.get(k) ?? 1) - 1;
      if (n > 0) {
        this.keyRefs.set(k, n);
        return;
      }
      this.keyRefs.delete(k);
      this.magic!.removePeer(p.nodeKey);
      this.dropWgPeer(k);
    };
    // New references first, then the old ones let go: a key that moved between peers stays.
    for (const { old, now } of changed) {
      const k = keyHex(now);
      this.keyRefs.set(k, (this.keyRefs.get(k) ?? 0) + 1);
      this.magic!.upsertPeer({ nodeKey: now.nodeKey, discoKey: now.discoKey, homeDerp: now.homeDerp });
      this.ensureWgPeer(now.nodeKey, k);
      if (old && keyHex(old) === k) this.noteDiscoChange(now, old.discoKey, now.discoKey);
    }
    for (const { old } of changed) if (old) unref(old);
    for (const old of removed) unref(old);
  }

  /**
   * A peer's disco key changed: it restarted (a new disco key every start, same node key), so its
   * WireGuard session is dead and is reset, as tailscaled's nodeBackend.discoChangedLocked +
   * ResetDevicePeer do (ipn/ipnlocal/node_backend.go, wgengine/userspace.go): the next packet
   * starts a handshake at once rather than after the 15 s new-handshake timer. Not when the new
   * key came first in a TSMP advertisement: that arrived over a working session, which is kept.
   */
  protected noteDiscoChange(peer: NetMapPeer, prev: Uint8Array | undefined, cur: Uint8Array | undefined): void {
    if (
      !prev ||
      !cur ||
      prev.length !== 32 ||
      cur.length !== 32 ||
      equalBytes(prev, cur) ||
      isZero(prev) ||
      isZero(cur)
    )
      return;
    const k = keyHex(peer);
    const viaTsmp = this.tsmpLearnedDisco.get(k);
    if (viaTsmp !== undefined) {
      this.tsmpLearnedDisco.delete(k);
      if (viaTsmp === toHex(cur)) return;
    }
    if (!this.wg?.resetPeer(peer.nodeKey)) return;
    this.counters.peerResets++;
    this.log(`peer ${peer.name.replace(/\.$/, '').split('.')[0]} restarted (new disco key): WireGuard session reset`);
  }

  protected ensureWgPeer(key: Uint8Array, k = toHex(key)): void {
    if (!this.knownWgPeers.has(k)) {
      this.wg!.addPeer(key);
      this.knownWgPeers.add(k);
      this.knownWgPeerKeys.set(k, key);
    }
  }

  protected dropWgPeer(k: string): void {
    if (!this.knownWgPeers.has(k)) return;
    this.wg!.removePeer(this.knownWgPeerKeys.get(k)!);
    this.knownWgPeers.delete(k);
    this.knownWgPeerKeys.delete(k);
  }

  protected rebuildRoutes(peers: Iterable<NetMapPeer>): void {
    // buildRouteTable's rules (routes.ts), with each prefix's claimants counted on the way.
    const built = { table: new RouteTable<NetMapPeer>(), badPrefixes: 0, skippedSubnetRoutes: 0, skippedExitRoutes: 0 };
    this.routeClaims.clear();
    for (const peer of peers) {
      for (const r of peerRoutes(peer, this.routePrefs, built)) {
        built.table.insert(r, peer);
        const k = prefixKey(r);
        this.routeClaims.set(k, (this.routeClaims.get(k) ?? 0) + 1);
      }
    }
    this.routes = built.table;
    if (built.skippedSubnetRoutes || built.skippedExitRoutes) {
      this.log(
        `routes: ${built.skippedSubnetRoutes} subnet and ${built.skippedExitRoutes} exit-node routes not in use (not chosen)`,
      );
    }
  }

  /**
   * The route table after a few peers changed, without a rebuild: each changed peer's routes are
   * removed and added again (or, when they are the same, pointed at its new object). A prefix that
   * two peers claim makes which one wins depend on their order: then the table is rebuilt.
   */
  protected updateRoutes(changed: { old?: NetMapPeer; now: NetMapPeer }[], removed: NetMapPeer[]): void {
    const table = this.routes!;
    const prefs = this.routePrefs;
    const same = (a: readonly string[] | null | undefined, b: readonly string[] | null | undefined) =>
      a === b || (!!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]));
    const drop: { p: Prefix; peer: NetMapPeer }[] = [];
    const add: { p: Prefix; peer: NetMapPeer }[] = [];
    const repoint: { p: Prefix; from: NetMapPeer; to: NetMapPeer }[] = [];
    for (const old of removed) for (const p of peerRoutes(old, prefs)) drop.push({ p, peer: old });
    for (const { old, now } of changed) {
      if (old && same(old.allowedIPs, now.allowedIPs) && same(old.addresses, now.addresses)) {
        for (const p of peerRoutes(now, prefs)) repoint.push({ p, from: old, to: now });
        continue;
      }
      if (old) for (const p of peerRoutes(old, prefs)) drop.push({ p, peer: old });
      for (const p of peerRoutes(now, prefs)) add.push({ p, peer: now });
    }
    const claims = this.routeClaims;
    const delta = new Map<string, number>();
    for (const d of drop) {
      const k = prefixKey(d.p);
      delta.set(k, (delta.get(k) ?? 0) - 1);
    }
    for (const a of add) {
      const k = prefixKey(a.p);
      delta.set(k, (delta.get(k) ?? 0) + 1);
    }
    // A prefix claimed by two peers, before or after: which one holds it depends on their order.
    let shared = false;
    for (const [k, d] of delta) {
      const before = claims.get(k) ?? 0;
      if (before > 1 || before + d > 1) {
        shared = true;
        break;
      }
    }
    if (shared) {
      this.rebuildRoutes(this.peerById.values());
      return;
    }
    for (const d of drop) table.remove(d.p, d.peer);
    for (const a of add) table.insert(a.p, a.peer);
    for (const r of repoint) table.replace(r.p, r.from, r.to);
    for (const [k, d] of delta) {
      const n = (claims.get(k) ?? 0) + d;
      if (n > 0) claims.set(k, n);
      else claims.delete(k);
    }
  }
}
