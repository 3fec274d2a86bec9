// netstack: bulk throughput and small-message round trips between two of our stacks on a clean
// in-memory link (real clock; packets are handed over in batches on the next macrotask, as a
// network interface would), with the kernel's loopback TCP (Node net on 127.0.0.1, same process)
// measured in the same run as the native reference.
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { secureRandom } from '../src/crypto/random.js';
import { realClock } from '../src/platform/clock.js';
import { createNetStack, type NetStack, type TcpConnection } from '../src/netstack/index.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

function linkedPair(): { a: NetStack; b: NetStack } {
  const queues = new Map<NetStack, Uint8Array[]>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    for (const [s, q] of queues) {
      if (!q.length) continue;
      const batch = q.splice(0);
      for (const p of batch) s.input(p);
    }
  };
  const to = (s: () => NetStack) => (p: Uint8Array) => {
    const st = s();
    let q = queues.get(st);
    if (!q) queues.set(st, (q = []));
    q.push(p);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  let a!: NetStack;
  let b!: NetStack;
  a = createNetStack({ addresses: ['100.64.0.1'], clock: realClock, random: secureRandom, output: to(() => b) });
  b = createNetStack({ addresses: ['100.64.0.2'], clock: realClock, random: secureRandom, output: to(() => a) });
  return { a, b };
}

async function ourBulk(bytes: number): Promise<number> {
  const { a, b } = linkedPair();
  const l = b.listen(5001);
  const sink = (async () => {
    const c = await l.accept();
    const r = c.readable.getReader();
    let n = 0;
    for (;;) {
      const x = await r.read();
      if (x.done) return n;
      n += x.value.length;
    }
  })();
  const c = await a.connect('100.64.0.2', 5001);
  const chunk = new Uint8Array(256 * 1024).fill(0x5a);
  const t0 = performance.now();
  const w = c.writable.getWriter();
  for (let sent = 0; sent < bytes; sent += chunk.length) await w.write(chunk);
  await w.close();
  const n = await sink;
  const s = (performance.now() - t0) / 1000;
  a.close();
  b.close();
  if (n !== bytes) throw new Error(`bulk: ${n} of ${bytes} bytes arrived`);
  return bytes / s / 1e6;
}

async function ourRtt(rounds: number): Promise<number[]> {
  const { a, b } = linkedPair();
  const l = b.listen(5002);
  void (async () => {
    const c = await l.accept();
    const r = c.readable.getReader();
    const w = c.writable.getWriter();
    for (;;) {
      const x = await r.read();
      if (x.done) break;
      await w.write(x.value);
    }
  })().catch(() => undefined); // ends with ECONNABORTED when the stacks are closed
  const c: TcpConnection = await a.connect('100.64.0.2', 5002);
  const r = c.readable.getReader();
  const w = c.writable.getWriter();
  const msg = new Uint8Array(64);
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await w.write(msg);
    let got = 0;
    while (got < msg.length) got += (await r.read()).value!.length;
    times.push((performance.now() - t0) * 1000);
  }
  a.close();
  b.close();
  return times;
}

async function kernelBulk(bytes: number): Promise<number> {
  let done!: (n: number) => void;
  const finished = new Promise<number>((r) => (done = r));
  const srv = createServer((s) => {
    let n = 0;
    s.on('data', (d: Buffer) => (n += d.length));
    s.on('end', () => done(n));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  const s: Socket = netConnect(port, '127.0.0.1');
  await new Promise<void>((r) => s.once('connect', () => r()));
  const chunk = Buffer.alloc(256 * 1024, 0x5a);
  const t0 = performance.now();
  for (let sent = 0; sent < bytes; sent += chunk.length)
    if (!s.write(chunk)) await new Promise<void>((r) => s.once('drain', () => r()));
  s.end();
  const n = await finished;
  const sec = (performance.now() - t0) / 1000;
  srv.close();
  if (n !== bytes) throw new Error('kernel bulk short');
  return bytes / sec / 1e6;
}

async function kernelRtt(rounds: number): Promise<number[]> {
  const srv = createServer((s) => s.on('data', (d) => s.write(d)));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const s = netConnect((srv.address() as { port: number }).port, '127.0.0.1');
  s.setNoDelay(true);
  await new Promise<void>((r) => s.once('connect', () => r()));
  const msg = Buffer.alloc(64);
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const got = new Promise<void>((r) => {
      let n = 0;
      const on = (d: Buffer) => {
        n += d.length;
        if (n >= 64) {
          s.off('data', on);
          r();
        }
      };
      s.on('data', on);
    });
    s.write(msg);
    await got;
    times.push((performance.now() - t0) * 1000);
  }
  s.destroy();
  srv.close();
  return times;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const p99 = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length * 0.99)];

export async function run(): Promise<BenchRow[]> {
  const bytes = 64 * 1024 * 1024;
  await ourBulk(8 * 1024 * 1024); // warm-up (JIT)
  const ours = await ourBulk(bytes);
  const kernel = await kernelBulk(bytes);
  await ourRtt(200);
  const rtt = await ourRtt(2000);
  const krtt = await kernelRtt(2000);
  return [
    {
      name: 'netstack bulk TCP, our stack <-> our stack (in-memory link, 64 MB)',
      value: +ours.toFixed(1),
      unit: 'MB/s',
      note: `${(ours / kernel).toFixed(2)}x kernel loopback`,
    },
    {
      name: 'kernel loopback TCP (Node net, 127.0.0.1, 64 MB)',
      value: +kernel.toFixed(1),
      unit: 'MB/s',
      note: 'reference',
    },
    {
      name: 'netstack 64 B request/response RTT, median',
      value: +median(rtt).toFixed(1),
      unit: 'µs',
      note: `p99 ${p99(rtt).toFixed(0)} µs; ${(median(rtt) / median(krtt)).toFixed(2)}x kernel loopback`,
    },
    {
      name: 'kernel loopback 64 B request/response RTT, median',
      value: +median(krtt).toFixed(1),
      unit: 'µs',
      note: 'reference',
    },
  ];
}
