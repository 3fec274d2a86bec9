// What `npm pack` would publish: builds lib/ (tsc -p tsconfig.lib.json) and dist/widget/ (vite
// build), then reads `npm pack --dry-run --json` and checks the file list against package.json:
// only lib/, dist/widget/ and the documents; no tests, test kits, e2e or rig files; every export
// target and its declarations present; every import of a packed module resolvable inside the
// package or from `dependencies`; the browser entries free of Node-only modules.
// Installing the tarball and joining a real tailnet with it is e2e/npm-package.test.ts.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  private?: boolean;
  exports: Record<string, string | Record<string, string>>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  files: string[];
};

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string; size: number }[];
}
let packed: PackResult;
let files: Set<string>;

beforeAll(async () => {
  const t0 = Date.now();
  // The builds prepack runs, done here so their output stays out of npm's JSON on stdout.
  await run('npm', ['run', 'build:lib'], { cwd: ROOT, maxBuffer: 16 << 20 });
  await run('npm', ['run', 'build'], { cwd: ROOT, maxBuffer: 16 << 20 });
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    maxBuffer: 16 << 20,
  });
  packed = (JSON.parse(stdout) as PackResult[])[0]!;
  files = new Set(packed.files.map((f) => f.path));
  console.log(
    `npm pack: ${packed.filename}, ${packed.entryCount} files, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked (built and listed in ${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
}, 240_000);

/** Every file path an `exports` entry names, with its condition. */
function exportTargets(): { subpath: string; condition: string; target: string }[] {
  return Object.entries(pkg.exports).flatMap(([subpath, v]) =>
    typeof v === 'string'
      ? [{ subpath, condition: 'default', target: v }]
      : Object.entries(v).map(([condition, target]) => ({ subpath, condition, target })),
  );
}

const rel = (p: string) => posix.normalize(p.replace(/^\.\//, ''));

/** The module specifiers a built ES module imports (static, re-export and dynamic with a literal). */
function importsOf(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(
    /^\s*(?:import|export)\s[^;]*?\sfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm,
  )) {
    out.push((m[1] ?? m[2] ?? m[3])!);
  }
  return out;
}

/** A package name from a bare specifier: '@noble/hashes/sha2.js' → '@noble/hashes'. */
const packageOf = (spec: string) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/');

/** The packed modules reachable from `entry`, and the bare specifiers they import. */
function graph(entry: string): { modules: Set<string>; bare: Set<string> } {
  const modules = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (modules.has(file)) return;
    modules.add(file);
    for (const spec of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
      if (spec.startsWith('.')) {
        const target = posix.join(posix.dirname(file), spec);
        expect(files.has(target), `${file} imports ${spec}, which is not in the package`).toBe(true);
        visit(target);
      } else {
        bare.add(spec);
      }
    }
  };
  visit(entry);
  return { modules, bare };
}

describe('npm pack', () => {
  it('is publishable: not private, named, with a files list', () => {
    expect(pkg.private).toBeUndefined();
    expect(pkg.name).toBe('tailtab');
    expect(packed.entryCount).toBe(files.size);
  });

  it('holds only lib/, dist/widget/ and the documents', () => {
    const documents = new Set(['package.json', 'README.md', 'SECURITY.md', 'LICENSE']);
    const stray = [...files].filter((f) => !documents.has(f) && !f.startsWith('lib/') && !f.startsWith('dist/widget/'));
    expect(stray).toEqual([]);
    expect(files.has('README.md') && files.has('SECURITY.md') && files.has('package.json')).toBe(true);
  });

  it('holds no tests, test kits, sources, e2e or rig files', () => {
    const forbidden =
      /(^|\/)(e2e|\.rig|src|bench|scripts|node_modules|test-results)\/|\.test\.|\.testkit\.|\.ts$(?<!\.d\.ts)/;
    expect([...files].filter((f) => forbidden.test(f))).toEqual([]);
    // The UI and the CLI are not part of lib/ (the widget is the bundle).
    expect([...files].filter((f) => /^lib\/(ui|app)\/|^lib\/node\/cli/.test(f))).toEqual([]);
  });

  it('has every export target, and a declaration for every one', () => {
    const targets = exportTargets();
    expect(targets.map((t) => t.subpath)).toEqual(
      expect.arrayContaining(['.', './node', './ssh', './http', './netstack', './widget']),
    );
    for (const { subpath, condition, target } of targets) {
      expect(files.has(rel(target)), `exports["${subpath}"].${condition} → ${target} is packed`).toBe(true);
    }
    for (const [subpath, v] of Object.entries(pkg.exports)) {
      if (subpath === './package.json') continue;
      expect(typeof v === 'object' && Object.keys(v)[0], `exports["${subpath}"] has "types" first`).toBe('types');
      expect(typeof v === 'object' && v.types.endsWith('.d.ts')).toBe(true);
    }
  });

  it('ships a .d.ts beside every module of lib/', () => {
    const js = [...files].filter((f) => f.startsWith('lib/') && f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(50);
    expect(js.filter((f) => !files.has(f.replace(/\.js$/, '.d.ts')))).toEqual([]);
  });

  it('resolves every import of the packed modules inside the package or from its dependencies', () => {
    const entries = exportTargets()
      .filter((t) => t.condition === 'default' && t.target.startsWith('./lib/'))
      .map((t) => rel(t.target));
    const used = new Set<string>();
    for (const entry of entries) {
      const { bare } = graph(entry);
      for (const spec of bare) {
        if (spec.startsWith('node:')) continue;
        const name = packageOf(spec);
        expect(pkg.dependencies[name], `${entry} needs ${spec}: "${name}" must be a dependency`).toBeDefined();
        used.add(name);
      }
    }
    // And nothing in dependencies that no packed module uses (the UI's lit, xterm, uqr are bundled).
    expect(Object.keys(pkg.dependencies).filter((d) => !used.has(d))).toEqual([]);
  });

  it('keeps the browser entries free of Node-only modules', () => {
    for (const entry of ['lib/index.js', 'lib/ssh/index.js', 'lib/http/index.js', 'lib/netstack/index.js']) {
      const nodeOnly = [...graph(entry).bare].filter((s) => s.startsWith('node:') || packageOf(s) === 'ws');
      expect(nodeOnly, `${entry} reaches ${nodeOnly.join(', ')}`).toEqual([]);
    }
    expect([...graph('lib/index.node.js').bare]).toEqual(expect.arrayContaining(['ws']));
  });

  it('ships the widget as a self-contained bundle (no bare imports) with its Worker', () => {
    const widget = rel((pkg.exports['./widget'] as Record<string, string>).default!);
    const code = readFileSync(join(ROOT, widget), 'utf8');
    expect(code).toContain('tailtab-connect');
    for (const spec of importsOf(code)) {
      expect(spec.startsWith('.') || spec.startsWith('/'), `the widget imports ${spec}`).toBe(true);
    }
    const worker = [...code.matchAll(/new URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url/g)].map((m) =>
      posix.join(dirname(widget), m[1]!),
    );
    expect(worker.length).toBeGreaterThan(0);
    for (const w of worker) expect(files.has(w), `the widget's Worker ${w} is packed`).toBe(true);
  });
});
