// Node-only glue for the CLI: process stdio, env, WebSocket (`ws`), file storage for --state.
import { Readable } from 'node:stream';
import { runCli } from './cli.js';
import { createNodeLayers, nodeStore } from './layers.node.js';

export async function main(argv = process.argv.slice(2)): Promise<number> {
  return runCli(
    argv,
    {
      stdin: Readable.toWeb(process.stdin) as unknown as ReadableStream<Uint8Array>,
      stdout: (b) =>
        new Promise<void>((r) => {
          if (process.stdout.write(b)) r();
          else process.stdout.once('drain', () => r());
        }),
      stderr: (s) => {
        process.stderr.write(s);
      },
      env: process.env,
      platform: async ({ stateFile }) => ({ storage: nodeStore(stateFile), wallClockMs: () => Date.now() }),
    },
    createNodeLayers(),
  );
}
