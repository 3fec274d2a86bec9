// `npm run fuzz`: every property test of a parser or decoder (the unit tests whose fast-check
// properties are sized by src/platform/fuzz.testkit.ts) run longer, with one random seed printed at
// the start and the end, so a failure is replayed by giving it back.
//
//   npm run fuzz                         short: 10× each property's own runs, ≤ 20 s a property
//   npm run fuzz -- --long               ≥ 1,000,000 inputs a property, ≤ 15 min a property
//   npm run fuzz -- --seed 1234          replay (or FUZZ_SEED=1234)
//   npm run fuzz -- --runs 50000 --time 120 src/http   (inputs and seconds a property; files)
//   npm run fuzz -- --ci                 CI's step (scripts/test-all.sh): the pure wire-format parsers'
//                                        and decoders' files only, 10× runs, ≤ 0.2 s a property (25–39 s)
//
// At the end a table gives, per property test, the inputs it ran and whether the time budget cut
// it short (an interrupted property passed every input it got to; the long mode's ≥1e6 is met only
// by those not cut short).
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const long = args.includes('--long');
if (long) args.splice(args.indexOf('--long'), 1);
// CI's short step: where a second seed and more inputs are cheap (wire formats, no live
// connections); the unit run has already run every property once with its own fresh seed.
const CI_FILES = [
  'src/control/h2/frames',
  'src/control/h2/hpack',
  'src/control/mapstream',
  'src/control/zstd',
  'src/derp-client/frames',
  'src/http/parser',
  'src/http/proxy-protocol',
  'src/http/websocket',
  'src/netstack/codecs',
  'src/node/node-parts',
  'src/node/tsmp',
  'src/noise/wireguard/messages',
  'src/noise/wireguard/replay',
  'src/ssh/sftp',
  'src/ssh/keyfile',
];
const ci = args.includes('--ci');
if (ci) args.splice(args.indexOf('--ci'), 1, ...CI_FILES);
const seedArg = opt('--seed') ?? process.env.FUZZ_SEED;
const runsArg = opt('--runs');
const timeArg = opt('--time');
const seed = seedArg !== undefined && seedArg !== '' ? Number(seedArg) | 0 : (Math.random() * 0x7fffffff) | 0;
const timeMs = timeArg ? Number(timeArg) * 1000 : long ? 15 * 60_000 : ci ? 200 : 20_000;

// The property tests: unit test files that size their properties with fuzz().
const listed = execFileSync('git', ['grep', '-l', 'platform/fuzz.testkit.js', '--', 'src/**/*.test.ts'], {
  encoding: 'utf8',
})
  .split('\n')
  .filter(Boolean);
const files = args.length ? listed.filter((f) => args.some((a) => f.startsWith(a) || f.includes(a))) : listed;
if (!files.length) {
  console.error(`no property test files match ${args.join(' ')}`);
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'tailtab-fuzz-'));
const report = join(dir, 'report.jsonl');
const env: NodeJS.ProcessEnv = {
  ...process.env,
  FUZZ_SEED: String(seed),
  FUZZ_TIME_MS: String(timeMs),
  FUZZ_REPORT: report,
  FUZZ_QUIET: '1',
};
if (runsArg) env.FUZZ_RUNS = runsArg;
else if (long) env.FUZZ_MIN_RUNS = '1000000';
else env.FUZZ_SCALE = '10';
const mode = runsArg
  ? `${runsArg} inputs a property`
  : long
    ? '≥1,000,000 inputs a property'
    : "10× each property's own runs";
console.log(
  `[fuzz] seed ${seed}; ${mode}; time budget ${timeMs / 1000} s a property; ${files.length} files (replay: FUZZ_SEED=${seed} npm run fuzz${long ? ' -- --long' : ''})`,
);

const t0 = Date.now();
const r = spawnSync('npx', ['vitest', 'run', '--project', 'unit', `--testTimeout=${timeMs * 4 + 60_000}`, ...files], {
  env,
  stdio: 'inherit',
});

interface Line {
  test: string;
  runs: number;
  asked: number;
  interrupted: boolean;
  failed: boolean;
}
const lines: Line[] = existsSync(report)
  ? readFileSync(report, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line)
  : [];
rmSync(dir, { recursive: true, force: true });
const byTest = new Map<string, { props: number; runs: number; min: number; cut: number; failed: number }>();
for (const l of lines) {
  const e = byTest.get(l.test) ?? { props: 0, runs: 0, min: Infinity, cut: 0, failed: 0 };
  e.props++;
  e.runs += l.runs;
  e.min = Math.min(e.min, l.runs);
  if (l.interrupted) e.cut++;
  if (l.failed) e.failed++;
  byTest.set(l.test, e);
}
console.log('\n[fuzz] inputs per property test (fewest of its properties; "cut" = stopped by the time budget):');
for (const [test, e] of [...byTest].sort((a, b) => a[0].localeCompare(b[0]))) {
  const flag = e.failed ? ' FAILED' : e.cut ? ` cut ${e.cut}/${e.props}` : '';
  console.log(`  ${String(e.min).padStart(9)}  ${test.slice(0, 110)}${flag}`);
}
const total = lines.reduce((a, l) => a + l.runs, 0);
console.log(
  `[fuzz] ${lines.length} properties, ${total.toLocaleString('en')} inputs in ${((Date.now() - t0) / 1000).toFixed(0)} s; seed ${seed} (replay: FUZZ_SEED=${seed})`,
);
process.exit(r.status ?? 1);
