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
  await node.up({ controlUrl: rig.headscaleUrl, authKey: rig.authKey, hostname: 'tailtab-ssh', allowInsecureDerp: true, wallClockMs: () => Date.now(), homeRegion: 900 });
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
  it('runs a command as root with auth "none" and reads its output and exit status', async () => {
    const notes: string[] = [];
    const conn = await node.dial('sshpeer', 22);
    const c = await SshClient.connect(conn, {
      username: 'root', auth: [{ type: 'none' }],
      hostKeyVerifier: tailnetAuthenticatedVerifier(peer.fqdn, (e) => notes.push(e.kind)),
    });
    expect(c.serverVersion).toMatch(/^SSH-2\.0-Tailscale/);
    // tailscaled's SSH server (golang.org/x/crypto/ssh v0.54.0 in v1.102.3's go.mod) offers the
    // post-quantum hybrid first; our default list prefers it too.
    expect(c.algorithms.kex).toBe('mlkem768x25519-sha256');
    expect(notes).toEqual(['tailnet-authenticated']);
    const s = await c.openSession({ command: 'echo "hello from $(hostname -s 2>/dev/null || echo host)"; echo err >&2; exit 3' });
    const [out, err, exit] = await Promise.all([readText(s.stdout), readText(s.stderr), s.exit]);
    expect(out).toMatch(/^hello from /);
    expect(err).toBe('err\n');
    expect(exit.code).toBe(3);
    c.close();
  });

  it('a second session on a fresh connection sees the environment of the SSH user (curve25519 forced)', async () => {
    const c = await SshClient.connect(await node.dial(peer.ipv4, 22), {
      username: 'root', auth: [{ type: 'none' }], hostKeyVerifier: tailnetAuthenticatedVerifier(peer.fqdn),
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
