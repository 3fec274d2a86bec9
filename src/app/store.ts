// What the node Worker keeps: SSH keys and known hosts (in the app's IndexedDB database, see
// platform/idb.ts) and the control client's login state (control/storage.ts). An ephemeral session
// (kiosk mode) uses the memory variant: nothing reaches IndexedDB, so closing the tab leaves
// nothing behind. Only the Worker reads SSH private keys; the page gets public halves.
import type { IDBPDatabase } from 'idb';
import { MemoryStore, probeCryptoKeyStorage, type ControlState, type ControlStore } from '../control/storage.js';
import type { KeyCustody } from '../crypto/static-key.js';
import {
  deleteTailtabDb,
  openTailtabDb,
  type KnownHostRecord,
  type SshKeyRecord,
  type TailtabDb,
} from '../platform/idb.js';

/** The control client's default database (control/storage.ts IdbStore): wiped too, in case. */
export const CONTROL_DB_NAME = 'tailtab-control';

export interface WorkerStore {
  readonly persistent: boolean;
  sshKeys(): Promise<SshKeyRecord[]>;
  sshKey(id: string): Promise<SshKeyRecord | undefined>;
  putSshKey(k: SshKeyRecord): Promise<void>;
  deleteSshKey(id: string): Promise<void>;
  knownHosts(): Promise<KnownHostRecord[]>;
  knownHost(host: string): Promise<KnownHostRecord | undefined>;
  putKnownHost(h: KnownHostRecord): Promise<void>;
  deleteKnownHost(host: string): Promise<void>;
  controlStore(profileId: string): ControlStore;
  /** Deletes everything this store holds (and, for IndexedDB, the databases themselves). */
  wipe(): Promise<void>;
}

export class MemoryWorkerStore implements WorkerStore {
  readonly persistent = false;
  private keys = new Map<string, SshKeyRecord>();
  private hosts = new Map<string, KnownHostRecord>();
  private control = new Map<string, MemoryStore>();
  async sshKeys() {
    return [...this.keys.values()];
  }
  async sshKey(id: string) {
    return this.keys.get(id);
  }
  async putSshKey(k: SshKeyRecord) {
    this.keys.set(k.id, k);
  }
  async deleteSshKey(id: string) {
    this.keys.delete(id);
  }
  async knownHosts() {
    return [...this.hosts.values()];
  }
  async knownHost(host: string) {
    return this.hosts.get(host);
  }
  async putKnownHost(h: KnownHostRecord) {
    this.hosts.set(h.host, h);
  }
  async deleteKnownHost(host: string) {
    this.hosts.delete(host);
  }
  controlStore(profileId: string): ControlStore {
    let s = this.control.get(profileId);
    if (!s) this.control.set(profileId, (s = new MemoryStore()));
    return s;
  }
  async wipe() {
    for (const k of this.keys.values()) for (const b of [k.seed, k.privateFields, k.exportable]) b?.fill(0);
    this.keys.clear();
    this.hosts.clear();
    this.control.clear();
  }
}

function deleteDb(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
    req.onblocked = () => resolve();
  });
}

export class IdbWorkerStore implements WorkerStore {
  readonly persistent = true;
  private db?: Promise<IDBPDatabase<TailtabDb>>;

  private open(): Promise<IDBPDatabase<TailtabDb>> {
    if (!this.db) {
      this.db = openTailtabDb().then((db) => {
        // Another context (the page's "wipe", a newer version in another tab) wants the database:
        // let go of it instead of blocking them.
        db.addEventListener('versionchange', () => {
          db.close();
          this.db = undefined;
        });
        return db;
      });
    }
    return this.db;
  }

  async sshKeys() {
    return (await this.open()).getAll('sshKeys');
  }
  async sshKey(id: string) {
    return (await this.open()).get('sshKeys', id);
  }
  async putSshKey(k: SshKeyRecord) {
    await (await this.open()).put('sshKeys', k);
  }
  async deleteSshKey(id: string) {
    await (await this.open()).delete('sshKeys', id);
  }
  async knownHosts() {
    return (await this.open()).getAll('knownHosts');
  }
  async knownHost(host: string) {
    return (await this.open()).get('knownHosts', host);
  }
  async putKnownHost(h: KnownHostRecord) {
    await (await this.open()).put('knownHosts', h);
  }
  async deleteKnownHost(host: string) {
    await (await this.open()).delete('knownHosts', host);
  }
  private custody?: Promise<KeyCustody>;

  /**
   * The login state lives in the app's database (nodeState, keyed [profileId, 'control']). Its
   * machine and node keys are non-extractable CryptoKeys where this engine can keep them there.
   */
  controlStore(profileId: string): ControlStore {
    return {
      load: async () =>
        ((await (await this.open()).get('nodeState', [profileId, 'control']))?.value as ControlState | undefined) ??
        null,
      save: async (st) => {
        await (await this.open()).put('nodeState', { profileId, key: 'control', value: { ...st } });
      },
      keyCustody: () => {
        this.custody ??= probeCryptoKeyStorage(
          async (value) => {
            await (await this.open()).put('nodeState', { profileId: '', key: 'cryptokey-probe', value });
          },
          async () => (await (await this.open()).get('nodeState', ['', 'cryptokey-probe']))?.value,
          async () => {
            await (await this.open()).delete('nodeState', ['', 'cryptokey-probe']);
          },
        );
        return this.custody;
      },
    };
  }
  async wipe() {
    const db = this.db;
    this.db = undefined;
    if (db) (await db.catch(() => undefined))?.close();
    await deleteTailtabDb();
    await deleteDb(CONTROL_DB_NAME);
  }
}
