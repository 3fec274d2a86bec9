// The JSON fields of tailcfg.MapResponse and tailcfg.Node as of tailscale v1.102.3 (tailcfg.go):
// those netmap.ts reads and those it knowingly leaves alone. A newer control server adds fields
// (v1.104's capability 148 adds Node.StableTailnetID, for one); JSON lets us skip them, and this
// module counts them so a person looking at the counters can tell "control speaks a newer dialect"
// from "nothing happened". Never logged per map: a stream sends the same fields every message.

const MAP_RESPONSE_FIELDS = new Set([
  'MapSessionHandle',
  'Seq',
  'KeepAlive',
  'PingRequest',
  'PopBrowserURL',
  'Node',
  'DERPMap',
  'Peers',
  'PeersChanged',
  'PeersRemoved',
  'PeersChangedPatch',
  'PeerSeenChange',
  'OnlineChange',
  'DNSConfig',
  'Domain',
  'CollectServices',
  'PacketFilter',
  'PacketFilters',
  'UserProfiles',
  'Health',
  'DisplayMessages',
  'SSHPolicy',
  'ControlTime',
  'TKAInfo',
  'DomainDataPlaneAuditLogID',
  'Debug',
  'ControlDialPlan',
  'ClientVersion',
  'DefaultAutoUpdate',
]);

const NODE_FIELDS = new Set([
  'ID',
  'StableID',
  'Name',
  'User',
  'Sharer',
  'Key',
  'KeyExpiry',
  'KeySignature',
  'Machine',
  'DiscoKey',
  'Addresses',
  'AllowedIPs',
  'Endpoints',
  'DERP',
  'HomeDERP',
  'Hostinfo',
  'Created',
  'Cap',
  'Tags',
  'PrimaryRoutes',
  'LastSeen',
  'Online',
  'MachineAuthorized',
  'Capabilities',
  'CapMap',
  'UnsignedPeerAPIOnly',
  'ComputedName',
  'ComputedNameWithHost',
  'DataPlaneAuditLogID',
  'Expired',
  'SelfNodeV4MasqAddrForThisPeer',
  'SelfNodeV6MasqAddrForThisPeer',
  'IsWireGuardOnly',
  'IsJailed',
  'ExitNodeDNSResolvers',
]);

export interface UnknownFieldStats {
  /** Fields of a MapResponse, or of our own Node in it, that tailcfg v1.102.3 does not have. */
  unknownMapFields: number;
  /** The last such field's name, as "MapResponse.X" or "Node.X" (at most 80 characters). */
  lastUnknownMapField: string;
}

/**
 * Counts the unknown fields of one MapResponse: its own and those of its `Node` (ours). Peers'
 * Node objects are not walked: they carry the same fields as ours, and a 10,000-peer map would pay
 * for it on every full map.
 */
export function countUnknownMapFields(resp: unknown, stats: UnknownFieldStats): void {
  if (!resp || typeof resp !== 'object' || Array.isArray(resp)) return;
  const note = (where: string, k: string) => {
    stats.unknownMapFields++;
    stats.lastUnknownMapField = `${where}.${k}`.slice(0, 80);
  };
  for (const k of Object.keys(resp)) if (!MAP_RESPONSE_FIELDS.has(k)) note('MapResponse', k);
  const node = (resp as { Node?: unknown }).Node;
  if (node && typeof node === 'object' && !Array.isArray(node)) {
    for (const k of Object.keys(node)) if (!NODE_FIELDS.has(k)) note('Node', k);
  }
}
