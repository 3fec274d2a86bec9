// `npm run bench handshake`: the node and machine keys as non-extractable WebCrypto CryptoKeys
// (asynchronous X25519 deriveBits) against raw bytes under @noble: one DH, a first WireGuard
// handshake (both sides), the ts2021 control handshake (client side), in Node and in Chromium.
// The same module (src/noise/handshake-bench-core.ts) runs in both.
import { benchHandshakes, type BenchRow } from '../src/noise/handshake-bench-core.js';
import { launchChromium, startAppServer } from '../e2e/helpers/browser.testkit.js';

async function chromiumRows(): Promise<BenchRow[]> {
  const server = await startAppServer();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    // A document of the app's origin that runs none of the app (whose node Worker and views
    // would share the thread the timings are taken on): the module's own source, shown as text.
    await page.goto(server.url + '/src/noise/handshake-bench-core.ts', { waitUntil: 'domcontentloaded' });
    // A string, not a function: tsx's transform would inject helpers (__name) the page lacks.
    return (await page.evaluate(`(async () => {
      const core = await import('/src/noise/handshake-bench-core.ts');
      return core.benchHandshakes(() => performance.now(), 'chromium');
    })()`)) as BenchRow[];
  } finally {
    await browser.close();
    await server.stop();
  }
}

export async function run(): Promise<BenchRow[]> {
  const rows = await benchHandshakes(() => performance.now(), 'node');
  try {
    rows.push(...(await chromiumRows()));
  } catch (e) {
    rows.push({ name: 'chromium', value: 0, unit: 'n/a', note: `failed: ${(e as Error).message.split('\n')[0]}` });
  }
  return rows;
}
