// Cryptokey routing and chosen routes, against real Headscale v0.29.2, derpers and tailscaled
// v1.102.3 inside the loopback-only netns:
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/node-routes.test.ts
//
// - A hostile peer ("mallory", our own node joined with the rig's key and then driven to forge
//   packets) holds a genuine WireGuard session with our node and writes another machine's address
//   as the source: our node drops and counts every forged packet, and mallory's honest packets and a
//   real tailscaled's traffic still flow.
// - A real tailscaled advertises a subnet route and an exit node, both approved in Headscale: our
//   node sends nothing through them until the person opts in, then reaches servers behind them.
//   The "remote" addresses are documentation ranges put on this namespace's loopback, so every
//   packet stays inside the test's own namespace.
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, startAppServer } from './helpers/browser.testkit.js';
import { MemoryStore } from '../src/control/storage.js';
import { createNodeLayers } from '../src/node/layers.node.js';
import { TailnetNode } from '../src/node/node.js';
import { parseIp } from '../src/node/routes.js';
import { httpGetOver } from './helpers/node-tailnet.testkit.js';
import { startRig, type Rig, type RigPeer } from './rig/index.js';

const SUBNET = '198.51.100.0/24';
const SUBNET_HOST = '198.51.100.10';
const BEYOND_EXIT = '203.0.113.7';

let rig: Rig;
let router: RigPeer;
let node: TailnetNode;
let mallory: TailnetNode;
const servers: Server[] = [];
let subnetPort = 0;
let beyondPort = 0;

function onlyLoopback(): boolean {
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).trim().split('\n');
  return links.length === 1 && /: lo:/.test(links[0]!);
}

function serve(host: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer((_req, res) => {
      res.setHeader('Connection', 'close');
      res.end(body);
    });
    s.once('error', reject);
    s.listen(0, host, () => resolve((s.address() as AddressInfo).port));
    servers.push(s);
  });
}

async function joinNode(hostname: string): Promise<TailnetNode> {
  const n = new TailnetNode(createNodeLayers());
  await n.up({
    controlUrl: rig.headscaleUrl,
    authKey: rig.authKey,
    hostname,
    storage: new MemoryStore(),
    allowInsecureDerp: true,
    wallClockMs: () => Date.now(),
    homeRegion: 900,
  });
  return n;
}

async function waitFor<T>(what: string, f: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** An ICMP echo request from `src` to `dst` (IPv4, checksums right, so a stack would answer it). */
function echoRequest(src: string, dst: string, id: number): Uint8Array {
  const p = new Uint8Array(28);
  p[0] = 0x45;
  p[3] = 28;
  p[8] = 64;
  p[9] = 1;
  p.set(parseIp(src)!, 12);
  p.set(parseIp(dst)!, 16);
  const sum = (from: number, to: number) => {
    let s = 0;
    for (let i = from; i < to; i += 2) s += (p[i]! << 8) | p[i + 1]!;
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    return ~s & 0xffff;
  };
  const h = sum(0, 20);
  p[10] = h >> 8;
  p[11] = h & 0xff;
  p[20] = 8;
  p[24] = id >> 8;
  p[25] = id & 0xff;
  const c = sum(20, 28);
  p[22] = c >> 8;
  p[23] = c & 0xff;
  return p;
}

const counter = (n: TailnetNode, k: string) => n.status().counters[k] ?? 0;
const ipOf = (n: TailnetNode) => n.status().self!.ips.find((ip) => ip.includes('.'))!;

beforeAll(async () => {
  // The routes below put documentation addresses on loopback: only ever inside a throwaway netns.
  if (!onlyLoopback())
    throw new Error('e2e/node-routes.test.ts must run in a loopback-only network namespace (scripts/in-netns.sh)');
  execFileSync('ip', ['addr', 'add', `${SUBNET_HOST}/32`, 'dev', 'lo']);
  execFileSync('ip', ['addr', 'add', `${BEYOND_EXIT}/32`, 'dev', 'lo']);
  subnetPort = await serve(SUBNET_HOST, 'behind the subnet router');
  beyondPort = await serve(BEYOND_EXIT, 'beyond the exit node');

  rig = await startRig({ peers: [{ name: 'router', homeRegion: 901, derpOnly: true }], sshd: false });
  router = rig.peer('router');
  await router.tailscale(['set', `--advertise-routes=${SUBNET}`, '--advertise-exit-node']);
  const routerId = await waitFor('Headscale to list the router with its advertised routes', async () => {
    const nodes = JSON.parse(await rig.headscale(['nodes', 'list', '-o', 'json'])) as {
      id: number;
      given_name?: string;
      name?: string;
      available_routes?: string[];
    }[];
    const n = nodes.find((x) => (x.given_name ?? x.name) === 'router');
    return n && (n.available_routes ?? []).includes(SUBNET) ? n.id : undefined;
  });
  await rig.headscale([
    'nodes',
    'approve-routes',
    '--identifier',
    String(routerId),
    '--routes',
    `${SUBNET},0.0.0.0/0,::/0`,
  ]);
  node = await joinNode('tailtab-routes');
  mallory = await joinNode('mallory');
  // Our node's map carries the approved routes once Headscale has pushed them.
  await waitFor(
    "the router's approved routes in our netmap",
    () => node.status().peers.some((p) => p.ips.includes(router.ipv4)) || undefined,
  );
}, 240_000);

afterAll(async () => {
  await mallory?.down();
  await node?.down();
  await rig?.stop();
  for (const s of servers) s.close();
});

describe('cryptokey routing against a peer with a real WireGuard session', () => {
  it("drops and counts packets a peer sends with another machine's source address; honest traffic still flows", async () => {
    const target = ipOf(node);
    const forge = (mallory as unknown as { outbound(ip: Uint8Array): void }).outbound.bind(mallory);
    // Honest first: mallory's own address, through the same session the forgeries will use.
    const honest = await mallory.ping(target, { timeoutMs: 20_000 });
    expect(honest.ip).toBe(target);
    const spoofedBefore = counter(node, 'rxSpoofedSource');
    const wgRxBefore = counter(node, 'wg.rxPackets');
    forge(echoRequest(router.ipv4, target, 0x5101)); // the real tailscaled's address
    forge(echoRequest(SUBNET_HOST, target, 0x5102)); // inside the router's subnet
    forge(echoRequest(BEYOND_EXIT, target, 0x5103)); // nobody's address
    await waitFor(
      'three forged packets counted',
      () => counter(node, 'rxSpoofedSource') - spoofedBefore >= 3 || undefined,
      20_000,
    );
    expect(counter(node, 'rxSpoofedSource') - spoofedBefore).toBe(3);
    // They did arrive through WireGuard (decrypted fine), so it is the source check that refused them.
    expect(counter(node, 'wg.rxPackets') - wgRxBefore).toBeGreaterThanOrEqual(3);
    // The session is unharmed: honest pings both ways, and the real tailscaled is still reached.
    expect((await mallory.ping(target, { timeoutMs: 20_000 })).ip).toBe(target);
    expect((await node.ping(ipOf(mallory), { timeoutMs: 20_000 })).ip).toBe(ipOf(mallory));
    expect((await node.ping(router.ipv4, { timeoutMs: 20_000 })).ip).toBe(router.ipv4);
    const out = await router.tailscale(['ping', '--icmp', '--c', '1', target], { timeoutMs: 30_000 });
    expect(out).toMatch(/pong from/);
  });
});

describe('subnet routes and exit nodes the person chooses', () => {
  it('uses neither the approved subnet route nor the exit node until chosen', async () => {
    expect(() => node.resolve(SUBNET_HOST)).toThrow(/not reachable through the tailnet/);
    await expect(node.dial(SUBNET_HOST, subnetPort, { timeoutMs: 5_000 })).rejects.toThrow(
      /not reachable through the tailnet/,
    );
    await expect(node.dial(BEYOND_EXIT, beyondPort, { timeoutMs: 5_000 })).rejects.toThrow(
      /not reachable through the tailnet/,
    );
    // Forced onto the wire anyway (a stale caller), a packet finds no route and is counted, not sent.
    const before = counter(node, 'txNoRoute');
    (node as unknown as { outbound(ip: Uint8Array): void }).outbound(echoRequest(ipOf(node), SUBNET_HOST, 0x5201));
    expect(counter(node, 'txNoRoute')).toBe(before + 1);
  });

  it('reaches a server behind the subnet router once "use subnet routes" is on', async () => {
    node.setRoutePrefs({ acceptRoutes: true });
    const conn = await node.dial(SUBNET_HOST, subnetPort, { timeoutMs: 20_000 });
    const r = await httpGetOver(conn, SUBNET_HOST, '/');
    expect(r.status).toMatch(/^HTTP\/1\.1 200/);
    expect(r.body.toString()).toBe('behind the subnet router');
    // Still no exit node: an address outside every route is refused.
    await expect(node.dial(BEYOND_EXIT, beyondPort, { timeoutMs: 5_000 })).rejects.toThrow(/not reachable/);
  });

  it('reaches any address through the exit node once it is chosen, and stops when it is cleared', async () => {
    const id = node.status().peers.find((p) => p.ips.includes(router.ipv4))!.id;
    node.setRoutePrefs({ exitNodeId: id });
    const conn = await node.dial(BEYOND_EXIT, beyondPort, { timeoutMs: 20_000 });
    const r = await httpGetOver(conn, BEYOND_EXIT, '/');
    expect(r.body.toString()).toBe('beyond the exit node');
    node.setRoutePrefs({});
    await expect(node.dial(BEYOND_EXIT, beyondPort, { timeoutMs: 5_000 })).rejects.toThrow(/not reachable/);
    await expect(node.dial(SUBNET_HOST, subnetPort, { timeoutMs: 5_000 })).rejects.toThrow(/not reachable/);
  });
});

// The same choice made by a person in the app (Chromium): the machines list shows the router's
// subnet and exit-node offer; the web view cannot reach the subnet's server until "Use subnet
// routes" is ticked, then shows it (on its own origin, through the Worker's node).
describe('the person chooses routes in the app', () => {
  it('a server behind the subnet router is refused in the web view, then shown once "Use subnet routes" is on', async () => {
    const configPath = join(rig.dir, 'routes-app-config.json');
    writeFileSync(configPath, '{}');
    const app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl, TAILTAB_APP_CONFIG: configPath });
    const browser = await launchChromium();
    try {
      writeFileSync(
        configPath,
        JSON.stringify({
          controlUrl: '/',
          authKey: rig.authKey,
          hostname: 'routes-browser',
          autoConnect: true,
          allowInsecureDerp: true,
          ephemeral: true,
        }),
      );
      const appUrl = app.url.replace('127.0.0.1', 'tailtab.localhost');
      const page = await (await browser.newContext()).newPage();
      await page.goto(appUrl + '/#machines');
      const row = page.locator('tt-machines tr[data-peer="router"]');
      await expect.poll(() => row.count(), { timeout: 90_000 }).toBe(1);
      await expect
        .poll(
          () =>
            row
              .locator('[data-routes]')
              .innerText()
              .catch(() => ''),
          { timeout: 30_000 },
        )
        .toBe(`routes ${SUBNET} (not in use)`);
      expect(await row.getByRole('button', { name: 'Use router as exit node' }).count()).toBe(1);

      const show = async () => {
        await page.goto(appUrl + '/#web');
        await page.locator('tt-webview #address').fill(`http://${SUBNET_HOST}:${subnetPort}/`);
        await page.locator('tt-webview').getByRole('button', { name: 'Go' }).click();
      };
      await show();
      const shadowText = () => page.locator('tt-webview').evaluate((e) => e.shadowRoot?.textContent ?? '');
      const frame = page.frameLocator('tt-webview iframe');
      // Not routed: the proxied request is refused by the node, in words, in the frame.
      await expect
        .poll(
          () =>
            frame
              .locator('body')
              .innerText({ timeout: 2000 })
              .catch(() => ''),
          { timeout: 60_000 },
        )
        .toMatch(/not a machine this web view may reach/);
      expect(await shadowText()).not.toContain('behind the subnet router');

      await page.goto(appUrl + '/#machines');
      await page.locator('tt-machines #accept-routes').check();
      await expect
        .poll(
          () =>
            row
              .locator('[data-routes]')
              .innerText()
              .catch(() => ''),
          { timeout: 20_000 },
        )
        .toBe(`routes ${SUBNET}`);
      await show();
      await expect
        .poll(
          () =>
            frame
              .locator('body')
              .innerText({ timeout: 2000 })
              .catch(() => ''),
          { timeout: 60_000 },
        )
        .toBe('behind the subnet router');
      await page.screenshot({ path: join(process.cwd(), 'test-results', 'routes-subnet-webview.png'), fullPage: true });
    } finally {
      await browser.close().catch(() => {});
      await app.stop();
    }
  });
});
