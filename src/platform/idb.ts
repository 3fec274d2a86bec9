// The one IndexedDB database of the app, with a versioned schema and explicit migrations.
// Reachable from the page and from Workers alike (idb wraps the IndexedDB API present in both).
// Secrets (machine/node keys, SSH private keys) are read only by the node in its Worker; the
// page reads profiles and settings, and gets public keys through the node.
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

export const DB_NAME = 'tailtab';
export const DB_VERSION = 2;

export interface ProfileRecord {
  id: string;
  name: string;
  controlUrl: string;
  hostname: string;
  allowInsecureDerp?: boolean;
  controlKey?: string;
  /** false: the person chose relays only (no direct WebRTC path). */
  webrtc?: boolean;
  lastUsedAt: number;
}

export interface SshKeyRecord {
  id: string;
  name: string;
  /** authorized_keys line. */
  publicKey: string;
  createdAt: number;
  /** 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ssh-rsa', … (v2 records without it are Ed25519). */
  type?: string;
  /** 'generated' here or 'imported' from the person's file. */
  source?: 'generated' | 'imported';
  /**
   * Non-extractable WebCrypto keys by SSH signature algorithm (ssh/key-custody.ts): IndexedDB
   * stores the CryptoKey itself (structured clone), whose private half no script can read.
   */
  signingKeys?: Record<string, CryptoKey>;
  /**
   * Secret: the key's openssh-key-v1 private fields, only where the engine cannot hold the key as
   * a CryptoKey (an engine without Ed25519 in WebCrypto).
   */
  privateFields?: Uint8Array;
  /** Secret: the same, kept only when the person chose "allow export" when making or importing it. */
  exportable?: Uint8Array;
  /** 'widget': given to the widget on this site; neither listed nor used by the app (app/ssh-keys.ts). */
  scope?: 'widget';
  /** v2 records: the raw Ed25519 seed; ssh-keys.ts converts such a record on first use. */
  seed?: Uint8Array;
}

export interface KnownHostRecord {
  host: string;
  keyType: string;
  fingerprint: string;
  /** The host key blob (base64), compared byte for byte on the next connection. */
  keyBlob?: string;
  addedAt: number;
  /** The person chose "connect anyway (legacy device)" for this host: SHA-1 / short RSA accepted. */
  legacyDevice?: boolean;
}

export interface TailtabDb extends DBSchema {
  profiles: { key: string; value: ProfileRecord };
  /** Per-profile key/value state of the node: machine key, node key, login state. */
  nodeState: { key: [string, string]; value: { profileId: string; key: string; value: unknown } };
  settings: { key: string; value: { key: string; value: unknown } };
  sshKeys: { key: string; value: SshKeyRecord };
  knownHosts: { key: string; value: KnownHostRecord };
}

/**
 * Migrations run in order from the stored version; each one only adds (never drops data a person
 * may need). v1: profiles, nodeState, settings. v2: sshKeys and knownHosts.
 */
export function openTailtabDb(name = DB_NAME): Promise<IDBPDatabase<TailtabDb>> {
  return openDB<TailtabDb>(name, DB_VERSION, {
    upgrade(db, oldVersion) {
      if (oldVersion < 1) {
        db.createObjectStore('profiles', { keyPath: 'id' });
        db.createObjectStore('nodeState', { keyPath: ['profileId', 'key'] });
        db.createObjectStore('settings', { keyPath: 'key' });
      }
      if (oldVersion < 2) {
        db.createObjectStore('sshKeys', { keyPath: 'id' });
        db.createObjectStore('knownHosts', { keyPath: 'host' });
      }
    },
  });
}

/** Deletes the whole database: "wipe everything" in Settings, and the end of an ephemeral session. */
export async function deleteTailtabDb(name = DB_NAME): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
    req.onblocked = () => resolve();
  });
}
