// The npm package as a stranger gets it: `npm pack` (prepack builds lib/ and dist/widget/), then a
// fresh folder outside this repository installs the tarball with npm and a 10-line ES module that
// imports only 'tailtab', 'tailtab/node' and 'tailtab/http' joins the rig's tailnet (Headscale,
// derpers, an unmodified tailscaled peer) and fetches the peer's web server through it.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/npm-package.test.ts
//
// Offline: the netns has no network, and npm's cache holds the tarballs `npm ci` fetched but not
// the registry's package documents a fresh install resolves ranges with. So the test runs a
// registry of its own on loopback: for each package in the closure of the tarball's declared
// `dependencies` it serves a package document and a tarball packed from this repository's
// node_modules. npm then resolves and installs as it would from registry.npmjs.org, into an empty
// cache, with no lockfile and no path back to this repository's node_modules: a dependency missing
// from package.json, a file missing from `files`, or an export pointing nowhere fails here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';
import { promisify } from 'node:util';
import { startRig, REPO_ROOT, type Rig, type RigPeer } from './rig/index.js';

const execFileP = promisify(execFile);

let tmp: string;
let app: string;
let tarball: string;
let registry: Server;
let rig: Rig;
let peer: RigPeer;
const served = new Set<string>();
const unknown: string[] = [];
/** Optional peer dependencies of the served packages (ws: bufferutil, utf-8-validate): npm looks them up and lives with a 404. */
const optionalPeers = new Set<string>();

/** The environment of a stranger's shell: none of the npm_* variables `npx vitest` runs under. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NODE_PATH') env[k] = v;
  return { ...env, ...extra };
}

async function run(
  cmd: string,
  args: string[],
  cwd: string,
  o: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, {
      cwd,
      env: o.env ?? cleanEnv(),
      timeout: o.timeoutMs ?? 180_000,
      maxBuffer: 64 << 20,
    });
    return stdout;
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${x.message}\n${x.stdout ?? ''}\n${x.stderr ?? ''}`);
  }
}

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, unknown>;
  engines?: Record<string, string>;
  bin?: unknown;
  os?: string[];
  cpu?: string[];
}

/** This repository's installed copy of `name`, as npm would find it for a dependency of `from`. */
function installedDir(name: string, from: string): string {
  for (let dir = from; dir.startsWith(REPO_ROOT); dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === REPO_ROOT) break;
  }
  throw new Error(`${name} is not installed in ${REPO_ROOT}/node_modules: run npm ci`);
}

/** A loopback npm registry with the closure of `deps`, packed from this repository's node_modules. */
async function startRegistry(deps: Record<string, string>, dir: string): Promise<string> {
  const dirs = new Map<string, string>();
  const visit = (name: string, from: string) => {
    if (dirs.has(name)) return;
    const d = installedDir(name, from);
    dirs.set(name, d);
    const m = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as Manifest;
    for (const dep of Object.keys({ ...m.dependencies, ...m.optionalDependencies })) visit(dep, d);
  };
  for (const name of Object.keys(deps)) visit(name, REPO_ROOT);
  mkdirSync(dir, { recursive: true });
  const packed = JSON.parse(
    await run('npm', ['pack', ...dirs.values(), '--pack-destination', dir, '--ignore-scripts', '--json'], dir),
  ) as { name: string; filename: string }[];
  const docs = new Map<string, object>();
  const files = new Map<string, string>();
  registry = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).slice(1);
    const file = path.startsWith('-/') ? files.get(path.slice(2)) : undefined;
    if (file) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(file));
    } else if (docs.has(path)) {
      served.add(path);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(docs.get(path)));
    } else {
      unknown.push(`${req.method} ${req.url}`);
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    }
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(registry.address() as AddressInfo).port}/`;
  for (const p of packed) {
    const m = JSON.parse(readFileSync(join(dirs.get(p.name)!, 'package.json'), 'utf8')) as Manifest;
    const tgz = readFileSync(join(dir, p.filename));
    files.set(p.filename, join(dir, p.filename));
    const {
      name,
      version,
      dependencies,
      optionalDependencies,
      peerDependencies,
      peerDependenciesMeta,
      engines,
      bin,
      os,
      cpu,
    } = m;
    for (const [peer, meta] of Object.entries(peerDependenciesMeta ?? {}))
      if ((meta as { optional?: boolean }).optional) optionalPeers.add(peer);
    docs.set(name, {
      name,
      'dist-tags': { latest: version },
      versions: {
        [version]: {
          name,
          version,
          dependencies,
          optionalDependencies,
          peerDependencies,
          peerDependenciesMeta,
          engines,
          bin,
          os,
          cpu,
          dist: {
            tarball: `${base}-/${p.filename}`,
            shasum: createHash('sha1').update(tgz).digest('hex'),
            integrity: `sha512-${createHash('sha512').update(tgz).digest('base64')}`,
          },
        },
      },
    });
  }
  return base;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tailtab-npm-'));
  // Nothing above the consumer may hold a node_modules Node could fall back to.
  for (let d = tmp; ; d = dirname(d)) {
    expect(existsSync(join(d, 'node_modules')), `${d}/node_modules exists`).toBe(false);
    if (d === parse(d).root) break;
  }
  // `npm pack` as a publisher runs it: prepack builds lib/ and dist/widget/ first.
  await run('npm', ['pack', '--pack-destination', tmp], REPO_ROOT, { timeoutMs: 240_000 });
  const tgz = readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
  expect(tgz).toHaveLength(1);
  tarball = join(tmp, tgz[0]!);
  const pkg = JSON.parse(await run('tar', ['-xzOf', tarball, 'package/package.json'], tmp)) as Manifest;
  const registryUrl = await startRegistry(pkg.dependencies ?? {}, join(tmp, 'registry'));

  app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'embed-tailtab', private: true, type: 'module' }, null, 2),
  );
  await run(
    'npm',
    [
      'install',
      tarball,
      '--registry',
      registryUrl,
      '--cache',
      join(tmp, 'npm-cache'),
      '--no-audit',
      '--no-fund',
      '--no-update-notifier',
    ],
    app,
  );

  rig = await startRig({ peers: [{ name: 'peer1', homeRegion: 900, derpOnly: true }], sshd: false });
  peer = rig.peer('peer1');
}, 300_000);

afterAll(async () => {
  await rig?.stop();
  await new Promise((r) => (registry ? registry.close(r) : r(undefined)));
  if (tmp && !process.env.TAILTAB_KEEP_TMP) rmSync(tmp, { recursive: true, force: true });
});

// The whole program a person embedding tailtab in Node.js writes.
const JOIN_SCRIPT = `
import { TailnetNode } from 'tailtab';
import { createNodeLayers } from 'tailtab/node';
import { HttpClient } from 'tailtab/http';

const node = new TailnetNode(createNodeLayers());
await node.up({ controlUrl: process.env.CONTROL_URL, authKey: process.env.AUTH_KEY, hostname: 'npm-package',
  allowInsecureDerp: true, wallClockMs: () => Date.now() });
const http = new HttpClient({ dial: (host, port) => node.dial(host, port) });
const res = await http.request({ url: process.env.TARGET_URL });
console.log(JSON.stringify({ status: res.status, body: await res.text(), ip: node.status().self.ips[0], from: import.meta.resolve('tailtab') }));
http.close();
await node.down();
`;

describe('the npm package, installed from its tarball', () => {
  it('installed only tailtab and the closure of its declared dependencies, from the tarball and the loopback registry', () => {
    const top = readdirSync(join(app, 'node_modules'))
      .filter((d) => !d.startsWith('.'))
      .flatMap((d) => (d.startsWith('@') ? readdirSync(join(app, 'node_modules', d)).map((s) => `${d}/${s}`) : [d]));
    expect(top).toContain('tailtab');
    expect(top.sort()).toEqual(['tailtab', ...served].sort());
    const strays = unknown.filter((u) => !optionalPeers.has(decodeURIComponent(u.replace(/^GET \//, ''))));
    expect(strays, 'npm asked the registry for packages that are not in the closure of the dependencies').toEqual([]);
    const installed = readdirSync(join(app, 'node_modules', 'tailtab')).sort();
    expect(installed).toEqual(expect.arrayContaining(['lib', 'dist', 'package.json', 'README.md', 'SECURITY.md']));
    expect(installed.filter((f) => ['src', 'e2e', 'scripts', 'bench', '.rig', 'node_modules'].includes(f))).toEqual([]);
  });

  it("a 10-line ES module importing only tailtab joins the tailnet and fetches the peer's page through it", async () => {
    writeFileSync(join(app, 'join.mjs'), JOIN_SCRIPT);
    const t0 = Date.now();
    const out = await run(process.execPath, ['join.mjs'], app, {
      timeoutMs: 120_000,
      env: cleanEnv({
        CONTROL_URL: rig.headscaleUrl,
        AUTH_KEY: rig.authKey,
        TARGET_URL: `http://${peer.fqdn}:${rig.httpPort}/health`,
      }),
    });
    const last = out.trim().split('\n').pop()!;
    const result = JSON.parse(last) as { status: number; body: string; ip: string; from: string };
    console.log(
      `npm-installed node ${result.ip} fetched /health from ${peer.fqdn} in ${Date.now() - t0} ms (process start to exit)`,
    );
    expect(result.status).toBe(200);
    expect(result.body).toBe('ok\n');
    expect(result.ip).toMatch(/^100\./);
    // The module came from the installed tarball, not from this repository.
    expect(result.from).toBe(`file://${join(app, 'node_modules/tailtab/lib/index.js')}`);
  }, 150_000);

  it('resolves every subpath export, and nothing outside them', async () => {
    writeFileSync(
      join(app, 'exports.mjs'),
      `
      import * as core from 'tailtab';
      import * as nodeLayers from 'tailtab/node';
      import * as ssh from 'tailtab/ssh';
      import * as http from 'tailtab/http';
      import * as netstack from 'tailtab/netstack';
      const kinds = (m, names) => Object.fromEntries(names.map((n) => [n, typeof m[n]]));
      let deep;
      try { await import('tailtab/lib/node/node.js'); deep = 'imported'; } catch (e) { deep = e.code; }
      console.log(JSON.stringify({
        core: kinds(core, ['TailnetNode', 'createLayers', 'MemoryStore', 'IdbStore', 'defaultStore']),
        node: kinds(nodeLayers, ['TailnetNode', 'createNodeLayers', 'nodeStore', 'FileStore']),
        ssh: kinds(ssh, ['SshClient', 'SftpClient', 'knownHostsVerifier', 'generateEd25519Key']),
        http: kinds(http, ['HttpClient', 'connectWebSocket', 'CookieJar', 'serveHttpProxy']),
        netstack: kinds(netstack, ['createNetStack', 'NetStackError']),
        widget: import.meta.resolve('tailtab/widget'),
        deep,
      }));
    `,
    );
    const r = JSON.parse((await run(process.execPath, ['exports.mjs'], app)).trim().split('\n').pop()!) as Record<
      string,
      Record<string, string> | string
    >;
    for (const group of ['core', 'node', 'ssh', 'http', 'netstack']) {
      for (const [name, kind] of Object.entries(r[group] as Record<string, string>))
        expect(kind, `${group}: ${name}`).toBe('function');
    }
    // The widget is a browser module (a custom element): resolved here, and its Worker is beside it.
    const widget = new URL(r.widget as string).pathname;
    expect(widget).toBe(join(app, 'node_modules/tailtab/dist/widget/tailtab-widget.js'));
    const worker = /new URL\("([^"]+)", import\.meta\.url\)/.exec(readFileSync(widget, 'utf8'))?.[1];
    expect(worker && existsSync(join(dirname(widget), worker)), `the widget's Worker ${worker}`).toBe(true);
    expect(r.deep).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('type-checks a consumer of every export under NodeNext and Bundler resolution, against the shipped .d.ts', async () => {
    writeFileSync(
      join(app, 'check.ts'),
      `
      import { TailnetNode, MemoryStore, type UpConfig, type NodeStatus } from 'tailtab';
      import { createNodeLayers, nodeStore } from 'tailtab/node';
      import { SshClient, SftpClient, knownHostsVerifier, MemoryKnownHosts, type SshConnectOptions } from 'tailtab/ssh';
      import { HttpClient, type HttpResponse } from 'tailtab/http';
      import { createNetStack, type TcpConnection } from 'tailtab/netstack';
      import type { TailtabConnectElement } from 'tailtab/widget';

      const config: UpConfig = { controlUrl: 'https://hs.example', hostname: 'x', storage: new MemoryStore() };
      const node = new TailnetNode(createNodeLayers());
      export const up: Promise<void> = node.up({ ...config, storage: nodeStore('/tmp/state.json') });
      export const state: NodeStatus['state'] = node.status().state;
      const http = new HttpClient({ dial: (host, port) => node.dial(host, port) });
      export const res: Promise<HttpResponse> = http.request({ url: 'http://peer:80/' });
      export const ssh: (o: SshConnectOptions) => Promise<SshClient> = async (o) => SshClient.connect(await node.dial('peer', 22), o);
      export const sftp = (c: SshClient): Promise<SftpClient> => SftpClient.open(c);
      export const verifier = knownHostsVerifier(new MemoryKnownHosts(), 'peer');
      export const connect = (s: ReturnType<typeof createNetStack>): Promise<TcpConnection> => s.connect('100.64.0.1', 80, { timeoutMs: 1000 });
      const el: TailtabConnectElement | null = document.querySelector('tailtab-connect');
      if (el) { el.mode = 'http'; el.port = 8080; }
      // @ts-expect-error: the declarations are real types, not any
      export const wrong: UpConfig = { controlUrl: 42 };
      // @ts-expect-error: a typo in the widget's properties is caught
      if (el) el.controlURL = '';
    `,
    );
    // The declarations are checked too (no skipLibCheck); DOM's lib for the streams and the element.
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          noEmit: true,
          strict: true,
          target: 'ES2022',
          lib: ['ES2023', 'DOM'],
          types: [],
          skipLibCheck: false,
        },
        files: ['check.ts'],
      }),
    );
    // This repository's TypeScript is only the compiler here; everything it reads is in app/.
    const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', '.', '--module', 'NodeNext', '--moduleResolution', 'NodeNext'], app);
    await run(process.execPath, [tsc, '-p', '.', '--module', 'ESNext', '--moduleResolution', 'Bundler'], app);
  }, 120_000);
});
