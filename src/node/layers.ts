// The real lower layers behind TailnetNode's structural interfaces (control/, derp-client/,
// netstack/). Those layers are being written in parallel; until they land this says so clearly
// instead of failing somewhere deep inside.

import type { NodeLayers } from './node.js';

export class LayersMissingError extends Error {}

export async function loadDefaultLayers(): Promise<NodeLayers> {
  throw new LayersMissingError(
    'tailtab node: the control/, derp-client/ and netstack/ layers are not wired yet in this build ' +
      '(src/node/layers.ts); the node runtime cannot reach a real tailnet.',
  );
}
