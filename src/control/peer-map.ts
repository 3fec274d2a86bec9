// The peers of a NetworkMap as a persistent map: each delta makes a new version without copying
// the others' entries (a copy of 10,000 entries per delta was three quarters of a delta's cost, and
// a busy tailnet sends several a second). A version is a shared, never-mutated base Map plus a
// small overlay of what changed since (a Node, or null for removed); when the overlay grows past
// an eighth of the base it is folded into a new base, so a lookup stays two Map lookups and the
// copying is amortised to O(changes).
import type { Node, NodeID } from './tailcfg.js';

const MIN_FOLD = 1024;

export class PeerMap implements ReadonlyMap<NodeID, Node> {
  /** (PeerMap.of and PeerMap.edit make them.) */
  constructor(
    /** Shared between versions: never mutated once a version refers to it. */
    private readonly base: ReadonlyMap<NodeID, Node>,
    /** This version's own: changes over base (null: removed). */
    private readonly overlay: ReadonlyMap<NodeID, Node | null>,
    readonly size: number,
  ) {}

  /** A version holding exactly `m` (which must not be changed afterwards). */
  static of(m: ReadonlyMap<NodeID, Node>): PeerMap {
    return m instanceof PeerMap ? m : new PeerMap(m, new Map(), m.size);
  }

  /** A builder of the next version, starting from `prev` (left as it is). */
  static edit(prev: ReadonlyMap<NodeID, Node>): PeerMapEdit {
    const p = PeerMap.of(prev);
    return new PeerMapEdit(p.base, new Map(p.overlay), p.size);
  }

  get(id: NodeID): Node | undefined {
    const o = this.overlay.get(id);
    if (o !== undefined) return o ?? undefined;
    return this.base.get(id);
  }

  has(id: NodeID): boolean {
    return this.get(id) !== undefined;
  }

  /** Base order (changed entries in their place), then entries new in the overlay. */
  *entries(): MapIterator<[NodeID, Node]> {
    for (const [id, n] of this.base) {
      const o = this.overlay.get(id);
      if (o === undefined) yield [id, n];
      else if (o) yield [id, o];
    }
    for (const [id, o] of this.overlay) if (o && !this.base.has(id)) yield [id, o];
  }

  *keys(): MapIterator<NodeID> {
    for (const [id] of this.entries()) yield id;
  }

  *values(): MapIterator<Node> {
    for (const [, n] of this.entries()) yield n;
  }

  [Symbol.iterator](): MapIterator<[NodeID, Node]> {
    return this.entries();
  }

  forEach(cb: (value: Node, key: NodeID, map: ReadonlyMap<NodeID, Node>) => void, thisArg?: unknown): void {
    for (const [id, n] of this.entries()) cb.call(thisArg, n, id, this);
  }
}

export class PeerMapEdit {
  constructor(
    private readonly base: ReadonlyMap<NodeID, Node>,
    private readonly overlay: Map<NodeID, Node | null>,
    private size: number,
  ) {}

  get(id: NodeID): Node | undefined {
    const o = this.overlay.get(id);
    if (o !== undefined) return o ?? undefined;
    return this.base.get(id);
  }

  set(id: NodeID, n: Node): void {
    if (this.get(id) === undefined) this.size++;
    this.overlay.set(id, n);
  }

  /** Removes `id`; true when it was there. */
  delete(id: NodeID): boolean {
    if (this.get(id) === undefined) return false;
    this.size--;
    if (this.base.has(id)) this.overlay.set(id, null);
    else this.overlay.delete(id);
    return true;
  }

  get count(): number {
    return this.size;
  }

  /** The new version; the overlay folded into a new base when it has grown large. */
  done(minFold = MIN_FOLD): PeerMap {
    if (this.overlay.size <= Math.max(minFold, this.base.size / 8))
      return new PeerMap(this.base, this.overlay, this.size);
    const folded = new Map<NodeID, Node>();
    for (const [id, n] of this.base) {
      const o = this.overlay.get(id);
      if (o === undefined) folded.set(id, n);
      else if (o) folded.set(id, o);
    }
    for (const [id, o] of this.overlay) if (o && !this.base.has(id)) folded.set(id, o);
    return PeerMap.of(folded);
  }
}
