// Node-only glue for the CLI: process stdio, env, WebSocket (`ws`), file storage.
import { Readable } from 'node:stream';
import WebSocket from 'ws';
import { runCli } from './cli.js';
import { loadDefaultLayers } from './layers.js';

export async function main(argv = process.argv.slice(2)): Promise<number> {
  let layers;
  try { layers = await loadDefaultLayers(); } catch (e) { process.stderr.write(`${(e as Error).message}\n`); return 1; }
  return runCli(argv, {
    stdin: Readable.toWeb(process.stdin) as unknown as ReadableStream<Uint8Array>,
    stdout: (b) => new Promise<void>((r) => { if (process.stdout.write(b)) r(); else process.stdout.once('drain', () => r()); }),
    stderr: (s) => { process.stderr.write(s); },
    env: process.env,
    platform: async () => ({
      webSocketFactory: (url: string, protocols?: string | string[]) => new WebSocket(url, protocols),
      wallClockMs: () => Date.now(),
    }),
  }, layers);
}
