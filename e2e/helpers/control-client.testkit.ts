// Test helpers for the control client e2e: a client wired to the real WebSocket and clock, and a
// wait-for-map helper that fails with what the map held instead of hanging.
import { ControlClient, type ControlClientState } from '../../src/control/client.js';
import type { NetworkMap } from '../../src/control/netmap.js';
import type { ControlStore } from '../../src/control/storage.js';
import { nodeControlWebSocketFactory } from '../../src/control/transport.node.js';
import { secureRandom } from '../../src/crypto/random.js';
import { generateKeyPair } from '../../src/crypto/x25519.js';
import { realClock } from '../../src/platform/clock.js';

export function makeControlClient(controlUrl: string, store: ControlStore, log: string[] = []): ControlClient {
  const c = new ControlClient({
    controlUrl,
    store,
    webSocketFactory: nodeControlWebSocketFactory,
    clock: realClock,
    random: secureRandom,
    discoPublicKey: generateKeyPair(secureRandom).publicKey,
    wallTime: () => new Date().toISOString(),
    backoffBaseMs: 200,
    backoffMaxMs: 2000,
    log: (l) => log.push(l),
  });
  c.onState((s, d) => log.push(`state ${s}${d ? ` (${d})` : ''}`));
  return c;
}

export function waitForMap(
  c: ControlClient,
  pred: (nm: NetworkMap) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<NetworkMap> {
  return new Promise((resolve, reject) => {
    if (c.netMap.seq > 0 && pred(c.netMap)) return resolve(c.netMap);
    const t = setTimeout(() => {
      const peers = [...c.netMap.peers.values()].map((p) => p.Name).join(', ');
      reject(
        new Error(
          `timed out waiting for ${what}; state ${c.state}; peers: [${peers}]; last error: ${c.stats.lastError}`,
        ),
      );
    }, timeoutMs);
    c.onNetMap((nm) => {
      if (pred(nm)) {
        clearTimeout(t);
        resolve(nm);
      }
    });
  });
}

export function waitForState(c: ControlClient, s: ControlClientState, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (c.state === s) return resolve();
    const t = setTimeout(
      () => reject(new Error(`timed out waiting for state ${s}; now ${c.state}; last error: ${c.stats.lastError}`)),
      timeoutMs,
    );
    c.onState((now) => {
      if (now === s) {
        clearTimeout(t);
        resolve();
      }
    });
  });
}
