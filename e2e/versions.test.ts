// The version matrix (issue 18): one focused journey of our node, run once per cell of
// e2e/rig/versions.json (tailscaled + its CLI, derper, Headscale, each of its own version):
// register, map, ping (disco, TSMP, ICMP), TCP both ways with SHA-256, Tailscale SSH, OpenSSH
// through the peer, and a derper restart. The rest of the e2e suite runs on the pinned versions.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/versions.test.ts
// One cell: TAILTAB_MATRIX_ONLY=v1.98.10 (matches a cell whose tailscale version is that).
// Each cell's summary (versions, seconds, counters, our node's log) goes to stdout and to
// test-results/versions-<tailscale>-<derper>-<headscale>.json.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { bytesSha256, MATRIX_CELLS, REPO_ROOT, startRig, type Rig, type RigPeer } from './rig/index.js';
import { TailnetNode, type TcpConnectionLike } from '../src/node/node.js';
import { createNodeLayers } from '../src/node/layers.node.js';
import { MemoryStore } from '../src/control/storage.js';
import { SshClient } from '../src/ssh/client.js';
import { tailnetAuthenticatedVerifier } from '../src/ssh/known-hosts.js';
import { readAll as readStream } from '../src/platform/streams.js';
import { httpGetOver, socksConnect } from './helpers/node-tailnet.testkit.js';

const run = promisify(execFile);
const only = process.env.TAILTAB_MATRIX_ONLY;
const cells = MATRIX_CELLS.filter((c) => !only || c.tailscale === only);
if (!cells.length) throw new Error(`TAILTAB_MATRIX_ONLY=${only} names no cell of e2e/rig/versions.json`);

/** Our node's log lines that speak of trouble. A newer peer's unknown packets must not produce any. */
const TROUBLE = /error|fail|warn|unknown|malformed|unexpected|invalid|bad /i;

interface DerpRegion {
  regionId: number;
  state: string;
  unknownFrames?: number;
  malformed?: number;
  reconnects?: number;
}

for (const cell of cells) {
  const label = `tailscaled ${cell.tailscale}, derper ${cell.derper}, Headscale ${cell.headscale}`;
  describe.sequential(`version matrix: ${label}`, () => {
    let rig: Rig;
    let node: TailnetNode;
    let peer: RigPeer;
    const log: { t: number; line: string }[] = [];
    let t0 = 0;
    const phases: Record<string, number> = {};
    const selfIp = (v6 = false) => node.status().self!.ips.find((ip) => ip.includes(':') === v6)!;
    const derp = () => node.status().derp as DerpRegion[];

    beforeAll(async () => {
      t0 = Date.now();
      rig = await startRig({ versions: cell, peers: [{ name: 'peer1', homeRegion: 901, derpOnly: true, ssh: true }] });
      phases.rigUpS = (Date.now() - t0) / 1000;
      peer = rig.peer('peer1');
      node = new TailnetNode(createNodeLayers());
      node.on('log', (line) => log.push({ t: Date.now() - t0, line }));
      await node.up({
        controlUrl: rig.headscaleUrl,
        authKey: rig.authKey,
        hostname: 'tailtab-matrix',
        storage: new MemoryStore(),
        allowInsecureDerp: true,
        wallClockMs: () => Date.now(),
        homeRegion: 900,
      });
    });

    afterAll(async () => {
      const counters = node?.status().counters;
      const regions = node ? derp() : [];
      await node?.down();
      await rig?.stop();
      const summary = {
        cell,
        date: new Date().toISOString().slice(0, 10),
        seconds: (Date.now() - t0) / 1000,
        phases,
        counters,
        derp: regions.map((r) => ({
          regionId: r.regionId,
          unknownFrames: r.unknownFrames,
          malformed: r.malformed,
          reconnects: r.reconnects,
        })),
        log: log.map((l) => `${(l.t / 1000).toFixed(1)}s ${l.line}`),
      };
      const dir = join(REPO_ROOT, 'test-results');
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, `versions-${cell.tailscale}-${cell.derper}-${cell.headscale}.json`),
        JSON.stringify(summary, null, 2) + '\n',
      );
      console.log(
        `[versions] ${label}: ${summary.seconds.toFixed(1)} s (rig up ${phases.rigUpS?.toFixed(1)} s); ` +
          `our log: ${log.length} lines; counters: ${JSON.stringify(pick(counters))}; derp unknown frames: ${regions.map((r) => r.unknownFrames ?? 0).join('/')}`,
      );
    });

    it('runs the versions it names (asked of the running tailscaled, its CLI and derper)', async () => {
      const versions = await runningVersions(rig, peer);
      console.log(`[versions] cell ${label}: running ${JSON.stringify(versions)}`);
      expect(versions).toEqual({
        tailscale: bare(cell.tailscale),
        tailscaled: bare(cell.tailscale),
        derper: bare(cell.derper),
      });
      // Headscale built from its module source says "dev" (its version comes from the main
      // module's build info, which a build inside the module has not): the binary is the one
      // install.sh built from that module version into .rig/bin/headscale-<version>/.
      expect(rig.binaries.headscale).toContain(`/headscale-${cell.headscale}/`);
    });

    it('register: our node joins with a pre-auth key; Headscale lists it and the peer sees it online', async () => {
      expect(node.status().state).toBe('running');
      expect(node.status().self!.name).toBe(`tailtab-matrix.${rig.baseDomain}.`);
      const nodes = JSON.parse(await rig.headscale(['nodes', 'list', '-o', 'json'])) as {
        given_name?: string;
        name?: string;
        online?: boolean;
      }[];
      expect(nodes.map((n) => n.given_name ?? n.name).sort()).toEqual(['peer1', 'tailtab-matrix']);
      await expect
        .poll(
          async () => {
            const us = Object.values((await peer.status()).Peer ?? {}).find((x) => x.TailscaleIPs?.includes(selfIp()));
            return us ? `${us.HostName} online=${us.Online} relay=${us.Relay}` : 'absent';
          },
          { timeout: 30_000, interval: 500 },
        )
        .toBe('tailtab-matrix online=true relay=rig900');
    });

    it('map: the peer with its addresses, home region and SSH host keys', () => {
      const seen = node.status().peers.find((x) => x.nodeKey === peer.nodeKey);
      expect(seen, 'peer1 in our map').toBeDefined();
      expect(seen!.ips).toEqual(expect.arrayContaining([peer.ipv4, peer.ipv6]));
      expect(seen!.relayRegion).toBe(901);
      expect(seen!.name).toBe(`${peer.fqdn}.`);
      // tailscaled --ssh publishes its host keys in Hostinfo; control passes them on in the map.
      expect(seen!.sshHostKeys?.length ?? 0).toBeGreaterThan(0);
    });

    it('ping: disco both ways over DERP, TSMP from the peer, ICMP v4 and v6 from us', async () => {
      const out = await peer.tailscale(['ping', '--c=3', '--until-direct=false', selfIp()], { timeoutMs: 60_000 });
      expect(out).toMatch(/pong from tailtab-matrix \(100\.[\d.]+\) via DERP\(rig900\)/);
      expect(await node.discoPing('peer1')).toBeGreaterThanOrEqual(0);
      const tsmp = await peer.tailscale(['ping', '--tsmp', '--c=2', selfIp()], { timeoutMs: 60_000 });
      expect(tsmp).toMatch(/pong from tailtab-matrix \(100\.[\d.]+\)/);
      expect(node.status().counters.tsmpPongs).toBeGreaterThan(0);
      expect((await node.ping('peer1')).ip).toBe(peer.ipv4);
      expect((await node.ping(peer.ipv6)).ip).toBe(peer.ipv6);
    });

    it('TCP: a download from the peer and an upload from the peer to us, each with its SHA-256', async () => {
      const n = 4 << 20;
      const r = await httpGetOver(await node.dial('peer1', rig.httpPort), peer.ipv4, `/bytes/${n}`);
      expect(r.status).toMatch(/^HTTP\/1\.[01] 200/);
      expect(r.body.length).toBe(n);
      expect(r.sha256).toBe(bytesSha256(n));
      // The peer dials us (its WireGuard initiates if ours has not): we hash what arrives and answer.
      const l = node.listen(7101);
      const served = (async () => {
        for await (const c of l) {
          const got = await readExactly(c, 1 << 20);
          const w = c.writable.getWriter();
          await w.write(new TextEncoder().encode(createHash('sha256').update(got).digest('hex') + '\n'));
          await w.close();
          return;
        }
      })();
      const up = randomBytes(1 << 20);
      const s = await socksConnect(peer, selfIp(), 7101);
      s.write(up);
      const reply = await new Promise<string>((resolve, reject) => {
        let t = '';
        s.on('data', (d: Buffer) => {
          t += d.toString();
        });
        s.on('end', () => resolve(t));
        s.on('error', reject);
      });
      expect(reply.trim()).toBe(createHash('sha256').update(up).digest('hex'));
      await served;
      l.close();
    });

    it('Tailscale SSH: a command as root with auth "none"', async () => {
      const c = await SshClient.connect(await node.dial('peer1', 22), {
        username: 'root',
        auth: [{ type: 'none' }],
        hostKeyVerifier: tailnetAuthenticatedVerifier(peer.fqdn),
      });
      expect(c.serverVersion).toMatch(/^SSH-2\.0-Tailscale/);
      const s = await c.openSession({ command: 'id -un; echo out; echo err >&2; exit 4' });
      await s.stdin.close();
      const [out, err, exit] = await Promise.all([readStream(s.stdout), readStream(s.stderr), s.exit]);
      expect(new TextDecoder().decode(out)).toBe('root\nout\n');
      expect(new TextDecoder().decode(err)).toBe('err\n');
      expect(exit.code).toBe(4);
      c.close();
    });

    it("OpenSSH through the peer: password login to sshd behind the peer's tailnet address, host key checked", async () => {
      const sshd = rig.sshd!;
      const c = await SshClient.connect(await node.dial(peer.ipv4, sshd.port), {
        username: sshd.user,
        auth: [{ type: 'password', password: sshd.password }],
        hostKeyVerifier: (info) => {
          if (!sshd.hostKeyFingerprints.includes(info.fingerprint))
            throw new Error(`host key ${info.fingerprint} is not the rig sshd's`);
        },
      });
      expect(c.serverVersion).toMatch(/^SSH-2\.0-OpenSSH_/);
      const s = await c.openSession({ command: 'whoami' });
      await s.stdin.close();
      const [out, exit] = await Promise.all([readStream(s.stdout), s.exit]);
      expect(new TextDecoder().decode(out)).toBe(`${sshd.user}\n`);
      expect(exit.code).toBe(0);
      c.close();
    });

    it('derper restart: our home derper goes away mid-transfer; the download completes intact and pings come back', async () => {
      const home = () => derp().find((r) => r.regionId === 900);
      expect(home()?.state).toBe('connected');
      const reconnectsBefore = home()?.reconnects ?? 0;
      const n = 64 << 20;
      const conn = await node.dial('peer1', rig.httpPort);
      let got = 0;
      let done = false;
      const transfer = httpGetOver(conn, peer.ipv4, `/bytes/${n}`, (k) => {
        got += k;
      }).finally(() => {
        done = true;
      });
      await expect.poll(() => got, { timeout: 30_000, interval: 20 }).toBeGreaterThan(1 << 20);
      const tr = Date.now();
      await rig.restart('derper:900');
      expect(done).toBe(false); // the restart happened inside the transfer
      const r = await transfer;
      phases.derpRestartToEndS = (Date.now() - tr) / 1000;
      expect(r.body.length).toBe(n);
      expect(r.sha256).toBe(bytesSha256(n));
      expect(home()?.state).toBe('connected');
      expect(home()?.reconnects ?? 0).toBeGreaterThan(reconnectsBefore);
      const out = await peer.tailscale(['ping', '--c=3', '--until-direct=false', selfIp()], { timeoutMs: 60_000 });
      expect(out).toMatch(/pong from tailtab-matrix .* via DERP\(rig900\)/);
    });

    it('what this version sends that we do not speak was dropped and counted, with no trouble in our log', () => {
      const c = node.status().counters;
      // Nothing of the peer's was taken for an attack or garbage.
      expect(c.rxMalformed ?? 0).toBe(0);
      expect(c.rxSpoofedSource ?? 0).toBe(0);
      expect(c['magicsock.rxDiscoBad'] ?? 0).toBe(0);
      for (const r of derp()) expect(r.malformed ?? 0, `derp region ${r.regionId}`).toBe(0);
      // Whatever was new is counted (numbers in the cell's summary), and our log has no line of trouble.
      expect(log.filter((l) => TROUBLE.test(l.line)).map((l) => l.line)).toEqual([]);
    });
  });
}

function bare(v: string): string {
  return v.replace(/^v/, '');
}

/** The versions tailscaled (asked over its socket), its CLI and derper report. */
async function runningVersions(
  rig: Rig,
  peer: RigPeer,
): Promise<{ tailscale: string; tailscaled: string; derper: string }> {
  // `tailscale version --daemon` prints "Client: <CLI version>" and "Daemon: <running tailscaled's>".
  const ts = await peer.tailscale(['version', '--daemon']);
  const field = (name: string) => new RegExp(`${name}:\\s*(\\d+\\.\\d+\\.\\d+)`).exec(ts)?.[1] ?? `? (${ts.trim()})`;
  // derper --version: "1.102.3-ERR-BuildInfo" when built from module source (no VCS stamp).
  const derper = (await run(rig.binaries.derper, ['--version'], { timeout: 10_000 })).stdout.trim();
  return {
    tailscale: field('Client'),
    tailscaled: field('Daemon'),
    derper: /^\d+\.\d+\.\d+/.exec(derper)?.[0] ?? derper,
  };
}

/** Reads exactly n bytes from one of our node's TCP connections (the writer keeps its side open). */
async function readExactly(c: TcpConnectionLike, n: number): Promise<Buffer> {
  const r = c.readable.getReader();
  const parts: Uint8Array[] = [];
  let got = 0;
  while (got < n) {
    const { value, done } = await r.read();
    if (done) throw new Error(`the connection ended after ${got} of ${n} bytes`);
    parts.push(value);
    got += value.length;
  }
  r.releaseLock();
  if (got !== n) throw new Error(`read ${got} bytes, expected ${n}`);
  return Buffer.concat(parts);
}

/** The counters a version change would move, for the cell's one-line summary. */
function pick(c: Record<string, number> | undefined): Record<string, number> {
  if (!c) return {};
  const keys = [
    'tsmpPongs',
    'tsmpDiscoAdverts',
    'tsmpDiscoAdvertsNewKey',
    'rxUnknownProto',
    'magicsock.rxDiscoUnknownType',
    'magicsock.rxDiscoBad',
    'control.unknownMapFields',
    'control.applied',
    'wg.handshakesCompleted',
  ];
  return Object.fromEntries(keys.map((k) => [k, c[k] ?? 0]));
}
