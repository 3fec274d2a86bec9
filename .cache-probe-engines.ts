// Temporary probe (not committed): what each engine offers for non-extractable X25519 keys.
import { launchEngine, ENGINES } from './e2e/helpers/engines.testkit.js';
import { launchChromium, startAppServer } from './e2e/helpers/browser.testkit.js';

const PROBE = `(async () => {
  const out = {};
  const s = crypto.subtle;
  const check = async (name, f) => { try { out[name] = String(await f()); } catch (e) { out[name] = 'ERR ' + (e && (e.name + ': ' + e.message)); } };
  let pair;
  await check('generateKey X25519 non-extractable', async () => { pair = await s.generateKey({ name: 'X25519' }, false, ['deriveBits']); return 'ok extractable=' + pair.privateKey.extractable; });
  await check('deriveBits', async () => { const b = await s.generateKey({ name: 'X25519' }, false, ['deriveBits']); const x = new Uint8Array(await s.deriveBits({ name: 'X25519', public: b.publicKey }, pair.privateKey, 256)); return 'ok ' + x.length; });
  await check('exportKey raw public', async () => (await s.exportKey('raw', pair.publicKey)).byteLength);
  await check('exportKey pkcs8 private (must fail)', async () => (await s.exportKey('pkcs8', pair.privateKey)).byteLength);
  await check('importKey pkcs8 non-extractable', async () => { const der = new Uint8Array(48); der.set([0x30,0x2e,0x02,0x01,0x00,0x30,0x05,0x06,0x03,0x2b,0x65,0x6e,0x04,0x22,0x04,0x20]); der[16] = 8; der[47] = 64; const k = await s.importKey('pkcs8', der, { name: 'X25519' }, false, ['deriveBits']); return 'ok extractable=' + k.extractable; });
  await check('low-order deriveBits', async () => { const z = await s.importKey('raw', new Uint8Array(32), { name: 'X25519' }, true, []); const x = await s.deriveBits({ name: 'X25519', public: z }, pair.privateKey, 256); return 'returned ' + x.byteLength; });
  await check('IndexedDB put/get CryptoKey', async () => {
    const db = await new Promise((res, rej) => { const r = indexedDB.open('probe-ck', 1); r.onupgradeneeded = () => r.result.createObjectStore('s'); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
    await new Promise((res, rej) => { const t = db.transaction('s', 'readwrite'); t.objectStore('s').put({ k: pair.privateKey }, 1); t.oncomplete = res; t.onerror = () => rej(t.error); t.onabort = () => rej(t.error); });
    const v = await new Promise((res, rej) => { const r = db.transaction('s').objectStore('s').get(1); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
    db.close();
    return 'ok ' + (v.k instanceof CryptoKey) + ' extractable=' + v.k.extractable + ' alg=' + v.k.algorithm.name;
  });
  return out;
})()`;

const app = await startAppServer();
try {
  const c = await launchChromium();
  const p = await c.newPage();
  await p.goto(app.url + '/?fresh=1');
  console.log('chromium', await p.evaluate(PROBE));
  await c.close();
  for (const e of ENGINES) {
    try {
      const b = await launchEngine(e, { viewport: { width: 800, height: 600 } });
      await b.goto(app.url + '/?fresh=1');
      console.log(e, b.version, await b.evaluate(PROBE));
      await b.close();
    } catch (err) { console.log(e, 'failed', String(err)); }
  }
} finally { await app.stop(); }
