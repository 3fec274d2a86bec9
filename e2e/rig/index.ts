// The rig: a real local tailnet made of the unmodified programs (Headscale, two derper and
// tailscaled; pinned versions in ./versions.json, others by RigOptions.versions or the env vars of
// rigVersions), Debian's OpenSSH and our HTTP server, all on 127.0.0.1 with free ports.
// Run it inside a network namespace that has only loopback (scripts/in-netns.sh, or the named
// netns of scripts/rig.sh): tailscaled probes internet hosts otherwise.
// Every process is started through ./proc.ts: one log file each in the rig's temp dir, stopped by
// PID on stop(), on process exit and on SIGINT/SIGTERM.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, tcpOpen } from './net.js';
import { GiveUp, spawnLogged, tail, waitFor, type RigProcess } from './proc.js';
import { startSshd, type Sshd } from './sshd.js';
import { startWebServer, type WebServer } from './webserver.js';

/** The versions of the rig's Go programs: tailscaled with its CLI, derper, and Headscale, each on its own. */
export interface RigVersions {
  tailscale: string;
  derper: string;
  headscale: string;
}
const VERSIONS = JSON.parse(readFileSync(fileURLToPath(new URL('./versions.json', import.meta.url)), 'utf8')) as {
  pinned: RigVersions;
  matrix: RigVersions[];
};
/** What every e2e test runs against unless told otherwise (scripts/install.sh builds them). */
export const PINNED_VERSIONS: Readonly<RigVersions> = VERSIONS.pinned;
/** The cells of the version matrix (e2e/versions.test.ts); install.sh builds each. */
export const MATRIX_CELLS: readonly Readonly<RigVersions>[] = VERSIONS.matrix;
export const TAILSCALE_VERSION = PINNED_VERSIONS.tailscale;
export const HEADSCALE_VERSION = PINNED_VERSIONS.headscale;
export const BASE_DOMAIN = 'tailtab.test';
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/**
 * The versions a rig runs: the pinned ones, each replaced by its env var when set —
 * TAILTAB_TAILSCALE_VERSION (tailscaled and the tailscale CLI), TAILTAB_DERPER_VERSION (default:
 * the tailscale version given, else pinned), TAILTAB_HEADSCALE_VERSION — then by `over`.
 */
export function rigVersions(
  over: Partial<RigVersions> = {},
  env: Record<string, string | undefined> = process.env,
): RigVersions {
  const ts = env.TAILTAB_TAILSCALE_VERSION || undefined;
  const v: RigVersions = {
    tailscale: over.tailscale ?? ts ?? PINNED_VERSIONS.tailscale,
    derper: over.derper ?? (env.TAILTAB_DERPER_VERSION || ts) ?? PINNED_VERSIONS.derper,
    headscale: over.headscale ?? (env.TAILTAB_HEADSCALE_VERSION || undefined) ?? PINNED_VERSIONS.headscale,
  };
  for (const [k, x] of Object.entries(v)) {
    // A path component of .rig/bin: a release tag, or a branch build named <name>-<9 hex of its
    // commit> (scripts/install.sh: TAILTAB_WEBRTC_PEER=1 builds tailscale-webrtc-cab3f319f).
    if (!/^v\d+\.\d+\.\d+$/.test(x) && !/^[a-z][a-z0-9]*-[0-9a-f]{9}$/.test(x))
      throw new Error(
        `rig ${k} version ${JSON.stringify(x)} is not a release tag like v1.102.3 (nor a branch build like webrtc-cab3f319f)`,
      );
  }
  return v;
}
const TEMPLATES = fileURLToPath(new URL('./templates/', import.meta.url));

export interface RigOptions {
  /** Default: [{ name: 'peer1' }]. */
  peers?: RigPeerSpec[];
  /** DERP servers, one region each (900, 901). Default 2. */
  derpers?: 1 | 2;
  /** Start the OpenSSH server (default true). */
  sshd?: boolean;
  /** Fixed ports (for the persistent demo rig); free ports when omitted. */
  headscalePort?: number;
  derpPorts?: number[];
  /** Keep the temp dir (logs, configs) after stop(). Also: env TAILTAB_RIG_KEEP=1. */
  keepDir?: boolean;
  /** Versions of the programs (default: rigVersions(), the pinned ones or the env's). */
  versions?: Partial<RigVersions>;
}

export interface RigPeerSpec {
  name: string;
  /** tailscaled --ssh (Tailscale SSH on the peer's port 22). */
  ssh?: boolean;
  /** Home DERP region to force (`tailscale debug force-prefer-derp`); default: whatever netcheck picks. */
  homeRegion?: number;
  /** Never use a direct UDP path, always relay over DERP (env TS_DEBUG_ALWAYS_USE_DERP). */
  derpOnly?: boolean;
  /** Pre-auth key to log in with (default: the rig's reusable key). */
  authKey?: string;
}

export interface RigDerpRegion {
  regionId: number;
  regionCode: string;
  host: string;
  port: number;
  url: string;
  stunPort: number;
}

export interface RigPeer {
  name: string;
  /** MagicDNS name without the trailing dot, e.g. peer1.tailtab.test. */
  fqdn: string;
  ipv4: string;
  ipv6: string;
  /** "nodekey:<hex>" */
  nodeKey: string;
  ssh: boolean;
  /** Home DERP region id as the peer reports it (status Self.Relay), 0 if unknown. */
  homeRegion: number;
  /** tailscaled's SOCKS5 proxy on 127.0.0.1: dial tailnet addresses from this peer. */
  socks5Port: number;
  socket: string;
  pid: number;
  logPath: string;
  /** Run the tailscale CLI against this peer; resolves stdout, rejects with stderr on failure. */
  tailscale(args: string[], o?: { input?: string; timeoutMs?: number }): Promise<string>;
  /** `tailscale status --json`, parsed. */
  status(): Promise<TailscaleStatus>;
}

/** The parts of `tailscale status --json` the rig and tests use. */
export interface TailscaleStatus {
  BackendState: string;
  TailscaleIPs?: string[];
  Self: TailscalePeerStatus;
  Peer?: Record<string, TailscalePeerStatus>;
  [k: string]: unknown;
}
export interface TailscalePeerStatus {
  HostName: string;
  DNSName: string;
  PublicKey: string;
  TailscaleIPs?: string[];
  Online: boolean;
  Relay?: string;
  CurAddr?: string;
  [k: string]: unknown;
}

export interface Rig {
  dir: string;
  /** The versions of the programs this rig runs. */
  versions: RigVersions;
  /** The binaries it runs (the tailscale CLI of the peers' version, for `tailscale nc` and the like). */
  binaries: RigBinaries;
  headscaleUrl: string;
  derpRegions: RigDerpRegion[];
  user: { id: string; name: string };
  authKey: string;
  baseDomain: string;
  createAuthKey(o?: { reusable?: boolean; ephemeral?: boolean }): Promise<string>;
  headscale(args: string[]): Promise<string>;
  peers: RigPeer[];
  peer(name: string): RigPeer;
  addPeer(spec: RigPeerSpec): Promise<RigPeer>;
  removePeer(name: string): Promise<void>;
  restart(what: RigTarget): Promise<void>;
  /**
   * Stops one process by its PID with `signal` (default SIGKILL: `kill -9`, no goodbye to anyone)
   * and waits for it to exit; start(what) brings it back with the same configuration and state.
   */
  kill(what: RigTarget, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a process kill() stopped (a peer: until it is Running again with its home region). */
  start(what: RigTarget): Promise<void>;
  setPolicy(policy: object): Promise<void>;
  httpPort: number;
  sshd?: Sshd;
  /** Resolves when every peer lists every other peer online with its home DERP region. */
  waitConverged(timeoutMs?: number): Promise<void>;
  /** PIDs of every process of this rig that is running now. */
  pids(): number[];
  stop(): Promise<void>;
}

export type RigTarget = 'headscale' | `derper:${number}` | `peer:${string}`;

export interface RigBinaries {
  tailscaled: string;
  tailscale: string;
  derper: string;
  headscale: string;
}

/** The binaries of those versions, built by scripts/install.sh. Throws a clear error when one is missing. */
export function rigBinaries(v: RigVersions = rigVersions()): RigBinaries {
  const dir = (kind: string, ver: string) => join(REPO_ROOT, '.rig/bin', `${kind}-${ver}`);
  const b: RigBinaries = {
    tailscaled: join(dir('tailscale', v.tailscale), 'tailscaled'),
    tailscale: join(dir('tailscale', v.tailscale), 'tailscale'),
    derper: join(dir('tailscale', v.derper), 'derper'),
    headscale: join(dir('headscale', v.headscale), 'headscale'),
  };
  const missing = Object.values(b).filter((p) => !existsSync(p));
  if (missing.length) {
    throw new Error(
      `rig binaries missing: ${missing.join(', ')}. Run: TAILTAB_TAILSCALE_VERSION=${v.tailscale} ` +
        `TAILTAB_DERPER_VERSION=${v.derper} TAILTAB_HEADSCALE_VERSION=${v.headscale} bash scripts/install.sh`,
    );
  }
  return b;
}

function exec(
  cmd: string,
  args: string[],
  o: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<string> {
  return new Promise((resolveP, reject) => {
    const cp = execFile(
      cmd,
      args,
      { timeout: o.timeoutMs ?? 30_000, maxBuffer: 64 << 20, env: { ...process.env, ...o.env } },
      (err, stdout, stderr) => {
        // Auth keys are secrets: never put them in error messages.
        const shown = args.map((a) => a.replace(/^(--authkey=).*/, '$1<redacted>')).join(' ');
        if (err)
          reject(
            new Error(
              `${cmd.split('/').pop()} ${shown} failed (${err.code ?? err.signal ?? 'error'}): ${stderr.trim()}`,
            ),
          );
        else resolveP(stdout);
      },
    );
    if (o.input !== undefined) cp.stdin!.end(o.input);
    else cp.stdin!.end();
  });
}

function fill(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\$\{([A-Z_]+)\}/g, (_, k: string) => {
    if (!(k in vars)) throw new Error(`template variable ${k} not set`);
    return String(vars[k]);
  });
}

/**
 * Tailscale SSH logs in as root through root's login shell, which reads root's dotfiles on this
 * machine: a CI host's `pyenv init` there waited 60 s on a lock left behind by a killed shell and
 * wrote to stderr, failing the SSH tests. As root, tailscaled runs in its own mount namespace
 * with an empty folder bound over /root, so a session meets a clean root account and the host's
 * /root is never touched. `unshare` and `sh` exec in turn: the PID stays tailscaled's.
 */
function withPrivateRootHome(cmd: string, args: string[], home: string): { cmd: string; args: string[] } {
  if (process.getuid?.() !== 0) return { cmd, args };
  mkdirSync(home, { recursive: true, mode: 0o700 });
  return {
    cmd: 'unshare',
    args: [
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      'mount --bind "$0" /root && exec "$@"',
      home,
      cmd,
      ...args,
    ],
  };
}

const PEER_ENV = {
  TS_NO_LOGS_NO_SUPPORT: 'true',
  TS_DISABLE_PORTMAPPER: '1',
  TS_DEBUG_USE_DERP_HTTP: '1',
  // A netns with only loopback has no "usable" interface: without this, tailscaled pauses its
  // control client forever (ipnlocal shouldPauseControlClientLocked, envknob.AssumeNetworkUp).
  TS_ASSUME_NETWORK_UP_FOR_TEST: '1',
};

export async function startRig(o: RigOptions = {}): Promise<Rig> {
  const versions = rigVersions(o.versions);
  const bin = rigBinaries(versions);
  const dir = await mkdtemp(join(tmpdir(), 'tailtab-rig-'));
  const keepDir = o.keepDir ?? process.env.TAILTAB_RIG_KEEP === '1';
  const procs = new Map<string, RigProcess>();
  let web: WebServer | undefined;
  let sshd: Sshd | undefined;
  const peers: RigPeer[] = [];
  const peerSpecs = new Map<string, Required<Pick<RigPeerSpec, 'name'>> & RigPeerSpec & { socks5Port: number }>();

  const stopAllOfRig = async () => {
    // Peers first (they log out cleanly), then the servers they talk to.
    const order = [...procs.keys()].sort((a, b) => rank(a) - rank(b));
    for (const k of order) await procs.get(k)!.stop();
    procs.clear();
    if (sshd) await sshd.stop();
    if (web) await web.close();
  };
  const rank = (k: string) => (k.startsWith('peer:') ? 0 : k === 'headscale' ? 1 : 2);

  try {
    // --- DERP servers ------------------------------------------------------------------------
    const derpCount = o.derpers ?? 2;
    const derpRegions: RigDerpRegion[] = [];
    for (let i = 0; i < derpCount; i++) {
      const port = o.derpPorts?.[i] ?? (await freePort());
      const regionId = 900 + i;
      // STUN is on (UDP, own port): netcheck needs a latency sample of a region (STUN, or ICMP when
      // UDP is blocked, which it only tries for nodes with a STUN port) before it honours a forced home.
      derpRegions.push({
        regionId,
        regionCode: `rig${regionId}`,
        host: '127.0.0.1',
        port,
        url: `http://127.0.0.1:${port}`,
        stunPort: await freePort(),
      });
    }
    const startDerper = async (i: number) => {
      const r = derpRegions[i]!;
      const p = spawnLogged({
        name: `derper:${r.regionId}`,
        cmd: bin.derper,
        args: [
          '-a',
          `127.0.0.1:${r.port}`,
          '-c',
          join(dir, `derper-${r.regionId}.json`),
          `-stun-port=${r.stunPort}`,
          '-hostname',
          '127.0.0.1',
        ],
        logPath: join(dir, `derper-${r.regionId}.log`),
      });
      procs.set(`derper:${r.regionId}`, p);
      await waitFor(
        `derper ${r.regionId} on ${r.url}`,
        async () => {
          if (p.hasExited()) throw new GiveUp(`derper exited:\n${tail(p.log())}`);
          const res = await fetch(`${r.url}/derp/probe`).catch(() => undefined);
          return res && res.ok ? true : undefined;
        },
        20_000,
        50,
        () => tail(p.log()),
      );
    };
    await Promise.all(derpRegions.map((_, i) => startDerper(i)));
    const derpMapYaml =
      'regions:\n' +
      derpRegions
        .map((r) =>
          [
            `  ${r.regionId}:`,
            `    regionid: ${r.regionId}`,
            `    regioncode: ${r.regionCode}`,
            `    regionname: Rig ${r.regionId}`,
            `    nodes:`,
            `      - name: ${r.regionId}a`,
            `        regionid: ${r.regionId}`,
            `        hostname: 127.0.0.1`,
            `        ipv4: 127.0.0.1`,
            `        ipv6: "none"`,
            `        stunport: ${r.stunPort}`,
            `        stunonly: false`,
            `        derpport: ${r.port}`,
          ].join('\n'),
        )
        .join('\n') +
      '\n';
    await writeFile(join(dir, 'derpmap.yaml'), derpMapYaml);

    // --- Headscale ---------------------------------------------------------------------------
    const hsPort = o.headscalePort ?? (await freePort());
    const headscaleUrl = `http://127.0.0.1:${hsPort}`;
    const hsConfig = join(dir, 'headscale.yaml');
    await writeFile(
      hsConfig,
      fill(await readFile(join(TEMPLATES, 'headscale.yaml'), 'utf8'), {
        SERVER_URL: headscaleUrl,
        PORT: hsPort,
        METRICS_PORT: await freePort(),
        GRPC_PORT: await freePort(),
        DIR: dir,
        BASE_DOMAIN,
      }),
    );
    await writeFile(join(dir, 'policy.json'), await readFile(join(TEMPLATES, 'policy.json'), 'utf8'));
    const startHeadscale = async () => {
      const p = spawnLogged({
        name: 'headscale',
        cmd: bin.headscale,
        args: ['serve', '-c', hsConfig],
        logPath: join(dir, 'headscale.log'),
      });
      procs.set('headscale', p);
      await waitFor(
        `headscale on ${headscaleUrl}`,
        async () => {
          if (p.hasExited()) throw new GiveUp(`headscale exited:\n${tail(p.log())}`);
          const res = await fetch(`${headscaleUrl}/health`).catch(() => undefined);
          return res && res.ok && existsSync(join(dir, 'headscale.sock')) ? true : undefined;
        },
        30_000,
        50,
        () => tail(p.log()),
      );
    };
    await startHeadscale();
    const headscale = (args: string[]) => exec(bin.headscale, ['-c', hsConfig, ...args], { timeoutMs: 30_000 });
    await headscale(['users', 'create', 'tailtab']);
    const users = JSON.parse(await headscale(['users', 'list', '-o', 'json'])) as {
      id: string | number;
      name: string;
    }[];
    const u = users.find((x) => x.name === 'tailtab');
    if (!u) throw new Error(`headscale user not created: ${JSON.stringify(users)}`);
    const user = { id: String(u.id), name: u.name };
    const createAuthKey = async (ko: { reusable?: boolean; ephemeral?: boolean } = {}) => {
      const args = ['preauthkeys', 'create', '--user', user.id, '-e', '24h', '-o', 'json'];
      if (ko.reusable) args.push('--reusable');
      if (ko.ephemeral) args.push('--ephemeral');
      const out = JSON.parse(await headscale(args)) as { key?: string };
      if (!out.key) throw new Error(`no key in preauthkeys output: ${JSON.stringify(out)}`);
      return out.key;
    };
    const authKey = await createAuthKey({ reusable: true });

    // --- HTTP and SSH servers behind the peers ------------------------------------------------
    web = await startWebServer(0);
    if (o.sshd !== false) sshd = await startSshd({ dir: join(dir, 'sshd') });

    // --- tailscaled peers --------------------------------------------------------------------
    const startTailscaled = async (name: string) => {
      const spec = peerSpecs.get(name)!;
      const pdir = join(dir, 'peers', name);
      await mkdir(pdir, { recursive: true });
      const tsArgs = [
        '--tun=userspace-networking',
        `--statedir=${pdir}`,
        `--state=${join(pdir, 'tailscaled.state')}`,
        `--socket=${join(pdir, 'tailscaled.sock')}`,
        '--port=0',
        `--socks5-server=127.0.0.1:${spec.socks5Port}`,
      ];
      const p = spawnLogged({
        name: `peer:${name}`,
        ...withPrivateRootHome(bin.tailscaled, tsArgs, join(pdir, 'root-home')),
        env: { ...PEER_ENV, TS_LOGS_DIR: pdir, ...(spec.derpOnly ? { TS_DEBUG_ALWAYS_USE_DERP: '1' } : {}) },
        logPath: join(dir, `peer-${name}.log`),
      });
      procs.set(`peer:${name}`, p);
      await waitFor(
        `tailscaled ${name} socket`,
        async () => {
          if (p.hasExited()) throw new GiveUp(`tailscaled ${name} exited:\n${tail(p.log())}`);
          return existsSync(join(pdir, 'tailscaled.sock')) ? true : undefined;
        },
        20_000,
        50,
        () => tail(p.log()),
      );
      return p;
    };
    const tsCli =
      (name: string) =>
      (args: string[], co: { input?: string; timeoutMs?: number } = {}) =>
        exec(bin.tailscale, [`--socket=${join(dir, 'peers', name, 'tailscaled.sock')}`, ...args], co);
    const waitRunning = async (name: string, homeRegion?: number) => {
      const cli = tsCli(name);
      const p = procs.get(`peer:${name}`)!;
      return waitFor(
        `peer ${name} Running with IPs${homeRegion ? ` and home DERP ${homeRegion}` : ''}`,
        async () => {
          if (p.hasExited()) throw new GiveUp(`tailscaled ${name} exited:\n${tail(p.log())}`);
          const st = JSON.parse(await cli(['status', '--json'])) as TailscaleStatus;
          if (st.BackendState !== 'Running' || !st.Self.TailscaleIPs?.length) return undefined;
          if (homeRegion) {
            const want = derpRegions.find((r) => r.regionId === homeRegion)?.regionCode;
            if (st.Self.Relay !== want) return undefined;
          } else if (!st.Self.Relay) return undefined;
          return st;
        },
        60_000,
        200,
        () => tail(p.log()),
      );
    };
    const regionOf = (code: string | undefined) => derpRegions.find((r) => r.regionCode === code)?.regionId ?? 0;

    const addPeer = async (spec: RigPeerSpec): Promise<RigPeer> => {
      if (peerSpecs.has(spec.name)) throw new Error(`peer ${spec.name} exists`);
      if (spec.homeRegion && !derpRegions.some((r) => r.regionId === spec.homeRegion))
        throw new Error(`no DERP region ${spec.homeRegion} in this rig`);
      peerSpecs.set(spec.name, { ...spec, socks5Port: await freePort() });
      await startTailscaled(spec.name);
      const cli = tsCli(spec.name);
      const upArgs = [
        'up',
        `--login-server=${headscaleUrl}`,
        `--authkey=${spec.authKey ?? authKey}`,
        `--hostname=${spec.name}`,
        '--accept-dns=false',
        '--timeout=60s',
      ];
      if (spec.ssh) upArgs.push('--ssh');
      await cli(upArgs, { timeoutMs: 70_000 });
      if (spec.homeRegion) {
        await cli(['debug', 'force-prefer-derp', String(spec.homeRegion)]);
        await cli(['debug', 'restun']).catch(() => undefined);
      }
      const st = await waitRunning(spec.name, spec.homeRegion);
      const ips = st.Self.TailscaleIPs ?? [];
      const proc = procs.get(`peer:${spec.name}`)!;
      const peer: RigPeer = {
        name: spec.name,
        fqdn: st.Self.DNSName.replace(/\.$/, ''),
        ipv4: ips.find((ip) => ip.includes('.')) ?? '',
        ipv6: ips.find((ip) => ip.includes(':')) ?? '',
        nodeKey: st.Self.PublicKey,
        ssh: !!spec.ssh,
        homeRegion: regionOf(st.Self.Relay),
        socks5Port: peerSpecs.get(spec.name)!.socks5Port,
        socket: join(dir, 'peers', spec.name, 'tailscaled.sock'),
        pid: proc.pid,
        logPath: proc.logPath,
        tailscale: cli,
        status: async () => JSON.parse(await cli(['status', '--json'])) as TailscaleStatus,
      };
      peers.push(peer);
      return peer;
    };

    const rig: Rig = {
      dir,
      versions,
      binaries: bin,
      headscaleUrl,
      derpRegions,
      user,
      authKey,
      baseDomain: BASE_DOMAIN,
      createAuthKey,
      headscale,
      peers,
      peer(name) {
        const p = peers.find((x) => x.name === name);
        if (!p) throw new Error(`no peer ${name}`);
        return p;
      },
      addPeer,
      async removePeer(name) {
        const idx = peers.findIndex((x) => x.name === name);
        if (idx < 0) throw new Error(`no peer ${name}`);
        await procs.get(`peer:${name}`)?.stop();
        procs.delete(`peer:${name}`);
        peers.splice(idx, 1);
        peerSpecs.delete(name);
        const nodes = JSON.parse(await headscale(['nodes', 'list', '-o', 'json'])) as {
          id: string | number;
          given_name?: string;
          name?: string;
        }[];
        for (const n of nodes.filter((x) => x.given_name === name || x.name === name)) {
          await headscale(['nodes', 'delete', '--identifier', String(n.id), '--force']);
        }
      },
      async restart(what) {
        await rig.kill(what, 'SIGTERM');
        await rig.start(what);
      },
      async kill(what, signal = 'SIGKILL') {
        if (what !== 'headscale' && !what.startsWith('derper:') && !what.startsWith('peer:'))
          throw new Error(`kill: unknown target ${what}`);
        if (what.startsWith('peer:')) rig.peer(what.slice('peer:'.length));
        const p = procs.get(what);
        if (!p || p.hasExited()) return;
        if (signal === 'SIGTERM') {
          await p.stop();
          return;
        }
        try {
          process.kill(p.pid, signal);
        } catch {
          /* already gone */
        }
        await p.exited;
      },
      async start(what) {
        if (procs.get(what) && !procs.get(what)!.hasExited()) throw new Error(`start: ${what} is running`);
        if (what === 'headscale') {
          await startHeadscale();
        } else if (what.startsWith('derper:')) {
          const id = Number(what.slice('derper:'.length));
          const i = derpRegions.findIndex((r) => r.regionId === id);
          if (i < 0) throw new Error(`no derper ${id}`);
          await startDerper(i);
        } else if (what.startsWith('peer:')) {
          const name = what.slice('peer:'.length);
          const peer = rig.peer(name);
          const p = await startTailscaled(name);
          const spec = peerSpecs.get(name)!;
          if (spec.homeRegion) await tsCli(name)(['debug', 'force-prefer-derp', String(spec.homeRegion)]);
          const st = await waitRunning(name, spec.homeRegion);
          peer.pid = p.pid;
          peer.homeRegion = regionOf(st.Self.Relay);
        } else {
          throw new Error(`start: unknown target ${what}`);
        }
      },
      async setPolicy(policy) {
        await writeFile(join(dir, 'policy.json'), JSON.stringify(policy, null, 2));
        const p = procs.get('headscale');
        if (!p) throw new Error('headscale is not running');
        const before = p.log().length;
        process.kill(p.pid, 'SIGHUP');
        await waitFor(
          'headscale to reload the policy',
          () => (/reload/i.test(p.log().slice(before)) ? true : undefined),
          10_000,
          50,
        );
      },
      async waitConverged(timeoutMs = 60_000) {
        await waitFor(
          'every peer to see every other peer online with its home DERP',
          async () => {
            for (const me of peers) {
              const st = await me.status();
              const seen = Object.values(st.Peer ?? {});
              for (const other of peers) {
                if (other === me) continue;
                const p = seen.find((x) => x.PublicKey === other.nodeKey);
                if (!p || !p.Online || regionOf(p.Relay) !== other.homeRegion) return undefined;
              }
            }
            return true;
          },
          timeoutMs,
          200,
        );
      },
      httpPort: web.port,
      sshd,
      pids: () =>
        [...procs.values()]
          .filter((p) => !p.hasExited())
          .map((p) => p.pid)
          .concat(sshd ? [sshd.pid] : []),
      async stop() {
        await stopAllOfRig();
        if (!keepDir) await rm(dir, { recursive: true, force: true });
      },
    };
    for (const spec of o.peers ?? [{ name: 'peer1' }]) await addPeer(spec);
    await rig.waitConverged();
    return rig;
  } catch (e) {
    await stopAllOfRig();
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`startRig failed (logs kept in ${dir}): ${msg}`);
  }
}

export { startSshd, type Sshd } from './sshd.js';
export { startWebServer, bytesSha256, deterministicBytes, INDEX_TITLE, WS_TITLE } from './webserver.js';
export { tcpOpen, freePort } from './net.js';
