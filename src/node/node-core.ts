// The state a TailnetNode (node.ts) shares between its roles, and its event emitter.
// TailnetNode is one object whose methods live in files by role: node-core.ts (its state and events)
// <- node-packets.ts (the packet path: netstack out, WireGuard in, cryptokey routing)
// <- node-peers.ts (peers and routes from the network map) <- node.ts (the public API).
import { toHex } from '../crypto/bytes.js';
import { secureRandom, type RandomSource } from '../crypto/random.js';
import { realClock, type Clock } from '../platform/clock.js';
import type { WireGuardDevice } from '../noise/wireguard/device.js';
import { PacketFilter, type FilterRule } from './filter.js';
import type { Magicsock } from './magicsock.js';
import type { RoutePrefs, RouteTable } from './routes.js';
import type {
  NetMapPeer,
  NodeNetMap,
  ControlSession,
  DerpPoolLike,
  NetStackLike,
  NodeLayers,
  NodeState,
  NodeEventMap,
} from './node-types.js';

/** A peer's node key as hex, made once per peer object (a map of 10,000 is mostly the same objects). */
const keyHexes = new WeakMap<NetMapPeer, string>();
export function keyHex(p: NetMapPeer): string {
  let k = keyHexes.get(p);
  if (k === undefined) keyHexes.set(p, (k = toHex(p.nodeKey)));
  return k;
}

/** The state of a TailnetNode, shared by its roles, and its events. */
export abstract class NodeCore {
  protected state: NodeState = 'stopped';
  protected error?: string;
  protected authUrl?: string;
  protected clock: Clock = realClock;
  protected random: RandomSource = secureRandom;
  protected control?: ControlSession;
  protected derp?: DerpPoolLike;
  protected wg?: WireGuardDevice;
  protected stack?: NetStackLike;
  protected magic?: Magicsock;
  protected readonly filter = new PacketFilter();
  protected routes?: RouteTable<NetMapPeer>;
  protected routePrefs: RoutePrefs = {};
  protected netmap?: NodeNetMap;
  protected nodePublicKey?: Uint8Array;
  protected discoPublicKey?: Uint8Array;
  protected homeRegion?: number;
  protected readonly listeners = new Map<string, Set<(v: unknown) => void>>();
  protected readonly pongWaiters = new Map<string, (ok: boolean) => void>();
  protected netmapReady?: { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void };
  readonly counters = {
    txNoRoute: 0,
    txToSelf: 0,
    rxSpoofedSource: 0,
    rxMalformed: 0,
    rxFiltered: 0,
    rxUnknownProto: 0,
    rxNoStack: 0,
    netmaps: 0,
    badPeerKeys: 0,
    tsmpPongs: 0,
    /** TSMP disco key advertisements (capver 144) received; ...NewKey: not the disco key the netmap has for that peer. */
    tsmpDiscoAdverts: 0,
    tsmpDiscoAdvertsNewKey: 0,
    /** WireGuard sessions reset because a peer's disco key changed (it restarted). */
    peerResets: 0,
  };

  constructor(protected readonly layers: NodeLayers) {}

  protected readonly knownWgPeers = new Set<string>();
  /** The peers (with a usable key) of the map last applied, by id. */
  protected peerById = new Map<string, NetMapPeer>();
  /** How many peers' routes claim each prefix (prefixKey): a prefix claimed twice needs a rebuild to change. */
  protected readonly routeClaims = new Map<string, number>();
  protected lastRules?: FilterRule[];
  /** NodeNetMap.peersVersion of the map applied last. */
  protected peersVersion?: object;
  /** How many current peers have each node key (hex): WireGuard and magicsock hold one entry per key. */
  protected readonly keyRefs = new Map<string, number>();
  protected readonly knownWgPeerKeys = new Map<string, Uint8Array>();
  /** Disco keys peers announced over TSMP (by node key hex), until control's map shows the same change. */
  protected readonly tsmpLearnedDisco = new Map<string, string>();

  protected emit<K extends keyof NodeEventMap>(ev: K, v: NodeEventMap[K]): void {
    for (const cb of this.listeners.get(ev) ?? []) {
      try {
        cb(v);
      } catch {
        /* a listener's bug must not break the node */
      }
    }
  }

  protected log(text: string): void {
    this.emit('log', text);
  }

  protected setState(s: NodeState, err?: string): void {
    this.state = s;
    this.error = err;
    this.emit('state', s);
  }
}
