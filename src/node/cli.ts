// Command-line entry (Node): `npm run cli -- <command>` = `tsx src/node/cli.ts <command>`.
//   status               log in, wait for the netmap, print self, peers and DERP state as JSON
//   ping <peer> [-6]     ICMP echo over the tailnet (MagicDNS name or IP)
//   nc <peer> <port>     stdin -> TCP over the tailnet -> stdout
// Flags (or env): --control-url (TAILTAB_CONTROL_URL), --auth-key (TAILTAB_AUTH_KEY),
// --state (TAILTAB_STATE: file storage), --hostname (TAILTAB_HOSTNAME), --ephemeral,
// --allow-insecure-derp (TAILTAB_ALLOW_INSECURE_DERP=1), --accept-routes, --exit-node <machine>
// (as tailscale up's flags: subnet routes and exit nodes are used only when asked), --count N (ping).

import { TailnetNode, type NodeLayers, type UpConfig } from './node.js';

export interface CliIo {
  stdin: ReadableStream<Uint8Array>;
  stdout: (b: Uint8Array) => void | Promise<void>;
  stderr: (s: string) => void;
  env: Record<string, string | undefined>;
  /** Platform bits the core cannot create itself (file storage, WebSocket factory). */
  platform: (o: {
    stateFile?: string;
    ephemeral: boolean;
  }) => Promise<Pick<UpConfig, 'storage' | 'webSocketFactory' | 'wallClockMs'>>;
}

export interface CliArgs {
  command: string;
  positional: string[];
  flags: Record<string, string | true>;
}

export function parseArgs(argv: string[]): CliArgs {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  const boolFlags = new Set(['ephemeral', 'allow-insecure-derp', 'accept-routes', '6', 'verbose']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('-') && a !== '-') {
      const name = a.replace(/^--?/, '');
      const eq = name.indexOf('=');
      if (eq >= 0) flags[name.slice(0, eq)] = name.slice(eq + 1);
      else if (boolFlags.has(name)) flags[name] = true;
      else flags[name] = argv[++i] ?? '';
    } else positional.push(a);
  }
  return { command: positional.shift() ?? 'help', positional, flags };
}

const USAGE =
  'usage: tailtab [--control-url URL] [--auth-key KEY] [--state FILE] [--hostname H] [--ephemeral] [--allow-insecure-derp] [--accept-routes] [--exit-node MACHINE] (status | ping <peer> [-6] [--count N] | nc <peer> <port>)\n';

/** Runs one CLI command; returns the exit code. */
export async function runCli(argv: string[], io: CliIo, layers: NodeLayers): Promise<number> {
  const { command, positional, flags } = parseArgs(argv);
  const flag = (name: string, env: string): string | undefined => {
    const v = flags[name];
    return typeof v === 'string' ? v : io.env[env];
  };
  if (command === 'help' || !['status', 'ping', 'nc'].includes(command)) {
    io.stderr(USAGE);
    return command === 'help' ? 0 : 2;
  }
  const controlUrl = flag('control-url', 'TAILTAB_CONTROL_URL');
  if (!controlUrl) {
    io.stderr('tailtab: --control-url (or TAILTAB_CONTROL_URL) is required\n');
    return 2;
  }
  const ephemeral = flags.ephemeral === true || io.env.TAILTAB_EPHEMERAL === '1';
  const stateFile = flag('state', 'TAILTAB_STATE');
  const node = new TailnetNode(layers);
  if (flags.verbose) node.on('log', (t) => io.stderr(`${t}\n`));
  try {
    await node.up({
      controlUrl,
      authKey: flag('auth-key', 'TAILTAB_AUTH_KEY'),
      hostname: flag('hostname', 'TAILTAB_HOSTNAME') ?? 'tailtab-cli',
      ephemeral,
      allowInsecureDerp: flags['allow-insecure-derp'] === true || io.env.TAILTAB_ALLOW_INSECURE_DERP === '1',
      onAuthUrl: (u) => io.stderr(`To log in, visit: ${u}\n`),
      ...(await io.platform({ stateFile, ephemeral })),
    });
    const exitNode = flag('exit-node', 'TAILTAB_EXIT_NODE');
    const exitPeer = exitNode
      ? node
          .status()
          .peers.find((p) => [p.id, p.name.replace(/\.$/, ''), p.name.split('.')[0], ...p.ips].includes(exitNode))
      : undefined;
    if (exitNode && !exitPeer) {
      io.stderr(`tailtab: --exit-node ${exitNode}: no such machine in the tailnet\n`);
      return 2;
    }
    if (flags['accept-routes'] === true || exitPeer)
      node.setRoutePrefs({
        acceptRoutes: flags['accept-routes'] === true,
        ...(exitPeer ? { exitNodeId: exitPeer.id } : {}),
      });
    const enc = new TextEncoder();
    if (command === 'status') {
      await io.stdout(enc.encode(JSON.stringify(node.status(), null, 2) + '\n'));
      return 0;
    }
    if (command === 'ping') {
      const peer = positional[0];
      if (!peer) {
        io.stderr(USAGE);
        return 2;
      }
      const count = Number(flags.count ?? 1) || 1;
      let ok = 0;
      for (let i = 0; i < count; i++) {
        try {
          const r = await node.ping(peer, { preferV6: flags['6'] === true });
          ok++;
          await io.stdout(enc.encode(`pong from ${peer} (${r.ip}) in ${r.ms.toFixed(1)} ms\n`));
        } catch (e) {
          io.stderr(`ping ${peer}: ${(e as Error).message}\n`);
        }
      }
      return ok > 0 ? 0 : 1;
    }
    // nc
    const [peer, portText] = positional;
    const port = Number(portText);
    if (!peer || !(port > 0 && port < 65536)) {
      io.stderr(USAGE);
      return 2;
    }
    const conn = await node.dial(peer, port);
    const up = io.stdin.pipeTo(conn.writable).catch((e: unknown) => io.stderr(`nc: send: ${String(e)}\n`));
    const reader = conn.readable.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      await io.stdout(value);
    }
    await Promise.race([up, new Promise((r) => setTimeout(r, 100))]);
    return 0;
  } catch (e) {
    io.stderr(`tailtab ${command}: ${(e as Error)?.message ?? String(e)}\n`);
    return 1;
  } finally {
    await node.down().catch(() => {});
  }
}

// `tsx src/node/cli.ts ...`: run the Node glue (kept in cli.node.ts so this file stays browser-safe).
const isMain = typeof process !== 'undefined' && Array.isArray(process.argv) && /cli\.ts$/.test(process.argv[1] ?? '');
if (isMain) {
  void import('./cli.node.js').then(async (m) => {
    process.exitCode = await m.main();
  });
}
