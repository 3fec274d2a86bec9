// The node Worker's entry: the app layer's NodeService (app/node-service.ts) over one TailnetNode
// (app/worker-node.ts), SSH keys and known hosts in IndexedDB (app/store.ts), and the web-view
// proxy (app/web-proxy.ts), serving NodeApi to every page attached. As a SharedWorker each window
// connects through `connect`, and all share one node, one login and one set of SSH sessions; as a
// dedicated Worker the global scope itself is the port. Keys and sockets live here; nothing here
// touches the DOM.
/// <reference lib="webworker" />
import { NodeService } from '../../app/node-service.js';
import { IdbWorkerStore } from '../../app/store.js';
import { webProxy } from '../../app/web-proxy.js';
import { createWorkerNode } from '../../app/worker-node.js';
import { RtcRelay } from '../../app/rtc-relay.js';
import type { PortLike } from '../../platform/port.js';

// The WebRTC path's peer connections live in a page (no RTCPeerConnection in a Worker): each page
// offers a port for them (ui/rtc-host.ts), the newest is used (app/rtc-relay.ts).
// A SharedWorker cannot receive an RTCDataChannel: there the page keeps the channels and relays.
const relay = new RtcRelay({ transferChannels: !('onconnect' in globalThis) });
const offersRtcHost = (port: PortLike) =>
  port.addEventListener('message', (e: MessageEvent) => {
    const m = e.data as { kind?: string; port?: MessagePort } | null;
    if (m?.kind === 'rtc-host' && m.port) relay.addHost(m.port);
  });

const service = new NodeService({
  // A reload finds its terminals still running (the SharedWorker outlives the page for a while).
  detachGraceMs: 60_000,
  createNode: () => createWorkerNode({ createPeerConnection: relay.factory }),
  persistentStore: new IdbWorkerStore(),
  httpProxy: webProxy(),
});

const scope = globalThis as unknown as {
  addEventListener(t: string, cb: (e: MessageEvent) => void): void;
  onconnect?: unknown;
};
if ('onconnect' in scope) {
  scope.addEventListener('connect', (e: MessageEvent) => {
    offersRtcHost(e.ports[0]! as PortLike);
    service.attach(e.ports[0]! as PortLike);
  });
} else {
  offersRtcHost(globalThis as unknown as PortLike);
  service.attach(globalThis as unknown as PortLike);
}
