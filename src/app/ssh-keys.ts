// The person's SSH keys: Ed25519 keys made here, and their own keys imported from a file (OpenSSH
// or PEM, ssh/keyfile-pem.ts parsePrivateKeyFile). Custody (ssh/key-custody.ts): each key is
// stored as non-extractable WebCrypto CryptoKeys where the engine has the algorithm, raw bytes
// only where it has not. The page sees names, types, fingerprints and public lines; a private key
// leaves only by export, which only a key made or imported with "allow export" has.
// Keys the person gives the widget (scope 'widget', SECURITY.md "A key in the widget") are kept
// apart: the app never lists or offers them, the widget lists and uses only them. The widget's
// session is ephemeral, so its keys live in memory for the visit, or, with "remember", in the
// persistent store (this site's IndexedDB) — read by the widget on later visits.
import { toHex } from '../crypto/bytes.js';
import {
  cryptoKeySigner,
  generateEd25519SigningKey,
  toSigningKeys,
  type SigningKeys,
  type Subtle,
} from '../ssh/key-custody.js';
import { KeyFileError, readPrivateKeyFields } from '../ssh/keyfile.js';
import { parsePrivateKeyFile } from '../ssh/keyfile-pem.js';
import { privateKeyFields, writeOpenSshPrivateKey } from '../ssh/keyfile-write.js';
import { fingerprint } from '../ssh/hostkey.js';
import {
  authorizedKeysLine,
  ed25519KeyFromSeed,
  generateEd25519Key,
  publicKeyBlob,
  rawSigner,
  type SshSigner,
  type UserKey,
} from '../ssh/keys.js';
import { fromBase64 } from '../crypto/bytes.js';
import type { SshKeyRecord } from '../platform/idb.js';
import type { SshKeyImportResult, SshKeyView } from './node-api.js';
import type { AppContext } from './context.js';
import type { WorkerStore } from './store.js';

/** Key files bigger than this are not keys (an RSA-16384 OpenSSH file is ~12 KiB). */
const MAX_KEY_FILE = 64 * 1024;

function blobOf(k: SshKeyRecord): Uint8Array {
  return fromBase64(k.publicKey.split(' ')[1] ?? '');
}

function view(k: SshKeyRecord, remembered?: boolean): SshKeyView {
  return {
    ...(k.scope ? { scope: k.scope, remembered: !!remembered } : {}),
    id: k.id,
    name: k.name,
    type: k.type ?? 'ssh-ed25519',
    fingerprint: fingerprint(blobOf(k)),
    publicKey: k.publicKey,
    createdAt: k.createdAt,
    exportable: !!k.exportable,
    custody: k.signingKeys ? 'webcrypto' : 'raw',
    source: k.source ?? 'generated',
  };
}

function cleanName(name: string, fallback: string): string {
  return (name.trim() || fallback).replace(/[^\w.@-]+/g, '-').slice(0, 64);
}

/** Zero what can be zeroed of a key once it is stored (bigints cannot be). */
function scrub(key: UserKey): void {
  if (key.type !== 'ssh-rsa') key.privateKey.fill(0);
}

export class SshKeyring {
  private readonly subtle: Subtle | undefined;

  constructor(
    private readonly ctx: AppContext,
    subtle: Subtle | undefined = globalThis.crypto?.subtle,
  ) {
    this.subtle = subtle;
  }

  /** Every key of one scope, oldest first (the order logins try them in); v2 records are converted here. */
  private async records(scope?: 'widget'): Promise<SshKeyRecord[]> {
    const all = (await this.everywhere()).filter((k) => k.scope === scope).map((k) => k.rec);
    return Promise.all(all.map((k) => (k.seed ? this.upgrade(k) : k)));
  }

  /** Does this store outlive the session (IndexedDB, not an ephemeral session's memory)? */
  private keeps(store: WorkerStore): boolean {
    return store === this.ctx.persistentStore?.() || store.persistent;
  }

  /** The session's keys and, when that is memory (ephemeral), the remembered widget keys too. */
  private async everywhere(): Promise<{ rec: SshKeyRecord; scope?: 'widget'; kept: boolean }[]> {
    const here = this.ctx.store();
    const kept = this.ctx.persistentStore?.();
    const out = (await here.sshKeys()).map((rec) => ({ rec, scope: rec.scope, kept: this.keeps(here) }));
    if (kept && kept !== here)
      for (const rec of await kept.sshKeys())
        if (rec.scope === 'widget') out.push({ rec, scope: rec.scope, kept: true });
    return out.sort((a, b) => a.rec.createdAt - b.rec.createdAt);
  }

  /**
   * A key stored before custody (raw seed): moved into a CryptoKey where the engine can hold it.
   * It stays exportable — export had no gate then, and a person may rely on it.
   */
  private async upgrade(k: SshKeyRecord): Promise<SshKeyRecord> {
    const key = ed25519KeyFromSeed(k.seed!);
    const fields = privateKeyFields(key);
    const signingKeys = await toSigningKeys(this.subtle, key, publicKeyBlob(key));
    const rec: SshKeyRecord = {
      id: k.id,
      name: k.name,
      publicKey: k.publicKey,
      createdAt: k.createdAt,
      type: key.type,
      source: 'generated',
      ...(signingKeys ? { signingKeys } : { privateFields: fields.slice() }),
      exportable: fields,
    };
    await this.ctx.store().putSshKey(rec);
    k.seed!.fill(0);
    return rec;
  }

  async list(scope?: 'widget'): Promise<SshKeyView[]> {
    if (!scope) return (await this.records()).map((k) => view(k));
    return (await this.everywhere()).filter((k) => k.scope === scope).map((k) => view(k.rec, k.kept));
  }

  async create(name: string, o: { allowExport?: boolean } = {}): Promise<SshKeyView> {
    const clean = cleanName(name, 'tailtab');
    // Without export, the engine makes the key: its private half never exists as bytes here.
    const made = o.allowExport ? undefined : await generateEd25519SigningKey(this.subtle);
    if (made) {
      const line = authorizedKeysLine(
        { type: 'ssh-ed25519', publicKey: made.publicKey, privateKey: new Uint8Array(0) },
        clean,
      );
      return this.put({
        name: clean,
        type: 'ssh-ed25519',
        publicKey: line,
        signingKeys: made.keys,
        source: 'generated',
      });
    }
    return this.store(generateEd25519Key(this.ctx.random), clean, !!o.allowExport, 'generated');
  }

  /** The person's key file (text): stored as a key, or why not, in a sentence with a code. */
  async import(
    text: string,
    o: { name?: string; passphrase?: string; allowExport?: boolean; scope?: 'widget'; remember?: boolean } = {},
  ): Promise<SshKeyImportResult> {
    if (typeof text !== 'string' || text.length > MAX_KEY_FILE)
      return {
        ok: false,
        code: 'malformed',
        message: 'this file is too big to be a private key; choose the key file itself (e.g. ~/.ssh/id_ed25519)',
      };
    let parsed;
    try {
      parsed = parsePrivateKeyFile(text, o.passphrase);
    } catch (e) {
      if (e instanceof KeyFileError) return { ok: false, code: e.code, message: e.message };
      return { ok: false, code: 'malformed', message: `the key file could not be read (${(e as Error).message})` };
    }
    const line = authorizedKeysLine(parsed.key, '');
    const same = (await this.records(o.scope)).find((k) => k.publicKey.split(' ').slice(0, 2).join(' ') === line);
    if (same) {
      scrub(parsed.key);
      return { ok: false, code: 'duplicate', message: `this key is already here, as "${same.name}"` };
    }
    const fallback = parsed.comment || parsed.key.type.replace(/^ssh-|^ecdsa-sha2-/, '');
    return {
      ok: true,
      key: await this.store(
        parsed.key,
        cleanName(o.name ?? '', cleanName(fallback, 'imported')),
        !!o.allowExport,
        'imported',
        o.scope === 'widget' ? { scope: 'widget', remember: !!o.remember } : undefined,
      ),
    };
  }

  private async store(
    key: UserKey,
    name: string,
    allowExport: boolean,
    source: SshKeyRecord['source'],
    widget?: { scope: 'widget'; remember: boolean },
  ): Promise<SshKeyView> {
    const blob = publicKeyBlob(key);
    const signingKeys: SigningKeys | undefined = await toSigningKeys(this.subtle, key, blob);
    const fields = privateKeyFields(key);
    // Absent, not undefined: a stored record names only what it holds.
    const rec = await this.put(
      {
        name,
        type: key.type,
        publicKey: authorizedKeysLine(key, name),
        source,
        ...(signingKeys ? { signingKeys } : { privateFields: fields }),
        ...(allowExport ? { exportable: fields.slice() } : {}),
        ...(widget ? { scope: widget.scope } : {}),
      },
      widget?.remember ? this.ctx.persistentStore?.() : undefined,
    );
    if (signingKeys) fields.fill(0);
    scrub(key);
    return rec;
  }

  private async put(r: Omit<SshKeyRecord, 'id' | 'createdAt'>, into = this.ctx.store()): Promise<SshKeyView> {
    // createdAt orders logins: strictly increasing even within one millisecond.
    const last = (await this.everywhere()).reduce((m, k) => Math.max(m, k.rec.createdAt), 0);
    const rec: SshKeyRecord = { ...r, id: toHex(this.ctx.random(8)), createdAt: Math.max(this.ctx.now(), last + 1) };
    await into.putSshKey(rec);
    return view(rec, this.keeps(into));
  }

  /** Deletes a key of that scope (a widget key from the remembered store too). */
  async delete(id: string, scope?: 'widget'): Promise<void> {
    const k = (await this.everywhere()).find((e) => e.rec.id === id && e.scope === scope);
    if (!k) return;
    await this.ctx.store().deleteSshKey(id);
    if (scope === 'widget') await this.ctx.persistentStore?.().deleteSshKey(id);
  }

  /** Signers for a login: the one key chosen (of either scope), or every one of the app's keys in order. */
  async signers(keyId?: string): Promise<SshSigner[]> {
    const recs =
      keyId === undefined
        ? await this.records()
        : [...(await this.records()), ...(await this.records('widget'))].filter((k) => k.id === keyId);
    return recs.map((k) => {
      const type = (k.type ?? 'ssh-ed25519') as UserKey['type'];
      if (k.signingKeys && this.subtle) return cryptoKeySigner(this.subtle, type, blobOf(k), k.signingKeys);
      if (!k.privateFields)
        throw new Error(`the SSH key "${k.name}" is held by this browser's WebCrypto, which this context cannot use`);
      return rawSigner(readPrivateKeyFields(k.privateFields));
    });
  }

  /**
   * The one way a private key leaves the store: the person asked, from a click (the page checks
   * the gesture, app/gesture.ts), for a key made or imported with "allow export".
   */
  async export(id: string, o: { passphrase?: string } = {}): Promise<string> {
    const k = (await this.records()).find((r) => r.id === id);
    if (!k) throw new Error('That SSH key no longer exists in this browser.');
    if (!k.exportable) {
      throw new Error(
        `The key "${k.name}" was stored without "allow export": its private half cannot leave this browser. If you need a copy elsewhere, make or import a key with "allow export" on.`,
      );
    }
    const key = readPrivateKeyFields(k.exportable);
    try {
      return writeOpenSshPrivateKey(key, k.name, { passphrase: o.passphrase || undefined, random: this.ctx.random });
    } finally {
      scrub(key);
    }
  }
}
