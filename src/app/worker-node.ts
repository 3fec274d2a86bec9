// The node the app runs in its Worker: TailnetNode (node/node.ts) over the platform's real layers
// (node/layers.ts), plus logout.
import { TailnetNode, type NodeLayers, type UpConfig } from '../node/node.js';
import type { PeerConnectionFactory } from '../node/webrtc-peer.js';
import { loadDefaultLayers } from '../node/layers.js';
import type { NodeLike } from './context.js';

/**
 * TailnetNode plus logout: the control session made by the layers (layers.ts RealControlSession)
 * carries the ControlClient, whose logout() expires the node key at control (Headscale then
 * deletes an ephemeral node at once).
 */
export async function createWorkerNode(o: { createPeerConnection?: PeerConnectionFactory } = {}): Promise<NodeLike> {
  const base = await loadDefaultLayers();
  let session: { client?: { logout(): Promise<void> } } | undefined;
  const layers: NodeLayers = {
    ...base,
    startControl: async (o) => {
      const s = await base.startControl(o);
      session = s as typeof session;
      return s;
    },
  };
  const node = new TailnetNode(layers);
  // The WebRTC path's peer connections: the scope's own where it has them, else the page's (app/rtc-relay.ts).
  const up = node.up.bind(node);
  const own = typeof (globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection === 'function';
  if (o.createPeerConnection && !own)
    node.up = (cfg: UpConfig) =>
      up({
        ...cfg,
        webrtc: { ...cfg.webrtc, createPeerConnection: cfg.webrtc?.createPeerConnection ?? o.createPeerConnection },
      });
  return Object.assign(node, {
    async logout() {
      const s = session;
      session = undefined;
      try {
        await s?.client?.logout();
      } finally {
        await node.down();
      }
    },
  });
}
