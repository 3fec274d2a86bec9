// Persistent state of the control client: the machine key (created once, kept forever: Headscale
// binds node keys to it), the node key, and whether that node key is logged in.
import { openDB, type IDBPDatabase } from 'idb';

export interface ControlState {
  /** hex private keys */
  machinePrivateKey: string;
  nodePrivateKey?: string;
  /** The previous node key while rotating (RegisterRequest.OldNodeKey). */
  oldNodePrivateKey?: string;
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
}

export class MemoryStore implements ControlStore {
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
  constructor(private readonly profile = 'default', private readonly dbName = 'tailtab-control') {}
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
}
