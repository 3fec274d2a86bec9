// Tailscale SSH from our node: our SshClient (src/ssh) over a TCP connection our TailnetNode dials
// through the tailnet to an unmodified tailscaled started with --ssh, which answers on port 22 of
// its tailnet address. Tailscale SSH authenticates by the tailnet identity (auth "none"), so the
// host key is accepted by tailnetAuthenticatedVerifier.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/ssh-tailscale.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRig, type Rig, type RigPeer } from './rig/index.js';
import { TailnetNode } from '../src/node/node.js';
import { createNodeLayers } from '../src/node/layers.node.js';
import { SshClient } from '../src/ssh/client.js';
import { tailnetAuthenticatedVerifier } from '../src/ssh/known-hosts.js';

let rig: Rig;
let node: TailnetNode;
let peer: RigPeer;

beforeAll(async () => {
  rig = await startRig({ peers: [{ name: 'sshpeer', homeRegion: 901, derpOnly: true, ssh: true }], sshd: false });
  peer = rig.peer('sshpeer');
  node = new TailnetNode(createNodeLayers());
  await node.up({
    controlUrl: rig.headscaleUrl,
    authKey: rig.authKey,
    hostname: 'tailtab-ssh',
    allowInsecureDerp: true,
    wallClockMs: () => Date.now(),
    homeRegion: 900,
  });
});
afterAll(async () => {
  await node?.down();
  await rig?.stop();
});

async function readText(s: ReadableStream<Uint8Array>): Promise<string> {
  let t = '';
  for await (const c of s as unknown as AsyncIterable<Uint8Array>) t += new TextDecoder().decode(c);
  return t;
}

describe('Tailscale SSH through our node', () => {
  it('Tailscale SSH ignores "signal" requests (tailssh never reads gliderssh Session.Signals); stdin EOF ends the command; byte counters', async () => {
    const c = await SshClient.connect(await node.dial('sshpeer', 22), {
      username: 'root',
      auth: [{ type: 'none' }],
      hostKeyVerifier: tailnetAuthenticatedVerifier(peer.fqdn),
    });
    const s = await c.openSession({ command: 'echo started; exec wc -c' });
    const reader = s.stdout.getReader();
    let seen = '';
    while (!seen.includes('started\n')) seen += new TextDecoder().decode((await reader.read()).value);
    const w = s.stdin.getWriter();
    await w.write(new Uint8Array(4000));
    // RFC 4254 §6.9 signal without want-reply: sent, but tailscaled v1.102.3 buffers and drops it,
    // so wc keeps running until stdin ends and then reports what it read.
    await s.signal('TERM');
    await w.close();
    while (!/4000\n/.test(seen)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    const exit = await s.exit;
    expect(seen).toMatch(/^started\n\s*4000\n$/);
    expect(exit).toMatchObject({ code: 0 });
    expect(exit.signal).toBeUndefined();
    expect(s.stats()).toMatchObject({ bytesIn: seen.length, bytesOut: 4000 });
    c.close();
  }, 60_000);

  it('runs a command as root with auth "none" and reads its output and exit status', async () => {
    const notes: string[] = [];
    const conn = await node.dial('sshpeer', 22);
    const c = await SshClient.connect(conn, {
      username: 'root',
      auth: [{ type: 'none' }],
      hostKeyVerifier: tailnetAuthenticatedVerifier(peer.fqdn, (e) => notes.push(e.kind)),
    });
    expect(c.serverVersion).toMatch(/^SSH-2\.0-Tailscale/);
    // tailscaled's SSH server (golang.org/x/crypto/ssh v0.54.0 in v1.102.3's go.mod) offers the
    // post-quantum hybrid first; our default list prefers it too.
    expect(c.algorithms.kex).toBe('mlkem768x25519-sha256');
    expect(notes).toEqual(['tailnet-authenticated']);
    const s = await c.openSession({
      command: 'echo "hello from $(hostname -s 2>/dev/null || echo host)"; echo err >&2; exit 3',
    });
    const [out, err, exit] = await Promise.all([readText(s.stdout), readText(s.stderr), s.exit]);
    expect(out).toMatch(/^hello from /);
    expect(err).toBe('err\n');
    expect(exit.code).toBe(3);
    // A re-exchange on the same connection runs the ML-KEM hybrid again; the session keys change
    // and a new command still works.
    await c.rekey();
    expect(c.stats.transport.kexCount).toBe(2);
    const again = await c.openSession({ command: 'echo after-rekey' });
    const [out2, exit2] = await Promise.all([readText(again.stdout), again.exit]);
    expect(out2).toBe('after-rekey\n');
    expect(exit2.code).toBe(0);
    c.close();
  });

  it('a second session on a fresh connection sees the environment of the SSH user (curve25519 forced)', async () => {
    const c = await SshClient.connect(await node.dial(peer.ipv4, 22), {
      username: 'root',
      auth: [{ type: 'none' }],
      hostKeyVerifier: tailnetAuthenticatedVerifier(peer.fqdn),
      kex: ['curve25519-sha256'],
    });
    expect(c.algorithms.kex).toBe('curve25519-sha256');
    const s = await c.openSession({ command: 'id -un; echo $HOME' });
    const [out, exit] = await Promise.all([readText(s.stdout), s.exit]);
    expect(out.split('\n').slice(0, 2)).toEqual(['root', '/root']);
    expect(exit.code).toBe(0);
    c.close();
  });
});
