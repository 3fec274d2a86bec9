// The non-AEAD packet paths inside the whole transport (client against the in-memory test server
// under aes-ctr + HMAC): forged, corrupted or malformed packets after the key exchange end the
// session with a clear SshError, never an exception out of the transport.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../../platform/fuzz.testkit.js';
import { seededRandom } from '../../crypto/random.js';
import { VirtualClock } from '../../platform/clock.js';
import { SshClient } from '../client.js';
import { testServer, type TestServerPeer } from '../test-server.testkit.js';
import { SshError } from './transport.js';

const MODES = [
  ['aes128-ctr', 'hmac-sha2-256'],
  ['aes256-ctr', 'hmac-sha2-512-etm@openssh.com'],
] as const;

async function session(cipher: string, mac: string, script: (p: TestServerPeer) => Promise<void>): Promise<SshClient> {
  const duplex = testServer({ random: seededRandom(31), cipher, mac, script });
  return SshClient.connect(duplex, {
    username: 'u',
    auth: [{ type: 'none' }],
    hostKeyVerifier: () => {},
    random: seededRandom(32),
    clock: new VirtualClock(),
  });
}

const idle = () => new Promise<void>(() => {});

describe('aes-ctr + HMAC inside the transport', () => {
  for (const [cipher, mac] of MODES) {
    it(`${cipher} + ${mac}: negotiated, and a forged MAC ends the session saying so`, async () => {
      let peer!: TestServerPeer;
      const c = await session(cipher, mac, async (p) => {
        peer = p;
        await idle();
      });
      expect([c.algorithms.cipherStoC, c.algorithms.macStoC]).toEqual([cipher, mac]);
      // A whole packet of the right shape whose MAC is wrong.
      const wire = new Uint8Array(mac.includes('etm') ? 4 + 32 + 64 : 32 + 32);
      wire[3] = mac.includes('etm') ? 32 : 28;
      peer.writeRaw(wire);
      const err = await c.closed;
      expect(err).toBeInstanceOf(SshError);
      expect(err!.message).toMatch(
        /SSH protocol error: (message authentication failed \(corrupt or forged packet\)|bad packet length|packet length \d+ not a multiple)/,
      );
    });

    it(`${cipher} + ${mac}: bad padding under a valid MAC ends the session saying so`, async () => {
      const c = await session(cipher, mac, async (p) => {
        const etm = mac.includes('etm');
        const packet = new Uint8Array(etm ? 4 + 16 : 32);
        packet[3] = packet.length - 4;
        packet[4] = 2; // < 4 bytes of padding
        packet[5] = 2; // SSH_MSG_IGNORE, were it accepted
        p.sendSealed(packet);
        await idle();
      });
      const err = await c.closed;
      expect(err!.message).toMatch(/SSH protocol error: bad padding length 2/);
    });

    it(`fuzz (${cipher} + ${mac}): random bytes after login always end in an SshError`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (junk) => {
          const c = await session(cipher, mac, async (p) => {
            p.writeRaw(junk);
            await idle();
          });
          // A too-short junk may leave the decoder waiting: then closing is ours to do.
          const err = await Promise.race([c.closed, new Promise<'open'>((r) => setTimeout(() => r('open'), 20))]);
          if (err === 'open') c.close();
          else expect(err).toBeInstanceOf(SshError);
        }),
        fuzz(25),
      );
    });

    it(`fuzz (${cipher} + ${mac}): validly sealed packets with random payloads never throw out of the transport`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.uint8Array({ minLength: 1, maxLength: 80 }), { minLength: 1, maxLength: 5 }),
          async (payloads) => {
            const c = await session(cipher, mac, async (p) => {
              for (const pl of payloads) p.send(pl);
              await idle();
            });
            const r = await Promise.race([c.closed, new Promise<'open'>((res) => setTimeout(() => res('open'), 20))]);
            if (r === 'open') c.close();
            else expect(r).toBeInstanceOf(SshError);
          },
        ),
        fuzz(25),
      );
    });
  }
});
