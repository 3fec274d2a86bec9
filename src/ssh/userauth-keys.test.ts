// Several user keys in one login: each signer (a WebCrypto key here) is offered in order, a
// refusal that still lists "publickey" moves on to the next, and the server sees a signature it
// can verify over exactly the RFC 4252 §7 data. A scripted server on a fake transport.
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import { parsePemPrivateKey } from './keyfile-pem.js';
import { seededRandom } from '../crypto/random.js';
import { parseHostKey, verifySignature } from './hostkey.js';
import { cryptoKeySigner, toSigningKeys, type Subtle } from './key-custody.js';
import { generateEd25519Key, publicKeyBlob } from './keys.js';
import { MSG } from './messages.js';
import type { Transport } from './transport/transport.js';
import { authenticate } from './userauth.js';
import { Reader, Writer } from './wire.js';

describe('publickey with several keys', () => {
  it('tries each key in order until the server accepts one', async () => {
    const subtle = webcrypto.subtle as unknown as Subtle;
    const random = seededRandom(4);
    const keys = [generateEd25519Key(random), generateEd25519Key(random), generateEd25519Key(random)];
    const signers = await Promise.all(
      keys.map(async (k) =>
        cryptoKeySigner(subtle, k.type, publicKeyBlob(k), (await toSigningKeys(subtle, k, publicKeyBlob(k)))!),
      ),
    );
    const accepted = publicKeyBlob(keys[1]);
    const sessionId = new Uint8Array(32).fill(7);
    const offered: Uint8Array[] = [];
    const replies: Uint8Array[] = [];
    const t = {
      sessionId,
      serverSigAlgs: ['ssh-ed25519'],
      fail: () => {},
      async send(p: Uint8Array) {
        if (p[0] === MSG.SERVICE_REQUEST) return void replies.push(new Uint8Array([MSG.SERVICE_ACCEPT]));
        const r = new Reader(p.subarray(1));
        const user = r.text();
        r.text();
        const method = r.text();
        // The "none" probe first (as OpenSSH asks): its answer lists what the server takes.
        if (method === 'none')
          return void replies.push(
            new Writer().byte(MSG.USERAUTH_FAILURE).nameList(['publickey', 'password']).bool(false).finish(),
          );
        expect(method).toBe('publickey');
        expect(r.bool()).toBe(true);
        const alg = r.text();
        const blob = r.string();
        const sig = r.string();
        offered.push(blob);
        const signed = new Writer()
          .string(sessionId)
          .byte(MSG.USERAUTH_REQUEST)
          .string(user)
          .string('ssh-connection')
          .string('publickey')
          .bool(true)
          .string(alg)
          .string(blob)
          .finish();
        expect(verifySignature(parseHostKey(blob), alg, sig, signed)).toBe(true);
        const ok = blob.every((b, i) => b === accepted[i]) && blob.length === accepted.length;
        replies.push(
          ok
            ? new Uint8Array([MSG.USERAUTH_SUCCESS])
            : new Writer().byte(MSG.USERAUTH_FAILURE).nameList(['publickey', 'password']).bool(false).finish(),
        );
      },
      async recv() {
        return replies.shift()!;
      },
    } as unknown as Transport;
    const method = await authenticate(t, {
      username: 'me',
      methods: signers.map((key) => ({ type: 'publickey' as const, key })),
    });
    expect(method).toBe('publickey');
    expect(offered.map((b) => publicKeyBlob(keys.find((k) => publicKeyBlob(k).every((x, i) => x === b[i]))!))).toEqual([
      publicKeyBlob(keys[0]),
      publicKeyBlob(keys[1]),
    ]);
  });

  it('passes over an RSA key the server can only verify with SHA-1 when another key can sign, and says why when none can', async () => {
    const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const rsa = parsePemPrivateKey(rsaPem).key;
    const ed = generateEd25519Key(seededRandom(5));
    const script = (accepted: Uint8Array) => {
      const offered: string[] = [];
      const replies: Uint8Array[] = [];
      const t = {
        sessionId: new Uint8Array(32),
        serverSigAlgs: ['ssh-ed25519', 'ssh-rsa'], // no rsa-sha2-*: an old server
        fail: () => {},
        async send(p: Uint8Array) {
          if (p[0] === MSG.SERVICE_REQUEST) return void replies.push(new Uint8Array([MSG.SERVICE_ACCEPT]));
          const r = new Reader(p.subarray(1));
          r.text();
          r.text();
          const method = r.text();
          if (method !== 'publickey')
            return void replies.push(
              new Writer().byte(MSG.USERAUTH_FAILURE).nameList(['publickey']).bool(false).finish(),
            );
          r.bool();
          offered.push(r.text());
          const blob = r.string();
          const ok = blob.length === accepted.length && blob.every((b, i) => b === accepted[i]);
          replies.push(
            ok
              ? new Uint8Array([MSG.USERAUTH_SUCCESS])
              : new Writer().byte(MSG.USERAUTH_FAILURE).nameList(['publickey']).bool(false).finish(),
          );
        },
        async recv() {
          return replies.shift()!;
        },
      } as unknown as Transport;
      return { t, offered };
    };
    const a = script(publicKeyBlob(ed));
    expect(
      await authenticate(a.t, {
        username: 'me',
        methods: [
          { type: 'publickey', key: rsa },
          { type: 'publickey', key: ed },
        ],
      }),
    ).toBe('publickey');
    expect(a.offered).toEqual(['ssh-ed25519']);
    const b = script(publicKeyBlob(ed));
    await expect(authenticate(b.t, { username: 'me', methods: [{ type: 'publickey', key: rsa }] })).rejects.toThrow(
      /ssh-rsa \(SHA-1\) signatures, which tailtab refuses/,
    );
    expect(b.offered).toEqual([]);
  });
});
