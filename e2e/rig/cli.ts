// Persistent rig for the demo (driven by scripts/rig.sh):
//   tsx e2e/rig/cli.ts serve  --state FILE --sockdir DIR --headscale-port P --derp-ports P1,P2
//     runs inside the named netns: starts the rig, listens on DIR/<name>.sock for each exposed
//     service (filesystem sockets cross network namespaces) and writes FILE describing the rig.
//   tsx e2e/rig/cli.ts bridge --state FILE
//     runs on the host: listens on 127.0.0.1:<port> for each exposed service and pipes each
//     connection to its unix socket.
// Both stop everything they started on SIGTERM/SIGINT.
import { createServer, connect, type Server } from 'node:net';
import { rmSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startRig } from './index.js';

interface Exposed {
  name: string;
  port: number;
  socket: string;
}
export interface RigState {
  pid: number;
  dir: string;
  headscaleUrl: string;
  authKey: string;
  user: { id: string; name: string };
  baseDomain: string;
  derpRegions: { regionId: number; regionCode: string; url: string; port: number }[];
  httpPort: number;
  sshd?: { port: number; user: string; password: string; hostKeyFingerprints: string[] };
  peers: {
    name: string;
    fqdn: string;
    ipv4: string;
    ipv6: string;
    nodeKey: string;
    ssh: boolean;
    homeRegion: number;
    socket: string;
  }[];
  exposed: Exposed[];
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function pipeServer(listen: (s: Server) => void, target: () => ReturnType<typeof connect>): Server {
  const srv = createServer((c) => {
    const t = target();
    c.pipe(t);
    t.pipe(c);
    c.on('error', () => t.destroy());
    t.on('error', () => c.destroy());
  });
  listen(srv);
  return srv;
}

async function serve(): Promise<void> {
  const stateFile = arg('state')!;
  const sockdir = arg('sockdir')!;
  mkdirSync(sockdir, { recursive: true });
  const rig = await startRig({
    peers: [
      { name: 'peer1', ssh: true, homeRegion: 900 },
      { name: 'peer2', ssh: true, homeRegion: 901 },
    ],
    headscalePort: Number(arg('headscale-port')),
    derpPorts: (arg('derp-ports') ?? '').split(',').filter(Boolean).map(Number),
  });
  const exposed: Exposed[] = [
    { name: 'headscale', port: Number(new URL(rig.headscaleUrl).port), socket: join(sockdir, 'headscale.sock') },
    ...rig.derpRegions.map((r) => ({
      name: `derp${r.regionId}`,
      port: r.port,
      socket: join(sockdir, `derp${r.regionId}.sock`),
    })),
  ];
  const servers = exposed.map((e) => {
    rmSync(e.socket, { force: true });
    return pipeServer(
      (s) => s.listen(e.socket),
      () => connect({ host: '127.0.0.1', port: e.port }),
    );
  });
  const state: RigState = {
    pid: process.pid,
    dir: rig.dir,
    headscaleUrl: rig.headscaleUrl,
    authKey: rig.authKey,
    user: rig.user,
    baseDomain: rig.baseDomain,
    derpRegions: rig.derpRegions.map((r) => ({
      regionId: r.regionId,
      regionCode: r.regionCode,
      url: r.url,
      port: r.port,
    })),
    httpPort: rig.httpPort,
    sshd: rig.sshd && {
      port: rig.sshd.port,
      user: rig.sshd.user,
      password: rig.sshd.password,
      hostKeyFingerprints: rig.sshd.hostKeyFingerprints,
    },
    peers: rig.peers.map((p) => ({
      name: p.name,
      fqdn: p.fqdn,
      ipv4: p.ipv4,
      ipv6: p.ipv6,
      nodeKey: p.nodeKey,
      ssh: p.ssh,
      homeRegion: p.homeRegion,
      socket: p.socket,
    })),
    exposed,
  };
  writeFileSync(stateFile, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  const shutdown = async () => {
    for (const s of servers) s.close();
    await rig.stop();
    rmSync(stateFile, { force: true });
    process.exit(0);
  };
  process.prependOnceListener('SIGTERM', () => void shutdown());
  process.prependOnceListener('SIGINT', () => void shutdown());
  console.log(`rig up: ${rig.headscaleUrl}; state in ${stateFile}`);
}

function bridge(): void {
  const state = JSON.parse(readFileSync(arg('state')!, 'utf8')) as RigState;
  const servers = state.exposed.map((e) =>
    pipeServer(
      (s) => s.listen(e.port, '127.0.0.1'),
      () => connect(e.socket),
    ),
  );
  const stop = () => {
    for (const s of servers) s.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  console.log(`bridges on 127.0.0.1: ${state.exposed.map((e) => `${e.name}:${e.port}`).join(', ')}`);
}

const cmd = process.argv[2];
if (cmd === 'serve') {
  serve().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
} else if (cmd === 'bridge') {
  bridge();
} else {
  console.error('usage: tsx e2e/rig/cli.ts serve|bridge ...');
  process.exit(2);
}
