// The real lower layers behind TailnetNode's structural interfaces: control/ (ControlClient over
// ts2021), derp-client/ (DerpPool) and netstack/. This file is browser-safe: it only uses the global
// WebSocket and fetch when present. Node.js passes its `ws`-backed factories in layers.node.ts.
//
// The adapters here are deliberately small: they convert control's NetworkMap into the plain shape
// node.ts consumes (control/netmap.ts toPlainNetMap) and fill in the DERP map fields the pool needs.

import { ControlClient } from '../control/client.js';
import { toPlainNetMap } from '../control/netmap.js';
import { IdbStore, MemoryStore, type ControlStore } from '../control/storage.js';
import { coalescingWebSocketFactory } from '../derp-client/coalesce.js';
import { DerpPool, type DerpMap } from '../derp-client/pool.js';
import type { AeadEngine } from '../noise/wireguard/aead-batch.js';
import type { WebSocketFactory, WebSocketLike } from '../platform/websocket.js';
import { createNetStack as createRealNetStack } from '../netstack/index.js';
import type {
  ControlSession,
  DerpMapLike,
  DerpPoolLike,
  NetStackLike,
  NetStackStartOptions,
  NodeLayers,
  NodeNetMap,
} from './node.js';

export interface LayerPlatform {
  /** Default WebSocket factory when UpConfig.webSocketFactory is not given. */
  webSocketFactory?: WebSocketFactory;
  /** Round trip to a DERP latency-check URL in ms, for choosing the home region. */
  fetchLatency?: (url: string) => Promise<number>;
  /** WireGuard AEAD engine (Node: node:crypto, see aead.node.ts); default: WebCrypto if it has ChaCha20-Poly1305, else noble. */
  aeadEngine?: () => AeadEngine | Promise<AeadEngine>;
  /** Replaces the netstack (tests). */
  createNetStack?: (o: NetStackStartOptions) => NetStackLike;
}

export class LayersMissingError extends Error {}

/** A factory over the global WebSocket (browsers, Workers, Node >= 22). */
export function globalWebSocketFactory(): WebSocketFactory | undefined {
  const WS = (globalThis as { WebSocket?: new (url: string, protocols?: string[]) => WebSocketLike }).WebSocket;
  if (!WS) return undefined;
  return (url, protocols) => {
    const ws = new WS(url, protocols);
    ws.binaryType = 'arraybuffer';
    return ws;
  };
}

/** fetch()-based latency probe; the derper answers /derp/latency-check with CORS "*". */
export function fetchLatencyProbe(
  now: () => number = () => performance.now(),
): ((url: string) => Promise<number>) | undefined {
  const f = (globalThis as { fetch?: typeof fetch }).fetch;
  if (!f) return undefined;
  return async (url) => {
    const t0 = now();
    const res = await f(url, { cache: 'no-store' });
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw new Error(`latency check ${url}: HTTP ${res.status}`);
    return now() - t0;
  };
}

/** Control state store for a profile: IndexedDB when the platform has it (and not ephemeral), else memory. */
export function defaultStore(profileId = 'default', ephemeral = false): ControlStore {
  if (!ephemeral && typeof (globalThis as { indexedDB?: unknown }).indexedDB !== 'undefined')
    return new IdbStore(profileId);
  return new MemoryStore();
}

function toDerpMap(m: DerpMapLike): DerpMap {
  return {
    regions: m.regions.map((r) => ({
      regionId: r.regionId,
      regionCode: r.regionCode ?? String(r.regionId),
      regionName: r.regionName ?? r.regionCode ?? String(r.regionId),
      nodes: r.nodes as DerpMap['regions'][number]['nodes'],
    })),
  };
}

function isControlStore(s: unknown): s is ControlStore {
  return !!s && typeof (s as ControlStore).load === 'function' && typeof (s as ControlStore).save === 'function';
}

/** The session TailnetNode holds; `client` is exposed for diagnostics and tests. */
export interface RealControlSession extends ControlSession {
  client: ControlClient;
}

export function createLayers(platform: LayerPlatform = {}): NodeLayers {
  const wsFactory = (given: WebSocketFactory | undefined): WebSocketFactory => {
    const f = given ?? platform.webSocketFactory ?? globalWebSocketFactory();
    if (!f)
      throw new LayersMissingError(
        'tailtab node: no WebSocket on this platform; pass webSocketFactory (Node: use layers.node.ts)',
      );
    return f;
  };
  // DERP frames over the platform's own WebSocket (browser, Worker) share messages until the next
  // task (derp-client/coalesce.ts: one IPC per message there). A given factory — Node's `ws`, which
  // corks its socket per tick instead (websocket.node.ts), or a test's — is used as it is.
  const derpWsFactory = (given: WebSocketFactory | undefined): WebSocketFactory => {
    const f = wsFactory(given);
    return given === undefined && platform.webSocketFactory === undefined ? coalescingWebSocketFactory(f) : f;
  };
  return {
    async startControl(o): Promise<RealControlSession> {
      // Typed, but a JavaScript caller can still pass anything: refuse it here, not at the first save.
      if (o.storage !== undefined && !isControlStore(o.storage))
        throw new Error('UpConfig.storage must be a ControlStore (load/save)');
      const store = o.storage ?? new MemoryStore();
      const client = new ControlClient({
        controlUrl: o.controlUrl,
        store,
        webSocketFactory: wsFactory(o.webSocketFactory),
        clock: o.clock,
        random: o.random,
        discoPublicKey: o.discoPublicKey,
        controlKey: o.controlKey,
        wallTime: () => new Date().toISOString(),
        log: o.log,
      });
      // The node subscribes after this resolves; the first map may already have arrived by then.
      let last: NodeNetMap | undefined;
      const cbs: ((nm: NodeNetMap) => void)[] = [];
      client.onNetMap((nm) => {
        if (!nm.self) return; // a map without ourselves cannot route anything yet
        last = toPlainNetMap(nm) as NodeNetMap;
        for (const cb of cbs) cb(last);
      });
      try {
        await client.login({
          authKey: o.authKey,
          hostname: o.hostname,
          ephemeral: o.ephemeral,
          onAuthUrl: o.onAuthUrl,
        });
        client.start();
      } catch (e) {
        await client.close().catch(() => {});
        throw e;
      }
      return {
        client,
        get nodePrivateKey() {
          return client.nodeKey;
        },
        onNetMap(cb) {
          cbs.push(cb);
          if (last) cb(last);
        },
        onState(cb) {
          client.onState(cb);
        },
        status: () => client.status(),
        setPreferredDerp(r) {
          client.setPreferredDerp(r);
        },
        get preferredDerp() {
          return client.preferredDerpRegion;
        },
        get stats() {
          return client.stats;
        },
        logout: () => client.logout(),
        close: () => client.close(),
      };
    },
    createDerpPool(o) {
      const pool = new DerpPool({
        privateKey: o.privateKey,
        derpMap: toDerpMap(o.derpMap),
        homeRegion: o.homeRegion,
        webSocketFactory: derpWsFactory(o.webSocketFactory),
        clock: o.clock,
        random: o.random,
        allowInsecure: o.allowInsecure,
        fetchLatency: platform.fetchLatency ?? fetchLatencyProbe(),
        onPacket: o.onPacket,
        appName: 'tailtab',
      });
      return {
        pool,
        start: () => pool.start(),
        setDerpMap: (m) => pool.setDerpMap(toDerpMap(m)),
        setHomeRegion: (r) => pool.setHomeRegion(r),
        send: (r, k, p) => pool.send(r, k, p),
        chooseHomeRegion: () => pool.chooseHomeRegion(),
        status: () => pool.status(),
        close: () => pool.close(),
      } as DerpPoolLike & { pool: DerpPool };
    },
    aeadEngine: platform.aeadEngine,
    createNetStack(o) {
      return (platform.createNetStack ?? createRealNetStack)(o);
    },
  };
}

/** The layers for this platform (browser/Worker: global WebSocket and fetch). */
export async function loadDefaultLayers(platform: LayerPlatform = {}): Promise<NodeLayers> {
  return createLayers(platform);
}
