// SFTP over the tailnet: our SftpClient on our SshClient on a TCP connection our TailnetNode dials
// to an unmodified tailscaled --ssh (Tailscale SSH, auth "none"). tailssh answers the "sftp"
// subsystem with its own embedded server (`tailscaled be-child sftp`, github.com/pkg/sftp), run
// as the user by the incubator; OpenSSH's sftp-server is not used even when installed.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/ssh-sftp-tailscale.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../src/crypto/bytes.js';
import { startRig, type Rig, type RigPeer } from './rig/index.js';
import { TailnetNode } from '../src/node/node.js';
import { createNodeLayers } from '../src/node/layers.node.js';
import { SshClient } from '../src/ssh/client.js';
import { SftpClient } from '../src/ssh/sftp.js';
import { tailnetAuthenticatedVerifier } from '../src/ssh/known-hosts.js';

let rig: Rig;
let node: TailnetNode;
let peer: RigPeer;

beforeAll(async () => {
  rig = await startRig({ peers: [{ name: 'sftppeer', homeRegion: 901, derpOnly: true, ssh: true }], sshd: false });
  peer = rig.peer('sftppeer');
  node = new TailnetNode(createNodeLayers());
  await node.up({
    controlUrl: rig.headscaleUrl,
    authKey: rig.authKey,
    hostname: 'tailtab-sftp',
    allowInsecureDerp: true,
    wallClockMs: () => Date.now(),
    homeRegion: 900,
  });
});
afterAll(async () => {
  await node?.down();
  await rig?.stop();
});

describe('SFTP over Tailscale SSH through our node', () => {
  it('uploads and downloads 8 MiB through tailscaled --ssh (its embedded pkg/sftp server), SHA-256 checked on both ends', async () => {
    const ssh = await SshClient.connect(await node.dial('sftppeer', 22), {
      username: 'root',
      auth: [{ type: 'none' }],
      hostKeyVerifier: tailnetAuthenticatedVerifier(peer.fqdn),
    });
    const sftp = await SftpClient.open(ssh);
    expect(sftp.version).toBe(3);
    const home = await sftp.realpath('.');
    expect(home).toBe('/root');
    const data = new Uint8Array(8 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
    const want = toHex(sha256(data));
    const path = `/tmp/tailtab-sftp-${process.pid}.bin`;
    let t = performance.now();
    await sftp.writeFile(path, data, { mode: 0o640 });
    const upMs = performance.now() - t;
    const s = await ssh.openSession({ command: `sha256sum ${path}` });
    await s.stdin.close();
    let out = '';
    for await (const c of s.stdout as unknown as AsyncIterable<Uint8Array>) out += new TextDecoder().decode(c);
    expect(out.split(' ')[0]).toBe(want);
    t = performance.now();
    const back = await sftp.readFile(path);
    const downMs = performance.now() - t;
    expect(toHex(sha256(back))).toBe(want);
    const st = await sftp.stat(path);
    expect(st.size).toBe(data.length);
    // tailscaled does not run OpenSSH's sftp-server: it serves SFTP itself (`tailscaled be-child
    // sftp`, ssh/tailssh/incubator.go), github.com/pkg/sftp v1.13.6 in v1.102.3, whose OPEN creates
    // files 0644 whatever the attrs ask (server.go: os.OpenFile(..., 0o644)). Pinned here; SETSTAT
    // does change the mode.
    expect(st.permissions! & 0o777).toBe(0o644);
    await sftp.chmod(path, 0o640);
    expect((await sftp.stat(path)).permissions! & 0o777).toBe(0o640);
    const moved = `${path}.moved`;
    await sftp.rename(path, moved);
    expect((await sftp.stat(moved)).size).toBe(data.length);
    await sftp.rename(moved, path);
    expect((await sftp.list('/tmp')).some((e) => e.filename === path.slice(5))).toBe(true);
    // The app's upload: a temporary file renamed over the target (posix-rename when offered, else
    // remove + rename), keeping the replaced file's mode; no temporary file left behind.
    const small = data.subarray(0, 100_000);
    expect(await sftp.uploadAtomic(path, new Blob([small]).stream())).toBe(small.length);
    expect(toHex(sha256(await sftp.readFile(path)))).toBe(toHex(sha256(small)));
    expect((await sftp.stat(path)).permissions! & 0o777).toBe(0o640);
    expect((await sftp.list('/tmp')).filter((e) => e.filename.endsWith('.tailtab-upload'))).toEqual([]);
    await sftp.remove(path);
    await expect(sftp.stat(path)).rejects.toThrow(`cannot stat "${path}": no such file or directory`);
    console.log(
      `tailtab sftp over the tailnet (DERP-only, Node): upload ${(data.length / 1e3 / upMs).toFixed(1)} MB/s, download ${(data.length / 1e3 / downMs).toFixed(1)} MB/s`,
    );
    sftp.close();
    ssh.close();
  }, 170_000);
});
