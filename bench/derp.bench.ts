// DERP relay throughput: 1280-byte packets between two of our clients through one real derper
// (tailscale.com v1.102.3) on loopback.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { rigBinaries } from '../e2e/rig/index.js';
import { DerpPool, type DerpMap } from '../src/derp-client/pool.js';
import { nodeWebSocketFactory } from '../src/derp-client/websocket.node.js';
import { generateKeyPair } from '../src/crypto/x25519.js';
import { secureRandom } from '../src/crypto/random.js';
import { realClock } from '../src/platform/clock.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'derp-bench-'));
  const port = await freePort();
  const proc = spawn(rigBinaries().derper, ['-a', `127.0.0.1:${port}`, '-c', join(dir, 'derper.json'), '-stun=false'], {
    stdio: 'ignore',
  });
  const pools: DerpPool[] = [];
  try {
    for (let i = 0; i < 100; i++) {
      if (
        await fetch(`http://127.0.0.1:${port}/derp/probe`).then(
          () => true,
          () => false,
        )
      )
        break;
      await sleep(50);
    }
    const map: DerpMap = {
      regions: [
        {
          regionId: 1,
          regionCode: 'b',
          regionName: 'b',
          nodes: [{ name: '1a', regionId: 1, hostName: '127.0.0.1', derpPort: port }],
        },
      ],
    };
    let received = 0;
    const mk = () => {
      const kp = generateKeyPair(secureRandom);
      const p = new DerpPool({
        privateKey: kp.privateKey,
        derpMap: map,
        homeRegion: 1,
        webSocketFactory: nodeWebSocketFactory,
        clock: realClock,
        random: secureRandom,
        allowInsecure: true,
        onPacket: () => {
          received++;
        },
      });
      pools.push(p);
      p.start();
      return { kp, p };
    };
    const a = mk(),
      b = mk();
    for (let i = 0; i < 200 && !(a.p.status()[0].state === 'connected' && b.p.status()[0].state === 'connected'); i++)
      await sleep(25);
    const pkt = new Uint8Array(1280);
    const total = 20_000,
      window = 256;
    const t0 = performance.now();
    let sent = 0;
    // The relay may drop under load: a stall of 20 ms reopens the window, and the run ends when
    // everything is sent and nothing more arrives for 300 ms.
    let lastRx = 0,
      lastRxAt = performance.now();
    while (received < total) {
      const now = performance.now();
      if (received !== lastRx) {
        lastRx = received;
        lastRxAt = now;
      }
      if (sent >= total && now - lastRxAt > 300) break;
      const stalled = now - lastRxAt > 20;
      while (sent < total && (sent - received < window || stalled)) {
        a.p.send(1, b.kp.publicKey, pkt);
        sent++;
        if (stalled) break;
      }
      await new Promise((r) => setImmediate(r));
      if (now - t0 > 60_000) break;
    }
    const s = (lastRxAt - t0) / 1000;
    return [
      {
        name: 'derp 1280B packets via real derper (loopback)',
        value: Math.round(received / s),
        unit: 'packets/s',
        note: `${received}/${total} delivered, window ${window}`,
      },
      {
        name: 'derp 1280B goodput via real derper (loopback)',
        value: +((received * 1280) / s / 1e6).toFixed(1),
        unit: 'MB/s',
      },
    ];
  } finally {
    for (const p of pools) p.close();
    if (proc.pid) process.kill(proc.pid);
    rmSync(dir, { recursive: true, force: true });
  }
}
