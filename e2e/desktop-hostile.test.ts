// A hostile VNC server cannot hang the page: a scripted RFB server (ours, on a loopback port,
// reached through a tailscaled rig peer like a real one) that announces a 65535×65535 desktop,
// sends a message type that does not exist, or floods framebuffer updates without end. Each time
// the page stays responsive, the Desktop view ends (or can be ended) with a sentence, and the
// connection is closed at the server.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/desktop-hostile.test.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, startAppServer, type AppServer } from './helpers/browser.testkit.js';
import { REPO_ROOT, startRig, type Rig } from './rig/index.js';

const SHOTS = join(REPO_ROOT, 'test-results');
mkdirSync(SHOTS, { recursive: true });

type Mode = 'huge' | 'bad-message' | 'flood';

/** ServerInit (RFC 6143 §7.3.2): size, 32-bit true-colour pixel format, name. */
function serverInit(w: number, h: number, name: string): Buffer {
  const b = Buffer.alloc(24 + name.length);
  b.writeUInt16BE(w, 0);
  b.writeUInt16BE(h, 2);
  b.set([32, 24, 0, 1], 4);
  b.writeUInt16BE(255, 8);
  b.writeUInt16BE(255, 10);
  b.writeUInt16BE(255, 12);
  b.set([16, 8, 0], 14);
  b.writeUInt32BE(name.length, 20);
  b.write(name, 24, 'latin1');
  return b;
}

/** A FramebufferUpdate of one raw w×h rectangle at (0,0), filled with one byte. */
function rawUpdate(w: number, h: number, fill: number): Buffer {
  const b = Buffer.alloc(4 + 12 + w * h * 4, fill);
  b.writeUInt8(0, 0);
  b.writeUInt8(0, 1);
  b.writeUInt16BE(1, 2);
  b.writeUInt16BE(0, 4);
  b.writeUInt16BE(0, 6);
  b.writeUInt16BE(w, 8);
  b.writeUInt16BE(h, 10);
  b.writeInt32BE(0, 12);
  return b;
}

interface Hostile {
  port: number;
  mode: Mode;
  connections: number;
  open: number;
  flooded: number;
  close(): Promise<void>;
}

/** RFB 3.8 with security type None, then misbehaves as `mode` says. */
function startHostile(): Promise<Hostile> {
  const sockets = new Set<net.Socket>();
  const h: Hostile = {
    port: 0,
    mode: 'huge',
    connections: 0,
    open: 0,
    flooded: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = net.createServer((s) => {
    sockets.add(s);
    h.connections++;
    h.open++;
    s.on('close', () => {
      h.open--;
      sockets.delete(s);
    });
    s.on('error', () => {});
    const mode = h.mode;
    let got = Buffer.alloc(0);
    let stage = 0;
    s.write('RFB 003.008\n');
    s.on('data', (d) => {
      got = Buffer.concat([got, d]);
      if (stage === 0 && got.length >= 12) {
        got = got.subarray(12);
        stage = 1;
        s.write(Buffer.from([1, 1]));
      }
      if (stage === 1 && got.length >= 1) {
        got = got.subarray(1);
        stage = 2;
        s.write(Buffer.from([0, 0, 0, 0]));
      }
      if (stage === 2 && got.length >= 1) {
        got = got.subarray(1);
        stage = 3;
        if (mode === 'huge') s.write(serverInit(65535, 65535, 'huge'));
        else s.write(serverInit(256, 256, mode));
        if (mode === 'bad-message') s.write(Buffer.from([0xee, 1, 2, 3, 4, 5, 6, 7]));
        if (mode === 'flood') {
          // As fast as the connection takes it, without end: one 256×256 raw update after another.
          const frames = [rawUpdate(256, 256, 0x10), rawUpdate(256, 256, 0xf0)];
          let i = 0;
          const pump = () => {
            while (!s.destroyed) {
              h.flooded += frames[i & 1]!.length;
              if (!s.write(frames[i++ & 1]!)) {
                s.once('drain', pump);
                return;
              }
            }
          };
          pump();
        }
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      h.port = (server.address() as net.AddressInfo).port;
      resolve(h);
    }),
  );
}

describe('desktop (VNC): a hostile RFB server behind a tailscaled peer, in Chromium', () => {
  let rig: Rig;
  let hostile: Hostile;
  let app: AppServer;
  let browser: Browser;
  let page: Page;

  const desktop = () => page.locator('tt-desktop');
  const alertText = () =>
    desktop()
      .locator('p.error[role="alert"]')
      .innerText()
      .catch(() => '');
  /** The page answers a script within 5 s (a hung main thread would not). */
  const responsive = async () => {
    const t0 = Date.now();
    await page.evaluate(() => 1);
    return Date.now() - t0;
  };

  beforeAll(async () => {
    rig = await startRig({ peers: [{ name: 'peer1' }], sshd: false });
    hostile = await startHostile();
    const configPath = join(rig.dir, 'hostile-config.json');
    writeFileSync(configPath, '{}');
    app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl, TAILTAB_APP_CONFIG: configPath });
    writeFileSync(
      configPath,
      JSON.stringify({
        controlUrl: '/',
        authKey: rig.authKey,
        hostname: 'desktop-hostile',
        autoConnect: true,
        allowInsecureDerp: true,
      }),
    );
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  });

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail')
      await page
        ?.screenshot({ path: join(SHOTS, `desktop-hostile-failed-${task.name.slice(0, 30).replace(/\W+/g, '-')}.png`) })
        .catch(() => {});
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await app?.stop();
    await hostile?.close();
    await rig?.stop();
  });

  async function connect(mode: Mode) {
    hostile.mode = mode;
    const before = hostile.connections;
    await desktop().getByRole('button', { name: 'Connect', exact: true }).click();
    await expect.poll(() => hostile.connections, { timeout: 60_000 }).toBe(before + 1);
  }

  it("Desktop on the machine, with the hostile server's port", async () => {
    await page.goto(app.url + '/#machines');
    await expect.poll(() => page.locator('tt-machines tr[data-peer="peer1"]').count(), { timeout: 90_000 }).toBe(1);
    await page
      .locator('tt-machines tr[data-peer="peer1"]')
      .getByRole('button', { name: /^Desktop/ })
      .click();
    await desktop().locator('#vnc-port').fill(String(hostile.port));
  });

  const SAID: Record<'huge' | 'bad-message', (where: string) => string> = {
    huge: (w) =>
      `The VNC server at ${w} announced a 65535×65535 desktop, larger than this page draws (at most 16384 pixels a side, 64 megapixels); the connection was closed.`,
    'bad-message': (w) =>
      `The VNC server at ${w} sent data the VNC client could not read (a protocol error); the connection was closed.`,
  };
  for (const mode of ['huge', 'bad-message'] as const) {
    it(`${mode}: the view ends with a sentence, the page stays responsive, the connection is closed`, async () => {
      await connect(mode);
      await expect.poll(alertText, { timeout: 60_000 }).toBe(SAID[mode](`peer1:${hostile.port}`));
      expect(await responsive()).toBeLessThan(5000);
      await expect.poll(() => hostile.open, { timeout: 30_000 }).toBe(0);
      await page.screenshot({ path: join(SHOTS, `desktop-hostile-${mode}.png`) });
    });
  }

  it('flood: endless updates keep the page responsive, and Disconnect ends it at the server', async () => {
    await connect('flood');
    await expect.poll(() => desktop().getByRole('button', { name: 'Disconnect' }).count(), { timeout: 60_000 }).toBe(1);
    const start = hostile.flooded;
    await expect.poll(() => hostile.flooded - start, { timeout: 30_000 }).toBeGreaterThan(8 * 1024 * 1024);
    for (let i = 0; i < 3; i++) expect(await responsive()).toBeLessThan(5000);
    const heap = await page.evaluate(
      () => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0,
    );
    console.log(
      `flood: ${((hostile.flooded - start) / 1e6).toFixed(1)} MB sent by the server so far; page JS heap ${(heap / 1e6).toFixed(1)} MB`,
    );
    await page.screenshot({ path: join(SHOTS, 'desktop-hostile-flood.png') });
    await desktop().getByRole('button', { name: 'Disconnect' }).click();
    await expect.poll(() => hostile.open, { timeout: 30_000 }).toBe(0);
    expect(await desktop().locator('#vnc-port').count()).toBe(1);
  });
});
