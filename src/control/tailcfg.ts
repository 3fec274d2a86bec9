// A typed subset of tailscale.com/tailcfg (tailcfg/tailcfg.go, v1.102.x). Field names are
// exactly the JSON names Go's encoding/json produces (exported field names unless tagged).
// Keys are text ("nodekey:<hex>", "mkey:<hex>", "discokey:<hex>"); times are RFC 3339 strings.

/**
 * The capability version we claim. 113 is the lowest Headscale v0.29 accepts; claiming it commits
 * us to: Node.HomeDERP on peers (111), nil AllowedIPs meaning Addresses (112), and sending
 * Hostinfo.IngressEnabled when funnel is on (113; we never run funnel, so it stays unset).
 * (tailcfg.go CurrentCapabilityVersion history.) We implement nothing a higher version promises.
 */
export const CAPABILITY_VERSION = 113;

export type NodeID = number;
export type UserID = number;

export interface NetInfo {
  MappingVariesByDestIP?: boolean | null;
  WorkingIPv6?: boolean | null;
  OSHasIPv6?: boolean | null;
  WorkingUDP?: boolean | null;
  WorkingICMPv4?: boolean | null;
  HavePortMap?: boolean;
  UPnP?: boolean | null;
  PMP?: boolean | null;
  PCP?: boolean | null;
  PreferredDERP?: number;
  LinkType?: string;
  DERPLatency?: Record<string, number>;
  FirewallMode?: string;
}

export interface Hostinfo {
  IPNVersion?: string;
  FrontendLogID?: string;
  BackendLogID?: string;
  OS?: string;
  OSVersion?: string;
  Container?: boolean;
  Env?: string;
  Distro?: string;
  App?: string;
  Desktop?: boolean;
  Package?: string;
  DeviceModel?: string;
  Hostname?: string;
  ShieldsUp?: boolean;
  ShareeNode?: boolean;
  NoLogsNoSupport?: boolean;
  WireIngress?: boolean;
  IngressEnabled?: boolean;
  AllowsUpdate?: boolean;
  Machine?: string;
  GoArch?: string;
  GoVersion?: string;
  RoutableIPs?: string[];
  RequestTags?: string[];
  Services?: { Proto: string; Port: number; Description?: string }[];
  NetInfo?: NetInfo;
  sshHostKeys?: string[];
  Cloud?: string;
  Userspace?: boolean | null;
  UserspaceRouter?: boolean | null;
}

export interface RegisterResponseAuth {
  Provider?: string;
  LoginName?: string;
  AuthKey?: string;
}

export interface RegisterRequest {
  Version: number;
  NodeKey: string;
  OldNodeKey: string;
  NLKey?: string;
  Auth?: RegisterResponseAuth | null;
  /** Zero time = no request; a past time asks control to expire the key (logout). */
  Expiry?: string;
  Followup?: string;
  Hostinfo?: Hostinfo | null;
  Ephemeral?: boolean;
  Tailnet?: string;
}

export interface User {
  ID: UserID;
  DisplayName?: string;
  ProfilePicURL?: string;
  Created?: string;
}

export interface Login {
  ID?: number;
  Provider?: string;
  LoginName?: string;
  DisplayName?: string;
  ProfilePicURL?: string;
}

export interface RegisterResponse {
  User?: User;
  Login?: Login;
  NodeKeyExpired?: boolean;
  MachineAuthorized?: boolean;
  AuthURL?: string;
  NodeKeySignature?: string;
  Error?: string;
}

export interface MapRequest {
  Version: number;
  Compress?: string;
  KeepAlive?: boolean;
  NodeKey: string;
  DiscoKey?: string;
  Stream?: boolean;
  Hostinfo?: Hostinfo | null;
  MapSessionHandle?: string;
  MapSessionSeq?: number;
  Endpoints?: string[];
  EndpointTypes?: number[];
  TKAHead?: string;
  ReadOnly?: boolean;
  OmitPeers?: boolean;
  DebugFlags?: string[];
}

export interface Node {
  ID: NodeID;
  StableID?: string;
  Name: string;
  User?: UserID;
  Sharer?: UserID;
  Key: string;
  KeyExpiry?: string;
  KeySignature?: string;
  Machine?: string;
  DiscoKey?: string;
  Addresses?: string[] | null;
  AllowedIPs?: string[] | null;
  Endpoints?: string[] | null;
  /** Legacy "127.3.3.40:<region>" form of HomeDERP. */
  DERP?: string;
  HomeDERP?: number;
  Hostinfo?: Hostinfo | null;
  Created?: string;
  Cap?: number;
  Tags?: string[];
  PrimaryRoutes?: string[];
  LastSeen?: string | null;
  Online?: boolean | null;
  MachineAuthorized?: boolean;
  Capabilities?: string[];
  CapMap?: Record<string, unknown[] | null>;
  UnsignedPeerAPIOnly?: boolean;
  ComputedName?: string;
  ComputedNameWithHost?: string;
  Expired?: boolean;
  IsWireGuardOnly?: boolean;
  IsJailed?: boolean;
}

export interface PeerChange {
  NodeID: NodeID;
  DERPRegion?: number;
  Cap?: number;
  CapMap?: Record<string, unknown[] | null>;
  Endpoints?: string[];
  Key?: string;
  KeySignature?: string;
  DiscoKey?: string;
  Online?: boolean | null;
  LastSeen?: string | null;
  KeyExpiry?: string | null;
}

export interface DERPNode {
  Name: string;
  RegionID: number;
  HostName: string;
  CertName?: string;
  IPv4?: string;
  IPv6?: string;
  STUNPort?: number;
  STUNOnly?: boolean;
  DERPPort?: number;
  InsecureForTests?: boolean;
  STUNTestIP?: string;
  CanPort80?: boolean;
}

export interface DERPRegion {
  RegionID: number;
  RegionCode: string;
  RegionName: string;
  Latitude?: number;
  Longitude?: number;
  Avoid?: boolean;
  NoMeasureNoHome?: boolean;
  Nodes: DERPNode[] | null;
}

export interface DERPMap {
  HomeParams?: { RegionScore?: Record<string, number> } | null;
  /** JSON object keyed by decimal region id; a null region means "delete". */
  Regions: Record<string, DERPRegion | null> | null;
  OmitDefaultRegions?: boolean;
}

export interface DNSResolver {
  Addr: string;
  BootstrapResolution?: string[];
  UseWithExitNode?: boolean;
}

export interface DNSRecord {
  Name: string;
  Type?: string;
  Value: string;
}

export interface DNSConfig {
  Resolvers?: DNSResolver[];
  Routes?: Record<string, DNSResolver[] | null>;
  FallbackResolvers?: DNSResolver[];
  Domains?: string[];
  Proxied?: boolean;
  Nameservers?: string[];
  CertDomains?: string[];
  ExtraRecords?: DNSRecord[];
  ExitNodeFilteredSet?: string[];
}

export interface PortRange {
  First: number;
  Last: number;
}

export interface NetPortRange {
  IP: string;
  Bits?: number | null;
  Ports: PortRange;
}

export interface CapGrant {
  Dsts: string[];
  Caps?: string[];
  CapMap?: Record<string, unknown[] | null>;
}

export interface FilterRule {
  SrcIPs: string[];
  SrcBits?: number[] | null;
  DstPorts?: NetPortRange[];
  IPProto?: number[];
  CapGrant?: CapGrant[];
}

export interface UserProfile {
  ID: UserID;
  LoginName: string;
  DisplayName: string;
  ProfilePicURL?: string;
}

export interface PingRequest {
  URL: string;
  URLIsNoise?: boolean;
  Log?: boolean;
  Types?: string;
  IP?: string;
  Payload?: string;
}

export interface SSHPolicy {
  rules: unknown[] | null;
}

export interface MapResponse {
  KeepAlive?: boolean;
  PingRequest?: PingRequest | null;
  PopBrowserURL?: string;
  Node?: Node | null;
  DERPMap?: DERPMap | null;
  Peers?: Node[] | null;
  PeersChanged?: Node[] | null;
  PeersRemoved?: NodeID[] | null;
  PeersChangedPatch?: (PeerChange | null)[] | null;
  PeerSeenChange?: Record<string, boolean> | null;
  OnlineChange?: Record<string, boolean> | null;
  DNSConfig?: DNSConfig | null;
  Domain?: string;
  CollectServices?: string;
  PacketFilter?: FilterRule[] | null;
  PacketFilters?: Record<string, FilterRule[] | null> | null;
  UserProfiles?: UserProfile[] | null;
  Health?: string[] | null;
  SSHPolicy?: SSHPolicy | null;
  ControlTime?: string | null;
  Debug?: unknown;
  ClientVersion?: unknown;
}

/** tailcfg.OverTLSPublicKeyResponse, served at GET /key?v=<capver>. */
export interface OverTLSPublicKeyResponse {
  legacyPublicKey?: string;
  publicKey: string;
}
