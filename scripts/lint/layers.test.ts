// The layer rule plays the wrong import a newcomer might write, and lets the right ones through.
import { resolve } from 'node:path';
import { ESLint, RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import { afterAll, describe, expect, it } from 'vitest';
import { layersRule } from './layers.js';

// RuleTester runs its cases through the test framework's hooks when it is given them.
Object.assign(RuleTester, { afterAll, describe, it, itOnly: it.only });

const root = resolve('/repo/src');
const at = (f: string) => resolve(root, f);
const tester = new RuleTester({
  languageOptions: { parser: tseslint.parser, ecmaVersion: 2023, sourceType: 'module' },
});

tester.run('tailtab/layers', layersRule, {
  valid: [
    { filename: at('node/node.ts'), code: "import { x } from '../netstack/stack.js';", options: [{ srcRoot: root }] },
    {
      filename: at('control/h2/client.ts'),
      code: "import { y } from '../../platform/clock.js'; import { z } from '../client.js';",
      options: [{ srcRoot: root }],
    },
    {
      filename: at('ui/views/a.ts'),
      code: "import '../../node/node.js'; export * from '../../ssh/keys.js';",
      options: [{ srcRoot: root }],
    },
    { filename: at('netstack/tcp.ts'), code: "import { fc } from 'fast-check';", options: [{ srcRoot: root }] },
    { filename: '/repo/e2e/x.test.ts', code: "import '../src/ui/app.js';", options: [{ srcRoot: root }] },
  ],
  invalid: [
    {
      filename: at('netstack/tcp.ts'),
      code: "import { TailnetNode } from '../node/node.js';",
      options: [{ srcRoot: root }],
      errors: [{ messageId: 'upward' }],
    },
    {
      filename: at('node/node.ts'),
      code: "import { App } from '../ui/app.js';",
      options: [{ srcRoot: root }],
      errors: [{ messageId: 'upward' }],
    },
    {
      filename: at('control/h2/client.ts'),
      code: "export { a } from '../../derp-client/client.js';",
      options: [{ srcRoot: root }],
      errors: [{ messageId: 'upward' }],
    },
    {
      filename: at('crypto/x.ts'),
      code: "const m = await import('../noise/handshake.js');",
      options: [{ srcRoot: root }],
      errors: [{ messageId: 'upward' }],
    },
    {
      filename: at('gadgets/x.ts'),
      code: "import '../node/node.js';",
      options: [{ srcRoot: root }],
      errors: [{ messageId: 'unknown' }],
    },
  ],
});

describe('the project lint config', () => {
  it('reports a wrong import in a real source file with the layers named', async () => {
    const eslint = new ESLint({ cwd: resolve(import.meta.dirname, '../..') });
    const [r] = await eslint.lintText(
      "import { TailnetNode } from '../node/node.js';\nexport const n = TailnetNode;\n",
      { filePath: resolve(import.meta.dirname, '../../src/netstack/imagined.ts') },
    );
    expect(r!.messages.map((m) => m.message)).toEqual([
      expect.stringMatching(/^netstack\/ may not import node\/ .*netstack may use crypto, platform/),
    ]);
  });
  it('refuses the DOM in core code', async () => {
    const eslint = new ESLint({ cwd: resolve(import.meta.dirname, '../..') });
    const [r] = await eslint.lintText('export const t = document.title;\n', {
      filePath: resolve(import.meta.dirname, '../../src/node/imagined.ts'),
    });
    expect(r!.messages.map((m) => m.ruleId)).toEqual(['no-restricted-globals']);
  });
});
