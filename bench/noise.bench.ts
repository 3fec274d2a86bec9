// `npm run bench noise`: the WireGuard data path (ChaCha20-Poly1305 on 1280-byte packets) in Node
// (@noble/ciphers; Node 20's WebCrypto has no ChaCha20-Poly1305) and in Chromium (WebCrypto and
// @noble side by side), plus end-to-end through two WireGuardDevices. The browser part loads the
// same module (src/noise/wireguard/bench-core.ts) through the Vite dev server on 127.0.0.1.
import { createCipheriv } from 'node:crypto';
import { nobleEngine, type AeadEngine } from '../src/noise/wireguard/aead-batch.js';
import { benchAead, benchDevice, type BenchRow } from '../src/noise/wireguard/bench-core.js';
import { launchChromium, startAppServer } from '../e2e/helpers/browser.testkit.js';

const now = () => performance.now();

/** OpenSSL's ChaCha20-Poly1305 through node:crypto: the native reference for the ratio column. */
const opensslEngine: AeadEngine = {
  name: 'noble', // label overridden below
  cipher(key) {
    return {
      async seal(counter, pt) {
        const nonce = Buffer.alloc(12);
        nonce.writeBigUInt64LE(BigInt(counter), 4);
        const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
        return new Uint8Array(Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]));
      },
      async open() {
        return new Uint8Array(0);
      },
    };
  },
};

function withRatio(rows: BenchRow[], nativeSealPps: number): BenchRow[] {
  return rows.map((r) =>
    r.unit === 'packets/s' && r.name.includes(' seal ')
      ? { ...r, note: `${r.note ?? ''}; ${(r.value / nativeSealPps).toFixed(2)}× OpenSSL`.replace(/^; /, '') }
      : r,
  );
}

async function chromiumRows(): Promise<BenchRow[]> {
  const server = await startAppServer();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(server.url + '/', { waitUntil: 'domcontentloaded' });
    // A string, not a function: tsx's transform would inject helpers (__name) the page lacks.
    const result = (await page.evaluate(`(async () => {
      const core = await import('/src/noise/wireguard/bench-core.ts');
      const aead = await import('/src/noise/wireguard/aead-batch.ts');
      const web = await aead.detectWebCryptoEngine();
      const t = () => performance.now();
      const out = [];
      if (web) out.push(...(await core.benchAead(web, t, { label: 'chromium webcrypto' })));
      out.push(...(await core.benchAead(aead.nobleEngine, t, { label: 'chromium noble' })));
      const engine = web ?? aead.nobleEngine;
      out.push(...(await core.benchDevice(engine, t, { label: 'chromium ' + engine.name })));
      return { rows: out, hasWebCrypto: !!web };
    })()`)) as { rows: BenchRow[]; hasWebCrypto: boolean };
    const rows = result.rows;
    if (!result.hasWebCrypto)
      rows.push({
        name: 'chromium webcrypto ChaCha20-Poly1305',
        value: 0,
        unit: 'available',
        note: 'not available: noble used',
      });
    return rows;
  } finally {
    await browser.close();
    await server.stop();
  }
}

export async function run(): Promise<BenchRow[]> {
  const native = await benchAead(opensslEngine, now, { label: 'node openssl (reference)' });
  const nativeSeal = native.find((r) => r.unit === 'packets/s')!.value;
  const rows: BenchRow[] = [native[0], native[1]];
  rows.push(...withRatio(await benchAead(nobleEngine, now, { label: 'node noble' }), nativeSeal));
  rows.push(...(await benchDevice(nobleEngine, now, { label: 'node noble' })));
  try {
    rows.push(...withRatio(await chromiumRows(), nativeSeal));
  } catch (e) {
    rows.push({ name: 'chromium', value: 0, unit: 'n/a', note: `failed: ${(e as Error).message.split('\n')[0]}` });
  }
  return rows;
}
