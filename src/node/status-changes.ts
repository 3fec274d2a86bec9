// Which peers' status may have changed since the status was last taken, so that a status tick in a
// tailnet of 10,000 machines costs the peers that changed, not all of them (issue 16). A peer's
// status changes when control's map changes it (a delta names it), and, while WireGuard talks to
// it, every tick (its handshake age and byte counts move): those peers are "active" from their
// first handshake message on. Anything that changes every peer's status at once (a full map, our
// home region, the routes the person chose, down) makes the next take a full one.

export class PeerStatusChanges {
  private all = true;
  private readonly dirty = new Set<string>();
  private readonly removed = new Set<string>();
  /** Node keys (hex) seen in a handshake, not yet matched to a peer id. */
  private readonly newActiveKeys = new Set<string>();
  /** Peers WireGuard has talked to: taken on every tick. */
  private readonly activeIds = new Set<string>();
  private home?: number;

  /** Every peer's status may have changed (a full map, new route choices, down). */
  markAll(): void {
    this.all = true;
    this.dirty.clear();
    this.removed.clear();
  }

  /** Control's delta: these peers changed or came, those went. */
  markDelta(changedIds: Iterable<string>, removedIds: Iterable<string>): void {
    if (this.all) return;
    for (const id of changedIds) {
      this.dirty.add(id);
      this.removed.delete(id);
    }
    for (const id of removedIds) {
      this.removed.add(id);
      this.dirty.delete(id);
      this.activeIds.delete(id);
    }
  }

  /** A WireGuard handshake message to or from this node key (hex): its status moves from now on. */
  markActive(keyHex: string): void {
    this.newActiveKeys.add(keyHex);
  }

  /**
   * What to report now, and a fresh start. `homeRegion`: ours (a peer without a home region is
   * shown on it, so a change is a full take). `peers` / `keyOf`: the current peers by id and the
   * hex node key of one; a newly active key is looked up among them once (O(peers), once per batch
   * of peers that start talking).
   */
  take<P>(
    homeRegion: number | undefined,
    peers: ReadonlyMap<string, P>,
    keyOf: (p: P) => string,
  ): { full: true } | { full: false; ids: string[]; removed: string[] } {
    if (homeRegion !== this.home) {
      this.home = homeRegion;
      this.all = true;
    }
    if (this.newActiveKeys.size) {
      for (const [id, p] of peers) if (this.newActiveKeys.has(keyOf(p))) this.activeIds.add(id);
      this.newActiveKeys.clear();
    }
    for (const id of this.activeIds) if (!peers.has(id)) this.activeIds.delete(id);
    if (this.all) {
      this.all = false;
      this.dirty.clear();
      this.removed.clear();
      return { full: true };
    }
    const ids = new Set(this.dirty);
    for (const id of this.activeIds) ids.add(id);
    const removed = [...this.removed];
    this.dirty.clear();
    this.removed.clear();
    return { full: false, ids: [...ids], removed };
  }
}
