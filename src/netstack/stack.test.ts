// Our stack against itself over a simulated link on a VirtualClock.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../platform/clock.js';
import { drive, SimLink } from './test-link.js';
import type { NetStack, TcpConnection } from './index.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function pattern(n: number, seed: number): Uint8Array {
  const d = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    d[i] = x >>> 24;
  }
  return d;
}

async function readAll(c: TcpConnection): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  const r = c.readable.getReader();
  for (;;) {
    const { done, value } = await r.read();
    if (done) break;
    parts.push(value);
    n += value.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function writeAll(c: TcpConnection, data: Uint8Array, chunk = 65536): Promise<void> {
  const w = c.writable.getWriter();
  for (let i = 0; i < data.length; i += chunk) await w.write(data.subarray(i, i + chunk));
  await w.close();
}

function pair(seed: number, link: ConstructorParameters<typeof SimLink>[2] = {}) {
  const clock = new VirtualClock(0);
  const net = new SimLink(clock, seed, link);
  const a = net.stack(['100.64.0.1', 'fd7a:115c:a1e0::1']);
  const b = net.stack(['100.64.0.2', 'fd7a:115c:a1e0::2']);
  return { clock, net, a, b };
}

describe('netstack: two of our stacks on a clean link', () => {
  for (const [fam, addr] of [
    ['IPv4', '100.64.0.2'],
    ['IPv6', 'fd7a:115c:a1e0::2'],
  ] as const) {
    it(`${fam}: 1 MB each way arrives byte-exact and both sides close cleanly`, async () => {
      const { clock, a, b } = pair(1);
      const up = pattern(1 << 20, 1);
      const down = pattern(1 << 20, 2);
      const l = b.listen(8080);
      const server = (async () => {
        const c = await l.accept();
        const [got] = await Promise.all([readAll(c), writeAll(c, down)]);
        await c.closed;
        return got;
      })();
      const c = await drive(clock, a.connect(addr, 8080));
      expect(c.remoteAddress).toBe(addr);
      expect(c.remotePort).toBe(8080);
      const [got] = await drive(clock, Promise.all([readAll(c), writeAll(c, up)]));
      expect(sha(got)).toBe(sha(down));
      expect(sha(await drive(clock, server))).toBe(sha(up));
      await drive(clock, c.closed);
      expect(a.stats.tcpRetransmits).toBe(0);
    });
  }
});

export { pattern, readAll, writeAll, pair, sha };
export type { NetStack };
