// Interop: our netstack against gVisor's TCP inside unmodified tailscaled v1.102.3 (userspace
// networking), through the whole node (TailnetNode: control, DERP, WireGuard, netstack) in the rig:
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/netstack-gvisor.test.ts
// tailscaled forwards connections to its tailnet address to 127.0.0.1 on the same port, so the
// loopback servers below are reached through gVisor's TCP; connections the other way start in
// gVisor too (tailscaled's SOCKS5 proxy dials our node).
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/control/storage.js';
import { createNodeLayers } from '../src/node/layers.node.js';
import { TailnetNode, type TcpConnectionLike } from '../src/node/node.js';
import {
  readAll,
  sinkHeader,
  socksConnect,
  startEcho,
  startSink,
  type LoopServer,
} from './helpers/node-tailnet.testkit.js';
import { startRig, type Rig, type RigPeer } from './rig/index.js';

const MB = 1 << 20;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let rig: Rig;
let node: TailnetNode;
let peer1: RigPeer;
let peer2: RigPeer;
let sink: LoopServer;
let echo: LoopServer;

beforeAll(async () => {
  rig = await startRig({
    peers: [
      { name: 'peer1', homeRegion: 900, derpOnly: true },
      { name: 'peer2', homeRegion: 900, derpOnly: true },
    ],
    sshd: false,
  });
  peer1 = rig.peer('peer1');
  peer2 = rig.peer('peer2');
  sink = await startSink();
  echo = await startEcho();
  node = new TailnetNode(createNodeLayers());
  await node.up({
    controlUrl: rig.headscaleUrl,
    authKey: rig.authKey,
    hostname: 'netstack-gvisor',
    storage: new MemoryStore(),
    allowInsecureDerp: true,
    wallClockMs: () => Date.now(),
    homeRegion: 900,
  });
}, 300_000);

afterAll(async () => {
  await node?.down();
  await sink?.close();
  await echo?.close();
  await rig?.stop();
});

const selfIp = (v6 = false) => node.status().self!.ips.find((ip) => ip.includes(':') === v6)!;

async function writeAll(c: TcpConnectionLike, parts: Uint8Array[], close: boolean): Promise<void> {
  const w = c.writable.getWriter();
  for (const p of parts) for (let i = 0; i < p.length; i += 256 * 1024) await w.write(p.subarray(i, i + 256 * 1024));
  if (close) await w.close();
  else w.releaseLock();
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what}: no result within ${ms} ms`)), ms)),
  ]);
}

describe('netstack against gVisor (tailscaled userspace networking)', () => {
  it('uploads 24 MB to a server behind a peer: gVisor receives every byte (SHA-256), then closes first and we end cleanly', async () => {
    const data = randomBytes(24 * MB);
    const c = await node.dial(peer1.ipv4, sink.port);
    await withTimeout(writeAll(c, [sinkHeader(data.length), data], false), 120_000, 'upload');
    const answer = (await withTimeout(readAll(c), 60_000, 'sink answer')).toString(); // ends at gVisor's FIN
    expect(answer).toBe(`${data.length} ${sha(data)}\n`);
    await withTimeout(Promise.resolve(c.close()), 10_000, 'close');
    await withTimeout(c.closed!, 10_000, 'closed');
  }, 240_000);

  it('16 MB each way at once through an echo behind a peer over IPv6; we close first and the echo ends cleanly', async () => {
    const data = randomBytes(16 * MB);
    const c = await node.dial(peer1.ipv6, echo.port, { preferV6: true });
    const [back] = await withTimeout(Promise.all([readAll(c), writeAll(c, [data], true)]), 180_000, 'echo');
    expect(back.length).toBe(data.length);
    expect(sha(back)).toBe(sha(data));
    await withTimeout(c.closed!, 10_000, 'closed');
  }, 240_000);

  // tailscaled's SOCKS5 proxy closes both of its sockets as soon as one direction ends, which resets
  // the loopback side if the client is still sending, so we send our FIN once both directions are done.
  it('gVisor connects to our listener (SOCKS5 on a peer): 16 MB each way, SHA-256 equal, we close first', async () => {
    const ours = randomBytes(16 * MB);
    const theirs = randomBytes(16 * MB);
    const l = node.listen(7101);
    const served = (async () => {
      const c = await l.accept();
      // Read the 8-byte length, then that many bytes, while sending ours; then FIN.
      const r = c.readable.getReader();
      const h = createHash('sha256');
      let head = Buffer.alloc(0);
      let want = -1;
      let n = 0;
      const reading = (async () => {
        while (want < 0 || n < want) {
          const { value, done } = await r.read();
          if (done) break;
          let d = Buffer.from(value);
          if (want < 0) {
            head = Buffer.concat([head, d]);
            if (head.length < 8) continue;
            want = Number(head.readBigUInt64BE(0));
            d = head.subarray(8);
          }
          n += d.length;
          h.update(d);
        }
        r.releaseLock();
        return { n, sha: h.digest('hex') };
      })();
      // Start sending once the client has spoken: socksConnect (a shared helper) drops bytes that
      // arrive with the SOCKS reply, before the test has attached its listener.
      while (want < 0) await new Promise((res) => setTimeout(res, 5));
      const [got] = await Promise.all([reading, writeAll(c, [ours], false)]);
      await c.close(); // our FIN, after both directions are complete
      return { got, c };
    })();
    served.catch(() => undefined); // observed below; a failure elsewhere must not leave it unhandled
    const s: Socket = await socksConnect(peer2, selfIp(), 7101);
    const received: Buffer[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      s.on('data', (d: Buffer) => received.push(d));
      s.on('end', () => resolve());
      s.on('error', reject);
    });
    s.write(Buffer.from(sinkHeader(theirs.length)));
    s.write(theirs);
    await withTimeout(ended, 180_000, 'our bytes at the SOCKS client');
    const back = Buffer.concat(received);
    expect(back.length).toBe(ours.length);
    expect(sha(back)).toBe(sha(ours));
    const { got, c } = await withTimeout(served, 60_000, 'our side');
    expect(got.n).toBe(theirs.length);
    expect(got.sha).toBe(sha(theirs));
    await withTimeout(c.closed!, 20_000, 'closed');
    l.close();
  }, 300_000);

  it('a closed port behind a peer: gVisor refuses, the dial fails with a clear error', async () => {
    await expect(node.dial(peer1.ipv4, 1, { timeoutMs: 15_000 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  }, 60_000);
});
