// Benchmark bodies for the WireGuard data path, runnable unchanged in Node and in a browser page
// (bench/noise.bench.ts runs them in both). No Node-only imports; the timer is injected.
import { seededRandom } from '../../crypto/random.js';
import { generateKeyPair } from '../../crypto/x25519.js';
import type { Clock } from '../../platform/clock.js';
import type { AeadEngine } from './aead-batch.js';
import { WireGuardDevice } from './device.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

const frozenClock = (now: () => number): Clock => ({
  now,
  setTimeout: () => ({ id: 0 }),
  clearTimeout: () => undefined,
});

function rows(label: string, op: string, packets: number, size: number, ms: number, note?: string): BenchRow[] {
  const pps = (packets / ms) * 1000;
  return [
    { name: `${label} ${op} ${size} B`, value: pps, unit: 'packets/s', note },
    { name: `${label} ${op} ${size} B`, value: (pps * size) / 1e6, unit: 'MB/s', note },
  ];
}

/** Seal and open of size-byte packets, issued `batch` at a time (the batched async API). */
export async function benchAead(
  engine: AeadEngine,
  now: () => number,
  o: { size?: number; batch?: number; minMs?: number; label?: string } = {},
): Promise<BenchRow[]> {
  const size = o.size ?? 1280;
  const batch = o.batch ?? 256;
  const minMs = o.minMs ?? 1000;
  const label = o.label ?? engine.name;
  const key = new Uint8Array(32).fill(7);
  const cipher = engine.cipher(key);
  const pt = new Uint8Array(size).fill(0xab);
  // warm-up
  const sample = await Promise.all([...Array(batch)].map((_, i) => cipher.seal(i, pt)));
  await Promise.all(sample.map((c, i) => cipher.open(i, c)));

  let n = 0;
  let t0 = now();
  let counter = 0;
  while (now() - t0 < minMs) {
    await Promise.all([...Array(batch)].map(() => cipher.seal(counter++, pt)));
    n += batch;
  }
  const sealRows = rows(label, 'seal', n, size, now() - t0, `batches of ${batch}`);

  n = 0;
  t0 = now();
  while (now() - t0 < minMs) {
    const out = await Promise.all(sample.map((c, i) => cipher.open(i, c)));
    if (out.some((p) => p === null)) throw new Error('open failed');
    n += batch;
  }
  const openRows = rows(label, 'open', n, size, now() - t0, `batches of ${batch}`);

  // One at a time (await each): what an unbatched async data path would get.
  n = 0;
  t0 = now();
  while (now() - t0 < minMs / 2) {
    await cipher.seal(counter++, pt);
    n++;
  }
  const serial = rows(label, 'seal unbatched', n, size, now() - t0, 'await per packet');
  return [...sealRows, ...openRows, serial[0]];
}

/** End to end through two WireGuardDevices: send() → datagram → receive() → onPacket, in order. */
export async function benchDevice(
  engine: AeadEngine,
  now: () => number,
  o: { size?: number; packets?: number; label?: string } = {},
): Promise<BenchRow[]> {
  const size = o.size ?? 1280;
  const packets = o.packets ?? 5000;
  const clock = frozenClock(now);
  const random = seededRandom(42);
  const wires: { to: 'a' | 'b'; d: Uint8Array }[] = [];
  let delivered = 0;
  let lastLen = 0;
  const ka = generateKeyPair(random);
  const kb = generateKeyPair(random);
  const a = new WireGuardDevice({
    privateKey: ka.privateKey,
    clock,
    random,
    aead: engine,
    send: (_p, d) => wires.push({ to: 'b', d }),
    onPacket: () => undefined,
  });
  const b = new WireGuardDevice({
    privateKey: kb.privateKey,
    clock,
    random,
    aead: engine,
    send: (_p, d) => wires.push({ to: 'a', d }),
    onPacket: (_p, ip) => {
      delivered++;
      lastLen = ip.length;
    },
  });
  a.addPeer(kb.publicKey);
  b.addPeer(ka.publicKey);
  const pump = async () => {
    for (let i = 0; i < 50; i++) {
      await a.flush();
      await b.flush();
      if (wires.length === 0) return;
      for (const w of wires.splice(0)) (w.to === 'a' ? a : b).receive(w.d);
    }
  };
  const packet = new Uint8Array(size);
  packet[0] = 0x45;
  packet[2] = size >> 8;
  packet[3] = size & 0xff;
  a.send(kb.publicKey, packet);
  await pump();
  delivered = 0;
  const t0 = now();
  for (let i = 0; i < packets; i += 500) {
    for (let j = 0; j < 500; j++) a.send(kb.publicKey, packet);
    await pump();
  }
  const ms = now() - t0;
  if (delivered !== packets || lastLen !== size) throw new Error(`delivered ${delivered}/${packets}`);
  a.close();
  b.close();
  return rows(o.label ?? engine.name, 'device send→receive', packets, size, ms, 'two devices, in-memory link');
}
