// The rig itself, proven against the real programs: two unmodified tailscaled peers homed on
// different DERP regions reach each other over the rig's DERP servers, TCP through the tailnet
// reaches the HTTP and OpenSSH servers behind a peer, Headscale's policy is enforced, and stop()
// leaves no process behind. Run inside a loopback-only netns:
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/rig.test.ts
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSha256, INDEX_TITLE, startRig, type Rig, type RigPeer, type TailscaleStatus } from './rig/index.js';

/** Opens a TCP connection to host:port through a peer's tailscaled SOCKS5 proxy (RFC 1928, no auth). */
function socksConnect(peer: RigPeer, host: string, port: number, timeoutMs = 20_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: peer.socks5Port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`SOCKS5 connect to ${host}:${port} timed out`));
    }, timeoutMs);
    let buf = Buffer.alloc(0);
    let stage = 0;
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('connect', () => s.write(Buffer.from([5, 1, 0])));
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2) {
        if (buf[0] !== 5 || buf[1] !== 0) {
          clearTimeout(timer);
          s.destroy();
          reject(new Error('SOCKS5: no acceptable auth'));
          return;
        }
        buf = buf.subarray(2);
        stage = 1;
        const ip = host.split('.').map(Number);
        const p = Buffer.alloc(2);
        p.writeUInt16BE(port);
        s.write(Buffer.concat([Buffer.from([5, 1, 0, 1, ...ip]), p]));
      }
      if (stage === 1 && buf.length >= 10) {
        clearTimeout(timer);
        // Bytes the server sent right behind the reply must reach the caller: pause so nothing is
        // emitted while no 'data' listener is attached, put them back, and resume only after the
        // caller's continuation (a microtask) had the chance to attach its listener.
        s.pause();
        s.off('data', onData);
        if (buf[1] !== 0) {
          s.destroy();
          reject(new Error(`SOCKS5 connect to ${host}:${port} refused (reply ${buf[1]})`));
          return;
        }
        const rest = buf.subarray(10);
        if (rest.length) s.unshift(rest);
        resolve(s);
        setImmediate(() => s.resume());
      }
    };
    s.on('data', onData);
  });
}

/** HTTP/1.0 GET through the tailnet; returns status line and body. */
async function httpGet(
  from: RigPeer,
  ip: string,
  port: number,
  path: string,
): Promise<{ status: string; headers: string; body: Buffer }> {
  const s = await socksConnect(from, ip, port);
  s.write(`GET ${path} HTTP/1.0\r\nHost: ${ip}\r\n\r\n`);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', resolve);
    s.on('error', reject);
  });
  const all = Buffer.concat(chunks);
  const sep = all.indexOf('\r\n\r\n');
  const head = all.subarray(0, sep).toString('latin1');
  return { status: head.split('\r\n')[0]!, headers: head, body: all.subarray(sep + 4) };
}

/** Reads the SSH identification line a server sends first (RFC 4253 §4.2). */
async function sshBanner(from: RigPeer, ip: string, port: number): Promise<string> {
  const s = await socksConnect(from, ip, port);
  return new Promise((resolve, reject) => {
    let text = '';
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const nl = text.indexOf('\n');
      if (nl >= 0) {
        s.destroy();
        resolve(text.slice(0, nl).trim());
      }
    });
    s.on('error', reject);
    s.on('end', () => resolve(text.trim()));
  });
}

describe('rig: a real local tailnet', () => {
  let rig: Rig;
  let peer1: RigPeer;
  let peer2: RigPeer;

  beforeAll(async () => {
    rig = await startRig({
      peers: [
        { name: 'peer1', homeRegion: 900, derpOnly: true },
        { name: 'peer2', homeRegion: 901, derpOnly: true, ssh: true },
      ],
    });
    peer1 = rig.peer('peer1');
    peer2 = rig.peer('peer2');
  });
  afterAll(async () => {
    await rig?.stop();
  });

  it('gives each peer tailnet addresses, a MagicDNS name and the home DERP region it was asked for', () => {
    expect(peer1.ipv4).toMatch(/^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/);
    expect(peer2.ipv6).toMatch(/^fd7a:115c:a1e0:/);
    expect(peer1.fqdn).toBe(`peer1.${rig.baseDomain}`);
    expect(peer1.nodeKey).toMatch(/^nodekey:[0-9a-f]{64}$/);
    expect(peer1.homeRegion).toBe(900);
    expect(peer2.homeRegion).toBe(901);
    expect(rig.derpRegions.map((r) => r.regionId)).toEqual([900, 901]);
  });

  it('each peer sees the other online in `tailscale status --json`, homed on the other region', async () => {
    for (const [me, other, region] of [
      [peer1, peer2, 'rig901'],
      [peer2, peer1, 'rig900'],
    ] as const) {
      const st: TailscaleStatus = await me.status();
      const seen = Object.values(st.Peer ?? {}).find((p) => p.PublicKey === other.nodeKey);
      expect(seen, `${me.name} should list ${other.name}`).toBeDefined();
      expect(seen!.Online).toBe(true);
      expect(seen!.TailscaleIPs).toContain(other.ipv4);
      expect(seen!.DNSName.replace(/\.$/, '')).toBe(other.fqdn);
      expect(seen!.Relay).toBe(region);
    }
  });

  it('`tailscale ping` gets pongs relayed over the rig DERP', async () => {
    const out = await peer1.tailscale(['ping', '--c=3', '--until-direct=false', peer2.ipv4], { timeoutMs: 60_000 });
    expect(out).toMatch(/pong from peer2 \(100\.[\d.]+\) via DERP\(rig90[01]\)/);
    const tsmp = await peer2.tailscale(['ping', '--tsmp', '--c=1', peer1.ipv4], { timeoutMs: 60_000 });
    expect(tsmp).toMatch(/pong from peer1/);
  });

  it("a TCP connection through the tailnet downloads 4 MiB from the other peer's HTTP server intact", async () => {
    const n = 4 << 20;
    const res = await httpGet(peer1, peer2.ipv4, rig.httpPort, `/bytes/${n}`);
    expect(res.status).toMatch(/^HTTP\/1\.[01] 200/);
    expect(res.body.length).toBe(n);
    expect(createHash('sha256').update(res.body).digest('hex')).toBe(bytesSha256(n));
  });

  it('serves the test web app (HTML, script, image) to tailnet clients', async () => {
    const page = await httpGet(peer2, peer1.ipv4, rig.httpPort, '/');
    expect(page.body.toString()).toContain(`<title>${INDEX_TITLE}</title>`);
    const img = await httpGet(peer2, peer1.ipv4, rig.httpPort, '/image.png');
    expect([...img.body.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });

  it('OpenSSH behind a peer and Tailscale SSH on port 22 answer through the tailnet', async () => {
    expect(rig.sshd).toBeDefined();
    expect(await sshBanner(peer1, peer2.ipv4, rig.sshd!.port)).toMatch(/^SSH-2\.0-OpenSSH_/);
    expect(await sshBanner(peer1, peer2.ipv4, 22)).toMatch(/^SSH-2\.0-Tailscale/);
  });

  it('enforces a policy change from Headscale: a denied port stops answering, restoring it brings it back', async () => {
    await rig.setPolicy({ acls: [{ action: 'accept', src: ['*'], dst: ['*:22'] }], ssh: [] });
    await expect
      .poll(
        async () => {
          try {
            await httpGet(peer1, peer2.ipv4, rig.httpPort, '/health');
            return 'reachable';
          } catch {
            return 'blocked';
          }
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe('blocked');
    await rig.setPolicy(
      JSON.parse(readFileSync(new URL('./rig/templates/policy.json', import.meta.url), 'utf8')) as object,
    );
    await expect
      .poll(
        async () => {
          try {
            return (await httpGet(peer1, peer2.ipv4, rig.httpPort, '/health')).body.toString();
          } catch {
            return 'blocked';
          }
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe('ok\n');
  });

  it('peers recover after their DERP server restarts', async () => {
    await rig.restart('derper:901');
    await expect
      .poll(
        async () => {
          try {
            return (await httpGet(peer1, peer2.ipv4, rig.httpPort, '/health')).body.toString();
          } catch {
            return 'unreachable';
          }
        },
        { timeout: 60_000, interval: 1000 },
      )
      .toBe('ok\n');
  });

  it('stop() leaves no rig process behind', async () => {
    const pids = rig.pids();
    const dir = rig.dir;
    expect(pids.length).toBeGreaterThanOrEqual(6); // 2 derpers, headscale, 2 tailscaled, sshd
    await rig.stop();
    for (const pid of pids) {
      expect(() => process.kill(pid, 0), `pid ${pid} still alive`).toThrow();
    }
    let left = '';
    try {
      left = execFileSync('pgrep', ['-af', dir]).toString();
    } catch {
      left = '';
    }
    expect(left).toBe('');
    expect(existsSync(dir)).toBe(false);
  });
});
