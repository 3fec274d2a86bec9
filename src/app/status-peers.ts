// The peers of the status the service sends its windows, kept up to date from the node's changes
// (TailnetNode.peerStatusChanges) so that a status tick costs the peers that changed, not every
// peer of a tailnet of 10,000 (issue 16). Each window is sent its peers whole once, then only the
// ones that changed since (node-api.ts StatusWireEvent.peersDiff).
import type { NodeNetMap, PeerStatus } from '../node/node.js';
import type { AppWindow } from './context.js';
import type { NodeStatusView, PeerView, StatusWireEvent } from './node-api.js';
import { peerViewContext, toPeerView } from './status.js';

/** What changed in the peer list since the last update: everything (`full`), or these. */
export interface PeerViewChange {
  full: boolean;
  changed: PeerView[];
  removed: string[];
}

/** What the node tells: all its peers, or those that may have changed. */
export interface PeerStatusChange {
  full: boolean;
  peers: PeerStatus[];
  removed: string[];
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Whether a window already has this peer as it is now (every PeerView field; lists by content). */
export function samePeer(a: PeerView, b: PeerView): boolean {
  for (const k of Object.keys(b) as (keyof PeerView)[]) {
    const x = a[k],
      y = b[k];
    if (x === y) continue;
    if (Array.isArray(x) && Array.isArray(y) && sameList(x as string[], y as string[])) continue;
    return false;
  }
  return Object.keys(a).length === Object.keys(b).length;
}

export class PeerViews {
  /** Every peer's view, in the node's order (newcomers last). */
  private views = new Map<string, PeerView>();
  private list?: PeerView[];
  /** What every view depends on beyond its peer: region names and the exit node. */
  private context = '';

  /**
   * Applies the node's change; a change of region names or exit node redoes every view. `fromNode`:
   * the change is TailnetNode's, whose PeerStatus carries the map's name and relay region already,
   * so no netmap lookup per peer (the by-id table is O(peers) to make for each new map).
   */
  update(
    change: PeerStatusChange,
    nm: NodeNetMap | undefined,
    exitNodeId: string | undefined,
    fromNode = false,
  ): PeerViewChange {
    const ctx = fromNode
      ? { ...peerViewContext(undefined, exitNodeId), regionName: peerViewContext(nm, undefined).regionName }
      : peerViewContext(nm, exitNodeId);
    const context = JSON.stringify([exitNodeId ?? null, [...ctx.regionName]]);
    if (change.full) {
      this.views = new Map(change.peers.map((p) => [p.id, toPeerView(p, ctx)]));
      this.context = context;
      this.list = undefined;
      return { full: true, changed: [], removed: [] };
    }
    if (context !== this.context) {
      this.context = context;
      // Only the relay region's name and isExitNode follow from the context.
      for (const [id, v] of this.views) {
        const { relayRegionName: _r, isExitNode: _x, ...rest } = v;
        this.views.set(id, {
          ...rest,
          relayRegionName: v.relayRegion !== undefined ? ctx.regionName.get(v.relayRegion) : undefined,
          ...(exitNodeId === id ? { isExitNode: true } : {}),
        });
      }
      this.list = undefined;
      const changed = change.peers.map((p) => toPeerView(p, ctx));
      for (const v of changed) this.views.set(v.id, v);
      for (const id of change.removed) this.views.delete(id);
      return { full: true, changed: [], removed: [] };
    }
    const changed: PeerView[] = [];
    for (const p of change.peers) {
      const v = toPeerView(p, ctx);
      const was = this.views.get(p.id);
      if (was && samePeer(was, v)) continue;
      this.views.set(p.id, v);
      changed.push(v);
    }
    const removed = change.removed.filter((id) => this.views.delete(id));
    if (changed.length || removed.length) this.list = undefined;
    return { full: false, changed, removed };
  }

  /** Every peer's view (one array while nothing changes). */
  all(): PeerView[] {
    return (this.list ??= [...this.views.values()]);
  }

  get size(): number {
    return this.views.size;
  }

  /**
   * The status event for one window: whole the first time (and after a full change, as a diff of
   * everything against what it has), else just the change.
   */
  eventFor(c: AppWindow, status: NodeStatusView, change: PeerViewChange): StatusWireEvent {
    const sent = c.sentPeers;
    if (!sent) {
      c.sentPeers = new Map(this.views);
      return { type: 'status', status: { ...status, peers: this.all() } };
    }
    const upsert: PeerView[] = [];
    const remove: string[] = [];
    if (change.full) {
      for (const v of this.views.values()) {
        const was = sent.get(v.id);
        if (!was || !samePeer(was, v)) upsert.push(v);
      }
      if (sent.size !== this.views.size - upsert.filter((p) => !sent.has(p.id)).length)
        for (const id of sent.keys()) if (!this.views.has(id)) remove.push(id);
      c.sentPeers = new Map(this.views);
    } else {
      for (const v of change.changed) {
        const was = sent.get(v.id);
        if (!was || !samePeer(was, v)) upsert.push(v);
        sent.set(v.id, v);
      }
      for (const id of change.removed) if (sent.delete(id)) remove.push(id);
    }
    return { type: 'status', status: { ...status, peers: [] }, peersDiff: { upsert, remove } };
  }
}
