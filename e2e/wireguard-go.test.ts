// Interop: our WireGuardDevice (src/noise/wireguard) against Debian's real wireguard-go on a TUN
// device, inside the test's own network namespace. Run with:
//   unshare -n bash -c 'ip link set lo up && npx vitest run --project e2e e2e/wireguard-go.test.ts'
// The kernel side answers ICMP echo itself; a UDP echo server bound to the tunnel address answers UDP.
import { createSocket, type Socket } from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { equalBytes, toBase64 } from '../src/crypto/bytes.js';
import { secureRandom } from '../src/crypto/random.js';
import { generateKeyPair, type KeyPair } from '../src/crypto/x25519.js';
import { realClock } from '../src/platform/clock.js';
import { WireGuardDevice } from '../src/noise/wireguard/device.js';
import { requireBinaries, WireGuardGo } from './helpers/wg-go.testkit.js';
import { launchChromium, startAppServer, type AppServer } from './helpers/browser.testkit.js';
import type { Browser, Page } from 'playwright-core';
import {
  icmpv4Echo,
  icmpv6Echo,
  ipv4Addr,
  parseEcho,
  parseIp,
  parseUdp,
  udpv4,
  udpv6,
  type ParsedPacket,
} from './helpers/wg-packets.testkit.js';

const KERNEL_V4 = '100.64.0.1';
const KERNEL_V6 = 'fd7a:115c:a1e0::1';
const OURS_V4 = '100.64.0.2';
const OURS_V6 = 'fd7a:115c:a1e0::2';
const RESPONDER_V4 = '100.64.0.3';
const BROWSER_V4 = '100.64.0.4';

/** A WireGuardDevice on a UDP socket on 127.0.0.1, with an inbox the test can wait on. */
class UdpWireGuard {
  readonly keys: KeyPair = generateKeyPair(secureRandom);
  readonly socket: Socket = createSocket('udp4');
  device!: WireGuardDevice;
  port = 0;
  inbox: ParsedPacket[] = [];
  private waiters: (() => void)[] = [];

  async start(
    remotePort: () => number,
    remoteKey: Uint8Array,
    timers: ConstructorParameters<typeof WireGuardDevice>[0]['timers'],
  ) {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', () => r()));
    this.port = this.socket.address().port;
    this.device = new WireGuardDevice({
      privateKey: this.keys.privateKey,
      clock: realClock,
      random: secureRandom,
      wallClockMs: () => Date.now(),
      timers,
      send: (_peer, datagram) => this.socket.send(datagram, remotePort(), '127.0.0.1'),
      onPacket: (_peer, ip) => {
        const p = parseIp(ip);
        if (p) this.inbox.push(p);
        for (const w of this.waiters.splice(0)) w();
      },
    });
    this.socket.on('message', (m) => this.device.receive(new Uint8Array(m), remoteKey));
  }

  /** Waits for (and removes) the first inbox packet matching pred. */
  async waitFor(pred: (p: ParsedPacket) => boolean, timeoutMs = 10_000): Promise<ParsedPacket> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex(pred);
      if (i >= 0) return this.inbox.splice(i, 1)[0];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for a packet; stats ${JSON.stringify(this.device.stats)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close() {
    this.device?.close();
    try {
      this.socket.close();
    } catch {
      /* already closed */
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

const isEchoReply =
  (seq: number, id = 0x5454) =>
  (p: ParsedPacket) => {
    if (!((p.version === 4 && p.proto === 1) || (p.version === 6 && p.proto === 58))) return false;
    const e = parseEcho(p.payload);
    return (e.type === 0 || e.type === 129) && e.id === id && e.seq === seq;
  };

async function ping(wg: UdpWireGuard, peer: Uint8Array, seq: number, timeoutMs = 10_000): Promise<ParsedPacket> {
  const data = secureRandom(56);
  wg.device.send(peer, icmpv4Echo(OURS_V4, KERNEL_V4, 0x5454, seq, data));
  const reply = await wg.waitFor(isEchoReply(seq), timeoutMs);
  expect(equalBytes(parseEcho(reply.payload).data, data)).toBe(true);
  return reply;
}

/** Pings every 500 ms until one is answered (used while a session has to be re-established). */
async function pingUntilAnswered(
  wg: UdpWireGuard,
  peer: Uint8Array,
  firstSeq: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (let seq = firstSeq; Date.now() < deadline; seq++) {
    try {
      await ping(wg, peer, seq, 500);
      return seq;
    } catch {
      /* not yet */
    }
  }
  throw new Error(`no echo reply within ${timeoutMs} ms; stats ${JSON.stringify(wg.device.stats)}`);
}

/**
 * Vite may discover a dependency (e.g. @noble/ciphers) only when a page first imports it,
 * re-optimize, and reload the page, which fails the import in flight. Import once, retrying.
 */
async function warmImports(p: Page, modules: string[]): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await p.evaluate(`Promise.all(${JSON.stringify(modules)}.map((m) => import(m)))`);
      return;
    } catch (e) {
      if (i >= 5) throw e;
      await new Promise((r) => setTimeout(r, 1000));
      await p.reload({ waitUntil: 'domcontentloaded' });
    }
  }
}

describe('WireGuard interop with Debian wireguard-go', () => {
  const kernelKeys = generateKeyPair(secureRandom);
  const ifname = `wgtt${process.pid % 100000}`;
  let wgPort = 0;
  let wg: WireGuardGo;
  const ours = new UdpWireGuard();
  const responder = new UdpWireGuard();
  const echo = createSocket('udp4');
  const echo6 = createSocket('udp6');
  const kernelSideUdp = createSocket('udp4');
  // Short protocol timers so rekey and recovery happen within the test (the device allows injecting them).
  const timers = { rekeyAfterTimeMs: 3000, rekeyTimeoutMs: 1000, keepaliveTimeoutMs: 2000 };

  beforeAll(async () => {
    requireBinaries();
    const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).trim().split('\n');
    if (links.length !== 1 || !links[0].includes(' lo:')) {
      throw new Error(
        'run this test in a fresh network namespace: unshare -n bash -c "ip link set lo up && npx vitest run --project e2e e2e/wireguard-go.test.ts"',
      );
    }
    wgPort = await freeUdpPort();
    await ours.start(() => wgPort, kernelKeys.publicKey, timers);
    await responder.start(() => wgPort, kernelKeys.publicKey, undefined);
    wg = new WireGuardGo(ifname, toBase64(kernelKeys.privateKey), wgPort, [`${KERNEL_V4}/24`, `${KERNEL_V6}/64`]);
    await wg.start(peerConfigs());
    // UDP echo servers on the kernel side of the tunnel.
    await new Promise<void>((r) => echo.bind(7777, KERNEL_V4, () => r()));
    echo.on('message', (m, rinfo) => echo.send(m, rinfo.port, rinfo.address));
    await new Promise<void>((r) => echo6.bind(7777, KERNEL_V6, () => r()));
    echo6.on('message', (m, rinfo) => echo6.send(m, rinfo.port, rinfo.address));
    await new Promise<void>((r) => kernelSideUdp.bind(0, KERNEL_V4, () => r()));
  });

  function peerConfigs() {
    return [
      {
        publicKeyB64: toBase64(ours.keys.publicKey),
        allowedIps: [`${OURS_V4}/32`, `${OURS_V6}/128`],
        endpoint: `127.0.0.1:${ours.port}`,
      },
      {
        publicKeyB64: toBase64(responder.keys.publicKey),
        allowedIps: [`${RESPONDER_V4}/32`],
        endpoint: `127.0.0.1:${responder.port}`,
      },
    ];
  }

  afterAll(async () => {
    for (const s of [echo, echo6, kernelSideUdp]) {
      try {
        s.close();
      } catch {
        /* not bound */
      }
    }
    ours.close();
    responder.close();
    await wg?.stop();
  });

  it('we initiate: the handshake completes and the kernel answers an ICMP echo through the tunnel', async () => {
    const kernel = kernelKeys.publicKey;
    ours.device.addPeer(kernel);
    const reply = await ping(ours, kernel, 1);
    expect(Array.from(reply.src)).toEqual(Array.from(ipv4Addr(KERNEL_V4)));
    expect(ours.device.stats.handshakesCompleted).toBeGreaterThanOrEqual(1);
    expect(ours.device.peerStatus(kernel)?.hasSession).toBe(true);
    expect(wg.latestHandshakes().get(toBase64(ours.keys.publicKey))).toBeGreaterThan(0);
  });

  it('IPv6: ICMPv6 echo and UDP over fd7a:115c:a1e0::/48 addresses', async () => {
    const kernel = kernelKeys.publicKey;
    const data = secureRandom(40);
    ours.device.send(kernel, icmpv6Echo(OURS_V6, KERNEL_V6, 0x5454, 100, data));
    const reply = await ours.waitFor(isEchoReply(100));
    expect(reply.version).toBe(6);
    expect(equalBytes(parseEcho(reply.payload).data, data)).toBe(true);
    const msg = new TextEncoder().encode('hello over v6');
    ours.device.send(kernel, udpv6(OURS_V6, 40006, KERNEL_V6, 7777, msg));
    const u = await ours.waitFor((p) => p.version === 6 && p.proto === 17 && parseUdp(p.payload).dport === 40006);
    expect(new TextDecoder().decode(parseUdp(u.payload).data)).toBe('hello over v6');
  });

  it('UDP datagrams reach an echo server on the kernel side and come back in order, small and MTU-sized', async () => {
    const kernel = kernelKeys.publicKey;
    const sizes = [1, 15, 16, 17, 100, 1000, 1372];
    for (const [i, n] of sizes.entries()) {
      const data = secureRandom(n);
      ours.device.send(kernel, udpv4(OURS_V4, 40000 + i, KERNEL_V4, 7777, data));
      const r = await ours.waitFor((p) => p.proto === 17 && parseUdp(p.payload).dport === 40000 + i);
      expect(equalBytes(parseUdp(r.payload).data, data)).toBe(true);
    }
    // A burst: all 100 sent back to back, answers arrive in sending order.
    const burst = Array.from({ length: 100 }, (_, i) => i);
    for (const i of burst)
      ours.device.send(kernel, udpv4(OURS_V4, 41000, KERNEL_V4, 7777, Uint8Array.of(i >> 8, i & 0xff)));
    const seen: number[] = [];
    while (seen.length < burst.length) {
      const r = await ours.waitFor((p) => p.proto === 17 && parseUdp(p.payload).dport === 41000);
      const d = parseUdp(r.payload).data;
      seen.push((d[0] << 8) | d[1]);
    }
    expect(seen).toEqual(burst);
    expect(ours.device.peerStatus(kernel)!.rxBytes).toBeGreaterThan(0);
    const [rx, tx] = wg.transfer().get(toBase64(ours.keys.publicKey))!;
    expect(rx).toBeGreaterThan(100 * 32);
    expect(tx).toBeGreaterThan(100 * 32);
  });

  it('rekeys after REKEY_AFTER_TIME (3 s here) and traffic continues on the new session', async () => {
    const kernel = kernelKeys.publicKey;
    const before = ours.device.stats.handshakesCompleted;
    const wgBefore = wg.latestHandshakes().get(toBase64(ours.keys.publicKey))!;
    await new Promise((r) => setTimeout(r, 3500));
    await ping(ours, kernel, 200); // sending on an old session triggers the rekey (keepKeyFreshSending)
    const deadline = Date.now() + 5000;
    while (ours.device.stats.handshakesCompleted === before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(ours.device.stats.handshakesCompleted).toBeGreaterThan(before);
    await ping(ours, kernel, 201);
    expect(wg.latestHandshakes().get(toBase64(ours.keys.publicKey))!).toBeGreaterThan(wgBefore);
  });

  it('recovers after wireguard-go is killed and restarted (which forgets every session)', async () => {
    const kernel = kernelKeys.publicKey;
    await ping(ours, kernel, 300);
    const before = ours.device.stats.handshakesCompleted;
    await wg.stop();
    await wg.start(peerConfigs());
    // The echo servers' sockets were bound to addresses of the old TUN device: rebinding is not
    // needed for ICMP, which the kernel answers itself.
    await pingUntilAnswered(ours, kernel, 301, 20_000);
    expect(ours.device.stats.handshakesCompleted).toBeGreaterThan(before);
    expect(ours.device.stats.rxDropUnknownIndex + ours.device.stats.handshakeInitiationsSent).toBeGreaterThan(0);
  });

  it('wireguard-go initiates (the kernel sends first) and we respond; then we answer back', async () => {
    const kernel = kernelKeys.publicKey;
    responder.device.addPeer(kernel);
    const port = (kernelSideUdp.address() as { port: number }).port;
    const msg = new TextEncoder().encode('kernel speaks first');
    const got = new Promise<Buffer>((r) => kernelSideUdp.once('message', (m) => r(m)));
    kernelSideUdp.send(msg, 9999, RESPONDER_V4);
    const p = await responder.waitFor((q) => q.proto === 17 && parseUdp(q.payload).dport === 9999, 15_000);
    expect(new TextDecoder().decode(parseUdp(p.payload).data)).toBe('kernel speaks first');
    expect(responder.device.stats.handshakeInitiationsSent).toBe(0);
    expect(responder.device.stats.handshakeResponsesSent).toBeGreaterThanOrEqual(1);
    // Answer from our side (a responder may send once the initiator's first packet confirmed the session).
    responder.device.send(kernel, udpv4(RESPONDER_V4, 9999, KERNEL_V4, port, new TextEncoder().encode('we answer')));
    const back = await Promise.race([
      got,
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no answer at the kernel')), 10_000)),
    ]);
    expect(back.toString()).toBe('we answer');
  });
  describe('the same device inside Chromium, on the WebCrypto ChaCha20-Poly1305 path', () => {
    const browserKeys = generateKeyPair(secureRandom);
    const relay = createSocket('udp4'); // the page has no UDP: Node relays its datagrams
    const inbox: ParsedPacket[] = [];
    let server: AppServer | undefined;
    let browser: Browser | undefined;
    let page: Page;

    beforeAll(async () => {
      await new Promise<void>((r) => relay.bind(0, '127.0.0.1', () => r()));
      wg.setPeer({
        publicKeyB64: toBase64(browserKeys.publicKey),
        allowedIps: [`${BROWSER_V4}/32`],
        endpoint: `127.0.0.1:${relay.address().port}`,
      });
      server = await startAppServer();
      browser = await launchChromium();
      page = await browser.newPage();
      await page.exposeFunction('wgSendToUdp', (b64: string) =>
        relay.send(Buffer.from(b64, 'base64'), wgPort, '127.0.0.1'),
      );
      await page.exposeFunction('wgDeliver', (b64: string) => {
        const p = parseIp(new Uint8Array(Buffer.from(b64, 'base64')));
        if (p) inbox.push(p);
      });
      await page.goto(server.url + '/', { waitUntil: 'domcontentloaded' });
      await warmImports(page, [
        '/src/noise/wireguard/device.ts',
        '/src/platform/clock.ts',
        '/src/crypto/random.ts',
        '/src/crypto/bytes.ts',
      ]);
      // A string, not a function: the test transform would inject helpers the page lacks.
      await page.evaluate(`(async () => {
        const { WireGuardDevice } = await import('/src/noise/wireguard/device.ts');
        const { realClock } = await import('/src/platform/clock.ts');
        const { secureRandom } = await import('/src/crypto/random.ts');
        const { fromHex, toBase64, fromBase64 } = await import('/src/crypto/bytes.ts');
        const dev = new WireGuardDevice({
          privateKey: fromHex('${Buffer.from(browserKeys.privateKey).toString('hex')}'),
          clock: realClock, random: secureRandom, wallClockMs: () => Date.now(),
          send: (_pk, d) => window.wgSendToUdp(toBase64(d)),
          onPacket: (_pk, ip) => window.wgDeliver(toBase64(ip)),
        });
        const kernel = fromHex('${Buffer.from(kernelKeys.publicKey).toString('hex')}');
        dev.addPeer(kernel);
        window.wg = { dev, kernel, engine: (await dev.aeadEngine()).name,
          send: (b64) => dev.send(kernel, fromBase64(b64)),
          receive: (b64) => dev.receive(fromBase64(b64), kernel) };
      })()`);
      relay.on(
        'message',
        (m) => void page.evaluate(`window.wg.receive('${m.toString('base64')}')`).catch(() => undefined),
      );
    });

    afterAll(async () => {
      await browser?.close();
      await server?.stop();
      try {
        relay.close();
      } catch {
        /* not bound */
      }
    });

    const waitInbox = async (pred: (p: ParsedPacket) => boolean, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = inbox.findIndex(pred);
        if (i >= 0) return inbox.splice(i, 1)[0];
        if (Date.now() > deadline)
          throw new Error(`timeout; page stats ${JSON.stringify(await page.evaluate('window.wg.dev.stats'))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const sendFromPage = (ip: Uint8Array) => page.evaluate(`window.wg.send('${Buffer.from(ip).toString('base64')}')`);

    it('uses WebCrypto, completes the handshake and gets the kernel ICMP echo reply', async () => {
      expect(await page.evaluate('window.wg.engine')).toBe('webcrypto');
      const data = secureRandom(56);
      await sendFromPage(icmpv4Echo(BROWSER_V4, KERNEL_V4, 0x5454, 900, data));
      const reply = await waitInbox(isEchoReply(900));
      expect(equalBytes(parseEcho(reply.payload).data, data)).toBe(true);
      expect(wg.latestHandshakes().get(toBase64(browserKeys.publicKey))).toBeGreaterThan(0);
    });

    it('a burst of 200 MTU-sized UDP datagrams comes back from the echo server complete and in order', async () => {
      for (let i = 0; i < 200; i++) {
        const data = new Uint8Array(1200).fill(i & 0xff);
        data[0] = i >> 8;
        data[1] = i & 0xff;
        await sendFromPage(udpv4(BROWSER_V4, 42000, KERNEL_V4, 7777, data));
      }
      const seen: number[] = [];
      while (seen.length < 200) {
        const r = await waitInbox((p) => p.proto === 17 && parseUdp(p.payload).dport === 42000);
        const d = parseUdp(r.payload).data;
        expect(d.length).toBe(1200);
        seen.push((d[0] << 8) | d[1]);
      }
      expect(seen).toEqual([...Array(200).keys()]);
    });
  });
});
