// Benchmarks (Node and browser, loaded by bench/handshake.bench.ts): what a handshake costs with
// the static key as raw bytes (@noble, synchronous) or as a non-extractable WebCrypto CryptoKey
// (asynchronous deriveBits). Not imported by the node.
import { seededRandom } from '../crypto/random.js';
import {
  generateWebCryptoX25519Key,
  RawX25519Key,
  webCryptoX25519Available,
  type StaticX25519Key,
} from '../crypto/static-key.js';
import { generateKeyPair, generatePrivateKey } from '../crypto/x25519.js';
import { initiateHandshake, respondHandshake } from './controlbase.js';
import { consumeInitiation, consumeResponse, createInitiation, createResponse, tai64n } from './wireguard/handshake.js';

export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

type Kind = 'noble' | 'webcrypto';

async function makeKey(kind: Kind, seed: number): Promise<StaticX25519Key> {
  return kind === 'noble'
    ? new RawX25519Key(generateKeyPair(seededRandom(seed)).privateKey)
    : generateWebCryptoX25519Key();
}

/** Runs `op` for about `ms` (after a warm-up) and returns ms per operation. */
async function timeIt(now: () => number, op: () => Promise<unknown>, ms = 1500): Promise<{ perOp: number; n: number }> {
  for (let i = 0; i < 5; i++) await op();
  const t0 = now();
  let n = 0;
  while (now() - t0 < ms) {
    await op();
    n++;
  }
  return { perOp: (now() - t0) / n, n };
}

export async function benchHandshakes(now: () => number, label: string): Promise<BenchRow[]> {
  const kinds: Kind[] = (await webCryptoX25519Available()) ? ['noble', 'webcrypto'] : ['noble'];
  const random = seededRandom(1);
  const control = generateKeyPair(random);
  const peer = generateKeyPair(random).publicKey;
  const keys = new Map<Kind, [StaticX25519Key, StaticX25519Key]>();
  for (const kind of kinds) keys.set(kind, [await makeKey(kind, 2), await makeKey(kind, 3)]);
  const ops = {
    'one static-key X25519': async (a: StaticX25519Key) => {
      await a.dh(peer);
    },
    // A whole first WireGuard handshake, both sides (four static-key DHs, four ephemeral ones).
    'WireGuard handshake, both sides': async (a: StaticX25519Key, b: StaticX25519Key) => {
      const { message, state } = await createInitiation({
        local: a,
        remoteStatic: b.publicKey,
        ephemeralPrivate: generatePrivateKey(random),
        timestamp: tai64n(0),
        sender: 1,
      });
      const consumed = await consumeInitiation(b, message);
      const r = createResponse({ consumed: consumed!, ephemeralPrivate: generatePrivateKey(random), sender: 2 });
      if (!(await consumeResponse(a, state, r!.message))) throw new Error('handshake failed');
    },
    // The control handshake (two machine-key DHs, two ephemeral); includes our noble responder.
    'ts2021 handshake, client + responder': async (a: StaticX25519Key) => {
      const init = await initiateHandshake({
        protocolVersion: 131,
        machineKey: a,
        controlPublicKey: control.publicKey,
        random,
      });
      await init.finish(
        respondHandshake({ initiation: init.message, controlPrivateKey: control.privateKey, random }).response,
      );
    },
  };
  // Kinds alternate for three rounds and the best round counts: the machine is shared, and load
  // that lands on one kind's only run would decide the comparison.
  const best = new Map<string, { perOp: number; n: number }>();
  for (let round = 0; round < 3; round++) {
    for (const [opName, op] of Object.entries(ops)) {
      for (const kind of kinds) {
        const [a, b] = keys.get(kind)!;
        const t = await timeIt(now, () => op(a, b), 500);
        const k = `${kind}\u0000${opName}`;
        const prev = best.get(k);
        if (!prev || t.perOp < prev.perOp) best.set(k, t);
      }
    }
  }
  const rows: BenchRow[] = [];
  for (const opName of Object.keys(ops)) {
    for (const kind of kinds) {
      const t = best.get(`${kind}\u0000${opName}`)!;
      const us = opName.startsWith('one ');
      rows.push({
        name: `${label} ${kind}: ${opName}`,
        value: us ? t.perOp * 1000 : t.perOp,
        unit: us ? 'µs' : 'ms',
        note: `best of 3 rounds (${t.n} in it)`,
      });
    }
  }
  if (kinds.length === 1)
    rows.push({
      name: `${label} webcrypto X25519`,
      value: 0,
      unit: 'available',
      note: 'not in this engine: noble only',
    });
  return rows;
}
