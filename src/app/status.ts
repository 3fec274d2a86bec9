// Status mapping (pure): the node's NodeStatus and last netmap → the NodeStatusView a page shows
// (short names, MagicDNS names, relay region names, DERP state), with errors passed through redact.
import type { NodeNetMap, NodeStatus, PeerStatus } from '../node/node.js';
import type { ControlView, DerpRegionView, NodeStatusView, PeerView } from './node-api.js';

function shortName(fqdn: string): string {
  return fqdn.replace(/\.$/, '').split('.')[0] ?? fqdn;
}

interface DerpStatusLike {
  regionId: number;
  state: string;
  home: boolean;
  rttMs?: number;
  bytesIn?: number;
  bytesOut?: number;
  drops?: number;
  lastError?: string;
  retryInMs?: number;
}

/** The netmap's peers by id, made once per netmap (a status goes out every 2 s; 10,000 peers). */
const byIdOf = new WeakMap<NodeNetMap, Map<string, NodeNetMap['peers'][number]>>();
function peersById(nm: NodeNetMap | undefined): Map<string, NodeNetMap['peers'][number]> {
  if (!nm) return new Map();
  let m = byIdOf.get(nm);
  if (!m) byIdOf.set(nm, (m = new Map(nm.peers.map((p) => [p.id, p]))));
  return m;
}

/** What a peer's view needs beyond its own status: the netmap's names and region names, the exit node. */
export interface PeerViewContext {
  regionName: Map<number, string>;
  byId: Map<string, NodeNetMap['peers'][number]>;
  exitNodeId?: string;
}

export function peerViewContext(nm: NodeNetMap | undefined, exitNodeId: string | undefined): PeerViewContext {
  const regionName = new Map<number, string>();
  for (const r of nm?.derpMap?.regions ?? [])
    regionName.set(r.regionId, r.regionName || r.regionCode || String(r.regionId));
  return { regionName, byId: peersById(nm), exitNodeId };
}

/** One peer's NodeStatus part → the page's PeerView. */
export function toPeerView(p: PeerStatus, ctx: PeerViewContext): PeerView {
  const { byId, regionName } = ctx;
  const fqdn = (byId.get(p.id)?.name ?? p.name).replace(/\.$/, '');
  const relay = p.relayRegion ?? byId.get(p.id)?.homeDerp;
  return {
    id: p.id,
    name: shortName(fqdn),
    fqdn,
    ips: p.ips,
    os: p.os ?? '',
    online: !!p.online,
    ...(p.lastSeen ? { lastSeen: p.lastSeen } : {}),
    tailscaleSsh: !!p.sshHostKeys?.length,
    // Hostinfo.OS "js": a node in a browser or JavaScript runtime (tailtab, Tailscale's tsconnect),
    // which runs no SSH, SFTP or web server for others.
    ...(p.os === 'js' ? { browserNode: true } : {}),
    relayRegion: relay,
    relayRegionName: relay !== undefined ? regionName.get(relay) : undefined,
    ...(p.path ? { path: p.path.kind } : {}),
    ...(p.path?.kind === 'webrtc' && p.path.rttMs !== undefined ? { pathRttMs: p.path.rttMs } : {}),
    handshakeAgeMs: p.handshakeAgeMs,
    rxBytes: p.rxBytes,
    txBytes: p.txBytes,
    ...(p.subnetRoutes?.length ? { subnetRoutes: p.subnetRoutes } : {}),
    ...(p.exitNode ? { offersExitNode: true } : {}),
    ...(ctx.exitNodeId === p.id ? { isExitNode: true } : {}),
  };
}

/** NodeStatus (+ the last netmap for names and DERP region names) → the page's NodeStatusView. */
export function toStatusView(
  st: NodeStatus,
  nm: NodeNetMap | undefined,
  redact: (s: string) => string = (s) => s,
): NodeStatusView {
  const ctx = peerViewContext(nm, st.routes?.exitNodeId);
  const regionName = ctx.regionName;
  const peers: PeerView[] = st.peers.map((p) => toPeerView(p, ctx));
  const derp: DerpRegionView[] = Array.isArray(st.derp)
    ? (st.derp as DerpStatusLike[]).map((d) => ({
        regionId: d.regionId,
        regionName: regionName.get(d.regionId) ?? String(d.regionId),
        state: d.state,
        home: d.home,
        rttMs: d.rttMs,
        bytesIn: d.bytesIn ?? 0,
        bytesOut: d.bytesOut ?? 0,
        drops: d.drops ?? 0,
        lastError: d.lastError ? redact(d.lastError) : undefined,
        ...(d.state !== 'connected' && d.retryInMs !== undefined ? { retryInMs: d.retryInMs } : {}),
      }))
    : [];
  const control: ControlView | undefined = st.control
    ? {
        state: st.control.state,
        ...(st.control.lastError ? { error: redact(st.control.lastError) } : {}),
        ...(st.control.retryInMs !== undefined ? { retryInMs: st.control.retryInMs } : {}),
      }
    : undefined;
  const selfFqdn = (st.self?.name ?? nm?.self.name ?? '').replace(/\.$/, '');
  return {
    state: st.state,
    error: st.error ? redact(st.error) : undefined,
    authUrl: st.state === 'needs-login' ? st.authUrl : undefined,
    ...(st.webrtcUnavailable ? { webrtcUnavailable: st.webrtcUnavailable } : {}),
    self: st.self ? { name: shortName(selfFqdn), fqdn: selfFqdn, ips: st.self.ips, user: st.self.user } : undefined,
    peers,
    derp,
    ...(control ? { control } : {}),
    routes: {
      acceptRoutes: !!st.routes?.acceptRoutes,
      ...(st.routes?.exitNodeId ? { exitNodeId: st.routes.exitNodeId } : {}),
    },
  };
}
