// Production bundle sizes: `vite build` (the app, the widget as its own bundle, the node Worker)
// into a scratch folder, then bytes raw and gzipped (zlib level 9, what a server would send).
//   app    = everything index.html loads up front (entry script, modulepreloads, stylesheets)
//   widget = dist/widget/tailtab-widget.js, the one file a vendor page includes
//   node core = the node Worker bundle (TailnetNode + control, DERP, WireGuard, netstack, SSH,
//            HTTP), loaded by both in a Worker after the page is up
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { BenchRow } from './run.js';

const ROOT = join(import.meta.dirname, '..');

function sizes(files: string[]): { raw: number; gzip: number } {
  let raw = 0;
  let gzip = 0;
  for (const f of files) {
    const b = readFileSync(f);
    raw += b.length;
    gzip += gzipSync(b, { level: 9 }).length;
  }
  return { raw, gzip };
}

export async function run(): Promise<BenchRow[]> {
  const out = join(ROOT, '.cache', 'bench-dist');
  rmSync(out, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  const refs = [...html.matchAll(/<(?:script[^>]*\bsrc|link[^>]*\bhref)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) =>
    join(out, m[1]!),
  );
  if (!refs.length) throw new Error('no assets referenced by index.html');
  const app = sizes([...new Set(refs)]);
  const workers = readdirSync(join(out, 'assets')).filter((f) => /^node-worker-.*\.js$/.test(f));
  if (workers.length !== 1) throw new Error(`expected one node-worker bundle, found ${workers.join(', ') || 'none'}`);
  const core = sizes([join(out, 'assets', workers[0]!)]);
  const widget = sizes([join(out, 'widget', 'tailtab-widget.js')]);
  const kb = (n: number) => n / 1024;
  const row = (name: string, s: { raw: number; gzip: number }, note: string): BenchRow[] => [
    { name: `${name} (raw)`, value: kb(s.raw), unit: 'KiB', note },
    { name: `${name} (gzip -9)`, value: kb(s.gzip), unit: 'KiB' },
  ];
  return [
    ...row('app: page bundle', app, `${refs.length} files from index.html (Lit, xterm.js, views)`),
    ...row('widget: tailtab-widget.js', widget, 'self-contained ES module for vendor pages'),
    ...row('node core: Worker bundle', core, 'node, control, DERP, WireGuard, netstack, SSH, HTTP'),
  ];
}
