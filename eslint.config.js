// Lint: the layer order of src/ (scripts/lint/layers.js) and core code that never touches the DOM.
// Style is the code's own; this lints what a reviewer would otherwise have to catch by eye.
import tseslint from 'typescript-eslint';
import tailtab from './scripts/lint/layers.js';

const DOM_GLOBALS = ['window', 'document', 'localStorage', 'sessionStorage'].map((name) => ({
  name,
  message: 'core code runs in a Worker and under Node.js: the DOM belongs to src/ui/',
}));

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'lib/**', '.rig/**', 'test-results/**', 'public/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser, ecmaVersion: 2023, sourceType: 'module' },
    plugins: { tailtab, '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'tailtab/layers': 'error',
      'no-debugger': 'error',
      'no-dupe-keys': 'error',
      'no-self-compare': 'error',
      'no-unsafe-finally': 'error',
      'no-unreachable': 'error',
      'no-constant-binary-expression': 'error',
    },
  },
  {
    // Test support is `*.testkit.ts`, imported by tests, other kits and bench only: never by code
    // that ships (scripts/npm-pack.test.ts checks the package holds none).
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts', 'src/**/*.testkit.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/*.testkit.js'], message: 'test kits are for tests and bench only' }] },
      ],
    },
  },
  {
    // A file is one concept and a function one step (#12): past these sizes a reader loses the
    // thread. Blank lines and comments do not count (a comment that says why is never a cost).
    // Tests are exempt: a describe block holds its cases. A justified exception carries an
    // eslint-disable comment that says why.
    files: ['src/**/*.ts'],
    ignores: ['src/**/*.test.ts'],
    rules: {
      'max-lines': ['error', { max: 600, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 120, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    // Not a justified exception but a known debt: <tailtab-app> grew past 600 lines of code while
    // the everyday work (#22) was being merged, in parallel with the size check. Split it by role
    // (the connect and profile flow, the tabs and routing, the state pushed from the node) and
    // remove this entry.
    files: ['src/ui/app.ts'],
    rules: { 'max-lines': ['error', { max: 700, skipBlankLines: true, skipComments: true }] },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/ui/**', 'src/**/*.test.ts'],
    rules: { 'no-restricted-globals': ['error', ...DOM_GLOBALS] },
  },
);
