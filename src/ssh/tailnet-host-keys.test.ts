import { describe, expect, it } from 'vitest';
import { toBase64 } from '../crypto/bytes.js';
import { fingerprint } from './hostkey.js';
import { hostKeyBlobs, TailnetHostKeyMismatchError, tailnetHostKeysVerifier } from './tailnet-host-keys.js';
import type { HostKeyInfo } from './transport/transport.js';

// An ssh-ed25519 public key blob: string "ssh-ed25519", string <32 bytes>.
function ed25519Blob(fill: number): Uint8Array {
  const name = new TextEncoder().encode('ssh-ed25519');
  const b = new Uint8Array(4 + name.length + 4 + 32);
  const v = new DataView(b.buffer);
  v.setUint32(0, name.length);
  b.set(name, 4);
  v.setUint32(4 + name.length, 32);
  b.fill(fill, 8 + name.length);
  return b;
}
const info = (blob: Uint8Array): HostKeyInfo => ({
  algorithm: 'ssh-ed25519',
  keyType: 'ssh-ed25519',
  blob,
  fingerprint: fingerprint(blob),
});

describe('Tailscale SSH host keys from the map', () => {
  const a = ed25519Blob(1);
  const b = ed25519Blob(2);
  const lines = [`ssh-ed25519 ${toBase64(a)}`, 'ecdsa-sha2-nistp256 !!notbase64!!', '', `ssh-rsa`];

  it('reads the blobs of OpenSSH lines and skips unreadable ones', () => {
    expect(hostKeyBlobs(lines)).toEqual([toBase64(a)]);
  });

  it('accepts a listed key and reports it as known', async () => {
    const events: string[] = [];
    await tailnetHostKeysVerifier('peer2', lines, (e) => events.push(e.kind))(info(a));
    expect(events).toEqual(['known']);
  });

  it('refuses a key the machine did not publish, naming both fingerprints', async () => {
    const v = tailnetHostKeysVerifier('peer2', lines);
    let err: unknown;
    try {
      await v(info(b));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TailnetHostKeyMismatchError);
    expect((err as Error).message).toContain(fingerprint(b));
    expect((err as Error).message).toContain(fingerprint(a));
  });
});
