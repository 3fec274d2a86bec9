// Random but well-formed (checksummed) segments aimed at live connections: whatever the flags,
// numbers and options, the stack must not hit an internal error, and an honest transfer on the same
// connection either completes byte-exact or ends with a clean error (never hangs, never corrupts).
import fc from 'fast-check';
import { fuzz, fuzzTestTimeout } from '../platform/fuzz.testkit.js';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../platform/clock.js';
import { parseIp } from './addr.js';
import { encodeIpHeader, PROTO_TCP } from './ip.js';
import { encodeTcpHeader } from './tcp-segment.js';
import { drive } from '../platform/virtual-time.testkit.js';
import { SimLink } from './sim-link.testkit.js';
import type { TcpConnection } from './index.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('fuzzed segments into live connections', () => {
  it(
    'never cause internal errors; transfers complete byte-exact or fail cleanly',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              flags: fc.integer({ min: 0, max: 255 }),
              seqDelta: fc.oneof(fc.integer({ min: -70_000, max: 70_000 }), fc.integer({ min: 0, max: 0xffffffff })),
              ackDelta: fc.oneof(fc.integer({ min: -70_000, max: 70_000 }), fc.integer({ min: 0, max: 0xffffffff })),
              window: fc.integer({ min: 0, max: 65535 }),
              len: fc.integer({ min: 0, max: 1200 }),
              sack: fc.option(
                fc.array(fc.tuple(fc.integer({ min: -5000, max: 5000 }), fc.integer({ min: 0, max: 5000 })), {
                  minLength: 1,
                  maxLength: 3,
                }),
                { nil: undefined },
              ),
              ts: fc.option(fc.tuple(fc.nat(), fc.nat()), { nil: undefined }),
              toClient: fc.boolean(),
              at: fc.integer({ min: 0, max: 200 }),
            }),
            { minLength: 1, maxLength: 30 },
          ),
          async (evil) => {
            const clock = new VirtualClock(0);
            const net = new SimLink(clock, 1, { delayMs: 5, bytesPerMs: 1000 }); // 1 MB/s: the transfer outlasts the fuzz
            const a = net.stack(['100.64.0.1']);
            const b = net.stack(['100.64.0.2']);
            const l = b.listen(80);
            const data = new Uint8Array(1_000_000).map((_, i) => (i * 7) & 0xff);
            // Learn the live sequence numbers from the wire so the fuzz lands near the window.
            let lastSeqAtoB = 0;
            let lastSeqBtoA = 0;
            net.tap = (p) => {
              const seq = ((p[24] << 24) | (p[25] << 16) | (p[26] << 8) | p[27]) >>> 0;
              if (p[19] === 2) lastSeqAtoB = seq;
              else lastSeqBtoA = seq;
            };
            const server = (async () => {
              const c = await l.accept();
              const r = c.readable.getReader();
              const parts: Uint8Array[] = [];
              for (;;) {
                const x = await r.read();
                if (x.done) break;
                parts.push(x.value);
              }
              return Buffer.concat(parts);
            })();
            const c: TcpConnection = await drive(clock, a.connect('100.64.0.2', 80));
            const writing = (async () => {
              const w = c.writable.getWriter();
              for (let i = 0; i < data.length; i += 50_000) await w.write(data.subarray(i, i + 50_000));
              await w.close();
            })();
            // Observe the outcome from the start: a fuzzed RST may end the transfer during the loop.
            const outcomeP = Promise.all([writing, server]).then(
              ([, got]) => (sha(got) === sha(data) ? 'exact' : `corrupt:${got.length}`),
              (e: { code?: string }) => `error:${e.code ?? e}`,
            );
            let tick = 0;
            for (const e of evil) {
              clock.advance(e.at % 40);
              tick++;
              await new Promise((r) => setImmediate(r));
              const toClient = e.toClient;
              const src = parseIp(toClient ? '100.64.0.2' : '100.64.0.1')!;
              const dst = parseIp(toClient ? '100.64.0.1' : '100.64.0.2')!;
              const base = toClient ? lastSeqBtoA : lastSeqAtoB;
              const other = toClient ? lastSeqAtoB : lastSeqBtoA;
              const pkt = new Uint8Array(20 + 60 + e.len);
              const seg = {
                srcPort: toClient ? 80 : c.localPort,
                dstPort: toClient ? c.localPort : 80,
                seq: (base + e.seqDelta) >>> 0,
                ack: (other + e.ackDelta) >>> 0,
                flags: e.flags,
                window: e.window,
                urgent: 0,
                sack: e.sack?.map(([s, n]) => [(other + s) >>> 0, (other + s + n) >>> 0] as [number, number]),
                timestamps: e.ts as [number, number] | undefined,
              };
              const hlen = encodeTcpHeader(new Uint8Array(100), 0, { ...seg, payloadLength: 0 }, src, dst);
              const full = pkt.subarray(0, 20 + hlen + e.len);
              encodeTcpHeader(full, 20, { ...seg, payloadLength: e.len }, src, dst);
              encodeIpHeader(full, { src, dst, proto: PROTO_TCP, payloadLength: hlen + e.len });
              (toClient ? a : b).input(full);
            }
            void tick;
            // The honest transfer either completes or fails with a clean error; nothing hangs.
            const outcome = await drive(clock, outcomeP, 2_000_000, 50);
            expect(a.stats.inputErrors + b.stats.inputErrors).toBe(0);
            // Fuzzed data with a plausible sequence number may be accepted as stream bytes (that is
            // TCP: it has no integrity beyond the checksum); what must never happen is an internal error
            // or a hang, and a clean run must be exact.
            (globalThis as { outcomes?: string[] }).outcomes?.push(outcome);
            expect(outcome).toMatch(/^(exact|corrupt:\d+|error:E[A-Z]+)$/);
          },
        ),
        fuzz(40),
      );
    },
    fuzzTestTimeout(120_000),
  );
});
