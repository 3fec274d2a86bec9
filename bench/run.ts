// `npm run bench`: runs every bench/*.bench.ts (or the ones named on the command line) and prints
// one table. Each module exports `run(): Promise<BenchRow[]>`. Rows that compare with a native
// reference (tailscaled, OpenSSH, the kernel) carry the ratio in `note`.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();

let failed = 0;
const rows: (BenchRow & { suite: string })[] = [];
for (const f of files) {
  const suite = f.replace(/\.bench\.ts$/, '');
  process.stderr.write(`bench: ${suite}…\n`);
  try {
    const mod = (await import(pathToFileURL(join(here, f)).href)) as { run: () => Promise<BenchRow[]> };
    for (const r of await mod.run()) rows.push({ suite, ...r });
  } catch (e) {
    failed++;
    process.stderr.write(`bench: ${suite} failed: ${(e as Error).stack ?? e}\n`);
  }
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));
const table = rows.map((r) => [r.suite, r.name, fmt(r.value), r.unit, r.note ?? '']);
const head = ['suite', 'measurement', 'value', 'unit', 'note'];
const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const t of table) console.log(line(t));
if (failed) {
  console.log(`\n${failed} bench suite(s) failed`);
  process.exitCode = 1;
}
