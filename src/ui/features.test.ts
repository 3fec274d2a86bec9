import { describe, expect, it } from 'vitest';
import { canShareNode, limitations, missingRequirement, storageUsable } from './features.js';

// A stand-in global with exactly the APIs given: what a browser offers is all the code may look at.
const browser = (o: Record<string, unknown> = {}) =>
  ({
    isSecureContext: true,
    crypto: { subtle: {} },
    Worker: function Worker() {},
    WebSocket: function WebSocket() {},
    navigator: { serviceWorker: { register() {} } },
    ...o,
  }) as unknown as typeof globalThis;

/** An IndexedDB whose open() succeeds (or fails) on the next task, as a real one does. */
const idb = (ok: boolean) => ({
  deleted: [] as string[],
  open() {
    const req: { onsuccess?: () => void; onerror?: () => void; result: { close(): void } } = { result: { close() {} } };
    setTimeout(() => (ok ? req.onsuccess?.() : req.onerror?.()));
    return req;
  },
  deleteDatabase(name: string) {
    this.deleted.push(name);
  },
});

describe('features', () => {
  it('names the one missing requirement, in a sentence', () => {
    expect(missingRequirement(browser())).toBeUndefined();
    expect(missingRequirement(browser({ isSecureContext: false }))).toMatch(/needs a secure page/);
    expect(missingRequirement(browser({ crypto: {} }))).toMatch(/crypto\.subtle/);
    expect(missingRequirement(browser({ Worker: undefined }))).toBe(
      'tailtab needs Web Workers, which this browser does not offer here.',
    );
    expect(missingRequirement(browser({ WebSocket: undefined }))).toMatch(/WebSockets/);
  });

  it('tells whether windows can share the node', () => {
    expect(canShareNode(browser({ SharedWorker: function SharedWorker() {} }))).toBe(true);
    expect(canShareNode(browser())).toBe(false);
  });

  it('finds storage usable only when IndexedDB opens, and leaves no probe database behind', async () => {
    const good = idb(true);
    expect(await storageUsable(browser({ indexedDB: good }))).toBe(true);
    expect(good.deleted).toEqual(['tailtab-probe']);
    expect(await storageUsable(browser({ indexedDB: idb(false) }))).toBe(false);
    expect(await storageUsable(browser())).toBe(false);
    const throwing = {
      open() {
        throw new DOMException('refused', 'SecurityError');
      },
    };
    expect(await storageUsable(browser({ indexedDB: throwing }))).toBe(false);
    const never = { open: () => ({}) };
    expect(await storageUsable(browser({ indexedDB: never }), 10)).toBe(false);
  });

  it('says one sentence per limitation, and none when all is there', async () => {
    expect(await limitations({ sharedNode: true, ephemeral: false }, browser({ indexedDB: idb(true) }))).toEqual([]);
    const all = await limitations({ sharedNode: false, ephemeral: false }, browser({ navigator: {} }));
    expect(all).toHaveLength(3);
    expect(all[0]).toMatch(/do not share the node/);
    expect(all[1]).toMatch(/no storage here/);
    expect(all[2]).toMatch(/no Service Worker here/);
    // Kiosk mode keeps nothing anyway: no storage sentence.
    expect(await limitations({ sharedNode: true, ephemeral: true }, browser())).toEqual([]);
  });
});
