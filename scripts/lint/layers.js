// ESLint rule `tailtab/layers`: the dependency direction of src/ as a rule, not a habit.
//   ui (views) → app (sessions) → node → control, derp-client, noise, netstack, ssh, http → crypto, platform
// A file may import its own folder and the layers below it; an import that climbs (netstack → node,
// node → ui) or reaches sideways between protocol layers is reported with the two layers named.
import { dirname, relative, resolve, sep } from 'node:path';

/** For each top folder under src/, the other top folders it may import. */
export const LAYERS = {
  platform: [],
  crypto: ['platform'],
  noise: ['crypto', 'platform'],
  netstack: ['crypto', 'platform'],
  'derp-client': ['crypto', 'platform'],
  ssh: ['crypto', 'platform'],
  http: ['crypto', 'platform'],
  control: ['noise', 'crypto', 'platform'],
  node: ['control', 'derp-client', 'noise', 'netstack', 'ssh', 'http', 'crypto', 'platform'],
  app: ['node', 'control', 'derp-client', 'noise', 'netstack', 'ssh', 'http', 'crypto', 'platform'],
  ui: ['app', 'node', 'control', 'derp-client', 'noise', 'netstack', 'ssh', 'http', 'crypto', 'platform'],
};

/** The top folder under src/ that `file` lies in, or null outside src/. */
export function layerOf(srcRoot, file) {
  const rel = relative(srcRoot, file);
  if (rel.startsWith('..') || rel === '' || !rel.includes(sep)) return null;
  return rel.split(sep)[0];
}

export const layersRule = {
  meta: {
    type: 'problem',
    docs: {
      description: 'imports follow the layer order of src/ (ui → app → node → protocol layers → crypto, platform)',
    },
    schema: [{ type: 'object', properties: { srcRoot: { type: 'string' } }, additionalProperties: false }],
    messages: {
      upward: "{{from}}/ may not import {{to}}/ ('{{source}}'): {{from}} may use {{allowed}}.",
      unknown:
        '{{from}}/ is not a known layer of src/: add it to scripts/lint/layers.js with the layers it may import.',
    },
  },
  create(context) {
    const srcRoot = context.options[0]?.srcRoot ?? resolve(context.cwd, 'src');
    const file = context.filename;
    const from = layerOf(srcRoot, file);
    if (!from) return {};
    const allowed = LAYERS[from];
    const check = (node) => {
      const source = node.source && node.source.value;
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const to = layerOf(srcRoot, resolve(dirname(file), source));
      if (!to || to === from) return;
      if (!allowed) {
        context.report({ node, messageId: 'unknown', data: { from } });
      } else if (!allowed.includes(to)) {
        context.report({
          node,
          messageId: 'upward',
          data: { from, to, source, allowed: allowed.length ? allowed.join(', ') : 'nothing outside its folder' },
        });
      }
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: (node) => check({ ...node, source: node.source }),
    };
  },
};

export default { rules: { layers: layersRule } };
