// Summarises a V8 .cpuprofile (CDP Profiler.stop, e.g. from TAILTAB_TAILNET_PROFILE in
// tailnet.bench.ts): self time per function and per file, largest first.
//   npx tsx bench/cpuprofile-summary.ts /tmp/prof/chromium-1-download.cpuprofile [top=40]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: cpuprofile-summary.ts FILE [top]');
  process.exit(2);
}
const top = Number(topArg ?? 40);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i + 1] ?? 0)));
const total = p.endTime - p.startTime;
const short = (url: string) => url.replace(/^https?:\/\/[^/]+\//, '').replace(/\?.*$/, '') || '(native)';
const fn = new Map<string, number>();
const files = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  const cf = n.callFrame;
  const key = `${cf.functionName || '(anonymous)'}  ${short(cf.url)}${cf.url ? ':' + (cf.lineNumber + 1) : ''}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  files.set(short(cf.url), (files.get(short(cf.url)) ?? 0) + us);
}
const pct = (us: number) =>
  `${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms`;
console.log(`profile ${file}: ${(total / 1000).toFixed(0)} ms, ${p.samples.length} samples`);
console.log('\nself time by function:');
for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${k}`);
console.log('\nself time by file:');
for (const [k, us] of [...files].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${pct(us)}  ${k}`);
