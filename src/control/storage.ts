// Persistent state of the control client: the machine key (created once, kept forever: Headscale
// binds node keys to it), the node key, and whether that node key is logged in.
// Private keys are kept as the store allows (crypto/static-key.ts): a non-extractable WebCrypto
// CryptoKey where the store holds objects (IndexedDB, memory) and the engine has X25519, else hex.
import { openDB, type IDBPDatabase } from 'idb';
import { webCryptoX25519Available, type KeyCustody, type StoredX25519Key } from '../crypto/static-key.js';

export interface ControlState {
  /** Private keys: hex of the raw bytes, or a non-extractable CryptoKey with its public half. */
  machinePrivateKey: StoredX25519Key;
  nodePrivateKey?: StoredX25519Key;
  /** The previous node key while rotating (RegisterRequest.OldNodeKey). */
  oldNodePrivateKey?: StoredX25519Key;
  loggedIn?: boolean;
  controlUrl?: string;
  /** Login name and node name control gave us, for display. */
  loginName?: string;
  nodeKeyExpiry?: string;
  /** Control said our node key expired: the next login() uses a new node key (OldNodeKey = this one). */
  nodeKeyExpired?: boolean;
  /** Our home DERP region last run: the first map request of the next run reports it, so peers
   *  can reach us before we have measured anything (see ControlClient.buildHostinfo). */
  preferredDerp?: number;
  /** The control server's key ("mkey:…"), pinned on first use. */
  controlPublicKey?: string;
}

export interface ControlStore {
  load(): Promise<ControlState | null>;
  save(s: ControlState): Promise<void>;
  /**
   * 'cryptokey' when this store keeps CryptoKey objects: keys are then made (and raw keys found
   * in it moved into) non-extractable WebCrypto keys where the engine has X25519. Absent: 'raw'.
   */
  keyCustody?(): Promise<KeyCustody>;
}

/**
 * 'cryptokey' when the engine has WebCrypto X25519 and the store gives a CryptoKey back that still
 * works: a throwaway key is written (`put`), read back (`get`), used, and removed. Chromium and
 * Firefox keep CryptoKeys in IndexedDB; WebKitGTK 2.50 without a Secret Service to wrap them
 * commits the write but reads back nothing — there the keys stay hex, as before.
 */
export async function probeCryptoKeyStorage(
  put: (v: unknown) => Promise<void>,
  get: () => Promise<unknown>,
  remove: () => Promise<void>,
): Promise<KeyCustody> {
  if (!(await webCryptoX25519Available())) return 'raw';
  try {
    const s = crypto.subtle;
    const pair = (await s.generateKey({ name: 'X25519' }, false, ['deriveBits'])) as CryptoKeyPair;
    await put({ probe: pair.privateKey });
    const back = ((await get()) as { probe?: unknown } | undefined)?.probe;
    if (!(back instanceof CryptoKey) || back.extractable) return 'raw';
    await s.deriveBits({ name: 'X25519', public: pair.publicKey } as EcdhKeyDeriveParams, back, 256);
    return 'cryptokey';
  } catch {
    return 'raw';
  } finally {
    await remove().catch(() => {});
  }
}

export class MemoryStore implements ControlStore {
  constructor(private readonly custody: KeyCustody = 'cryptokey') {}
  async keyCustody(): Promise<KeyCustody> {
    return this.custody;
  }
  private s: ControlState | null = null;
  async load(): Promise<ControlState | null> {
    return this.s ? { ...this.s } : null;
  }
  async save(s: ControlState): Promise<void> {
    this.s = { ...s };
  }
}

/** IndexedDB (works in Workers) through idb; its own small database so it never races others' schemas. */
export class IdbStore implements ControlStore {
  private db: Promise<IDBPDatabase> | null = null;
  constructor(
    private readonly profile = 'default',
    private readonly dbName = 'tailtab-control',
  ) {}
  private open(): Promise<IDBPDatabase> {
    this.db ??= openDB(this.dbName, 1, {
      upgrade(db) {
        if (!db.objectStoreNames.contains('state')) db.createObjectStore('state');
      },
    });
    return this.db;
  }
  async load(): Promise<ControlState | null> {
    const v = await (await this.open()).get('state', this.profile);
    return v ? (v as ControlState) : null;
  }
  async save(s: ControlState): Promise<void> {
    await (await this.open()).put('state', { ...s }, this.profile);
  }
  private custody?: Promise<KeyCustody>;
  keyCustody(): Promise<KeyCustody> {
    const key = `${this.profile}\u0000probe`;
    this.custody ??= this.open().then((db) =>
      probeCryptoKeyStorage(
        async (v) => {
          await db.put('state', v, key);
        },
        () => db.get('state', key),
        async () => {
          await db.delete('state', key);
        },
      ),
    );
    return this.custody;
  }
}
