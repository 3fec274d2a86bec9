// The network map and how each MapResponse changes it, following the delta semantics of
// tailscale control/controlclient/map.go (mapSession.updateStateFromResponse /
// updatePeersStateFromResponse) and tailcfg.MapResponse's field comments.
import { keyFromText } from '../crypto/keys.js';
import type {
  DERPMap,
  DERPRegion,
  DNSConfig,
  FilterRule,
  MapResponse,
  Node,
  NodeID,
  PeerChange,
  SSHPolicy,
  UserProfile,
} from './tailcfg.js';
import { countUnknownMapFields, type UnknownFieldStats } from './map-fields.js';
import { PeerMap } from './peer-map.js';

export interface NetworkMap {
  /** Our own node as control sees it (addresses, name, key expiry); null before the first map. */
  self: Node | null;
  /** Peers by node ID. */
  peers: ReadonlyMap<NodeID, Node>;
  derpMap: DERPMap | null;
  dns: DNSConfig | null;
  /** Named packet-filter chunks; the effective filter is their concatenation by sorted name. */
  packetFilters: ReadonlyMap<string, FilterRule[]>;
  packetFilter: FilterRule[];
  userProfiles: ReadonlyMap<number, UserProfile>;
  domain: string;
  sshPolicy: SSHPolicy | null;
  health: string[];
  /** How many MapResponses have been applied (keepalives included). */
  seq: number;
  /**
   * When `peers` came from the previous map's `peers` (the map `from`) by deltas: the IDs upserted
   * or patched, and those removed. Absent after a full replacement (and when peers did not change:
   * then `peers` is the previous map's own object).
   */
  peerDelta?: { from: ReadonlyMap<NodeID, Node>; changed: NodeID[]; removed: NodeID[] };
}

export interface NetMapStats extends UnknownFieldStats {
  applied: number;
  keepAlives: number;
  ignoredPatches: number;
}

export function emptyNetworkMap(): NetworkMap {
  return {
    self: null,
    peers: new Map(),
    derpMap: null,
    dns: null,
    packetFilters: new Map(),
    packetFilter: [],
    userProfiles: new Map(),
    domain: '',
    sshPolicy: null,
    health: [],
    seq: 0,
  };
}

/**
 * Most peers one map may list. A full map of this many realistic peers is ~160 MB of JSON; more is
 * refused in words (the stream reconnects) rather than held until the tab runs out of memory.
 */
export const MAX_PEERS = 100_000;

export class NetMapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetMapError';
  }
}

const LEGACY_DERP_PREFIX = '127.3.3.40:';

/** Fills HomeDERP from the legacy "DERP":"127.3.3.40:N" form when a server sends only that. */
export function normalizeNode(n: Node): Node {
  if (!n.HomeDERP && typeof n.DERP === 'string' && n.DERP.startsWith(LEGACY_DERP_PREFIX)) {
    const r = Number(n.DERP.slice(LEGACY_DERP_PREFIX.length));
    if (Number.isInteger(r) && r > 0) return { ...n, HomeDERP: r };
  }
  return n;
}

/** Capability version 112: nil AllowedIPs means the same as Addresses. */
export function effectiveAllowedIPs(n: Node): string[] {
  return n.AllowedIPs ?? n.Addresses ?? [];
}

function isNode(v: unknown): v is Node {
  return !!v && typeof v === 'object' && typeof (v as Node).ID === 'number' && typeof (v as Node).Key === 'string';
}

function applyPatch(n: Node, p: PeerChange): Node {
  const out: Node = { ...n };
  if (p.DERPRegion !== undefined && p.DERPRegion !== 0) out.HomeDERP = p.DERPRegion;
  if (p.Cap !== undefined && p.Cap !== 0) out.Cap = p.Cap;
  if (p.CapMap !== undefined && p.CapMap !== null) out.CapMap = p.CapMap;
  if (p.Endpoints !== undefined && p.Endpoints !== null) out.Endpoints = p.Endpoints;
  if (p.Key) out.Key = p.Key;
  if (p.KeySignature) out.KeySignature = p.KeySignature;
  if (p.DiscoKey) out.DiscoKey = p.DiscoKey;
  if (p.Online !== undefined && p.Online !== null) out.Online = p.Online;
  if (p.LastSeen) out.LastSeen = p.LastSeen;
  if (p.KeyExpiry) out.KeyExpiry = p.KeyExpiry;
  return out;
}

function mergeDerpMap(prev: DERPMap | null, dm: DERPMap): DERPMap {
  // A DERPMap with nil Regions keeps the previous regions (map.go); nil entries delete a region.
  const regions: Record<string, DERPRegion | null> = {};
  const base = dm.Regions ?? prev?.Regions ?? {};
  for (const [id, r] of Object.entries(base)) if (r) regions[id] = r;
  return {
    ...dm,
    HomeParams: dm.HomeParams ?? prev?.HomeParams ?? null,
    Regions: regions,
  };
}

/**
 * Returns a NEW NetworkMap with `resp` applied (the old one is untouched, so a consumer holding it
 * never sees it change). `now` stamps PeerSeenChange=true. Unknown or ill-typed fields are skipped.
 * A peer's Node object is replaced when a delta touches it and kept otherwise (toPlainNetMap and
 * the node rely on that to do per delta only the work of the peers it changed). Throws
 * NetMapError when the map would hold more than MAX_PEERS peers.
 */
export function applyMapResponse(prev: NetworkMap, resp: MapResponse, now: string, stats?: NetMapStats): NetworkMap {
  const nm: NetworkMap = { ...prev, seq: prev.seq + 1, peerDelta: undefined };
  if (stats) {
    stats.applied++;
    countUnknownMapFields(resp, stats);
  }
  if (resp.KeepAlive && Object.keys(resp).length === 1) {
    if (stats) stats.keepAlives++;
    return nm;
  }
  if (isNode(resp.Node)) nm.self = normalizeNode(resp.Node);
  if (resp.DERPMap && typeof resp.DERPMap === 'object') nm.derpMap = mergeDerpMap(prev.derpMap, resp.DERPMap);
  if (resp.DNSConfig && typeof resp.DNSConfig === 'object') nm.dns = resp.DNSConfig;
  if (typeof resp.Domain === 'string' && resp.Domain) nm.domain = resp.Domain;
  if (resp.SSHPolicy && typeof resp.SSHPolicy === 'object') nm.sshPolicy = resp.SSHPolicy;
  if (Array.isArray(resp.Health)) nm.health = resp.Health.filter((h) => typeof h === 'string');

  if (Array.isArray(resp.UserProfiles)) {
    const up = new Map(prev.userProfiles);
    for (const u of resp.UserProfiles) if (u && typeof u.ID === 'number') up.set(u.ID, u);
    nm.userProfiles = up;
  }

  // Packet filters: a non-nil PacketFilter replaces everything (as chunk "base"); otherwise
  // PacketFilters is a delta of named chunks where "*": null clears all first.
  if (Array.isArray(resp.PacketFilter)) {
    nm.packetFilters = new Map([['base', resp.PacketFilter]]);
  } else if (resp.PacketFilters && typeof resp.PacketFilters === 'object') {
    const pf = new Map(prev.packetFilters);
    if ('*' in resp.PacketFilters) pf.clear();
    for (const [name, rules] of Object.entries(resp.PacketFilters)) {
      if (name === '*') continue;
      if (Array.isArray(rules)) pf.set(name, rules);
      else pf.delete(name);
    }
    nm.packetFilters = pf;
  }
  if (nm.packetFilters !== prev.packetFilters) {
    nm.packetFilter = [...nm.packetFilters.keys()].sort().flatMap((k) => nm.packetFilters.get(k) ?? []);
  }

  // Peers: a non-nil Peers is a full replacement; otherwise apply the deltas in map.go's order.
  const touchesPeers =
    Array.isArray(resp.Peers) ||
    resp.PeersChanged ||
    resp.PeersRemoved ||
    resp.PeersChangedPatch ||
    resp.OnlineChange ||
    resp.PeerSeenChange;
  if (touchesPeers) {
    let peers: ReadonlyMap<NodeID, Node>;
    if (Array.isArray(resp.Peers)) {
      if (resp.Peers.length > MAX_PEERS) {
        throw new NetMapError(
          `control sent a map of ${resp.Peers.length} peers, more than the ${MAX_PEERS} this node holds`,
        );
      }
      const full = new Map<NodeID, Node>();
      for (const p of resp.Peers) if (isNode(p)) full.set(p.ID, normalizeNode(p));
      peers = full;
    } else {
      // The next version of the previous peers, sharing their entries (peer-map.ts), not a copy.
      const next = PeerMap.edit(prev.peers);
      const changed = new Set<NodeID>();
      const removed: NodeID[] = [];
      if (Array.isArray(resp.PeersRemoved)) for (const id of resp.PeersRemoved) if (next.delete(id)) removed.push(id);
      if (Array.isArray(resp.PeersChanged))
        for (const p of resp.PeersChanged)
          if (isNode(p)) {
            next.set(p.ID, normalizeNode(p));
            changed.add(p.ID);
          }
      if (resp.PeerSeenChange && typeof resp.PeerSeenChange === 'object') {
        for (const [id, seen] of Object.entries(resp.PeerSeenChange)) {
          const n = next.get(Number(id));
          if (n) {
            next.set(n.ID, { ...n, LastSeen: seen ? now : null });
            changed.add(n.ID);
          }
        }
      }
      if (resp.OnlineChange && typeof resp.OnlineChange === 'object') {
        for (const [id, online] of Object.entries(resp.OnlineChange)) {
          const n = next.get(Number(id));
          if (n && typeof online === 'boolean') {
            next.set(n.ID, { ...n, Online: online });
            changed.add(n.ID);
          }
        }
      }
      if (Array.isArray(resp.PeersChangedPatch)) {
        for (const p of resp.PeersChangedPatch) {
          const n = p && typeof p.NodeID === 'number' ? next.get(p.NodeID) : undefined;
          if (!n || !p) {
            if (stats) stats.ignoredPatches++;
            continue;
          }
          next.set(n.ID, applyPatch(n, p));
          changed.add(n.ID);
        }
      }
      nm.peerDelta = { from: prev.peers, changed: [...changed], removed: removed.filter((id) => !changed.has(id)) };
      peers = next.done();
    }
    if (peers.size > MAX_PEERS) {
      throw new NetMapError(`control sent a map of ${peers.size} peers, more than the ${MAX_PEERS} this node holds`);
    }
    nm.peers = peers;
  }
  return nm;
}

/** Peers sorted by ID (stable order for UIs and tests). */
export function peerList(nm: NetworkMap): Node[] {
  const list = [...nm.peers.values()];
  // Deltas keep the map's order (an upsert stays in place, a newcomer, usually the highest ID, goes
  // last), so the list is nearly always sorted already: check in O(n), sort only when not.
  for (let i = 1; i < list.length; i++) {
    if (list[i - 1]!.ID > list[i]!.ID) return list.sort((a, b) => a.ID - b.ID);
  }
  return list;
}

// ---- the plain-data shape node/ consumes (node-types.ts NodeNetMap; its peers are PlainNetMapPeer) ----

export interface PlainNetMapPeer {
  id: string;
  name: string;
  nodeKey: Uint8Array;
  discoKey?: Uint8Array;
  addresses: string[];
  allowedIPs?: string[] | null;
  homeDerp?: number;
  online?: boolean;
  os?: string;
  /** When control last saw the peer connected (RFC 3339), for offline peers. */
  lastSeen?: string;
  /** The peer's SSH host keys (Hostinfo.sshHostKeys, OpenSSH "type base64" lines); non-empty
   *  means it runs Tailscale SSH (tailcfg Hostinfo.TailscaleSSHEnabled). */
  sshHostKeys?: string[];
}

export interface PlainDerpRegion {
  regionId: number;
  regionCode?: string;
  regionName?: string;
  nodes: {
    name: string;
    regionId: number;
    hostName: string;
    ipv4?: string;
    ipv6?: string;
    derpPort?: number;
    insecureForTests?: boolean;
    stunPort?: number;
  }[];
}

export interface PlainNetMap {
  self: { name: string; addresses: string[]; user?: string };
  peers: PlainNetMapPeer[];
  derpMap?: { regions: PlainDerpRegion[] };
  packetFilter?: FilterRule[] | null;
  domain?: string;
  /** Names of peers left out of `peers` because control marked their node key expired. */
  expiredPeers?: string[];
  /** Stands for this `peers` list: the same object as long as no peer changed. */
  peersVersion?: object;
  /**
   * How `peers` differs from the list whose peersVersion was `from`: the peers added or changed (new
   * objects), and the ids of those gone. A consumer that applied `from` may apply just this.
   */
  peerDelta?: { from: object; changed: PlainNetMapPeer[]; removed: string[] };
}

function keyOrUndefined(kind: 'nodekey' | 'discokey', text: string | undefined): Uint8Array | undefined {
  if (!text) return undefined;
  try {
    return keyFromText(kind, text);
  } catch {
    return undefined;
  }
}

/**
 * The plain peer made from each Node object (null: left out, no usable key). applyMapResponse
 * replaces a Node object whenever anything about it changes and keeps it otherwise, so a delta
 * that touches 10 of 10,000 peers converts 10, and the node sees the other 9,990 as the very same
 * objects (node.ts tells changed peers by identity).
 */
const plainPeers = new WeakMap<Node, PlainNetMapPeer | null>();

function plainPeer(p: Node): PlainNetMapPeer | null {
  const cached = plainPeers.get(p);
  if (cached !== undefined) return cached;
  const nodeKey = keyOrUndefined('nodekey', p.Key);
  const out: PlainNetMapPeer | null = !nodeKey
    ? null
    : {
        id: String(p.ID),
        name: p.Name,
        nodeKey,
        discoKey: keyOrUndefined('discokey', p.DiscoKey),
        addresses: p.Addresses ?? [],
        allowedIPs: effectiveAllowedIPs(p),
        homeDerp: p.HomeDERP || undefined,
        online: p.Online ?? undefined,
        os: p.Hostinfo?.OS,
        ...(p.LastSeen ? { lastSeen: p.LastSeen } : {}),
        ...(p.Hostinfo?.sshHostKeys?.length ? { sshHostKeys: p.Hostinfo.sshHostKeys } : {}),
      };
  plainPeers.set(p, out);
  return out;
}

/** The plain peer list made for each NetworkMap.peers (sorted by ID), to be patched by the next delta. */
const plainLists = new WeakMap<ReadonlyMap<NodeID, Node>, { peers: PlainNetMapPeer[]; expired: string[] }>();

function byId(list: PlainNetMapPeer[], id: number): number {
  let lo = 0,
    hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Number(list[mid]!.id) < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The previous list with a delta applied, without walking every peer: O(changes · log peers)
 * plus one copy of the array. Undefined when it cannot be (no previous list, an expired peer).
 */
function patchedList(
  nm: NetworkMap,
): { peers: PlainNetMapPeer[]; expired: string[]; changed: PlainNetMapPeer[]; removed: string[] } | undefined {
  const d = nm.peerDelta;
  const prev = d && plainLists.get(d.from);
  if (!d || !prev || prev.expired.length) return undefined;
  const peers = prev.peers.slice();
  const changed: PlainNetMapPeer[] = [];
  const removed: string[] = [];
  const drop = (id: number) => {
    const i = byId(peers, id);
    if (i < peers.length && peers[i]!.id === String(id)) {
      peers.splice(i, 1);
      removed.push(String(id));
    }
  };
  for (const id of d.removed) drop(id);
  for (const id of d.changed) {
    const n = nm.peers.get(id);
    if (!n || n.Expired) return undefined;
    const plain = plainPeer(n);
    if (!plain) {
      drop(id);
      continue;
    }
    const i = byId(peers, id);
    if (i < peers.length && peers[i]!.id === plain.id) peers[i] = plain;
    else peers.splice(i, 0, plain);
    changed.push(plain);
  }
  return { peers, expired: [], changed, removed };
}

export function toPlainNetMap(nm: NetworkMap): PlainNetMap {
  const selfUser = nm.self?.User !== undefined ? nm.userProfiles.get(nm.self.User)?.LoginName : undefined;
  let list = plainLists.get(nm.peers);
  let peerDelta: PlainNetMap['peerDelta'];
  if (!list) {
    const patched = patchedList(nm);
    if (patched) {
      list = { peers: patched.peers, expired: patched.expired };
      peerDelta = { from: nm.peerDelta!.from, changed: patched.changed, removed: patched.removed };
    } else {
      const peers: PlainNetMapPeer[] = [];
      const expired: string[] = [];
      for (const p of peerList(nm)) {
        // wgengine/wgcfg/nmcfg WGCfg skips expired peers: control has (or will have) rotated their
        // node key, so no session with them should be set up or kept.
        if (p.Expired) {
          expired.push(p.Name);
          continue;
        }
        const plain = plainPeer(p);
        if (plain) peers.push(plain);
      }
      list = { peers, expired };
    }
    plainLists.set(nm.peers, list);
  }
  const peers = list.peers;
  const expiredPeers = list.expired;
  const regions: PlainDerpRegion[] = [];
  for (const r of Object.values(nm.derpMap?.Regions ?? {})) {
    if (!r) continue;
    regions.push({
      regionId: r.RegionID,
      regionCode: r.RegionCode,
      regionName: r.RegionName,
      nodes: (r.Nodes ?? []).map((n) => ({
        name: n.Name,
        regionId: n.RegionID,
        hostName: n.HostName,
        ipv4: n.IPv4,
        ipv6: n.IPv6,
        derpPort: n.DERPPort,
        insecureForTests: n.InsecureForTests,
        stunPort: n.STUNPort,
      })),
    });
  }
  regions.sort((a, b) => a.regionId - b.regionId);
  return {
    self: { name: nm.self?.Name ?? '', addresses: nm.self?.Addresses ?? [], user: selfUser },
    peers,
    derpMap: nm.derpMap ? { regions } : undefined,
    packetFilter: nm.packetFilter,
    domain: nm.domain,
    ...(expiredPeers.length ? { expiredPeers } : {}),
    peersVersion: nm.peers,
    ...(peerDelta ? { peerDelta } : {}),
  };
}
