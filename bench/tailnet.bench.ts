// Issue 7's tailnet benchmark: our node (Node.js) <-> tailscaled peer <-> the peer's loopback
// servers, over one real derper, against the ceiling: the same measurements between two native
// tailscaled peers over the same derper (both DERP-only, all homed on region 900).
// 64 MiB download (GET /bytes/<n> of the rig web server), 64 MiB upload (a loopback sink that
// answers the byte count and SHA-256), TCP round trip (1 byte through a loopback echo server) and
// ICMP round trip (ours: node.ping; native: `tailscale ping --icmp`).
// The rig must run in a loopback-only netns: when not already inside one (TAILTAB_IN_NETNS=1),
// run() re-executes this file through scripts/in-netns.sh and reads its rows from stdout.
// Narrowing a run (environment):
//   TAILTAB_TAILNET_ONLY=download,upload   measurements whose name contains one of these words;
//   TAILTAB_TAILNET_SIDES=native,chromium  sides among native, node, chromium (ratios need native);
//   TAILTAB_TAILNET_AEAD=noble|webcrypto   the Chromium Worker's WireGuard AEAD for every packet (default:
//                                          WebCrypto, packets up to 256 bytes through noble: sizeSplitEngine);
//   TAILTAB_TAILNET_WORKER_TCP='{"recvBuffer":65536}'  netstack TcpConfig overrides in that Worker;
//   TAILTAB_TAILNET_COUNTERS=1             prints the Chromium Worker's and the Node.js node's counter deltas per measurement;
//   TAILTAB_TAILNET_REPEAT=3               each measurement N times on the same rig (one row each);
//   TAILTAB_TAILNET_PROFILE=/tmp/prof      CPU-profiles the Chromium Worker (CDP Profiler) during
//     each of its measurements into <dir>/chromium-<n>.cpuprofile; bench/cpuprofile-summary.ts
//     prints self time by function.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesSha256, deterministicBytes, startRig, type RigPeer } from '../e2e/rig/index.js';
import {
  httpGetOver,
  httpGetVia,
  readAll,
  sinkHeader,
  socksConnect,
  startEcho,
  startSink,
} from '../e2e/helpers/node-tailnet.testkit.js';
import { createNodeLayers } from '../src/node/layers.node.js';
import { TailnetNode } from '../src/node/node.js';
import type { BenchRow } from './run.js';
import { printRowsIfMain, runInNetns } from './in-netns.js';

const SIZE = 64 << 20;
const RTT_SAMPLES = 50;
const ICMP_SAMPLES = 10;

const progress = (t: string) => process.stderr.write(`bench tailnet: ${t}\n`);
const listEnv = (name: string) =>
  (process.env[name] ?? '')
    .split(',')
    .map((x) => x.trim().toLowerCase())
    .filter(Boolean);
const ONLY = listEnv('TAILTAB_TAILNET_ONLY');
const SIDES = listEnv('TAILTAB_TAILNET_SIDES');
const REPEAT = Math.max(1, Number(process.env.TAILTAB_TAILNET_REPEAT ?? 1) || 1);
const PROFILE_DIR = process.env.TAILTAB_TAILNET_PROFILE;
const wantSide = (s: 'native' | 'node' | 'chromium') => SIDES.length === 0 || SIDES.includes(s);
const wantMeasure = (name: string) => ONLY.length === 0 || ONLY.some((w) => name.toLowerCase().includes(w));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
/** This thread's [on-CPU ns, run-queue wait ns, timeslices] (Linux /proc/thread-self/schedstat), or undefined. */
function schedstat(): number[] | undefined {
  try {
    return readFileSync('/proc/thread-self/schedstat', 'utf8').trim().split(/\s+/).map(Number);
  } catch {
    return undefined;
  }
}
const mbps = (bytes: number, ms: number) => bytes / (1 << 20) / (ms / 1000);

/** Parses a Go time.Duration string ("1.234ms", "850µs", "2s"). */
function goDurationMs(t: string): number {
  const m = /^([\d.]+)(ns|µs|us|ms|s)$/.exec(t);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 's' ? v * 1000 : m[2] === 'ms' ? v : m[2] === 'ns' ? v / 1e6 : v / 1000;
}

interface Side {
  download(): Promise<number>;
  upload(): Promise<number>;
  tcpRtt(): Promise<number>;
  icmpRtt(): Promise<number>;
}

export function uploadChunks(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < SIZE; off += 1 << 16) out.push(deterministicBytes(off, Math.min(1 << 16, SIZE - off)));
  return out;
}

export function nativeSide(
  from: RigPeer,
  to: RigPeer,
  httpPort: number,
  sinkPort: number,
  echoPort: number,
  chunks: Uint8Array[],
  want: string,
): Side {
  return {
    async download() {
      const t0 = performance.now();
      const r = await httpGetVia(from, to.ipv4, httpPort, `/bytes/${SIZE}`);
      const ms = performance.now() - t0;
      if (r.body.length !== SIZE || r.sha256 !== bytesSha256(SIZE)) throw new Error('native download corrupted');
      return mbps(SIZE, ms);
    },
    async upload() {
      const s = await socksConnect(from, to.ipv4, sinkPort);
      const t0 = performance.now();
      const reply = new Promise<string>((resolve, reject) => {
        let t = '';
        s.on('data', (d: Buffer) => {
          t += d.toString();
        });
        s.on('end', () => resolve(t));
        s.on('error', reject);
      });
      s.write(sinkHeader(SIZE));
      for (const c of chunks) if (!s.write(c)) await new Promise((r) => s.once('drain', r));
      const text = await reply;
      const ms = performance.now() - t0;
      if (text.trim() !== `${SIZE} ${want}`) throw new Error(`native upload: sink says ${text.trim()}`);
      return mbps(SIZE, ms);
    },
    async tcpRtt() {
      const s = await socksConnect(from, to.ipv4, echoPort);
      const samples: number[] = [];
      for (let i = 0; i < RTT_SAMPLES; i++) {
        const t0 = performance.now();
        await new Promise<void>((resolve) => {
          s.once('data', () => resolve());
          s.write(Buffer.from([i & 0xff]));
        });
        samples.push(performance.now() - t0);
      }
      s.destroy();
      return median(samples);
    },
    async icmpRtt() {
      const out = await from.tailscale(['ping', '--icmp', `--c=${ICMP_SAMPLES}`, '--until-direct=false', to.ipv4], {
        timeoutMs: 60_000,
      });
      const ms = [...out.matchAll(/ in ([\d.]+(?:ns|µs|us|ms|s))/g)]
        .map((m) => goDurationMs(m[1]!))
        .filter((x) => Number.isFinite(x));
      if (!ms.length) throw new Error(`tailscale ping --icmp: no pongs:\n${out}`);
      return median(ms);
    },
  };
}

export function nodeSide(
  node: TailnetNode,
  to: RigPeer,
  httpPort: number,
  sinkPort: number,
  echoPort: number,
  chunks: Uint8Array[],
  want: string,
): Side {
  return {
    async download() {
      const conn = await node.dial(to.ipv4, httpPort);
      const t0 = performance.now();
      const r = await httpGetOver(conn, to.ipv4, `/bytes/${SIZE}`);
      const ms = performance.now() - t0;
      if (r.body.length !== SIZE || r.sha256 !== bytesSha256(SIZE))
        throw new Error(`our download corrupted (${r.body.length} bytes)`);
      return mbps(SIZE, ms);
    },
    async upload() {
      const conn = await node.dial(to.ipv4, sinkPort);
      const t0 = performance.now();
      const reply = readAll(conn);
      const w = conn.writable.getWriter();
      await w.write(sinkHeader(SIZE));
      for (const c of chunks) await w.write(c);
      const text = (await reply).toString();
      const ms = performance.now() - t0;
      if (text.trim() !== `${SIZE} ${want}`) throw new Error(`our upload: sink says ${text.trim()}`);
      return mbps(SIZE, ms);
    },
    async tcpRtt() {
      const conn = await node.dial(to.ipv4, echoPort);
      const w = conn.writable.getWriter();
      const r = conn.readable.getReader();
      const samples: number[] = [];
      for (let i = 0; i < RTT_SAMPLES; i++) {
        const t0 = performance.now();
        await w.write(new Uint8Array([i & 0xff]));
        const { value } = await r.read();
        if (!value?.length) throw new Error('echo closed');
        samples.push(performance.now() - t0);
      }
      await conn.close();
      return median(samples);
    },
    async icmpRtt() {
      const samples: number[] = [];
      for (let i = 0; i < ICMP_SAMPLES; i++) samples.push((await node.ping(to.ipv4)).ms);
      return median(samples);
    },
  };
}

// The same four measurements from Chromium, in the production shape: the node runs in a dedicated
// module Worker (like src/ui/worker/node-worker.ts, over the browser layers: the Worker's WebSocket,
// WebCrypto where it has ChaCha20-Poly1305) and so does the consumer of the bytes, as the app's SSH
// sessions and HTTP proxy do; the page only starts it and relays calls. Strings, not functions, go to
// the Worker.
const WORKER_BENCH = `
const { TailnetNode } = await import(self.origin + '/src/node/node.ts');
const { createLayers } = await import(self.origin + '/src/node/layers.ts');
// WebSocket messages in and out of the Worker (one IPC to the network service each), for counters().
const wsStats = { 'ws.messagesIn': 0, 'ws.bytesIn': 0, 'ws.messagesOut': 0, 'ws.bytesOut': 0 };
self.WebSocket = class extends self.WebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    this.addEventListener('message', (e) => { wsStats['ws.messagesIn']++; wsStats['ws.bytesIn'] += e.data.byteLength ?? e.data.length ?? 0; });
  }
  send(d) { wsStats['ws.messagesOut']++; wsStats['ws.bytesOut'] += d.byteLength ?? d.length ?? 0; super.send(d); }
};
const aeadName = __AEAD__;
const aead = aeadName ? await import(self.origin + '/src/noise/wireguard/aead-batch.ts') : undefined;
const tcpConfig = __TCP__;
const { createNetStack } = await import(self.origin + '/src/netstack/index.ts');
const node = new TailnetNode(createLayers({
  ...(aeadName === 'noble' ? { aeadEngine: () => aead.nobleEngine } : {}),
  ...(aeadName === 'webcrypto' ? { aeadEngine: () => aead.detectWebCryptoEngine() } : {}),
  ...(tcpConfig ? { createNetStack: (o) => createNetStack({ ...o, tcp: tcpConfig }) } : {}),
}));
const enc = new TextEncoder();
const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
async function readAll(conn) {
  const parts = []; let total = 0;
  for await (const c of conn.readable) { parts.push(c); total += c.length; }
  const all = new Uint8Array(total); let o = 0; for (const p of parts) { all.set(p, o); o += p.length; }
  return all;
}
const bench = {
  up: (c) => node.up({ ...c, wallClockMs: () => Date.now() }),
  counters: () => ({ ...JSON.parse(JSON.stringify(node.status().counters)), ...wsStats }),
  async download(ip, port, n) {
    const conn = await node.dial(ip, port);
    const t0 = performance.now();
    const w = conn.writable.getWriter();
    await w.write(enc.encode('GET /bytes/' + n + ' HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n'));
    w.releaseLock();
    const all = await readAll(conn);
    const ms = performance.now() - t0;
    let sep = 0; while (!(all[sep] === 13 && all[sep + 1] === 10 && all[sep + 2] === 13 && all[sep + 3] === 10)) sep++;
    const body = all.subarray(sep + 4);
    return { ms, length: body.length, sha256: hex(await crypto.subtle.digest('SHA-256', body)) };
  },
  async upload(ip, port, n) {
    const data = new Uint8Array(n);
    for (let o = 0; o < n; o += 65536) crypto.getRandomValues(data.subarray(o, Math.min(n, o + 65536)));
    const want = hex(await crypto.subtle.digest('SHA-256', data));
    const conn = await node.dial(ip, port);
    const t0 = performance.now();
    const reply = readAll(conn);
    const w = conn.writable.getWriter();
    const head = new Uint8Array(8); new DataView(head.buffer).setBigUint64(0, BigInt(n));
    await w.write(head);
    for (let o = 0; o < n; o += 65536) await w.write(data.subarray(o, Math.min(n, o + 65536)));
    const text = new TextDecoder().decode(await reply).trim();
    return { ms: performance.now() - t0, ok: text === n + ' ' + want, text };
  },
  async tcpRtt(ip, port, samples) {
    const conn = await node.dial(ip, port);
    const w = conn.writable.getWriter(); const r = conn.readable.getReader();
    const out = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      await w.write(new Uint8Array([i & 255]));
      await r.read();
      out.push(performance.now() - t0);
    }
    await conn.close();
    return out;
  },
  async icmpRtt(ip, samples) {
    const out = [];
    for (let i = 0; i < samples; i++) out.push((await node.ping(ip)).ms);
    return out;
  },
};
self.onmessage = async (e) => {
  const { id, fn, args } = e.data;
  try { self.postMessage({ id, value: await bench[fn](...args) }); }
  catch (err) { self.postMessage({ id, error: String(err?.stack ?? err) }); }
};
self.postMessage({ ready: true });
`;

// Runs in the page: starts the Worker and relays calls to it.
const PAGE_RELAY = `(async () => {
  const url = URL.createObjectURL(new Blob([${JSON.stringify('__WORKER__')}], { type: 'text/javascript' }));
  const worker = new Worker(url, { type: 'module', name: 'tailtab-bench-node' });
  const pending = new Map(); let next = 0;
  await new Promise((resolve, reject) => {
    worker.onerror = (e) => reject(new Error('bench worker failed: ' + (e.message || e)));
    worker.onmessage = (e) => {
      if (e.data.ready) { resolve(); return; }
      const p = pending.get(e.data.id); pending.delete(e.data.id);
      if (e.data.error !== undefined) p.reject(new Error(e.data.error)); else p.resolve(e.data.value);
    };
  });
  window.__bench = (fn, ...args) => new Promise((resolve, reject) => { const id = next++; pending.set(id, { resolve, reject }); worker.postMessage({ id, fn, args }); });
})()`;

/**
 * CDP Profiler on the page's dedicated Worker: the page's CDP session auto-attaches to it (non-flat
 * mode, so the messages travel through Target.sendMessageToTarget on this one session).
 */
async function workerProfiler(
  page: import('playwright-core').Page,
): Promise<{ start(): Promise<void>; stop(): Promise<unknown> }> {
  const cdp = await page.context().newCDPSession(page);
  let next = 1;
  const waiting = new Map<number, (m: { result?: unknown; error?: unknown }) => void>();
  const attached = new Promise<string>((resolve) => {
    cdp.on('Target.attachedToTarget', (e: { sessionId: string; targetInfo: { type: string } }) => {
      if (e.targetInfo.type === 'worker') resolve(e.sessionId);
    });
  });
  cdp.on('Target.receivedMessageFromTarget', (e: { message: string }) => {
    const m = JSON.parse(e.message) as { id?: number; result?: unknown; error?: unknown };
    if (m.id !== undefined) {
      waiting.get(m.id)?.(m);
      waiting.delete(m.id);
    }
  });
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  const sessionId = await attached;
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = next++;
      waiting.set(id, (m) => (m.error ? reject(new Error(JSON.stringify(m.error))) : resolve(m.result)));
      void cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) });
    });
  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: 200 });
  return {
    start: async () => {
      await send('Profiler.start');
    },
    stop: async () => ((await send('Profiler.stop')) as { profile: unknown }).profile,
  };
}

export async function chromiumSide(
  rig: Awaited<ReturnType<typeof startRig>>,
  to: RigPeer,
  sinkPort: number,
  echoPort: number,
): Promise<{ side: Side; stop(): Promise<void>; counters(): Promise<Record<string, number>>; browser: unknown }> {
  const { launchChromium, startAppServer } = await import('../e2e/helpers/browser.testkit.js');
  const app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl });
  const browser = await launchChromium();
  const stop = async () => {
    await browser.close().catch(() => {});
    await app.stop();
  };
  try {
    const page = await browser.newPage();
    await page.goto(app.url + '/', { waitUntil: 'domcontentloaded' });
    const worker = WORKER_BENCH.replace('__AEAD__', JSON.stringify(process.env.TAILTAB_TAILNET_AEAD ?? '')).replace(
      '__TCP__',
      process.env.TAILTAB_TAILNET_WORKER_TCP ?? 'undefined',
    );
    await page.evaluate(PAGE_RELAY.replace(JSON.stringify('__WORKER__'), JSON.stringify(worker)));
    await page.evaluate(`window.__bench('up', { controlUrl: location.origin, authKey: ${JSON.stringify(rig.authKey)},
      hostname: 'tailtab-bench-worker', allowInsecureDerp: true, homeRegion: 900 })`);
    const profiler = PROFILE_DIR ? await workerProfiler(page) : undefined;
    let profiles = 0;
    const counters = () => page.evaluate(`window.__bench('counters')`) as Promise<Record<string, number>>;
    const call = async <T>(expr: string) => {
      const before = profiler || process.env.TAILTAB_TAILNET_COUNTERS ? await counters() : {};
      await profiler?.start();
      const r = await (page.evaluate(`window.__bench(${expr.replace(/^(\w+)\(/, "'$1', ")}`) as Promise<T>);
      if (profiler || process.env.TAILTAB_TAILNET_COUNTERS) {
        const after = await counters();
        const delta = Object.entries(after)
          .filter(([k, v]) => typeof v === 'number' && v !== (before[k] ?? 0))
          .map(([k, v]) => `${k}=${v - (before[k] ?? 0)}`);
        progress(`counters during ${expr.replace(/\(.*/, '')}: ${delta.join(' ')}`);
      }
      if (profiler && PROFILE_DIR) {
        mkdirSync(PROFILE_DIR, { recursive: true });
        const file = join(PROFILE_DIR, `chromium-${++profiles}-${expr.replace(/\(.*/, '')}.cpuprofile`);
        writeFileSync(file, JSON.stringify(await profiler.stop()));
        progress(`profile written: ${file}`);
      }
      return r;
    };
    const ip = JSON.stringify(to.ipv4);
    const side: Side = {
      async download() {
        const r = await call<{ ms: number; length: number; sha256: string }>(
          `download(${ip}, ${rig.httpPort}, ${SIZE})`,
        );
        if (r.length !== SIZE || r.sha256 !== bytesSha256(SIZE))
          throw new Error(`page download corrupted (${r.length} bytes)`);
        return mbps(SIZE, r.ms);
      },
      async upload() {
        const r = await call<{ ms: number; ok: boolean; text: string }>(`upload(${ip}, ${sinkPort}, ${SIZE})`);
        if (!r.ok) throw new Error(`page upload: sink says ${r.text}`);
        return mbps(SIZE, r.ms);
      },
      async tcpRtt() {
        return median(await call<number[]>(`tcpRtt(${ip}, ${echoPort}, ${RTT_SAMPLES})`));
      },
      async icmpRtt() {
        return median(await call<number[]>(`icmpRtt(${ip}, ${ICMP_SAMPLES})`));
      },
    };
    return { side, stop, browser, counters };
  } catch (e) {
    await stop();
    throw e;
  }
}

export async function measure(): Promise<BenchRow[]> {
  const rig = await startRig({
    peers: [
      { name: 'peer1', homeRegion: 900, derpOnly: true },
      { name: 'peer2', homeRegion: 900, derpOnly: true },
    ],
    derpers: 1,
    sshd: false,
  });
  const sink = await startSink();
  const echo = await startEcho();
  const node = new TailnetNode(createNodeLayers());
  let stopPage: (() => Promise<void>) | undefined;
  try {
    await rig.waitConverged();
    if (wantSide('node'))
      await node.up({
        controlUrl: rig.headscaleUrl,
        authKey: rig.authKey,
        hostname: 'tailtab-bench',
        allowInsecureDerp: true,
        wallClockMs: () => Date.now(),
        homeRegion: 900,
      });
    const [p1, p2] = [rig.peer('peer1'), rig.peer('peer2')];
    const chunks = uploadChunks();
    const h = createHash('sha256');
    for (const c of chunks) h.update(c);
    const want = h.digest('hex');
    const native = wantSide('native')
      ? nativeSide(p1, p2, rig.httpPort, sink.port, echo.port, chunks, want)
      : undefined;
    const ours = wantSide('node') ? nodeSide(node, p2, rig.httpPort, sink.port, echo.port, chunks, want) : undefined;
    // Warm the paths (WireGuard handshakes, tailscaled's netstack) before timing anything.
    progress('warming up');
    await native?.tcpRtt();
    await ours?.tcpRtt();
    let page: Awaited<ReturnType<typeof chromiumSide>> | undefined;
    if (wantSide('chromium')) {
      progress('starting Chromium with a node in a dedicated Worker');
      page = await chromiumSide(rig, p2, sink.port, echo.port);
      stopPage = page.stop;
      await page.side.tcpRtt();
    }
    // derper's own counters around each measurement: drops in its per-client send queue
    // (queue_head/queue_tail) are the losses TCP sees on a DERP path.
    const derpVarz = async () => {
      const r = await fetch(`${rig.derpRegions[0]!.url}/debug/varz`)
        .then((x) => x.text())
        .catch(() => '');
      return new Map(
        r
          .split('\n')
          .filter((l) => /^derp_packets_(dropped|recv|sent)/.test(l))
          .map((l) => {
            const i = l.lastIndexOf(' ');
            return [l.slice(0, i), Number(l.slice(i + 1))] as const;
          }),
      );
    };
    const withDerpStats = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
      const before = await derpVarz();
      const r = await f();
      const after = await derpVarz();
      progress(
        `derper during ${what}: ${[...after]
          .filter(([k, v]) => v !== (before.get(k) ?? 0))
          .map(([k, v]) => `${k}=${v - (before.get(k) ?? 0)}`)
          .join(' ')}`,
      );
      return r;
    };
    const rows: BenchRow[] = [];
    const both = async (name: string, unit: string, higherIsBetter: boolean, f: (s: Side) => Promise<number>) => {
      if (!wantMeasure(name)) return;
      for (let i = 0; i < REPEAT; i++) {
        let n: number | undefined;
        if (native) {
          progress(`${name}: native…`);
          n = await withDerpStats(`${name}, native`, () => f(native));
          rows.push({
            name: `${name}: native tailscaled ↔ tailscaled`,
            value: n,
            unit,
            note: name.startsWith('ICMP') ? 'ceiling (tailscale ping --icmp prints whole ms)' : 'ceiling',
          });
        }
        for (const [label, side] of [
          ['tailtab node (Node.js)', ours],
          ['tailtab node (Chromium Worker)', page?.side],
        ] as const) {
          if (!side) continue;
          progress(`${name}: ${label}…`);
          const nodeBefore = side === ours && process.env.TAILTAB_TAILNET_COUNTERS ? node.status().counters : undefined;
          const cpu0 = process.cpuUsage();
          const sched0 = schedstat();
          const t0 = performance.now();
          const o = await withDerpStats(`${name}, ${label}`, () => f(side));
          if (nodeBefore) {
            const cpu = process.cpuUsage(cpu0);
            const sched = schedstat();
            // On a machine with more runnable threads than cores, time our one thread spends waiting
            // for a core looks like idle time in a CPU profile; Linux counts it (schedstat: on-CPU, run-queue wait).
            const thread =
              sched && sched0
                ? `main thread ${((sched[0]! - sched0[0]!) / 1e6).toFixed(0)} ms on a core and ${((sched[1]! - sched0[1]!) / 1e6).toFixed(0)} ms waiting for one, `
                : '';
            progress(
              `Node.js during ${name}: ${thread}process CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, wall ${(performance.now() - t0).toFixed(0)} ms`,
            );
            const after = node.status().counters;
            const delta = Object.entries(after)
              .filter(([k, v]) => v !== (nodeBefore[k] ?? 0))
              .map(([k, v]) => `${k}=${v - (nodeBefore[k] ?? 0)}`);
            progress(`Node.js counters during ${name}: ${delta.join(' ')}`);
          }
          rows.push({
            name: `${name}: ${label} ↔ tailscaled`,
            value: o,
            unit,
            note:
              n === undefined
                ? ''
                : `${(o / n).toFixed(2)}× native${higherIsBetter ? ' (higher is better)' : ' (lower is better)'}`,
          });
        }
      }
    };
    await both('64 MiB download', 'MB/s', true, (s) => s.download());
    await both('64 MiB upload', 'MB/s', true, (s) => s.upload());
    await both('TCP RTT (median of 50)', 'ms', false, (s) => s.tcpRtt());
    await both('ICMP RTT (median of 10)', 'ms', false, (s) => s.icmpRtt());
    return rows;
  } finally {
    await stopPage?.().catch(() => {});
    await node.down().catch(() => {});
    await sink.close();
    await echo.close();
    await rig.stop();
  }
}

export function run(): Promise<BenchRow[]> {
  return runInNetns(import.meta.url, 'tailnet', measure);
}

// `tsx bench/tailnet.bench.ts` (what run() executes inside the netns): print the rows as JSON.
printRowsIfMain(import.meta.url, measure);
