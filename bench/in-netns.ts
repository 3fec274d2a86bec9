// Benches that need the rig run inside a fresh loopback-only network namespace
// (scripts/in-netns.sh), like the e2e suite: run() re-executes the bench file there with tsx and
// reads its rows back as one JSON line; the file's own entry point prints that line.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT } from '../e2e/rig/index.js';
import type { BenchRow } from './run.js';

/** `measure` here if already inside the namespace, else the bench file (`moduleUrl`) run in a new one. */
export async function runInNetns(
  moduleUrl: string,
  name: string,
  measure: () => Promise<BenchRow[]>,
): Promise<BenchRow[]> {
  if (process.env.TAILTAB_IN_NETNS === '1') return measure();
  const self = fileURLToPath(moduleUrl);
  const stdout = await new Promise<string>((resolve, reject) => {
    const p = execFile(
      'bash',
      [
        join(REPO_ROOT, 'scripts/in-netns.sh'),
        'env',
        'TAILTAB_IN_NETNS=1',
        join(REPO_ROOT, 'node_modules/.bin/tsx'),
        self,
      ],
      { cwd: REPO_ROOT, maxBuffer: 1 << 20, timeout: 15 * 60_000 },
      (err, out) => (err ? reject(err) : resolve(out)),
    );
    p.stderr?.pipe(process.stderr);
  });
  const line = stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('['))
    .pop();
  if (!line) throw new Error(`${name} bench printed no rows:\n${stdout}`);
  return JSON.parse(line) as BenchRow[];
}

/** The bench file's entry point inside the namespace (`tsx bench/X.bench.ts`): print the rows as JSON. */
export function printRowsIfMain(moduleUrl: string, measure: () => Promise<BenchRow[]>): void {
  if (process.argv[1] && fileURLToPath(moduleUrl) === process.argv[1] && process.env.TAILTAB_IN_NETNS === '1') {
    measure().then(
      (rows) => {
        console.log(JSON.stringify(rows));
        process.exit(0);
      },
      (e: unknown) => {
        console.error(e);
        process.exit(1);
      },
    );
  }
}
