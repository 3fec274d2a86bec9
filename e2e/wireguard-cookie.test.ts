// Interop under load: WireGuard's cookie mechanism (WireGuard paper §5.3, §5.4.7) between our
// WireGuardDevice and Debian's real wireguard-go, in the test's own network namespace.
//  1. wireguard-go under load (its handshake queue flooded with MAC1-valid junk initiations) answers
//     our initiation with a cookie reply; our device must take the cookie and complete the handshake
//     with a valid MAC2 while wireguard-go is still under load.
//  2. Our device under load (threshold 0) answers wireguard-go's initiation with a cookie reply;
//     wireguard-go must retry with MAC2 and our device completes the handshake.
// Kept apart from e2e/wireguard-go.test.ts: the flood must not disturb (or be disturbed by) the other tests.
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { equalBytes, toBase64 } from '../src/crypto/bytes.js';
import { mac } from '../src/crypto/blake2s.js';
import { secureRandom } from '../src/crypto/random.js';
import { generateKeyPair, type KeyPair } from '../src/crypto/x25519.js';
import { realClock } from '../src/platform/clock.js';
import { WireGuardDevice, type WireGuardDeviceOptions } from '../src/noise/wireguard/device.js';
import { mac1Key } from '../src/noise/wireguard/cookie.js';
import { INITIATION_SIZE, mac1Input, MESSAGE_COOKIE_REPLY } from '../src/noise/wireguard/messages.js';
import { requireBinaries, WireGuardGo } from './helpers/wg-go.testkit.js';
import { icmpv4Echo, parseEcho, parseIp, parseUdp, udpv4, type ParsedPacket } from './helpers/wg-packets.testkit.js';

const KERNEL_V4 = '100.64.9.1';
const OURS_V4 = '100.64.9.2';
const LOADED_V4 = '100.64.9.3';

class UdpWireGuard {
  readonly keys: KeyPair = generateKeyPair(secureRandom);
  readonly socket: Socket = createSocket('udp4');
  device!: WireGuardDevice;
  port = 0;
  inbox: ParsedPacket[] = [];

  async start(remotePort: number, remoteKey: Uint8Array, extra: Partial<WireGuardDeviceOptions>) {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', () => r()));
    this.port = this.socket.address().port;
    this.device = new WireGuardDevice({
      privateKey: this.keys.privateKey,
      clock: realClock,
      random: secureRandom,
      wallClockMs: () => Date.now(),
      send: (_peer, datagram) => this.socket.send(datagram, remotePort, '127.0.0.1'),
      onPacket: (_peer, ip) => {
        const p = parseIp(ip);
        if (p) this.inbox.push(p);
      },
      ...extra,
    });
    this.socket.on('message', (m) => this.device.receive(new Uint8Array(m), remoteKey));
  }

  async waitFor(what: string, pred: (p: ParsedPacket) => boolean, timeoutMs: number): Promise<ParsedPacket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex(pred);
      if (i >= 0) return this.inbox.splice(i, 1)[0];
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; stats ${JSON.stringify(this.device.stats)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close() {
    this.device?.close();
    try {
      this.socket.close();
    } catch {
      /* closed */
    }
  }
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Floods wireguard-go with handshake initiations that pass MAC1 (so they enter its handshake queue)
 * but are junk otherwise. Bursts every 20 ms keep its queue above QueueHandshakeSize/8 = 128, so it
 * stays "under load" (device.IsUnderLoad, UnderLoadAfterTime = 1 s) for as long as the flood runs.
 */
class Flooder {
  readonly socket = createSocket('udp4');
  cookieReplies = 0;
  sent = 0;
  private timer?: NodeJS.Timeout;
  private readonly packets: Buffer[];

  constructor(
    private readonly port: number,
    targetPublic: Uint8Array,
  ) {
    const k = mac1Key(targetPublic);
    this.packets = Array.from({ length: 256 }, () => {
      const m = secureRandom(INITIATION_SIZE);
      m.set([1, 0, 0, 0], 0);
      m.set(mac(k, mac1Input(m)), INITIATION_SIZE - 32);
      m.fill(0, INITIATION_SIZE - 16);
      return Buffer.from(m);
    });
    this.socket.on('message', (m) => {
      if (m[0] === MESSAGE_COOKIE_REPLY && m.length === 64) this.cookieReplies++;
    });
  }

  async start(burst = 600, everyMs = 20) {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', () => r()));
    const tick = () => {
      for (let i = 0; i < burst; i++) this.socket.send(this.packets[this.sent++ & 255], this.port, '127.0.0.1');
    };
    tick();
    this.timer = setInterval(tick, everyMs);
  }

  stop() {
    clearInterval(this.timer);
    try {
      this.socket.close();
    } catch {
      /* closed */
    }
  }
}

async function until(
  what: string,
  f: () => boolean,
  timeoutMs: number,
  detail: () => unknown = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} ${JSON.stringify(detail())}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('WireGuard cookie replies under load, with Debian wireguard-go', () => {
  const kernelKeys = generateKeyPair(secureRandom);
  const ifname = `wgck${process.pid % 100000}`;
  let wgPort = 0;
  let wg: WireGuardGo;
  const ours = new UdpWireGuard();
  const loaded = new UdpWireGuard();
  const kernelUdp = createSocket('udp4');
  let flooder: Flooder | undefined;

  beforeAll(async () => {
    requireBinaries();
    wgPort = await freeUdpPort();
    // ours: retries after 1 s (REKEY_TIMEOUT shortened) so the test is quick.
    await ours.start(wgPort, kernelKeys.publicKey, { timers: { rekeyTimeoutMs: 1000 } });
    // loaded: always "under load" (more than 0 handshake messages per second).
    await loaded.start(wgPort, kernelKeys.publicKey, { underLoadThreshold: 0 });
    wg = new WireGuardGo(ifname, toBase64(kernelKeys.privateKey), wgPort, [`${KERNEL_V4}/24`]);
    await wg.start([
      {
        publicKeyB64: toBase64(ours.keys.publicKey),
        allowedIps: [`${OURS_V4}/32`],
        endpoint: `127.0.0.1:${ours.port}`,
      },
      {
        publicKeyB64: toBase64(loaded.keys.publicKey),
        allowedIps: [`${LOADED_V4}/32`],
        endpoint: `127.0.0.1:${loaded.port}`,
      },
    ]);
    await new Promise<void>((r) => kernelUdp.bind(0, KERNEL_V4, () => r()));
  });

  afterAll(async () => {
    flooder?.stop();
    try {
      kernelUdp.close();
    } catch {
      /* closed */
    }
    ours.close();
    loaded.close();
    await wg?.stop();
  });

  it('wireguard-go under load answers with a cookie; we complete the handshake with MAC2 while it is still loaded', async () => {
    flooder = new Flooder(wgPort, kernelKeys.publicKey);
    await flooder.start();
    // wireguard-go is under load once it answers the junk with cookie replies.
    await until(
      'wireguard-go to be under load',
      () => flooder!.cookieReplies > 0,
      15_000,
      () => ({ sent: flooder!.sent }),
    );

    const kernel = kernelKeys.publicKey;
    ours.device.addPeer(kernel);
    const data = secureRandom(32);
    ours.device.send(kernel, icmpv4Echo(OURS_V4, KERNEL_V4, 0x5454, 1, data));
    await until(
      'a cookie reply for us',
      () => ours.device.stats.cookieRepliesAccepted > 0,
      15_000,
      () => ours.device.stats,
    );
    // The first initiation had no MAC2: wireguard-go refused it with a cookie instead of answering.
    expect(ours.device.stats.handshakeResponsesReceived).toBe(0);
    await until(
      'the handshake',
      () => ours.device.stats.handshakesCompleted > 0,
      15_000,
      () => ours.device.stats,
    );
    const repliesAtHandshake = flooder.cookieReplies;
    const reply = await ours.waitFor('the echo reply', (p) => p.proto === 1 && parseEcho(p.payload).seq === 1, 10_000);
    expect(equalBytes(parseEcho(reply.payload).data, data)).toBe(true);
    // Still under load after our handshake completed: wireguard-go kept refusing the junk. So it took
    // our initiation because its MAC2 (made with the cookie it gave us) was valid.
    await until('more cookie replies to the flood', () => flooder!.cookieReplies > repliesAtHandshake, 5_000);
    expect(ours.device.stats.handshakeInitiationsSent).toBeGreaterThanOrEqual(2);
    expect(ours.device.stats.rxDropCookieReplyInvalid).toBe(0);
    const log = wg.log.join('');
    expect(log).toContain(`Sending cookie response for denied handshake message for 127.0.0.1:${ours.port}`);
    flooder.stop();
    flooder = undefined;
  }, 60_000);

  it('our device under load answers wireguard-go with a cookie; wireguard-go retries with MAC2 and the handshake completes', async () => {
    const kernel = kernelKeys.publicKey;
    loaded.device.addPeer(kernel);
    // The kernel sends first, so wireguard-go initiates.
    kernelUdp.send(Buffer.from('from the kernel'), 9999, LOADED_V4);
    await until(
      'our cookie reply',
      () => loaded.device.stats.cookieRepliesSent > 0,
      15_000,
      () => loaded.device.stats,
    );
    expect(loaded.device.stats.handshakeInitiationsReceived).toBe(0); // refused until it shows a MAC2
    // wireguard-go retries after its REKEY_TIMEOUT (5 s) with MAC2 from our cookie.
    const p = await loaded.waitFor(
      'the kernel datagram',
      (x) => x.proto === 17 && parseUdp(x.payload).dport === 9999,
      20_000,
    );
    expect(new TextDecoder().decode(parseUdp(p.payload).data)).toBe('from the kernel');
    expect(loaded.device.stats.handshakeInitiationsReceived).toBe(1);
    expect(loaded.device.stats.rxDropNeedCookie).toBeGreaterThanOrEqual(1);
    expect(wg.latestHandshakes().get(toBase64(loaded.keys.publicKey))).toBeGreaterThan(0);
    // And back through the tunnel to a socket on the kernel side.
    const got = new Promise<string>((r) => kernelUdp.once('message', (m) => r(String(m))));
    loaded.device.send(
      kernel,
      udpv4(LOADED_V4, 9999, KERNEL_V4, kernelUdp.address().port, new TextEncoder().encode('answer')),
    );
    expect(await got).toBe('answer');
  }, 60_000);
});
