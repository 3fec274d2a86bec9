// The Node file store for control state: survives a restart, private to the user, and a damaged
// file is refused in words instead of silently becoming a new machine.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from './storage.node.js';
import { ControlClient } from './client.js';
import { seededRandom } from '../crypto/random.js';
import { VirtualClock } from '../platform/clock.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'tailtab-store-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('FileStore', () => {
  it('round-trips the state in a 0600 file, written via rename (no .tmp left behind)', async () => {
    const path = join(tmp(), 'control.json');
    const s = new FileStore(path);
    expect(await s.load()).toBeNull();
    await s.save({ machinePrivateKey: 'ab'.repeat(32), nodePrivateKey: 'cd'.repeat(32), loggedIn: true });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(existsSync(`${path}.tmp`)).toBe(false);
    expect(await new FileStore(path).load()).toEqual({
      machinePrivateKey: 'ab'.repeat(32),
      nodePrivateKey: 'cd'.repeat(32),
      loggedIn: true,
    });
  });

  it('a damaged file is refused with what to do, and the client does not invent a new machine key', async () => {
    const path = join(tmp(), 'control.json');
    writeFileSync(path, '{"machinePrivateKey": "ab');
    await expect(new FileStore(path).load()).rejects.toThrow(/is not valid JSON: repair it, or delete it/);
    const c = new ControlClient({
      controlUrl: 'http://control.localhost',
      store: new FileStore(path),
      clock: new VirtualClock(),
      random: seededRandom(1),
      discoPublicKey: new Uint8Array(32).fill(1),
      controlKey: 'mkey:' + '00'.repeat(32),
      webSocketFactory: () => {
        throw new Error('no network in this test');
      },
    });
    await expect(c.login({ hostname: 'x', authKey: 'k' })).rejects.toThrow(/not valid JSON/);
    expect(readFileSync(path, 'utf8')).toBe('{"machinePrivateKey": "ab'); // untouched
    writeFileSync(path, '{"loggedIn": true}');
    await expect(new FileStore(path).load()).rejects.toThrow(/has no machine key/);
  });

  it('the machine key is created once and kept across client restarts', async () => {
    const path = join(tmp(), 'control.json');
    const mk = () =>
      new ControlClient({
        controlUrl: 'http://control.localhost',
        store: new FileStore(path),
        clock: new VirtualClock(),
        random: seededRandom(Math.random() * 1e9),
        discoPublicKey: new Uint8Array(32).fill(1),
        controlKey: 'mkey:' + '00'.repeat(32),
        webSocketFactory: () => {
          throw new Error('offline');
        },
      });
    await mk()
      .login({ hostname: 'x', authKey: 'k' })
      .catch(() => {});
    const first = JSON.parse(readFileSync(path, 'utf8')).machinePrivateKey;
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    await mk()
      .login({ hostname: 'x', authKey: 'k' })
      .catch(() => {});
    expect(JSON.parse(readFileSync(path, 'utf8')).machinePrivateKey).toBe(first);
  });
});
