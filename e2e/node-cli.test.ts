// The command-line entry (`npm run cli` = tsx src/node/cli.ts) as a user runs it, against the rig:
// real Headscale, derpers and tailscaled. Each run is a fresh process with its own node.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/node-cli.test.ts
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSha256, REPO_ROOT, startRig, type Rig } from './rig/index.js';
import { createHash } from 'node:crypto';

let rig: Rig;
const stateDir = mkdtempSync(join(tmpdir(), 'tailtab-cli-'));

beforeAll(async () => {
  rig = await startRig({ peers: [{ name: 'peer1', homeRegion: 900, derpOnly: true }], sshd: false });
});
afterAll(async () => {
  await rig?.stop();
});

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function cli(args: string[], o: { input?: Buffer | string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      join(REPO_ROOT, 'node_modules/.bin/tsx'),
      ['src/node/cli.ts', '--control-url', rig.headscaleUrl, '--allow-insecure-derp', ...args],
      {
        cwd: REPO_ROOT,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`cli ${args.join(' ')} timed out; stderr:\n${err}`));
    }, o.timeoutMs ?? 60_000);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout: Buffer.concat(out), stderr: err });
    });
    p.stdin.end(o.input ?? '');
  });
}

describe('tailtab CLI against the rig', () => {
  const state = join(stateDir, 'state.json');

  it('`status` logs in with the pre-auth key, prints self and the tailscaled peer, and keeps the login in --state', async () => {
    const r = await cli(['status', '--auth-key', rig.authKey, '--hostname', 'tailtab-cli', '--state', state]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const st = JSON.parse(r.stdout.toString()) as {
      state: string;
      self: { name: string; nodeKey: string; ips: string[] };
      peers: { nodeKey: string; ips: string[] }[];
    };
    expect(st.state).toBe('running');
    expect(st.self.name).toBe(`tailtab-cli.${rig.baseDomain}.`);
    const p1 = rig.peer('peer1');
    expect(st.peers.find((p) => p.nodeKey === p1.nodeKey)?.ips).toContain(p1.ipv4);
    expect(statSync(state).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(state, 'utf8')).loggedIn).toBe(true);

    // Second run: no auth key, same state file = the same node, no new registration.
    const again = await cli(['status', '--state', state, '--hostname', 'tailtab-cli']);
    expect(again.code).toBe(0);
    const st2 = JSON.parse(again.stdout.toString()) as typeof st;
    expect(st2.self.nodeKey).toBe(st.self.nodeKey);
    expect(st2.self.ips).toEqual(st.self.ips);
    const nodes = JSON.parse(await rig.headscale(['nodes', 'list', '-o', 'json'])) as {
      given_name?: string;
      name?: string;
    }[];
    expect(nodes.filter((n) => (n.given_name ?? n.name) === 'tailtab-cli').length).toBe(1);
  });

  it('`ping <peer>` gets ICMP echo replies over the tailnet, by MagicDNS name and over IPv6', async () => {
    const p1 = rig.peer('peer1');
    const r = await cli(['ping', 'peer1', '--count', '2', '--state', state]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toMatch(
      new RegExp(`pong from peer1 \\(${p1.ipv4.replace(/\./g, '\\.')}\\) in [\\d.]+ ms\\n.*pong from peer1`, 's'),
    );
    const r6 = await cli(['ping', p1.fqdn, '-6', '--state', state]);
    expect(r6.code).toBe(0);
    expect(r6.stdout.toString()).toContain(`(${p1.ipv6})`);
    const bad = await cli(['ping', 'no-such-peer', '--state', state]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unknown host no-such-peer/);
  });

  it('`nc <peer> <port>` carries stdin to the peer and the answer to stdout (HTTP through the tailnet)', async () => {
    const r = await cli(['nc', 'peer1', String(rig.httpPort), '--state', state], {
      input: 'GET /bytes/100000 HTTP/1.0\r\nHost: peer1\r\n\r\n',
    });
    expect(r.code).toBe(0);
    const body = r.stdout.subarray(r.stdout.indexOf('\r\n\r\n') + 4);
    expect(r.stdout.toString('latin1')).toMatch(/^HTTP\/1\.[01] 200/);
    expect(createHash('sha256').update(body).digest('hex')).toBe(bytesSha256(100000));
  });
});
