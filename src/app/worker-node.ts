// The node the app runs in its Worker: TailnetNode (node/node.ts) over the platform's real layers
// (node/layers.ts), plus logout.
import { TailnetNode, type NodeLayers } from '../node/node.js';
import { loadDefaultLayers } from '../node/layers.js';
import type { NodeLike } from './context.js';

/**
 * TailnetNode plus logout: the control session made by the layers (layers.ts RealControlSession)
 * carries the ControlClient, whose logout() expires the node key at control (Headscale then
 * deletes an ephemeral node at once).
 */
export async function createWorkerNode(): Promise<NodeLike> {
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
