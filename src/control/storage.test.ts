import { describe, expect, it } from 'vitest';
import { MemoryStore, probeCryptoKeyStorage } from './storage.js';

/** A store as a probe sees it: put, get back, remove. */
function fakeStore(o: { readsBack?: 'same' | 'nothing' | 'clone'; putFails?: boolean } = {}) {
  let held: unknown;
  let removed = false;
  return {
    removed: () => removed,
    put: async (v: unknown) => {
      if (o.putFails) throw new DOMException('cannot clone', 'DataCloneError');
      held = v;
    },
    get: async () => (o.readsBack === 'nothing' ? undefined : o.readsBack === 'clone' ? structuredClone(held) : held),
    remove: async () => {
      removed = true;
      held = undefined;
    },
  };
}

describe('probeCryptoKeyStorage: may this store keep the node and machine keys as CryptoKeys?', () => {
  it('yes when a CryptoKey comes back, structured-cloned, and still works', async () => {
    const s = fakeStore({ readsBack: 'clone' });
    expect(await probeCryptoKeyStorage(s.put, s.get, s.remove)).toBe('cryptokey');
    expect(s.removed()).toBe(true);
  });

  it('no when the write is refused, or committed but nothing comes back (WebKitGTK without a Secret Service)', async () => {
    for (const o of [{ putFails: true }, { readsBack: 'nothing' as const }]) {
      const s = fakeStore(o);
      expect(await probeCryptoKeyStorage(s.put, s.get, s.remove)).toBe('raw');
      expect(s.removed()).toBe(true); // no probe record left behind
    }
  });

  it('memory keeps CryptoKeys; a store can be told to keep raw keys', async () => {
    expect(await new MemoryStore().keyCustody()).toBe('cryptokey');
    expect(await new MemoryStore('raw').keyCustody()).toBe('raw');
  });
});
