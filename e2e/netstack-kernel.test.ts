// Interop: our netstack (src/netstack) against the REAL Linux kernel TCP/IP stack. Our stack sits
// behind our WireGuardDevice (src/noise/wireguard) on a UDP socket; Debian's wireguard-go terminates
// the tunnel on a TUN device in this test's own network namespace, where the kernel owns
// 100.64.0.1 and fd7a:115c:a1e0::1. Node's net/dgram sockets bound to those addresses are kernel
// sockets, so every TCP segment, ICMP echo and UDP datagram the test checks was produced or consumed
// by the kernel. Run with:
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/netstack-kernel.test.ts
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSock } from 'node:dgram';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64 } from '../src/crypto/bytes.js';
import { secureRandom } from '../src/crypto/random.js';
import { generateKeyPair } from '../src/crypto/x25519.js';
import { createNetStack, type NetStack, type TcpConnection } from '../src/netstack/index.js';
import { WireGuardDevice } from '../src/noise/wireguard/device.js';
import { realClock } from '../src/platform/clock.js';
import { requireBinaries, WireGuardGo } from './helpers/wg-go.testkit.js';

const KERNEL_V4 = '100.64.0.1';
const KERNEL_V6 = 'fd7a:115c:a1e0::1';
const OURS_V4 = '100.64.0.2';
const OURS_V6 = 'fd7a:115c:a1e0::2';
const MB = 1 << 20;

const sha = (b: Uint8Array | Buffer) => createHash('sha256').update(b).digest('hex');

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what}: no result within ${ms} ms`)), ms)),
  ]);
}

/** Reads our connection to the end, hashing as it goes. */
async function readAllOurs(c: TcpConnection): Promise<{ n: number; sha: string }> {
  const h = createHash('sha256');
  let n = 0;
  const r = c.readable.getReader();
  for (;;) {
    const { done, value } = await r.read();
    if (done) break;
    h.update(value);
    n += value.length;
  }
  return { n, sha: h.digest('hex') };
}

async function writeAllOurs(c: TcpConnection, data: Uint8Array, chunk = 256 * 1024): Promise<void> {
  const w = c.writable.getWriter();
  for (let i = 0; i < data.length; i += chunk) await w.write(data.subarray(i, i + chunk));
  await w.close();
}

/** Writes to a kernel socket with Node's backpressure, then ends it. */
async function writeAllKernel(s: Socket, data: Buffer, chunk = 256 * 1024): Promise<void> {
  for (let i = 0; i < data.length; i += chunk) {
    if (!s.write(data.subarray(i, i + chunk))) await new Promise<void>((r) => s.once('drain', () => r()));
  }
  await new Promise<void>((r) => s.end(() => r()));
}

function readAllKernel(s: Socket): Promise<{ n: number; sha: string }> {
  const h = createHash('sha256');
  let n = 0;
  return new Promise((resolve, reject) => {
    s.on('data', (b: Buffer) => {
      h.update(b);
      n += b.length;
    });
    s.on('end', () => resolve({ n, sha: h.digest('hex') }));
    s.on('error', reject);
  });
}

/** The kernel pings `addr` through an unprivileged ICMP socket (ping_group_range is opened by in-netns.sh). */
function kernelPing(addr: string, count: number): Promise<{ replies: number; out: string }> {
  const v6 = addr.includes(':');
  const py = `
import socket, sys, time, struct
v6 = ${v6 ? 'True' : 'False'}
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
s.settimeout(3)
ok = 0
for seq in range(1, ${count} + 1):
    payload = bytes(range(56))
    hdr = struct.pack('!BBHHH', 128 if v6 else 8, 0, 0, 0, seq)
    t0 = time.time()
    s.sendto(hdr + payload, ('${addr}', 0))
    try:
        while True:
            data, _ = s.recvfrom(2048)
            typ = data[0]
            rseq = struct.unpack('!H', data[6:8])[0]
            if typ == (129 if v6 else 0) and rseq == seq and data[8:] == payload:
                ok += 1
                print('reply seq=%d rtt=%.2fms' % (seq, (time.time() - t0) * 1000))
                break
    except socket.timeout:
        print('timeout seq=%d' % seq)
print('replies=%d' % ok)
`;
  return new Promise((resolve, reject) => {
    const p = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (out += b));
    p.on('error', reject);
    p.on('exit', () => {
      const m = /replies=(\d+)/.exec(out);
      resolve({ replies: m ? Number(m[1]) : 0, out });
    });
  });
}

describe('netstack against the Linux kernel TCP/IP stack (through wireguard-go)', () => {
  const kernelKeys = generateKeyPair(secureRandom);
  const ourKeys = generateKeyPair(secureRandom);
  const ifname = `wgns${process.pid % 100000}`;
  const udp = createSocket('udp4');
  let wg: WireGuardGo;
  let dev: WireGuardDevice;
  let stack: NetStack;
  let wgPort = 0;
  const servers: Server[] = [];
  // Path impairment at our end of the tunnel (the namespace has no netem): loss and reordering in
  // both directions, so the kernel's loss recovery and ours meet.
  let lossRate = 0;
  let reorderRate = 0;
  let impairedDrops = 0;
  const impair = (p: Uint8Array, deliver: (p: Uint8Array) => void) => {
    if (lossRate > 0 && Math.random() < lossRate) {
      impairedDrops++;
      return;
    }
    if (reorderRate > 0 && Math.random() < reorderRate) setTimeout(() => deliver(p), 3 + Math.random() * 5);
    else deliver(p);
  };
  const udpSockets: UdpSock[] = [];

  beforeAll(async () => {
    requireBinaries();
    const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).trim().split('\n');
    if (links.length !== 1 || !links[0].includes(' lo:')) {
      throw new Error(
        'run this test in a fresh network namespace: bash scripts/in-netns.sh npx vitest run --project e2e e2e/netstack-kernel.test.ts',
      );
    }
    wgPort = await freeUdpPort();
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    dev = new WireGuardDevice({
      privateKey: ourKeys.privateKey,
      clock: realClock,
      random: secureRandom,
      wallClockMs: () => Date.now(),
      send: (_peer, d) => udp.send(d, wgPort, '127.0.0.1'),
      onPacket: (_peer, ip) => impair(ip, (p) => stack.input(p)),
    });
    udp.on('message', (m) => dev.receive(new Uint8Array(m.buffer, m.byteOffset, m.length), kernelKeys.publicKey));
    stack = createNetStack({
      addresses: [OURS_V4, OURS_V6],
      clock: realClock,
      random: secureRandom,
      output: (p) => impair(p, (q) => dev.send(kernelKeys.publicKey, q)),
    });
    wg = new WireGuardGo(ifname, toBase64(kernelKeys.privateKey), wgPort, [`${KERNEL_V4}/24`, `${KERNEL_V6}/64`]);
    await wg.start([
      {
        publicKeyB64: toBase64(ourKeys.publicKey),
        allowedIps: [`${OURS_V4}/32`, `${OURS_V6}/128`],
        endpoint: `127.0.0.1:${udp.address().port}`,
      },
    ]);
    dev.addPeer(kernelKeys.publicKey);
    // The kernel's IPv6 address is usable once duplicate address detection is done.
    const deadline = Date.now() + 10_000;
    while (
      execFileSync('ip', ['-6', 'addr', 'show', 'dev', ifname], { encoding: 'utf8' }).includes('tentative') &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 50));
  }, 60_000);

  afterAll(async () => {
    stack?.close();
    for (const s of servers) s.close();
    for (const s of udpSockets) s.close();
    dev?.close();
    try {
      udp.close();
    } catch {
      /* not bound */
    }
    await wg?.stop();
  });

  function kernelServer(host: string, onConn: (s: Socket) => void): Promise<number> {
    // allowHalfOpen: Node would otherwise end its side as soon as our FIN arrives (we may finish
    // sending first), which is Node's policy, not the kernel's.
    const srv = createServer({ allowHalfOpen: true }, onConn);
    servers.push(srv);
    return new Promise((r) => srv.listen(0, host, () => r((srv.address() as { port: number }).port)));
  }

  it('we ping the kernel (ICMP and ICMPv6 echo through the tunnel)', async () => {
    const r4 = await stack.ping(KERNEL_V4, { timeoutMs: 10_000 });
    expect(r4.rttMs).toBeGreaterThanOrEqual(0);
    const r6 = await stack.ping(KERNEL_V6, { timeoutMs: 5000, size: 1000 });
    expect(r6.rttMs).toBeGreaterThanOrEqual(0);
    expect(stack.stats.icmpEchoRepliesReceived).toBe(2);
  });

  it('the kernel pings us (IPv4 and IPv6) and gets every reply', async () => {
    const before = stack.stats.icmpEchoRequestsAnswered;
    const p4 = await kernelPing(OURS_V4, 3);
    expect(p4.replies, p4.out).toBe(3);
    const p6 = await kernelPing(OURS_V6, 3);
    expect(p6.replies, p6.out).toBe(3);
    expect(stack.stats.icmpEchoRequestsAnswered - before).toBe(6);
  });

  it('we connect to a kernel TCP server: 24 MB each way at once, SHA-256 equal, clean close', async () => {
    const up = randomBytes(24 * MB);
    const down = randomBytes(24 * MB);
    let kernelResult!: Promise<{ n: number; sha: string }>;
    let kernelClosed!: Promise<boolean>;
    const port = await kernelServer(KERNEL_V4, (s) => {
      kernelClosed = new Promise((r) => s.on('close', (hadError) => r(hadError)));
      kernelResult = readAllKernel(s);
      void writeAllKernel(s, down);
    });
    const c = await stack.connect(KERNEL_V4, port);
    expect(c.remoteAddress).toBe(KERNEL_V4);
    const [got] = await withTimeout(Promise.all([readAllOurs(c), writeAllOurs(c, up)]), 150_000, 'transfer');
    expect(got.n).toBe(down.length);
    expect(got.sha).toBe(sha(down));
    const k = await kernelResult;
    expect(k.n).toBe(up.length);
    expect(k.sha).toBe(sha(up));
    await withTimeout(c.closed, 10_000, 'our close');
    expect(await withTimeout(kernelClosed, 10_000, 'kernel close')).toBe(false); // no RST, no error
  }, 180_000);

  it('the kernel connects to our listener over IPv6: 16 MB each way, SHA-256 equal, clean close', async () => {
    const up = randomBytes(16 * MB); // kernel -> us
    const down = randomBytes(16 * MB); // us -> kernel
    const l = stack.listen(8080);
    const ours = (async () => {
      const c = await l.accept();
      const [got] = await Promise.all([readAllOurs(c), writeAllOurs(c, down)]);
      await c.closed;
      return { got, c };
    })();
    const s = netConnect({ host: OURS_V6, port: 8080, localAddress: KERNEL_V6, allowHalfOpen: true });
    const closed = new Promise<boolean>((r) => s.on('close', (e) => r(e)));
    await new Promise<void>((r, j) => {
      s.once('connect', () => r());
      s.once('error', j);
    });
    const [k] = await withTimeout(Promise.all([readAllKernel(s), writeAllKernel(s, up)]), 150_000, 'transfer');
    expect(k.sha).toBe(sha(down));
    const { got, c } = await withTimeout(ours, 20_000, 'our side');
    expect(got.n).toBe(up.length);
    expect(got.sha).toBe(sha(up));
    expect(c.remoteAddress).toBe(KERNEL_V6);
    expect(await closed).toBe(false);
    l.close();
  }, 180_000);

  it('with 3% loss and 3% reordering in both directions: 8 MB each way, SHA-256 equal, clean close', async () => {
    const up = randomBytes(8 * MB);
    const down = randomBytes(8 * MB);
    let kernelResult!: Promise<{ n: number; sha: string }>;
    let kernelClosed!: Promise<boolean>;
    const port = await kernelServer(KERNEL_V4, (s) => {
      kernelClosed = new Promise((r) => s.on('close', (hadError) => r(hadError)));
      kernelResult = readAllKernel(s);
      void writeAllKernel(s, down);
    });
    const c = await stack.connect(KERNEL_V4, port);
    const rtxBefore = stack.stats.tcpRetransmits;
    lossRate = 0.03;
    reorderRate = 0.03;
    try {
      const [got] = await withTimeout(Promise.all([readAllOurs(c), writeAllOurs(c, up)]), 150_000, 'lossy transfer');
      expect(got.sha).toBe(sha(down));
      const k = await kernelResult;
      expect(k.sha).toBe(sha(up));
      await withTimeout(c.closed, 30_000, 'our close');
      expect(await withTimeout(kernelClosed, 30_000, 'kernel close')).toBe(false);
    } finally {
      lossRate = 0;
      reorderRate = 0;
    }
    expect(impairedDrops).toBeGreaterThan(100);
    expect(stack.stats.tcpRetransmits - rtxBefore).toBeGreaterThan(50);
  }, 180_000);

  it('the kernel closes first: we read to the end, close, and nobody sees a reset', async () => {
    let kernelClosed!: Promise<boolean>;
    const port = await kernelServer(KERNEL_V4, (s) => {
      kernelClosed = new Promise((r) => s.on('close', (e) => r(e)));
      s.on('error', () => undefined);
      s.end('goodbye from the kernel');
    });
    const c = await stack.connect(KERNEL_V4, port);
    const got = await withTimeout(readAllOurs(c), 10_000, 'read');
    expect(got.n).toBe('goodbye from the kernel'.length);
    expect(c.state).toBe('CLOSE_WAIT');
    await withTimeout(c.close(), 10_000, 'close');
    await withTimeout(c.closed, 10_000, 'closed');
    expect(c.state).toBe('CLOSED'); // we were the passive closer: no TIME_WAIT on our side
    expect(await withTimeout(kernelClosed, 10_000, 'kernel close')).toBe(false);
    // The kernel, the active closer, holds the TIME_WAIT.
    const ss = execFileSync('ss', ['-tan', 'state', 'time-wait', `( sport = :${port} )`], { encoding: 'utf8' });
    expect(ss).toContain(`${OURS_V4}:${c.localPort}`);
  });

  it('we close first: the kernel sees end-of-stream, closes, and we hold TIME_WAIT', async () => {
    let kernelGot!: Promise<{ n: number; sha: string }>;
    let kernelClosed!: Promise<boolean>;
    const port = await kernelServer(KERNEL_V4, (s) => {
      kernelClosed = new Promise((r) => s.on('close', (e) => r(e)));
      kernelGot = readAllKernel(s);
      kernelGot.then(
        () => s.end(),
        () => undefined,
      );
      s.on('error', () => undefined);
    });
    const c = await stack.connect(KERNEL_V4, port);
    const w = c.writable.getWriter();
    await w.write(new TextEncoder().encode('last words'));
    w.releaseLock();
    await withTimeout(c.close(), 10_000, 'close');
    expect((await kernelGot).n).toBe('last words'.length);
    expect(await withTimeout(kernelClosed, 10_000, 'kernel close')).toBe(false);
    await withTimeout(c.closed, 10_000, 'closed');
    expect(c.state).toBe('TIME_WAIT');
  });

  it('a kernel reset (socket destroyed with RST) surfaces as ECONNRESET on our side', async () => {
    const port = await kernelServer(KERNEL_V4, (s) => {
      s.on('error', () => undefined);
      s.once('data', () => s.resetAndDestroy());
    });
    const c = await stack.connect(KERNEL_V4, port);
    const reading = readAllOurs(c).then(
      () => 'ended',
      (e: { code?: string }) => e.code,
    );
    const w = c.writable.getWriter();
    await w.write(Uint8Array.of(1, 2, 3));
    expect(await withTimeout(reading, 10_000, 'reset')).toBe('ECONNRESET');
    await expect(c.closed).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('connect to a closed kernel port is refused (the kernel answers RST)', async () => {
    await expect(stack.connect(KERNEL_V4, 9)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(stack.connect(KERNEL_V6, 9)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('UDP both ways over IPv4 and IPv6, and a fragmented datagram from the kernel is reassembled', async () => {
    for (const [kernelAddr, ourAddr, fam] of [
      [KERNEL_V4, OURS_V4, 'udp4'],
      [KERNEL_V6, OURS_V6, 'udp6'],
    ] as const) {
      const k = createSocket(fam);
      udpSockets.push(k);
      await new Promise<void>((r) => k.bind(0, kernelAddr, () => r()));
      k.on('message', (m, rinfo) => k.send(m, rinfo.port, rinfo.address)); // kernel-side echo
      const u = stack.udpBind();
      const r = u.readable.getReader();
      // We send, the kernel echoes.
      const msg = randomBytes(1000);
      u.send(kernelAddr, k.address().port, msg);
      const echo = (await withTimeout(r.read(), 10_000, 'udp echo')).value!;
      expect(echo.addr).toBe(kernelAddr);
      expect(sha(echo.data)).toBe(sha(msg));
      // The kernel sends first, larger than the tunnel MTU (1420): it fragments, we reassemble.
      const big = randomBytes(3000);
      k.send(big, u.localPort, ourAddr);
      const got = (await withTimeout(r.read(), 10_000, 'fragmented datagram')).value!;
      expect(got.data.length).toBe(3000);
      expect(sha(got.data)).toBe(sha(big));
      u.close();
    }
    expect(stack.stats.ipReassembled).toBeGreaterThanOrEqual(2);
  });
});
