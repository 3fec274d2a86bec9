// The person's SSH keys: Ed25519 keys made in the Worker and kept in this session's store. The
// page sees names and public halves; a private key leaves only when the person exports it.
import { toHex } from '../crypto/bytes.js';
import { authorizedKeysLine, generateEd25519Key, openSshPrivateKey } from '../ssh/keys.js';
import type { SshKeyRecord } from '../platform/idb.js';
import type { SshKeyView } from './node-api.js';
import type { AppContext } from './context.js';

function view(k: SshKeyRecord): SshKeyView {
  return { id: k.id, name: k.name, publicKey: k.publicKey, createdAt: k.createdAt };
}

export class SshKeyring {
  constructor(private readonly ctx: AppContext) {}

  async list(): Promise<SshKeyView[]> {
    return (await this.ctx.store().sshKeys()).sort((a, b) => a.createdAt - b.createdAt).map(view);
  }

  async create(name: string): Promise<SshKeyView> {
    const clean = (name || 'tailtab').replace(/[^\w.@-]+/g, '-').slice(0, 64);
    const key = generateEd25519Key(this.ctx.random);
    const rec: SshKeyRecord = { id: toHex(this.ctx.random(8)), name: clean, seed: key.privateKey, publicKey: authorizedKeysLine(key, clean), createdAt: this.ctx.now() };
    await this.ctx.store().putSshKey(rec);
    return view(rec);
  }

  delete(id: string): Promise<void> {
    return this.ctx.store().deleteSshKey(id);
  }

  /** The one way a private key leaves the store: the person asked to export it. */
  async export(id: string): Promise<string> {
    const k = await this.ctx.store().sshKey(id);
    if (!k) throw new Error('no such key');
    return openSshPrivateKey(k.seed, k.name, this.ctx.random);
  }
}
