// Our disco codec (src/node/disco.ts) against tailscale.com/disco v1.102.3 itself: Go opens and
// parses packets we seal, and we open and parse packets Go seals (ping with node key and padding,
// pong from the DERP magic address, call-me-maybe with v4 and v6 endpoints).
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../src/crypto/bytes.js';
import { secureRandom } from '../src/crypto/random.js';
import { generateKeyPair } from '../src/crypto/x25519.js';
import { DERP_MAGIC_IP, DiscoCodec } from '../src/node/disco.js';

function buildGoHelper(): string {
  const out = join(mkdtempSync(join(tmpdir(), 'node-disco-go-')), 'helper');
  try {
    execFileSync('go', ['build', '-o', out, '.'], {
      cwd: join(import.meta.dirname, 'node-disco-go'),
      env: { ...process.env, GOPROXY: 'off', GOFLAGS: '-mod=mod', GOSUMDB: 'off' },
      stdio: 'pipe',
    });
  } catch (e) {
    throw new Error(
      `cannot build the Go disco helper (needs go and tailscale.com v1.102.3 in the module cache): ${String((e as { stderr?: Buffer }).stderr ?? e)}`,
    );
  }
  return out;
}

describe('disco codec vs tailscale.com/disco', () => {
  it('interoperates both ways', () => {
    const helper = buildGoHelper();
    const ours = generateKeyPair(secureRandom);
    const theirs = generateKeyPair(secureRandom);
    const codec = new DiscoCodec(ours.privateKey, ours.publicKey, secureRandom);
    const tx = secureRandom(12),
      nk = secureRandom(32);
    const packets = [
      codec.seal(theirs.publicKey, { type: 'ping', txId: tx, nodeKey: nk, padding: 3 }),
      codec.seal(theirs.publicKey, { type: 'pong', txId: tx, src: { ip: DERP_MAGIC_IP, port: 902 } }),
      codec.seal(theirs.publicKey, {
        type: 'callMeMaybe',
        endpoints: [
          { ip: '100.64.0.5', port: 41641 },
          { ip: 'fd7a:115c:a1e0::5', port: 7 },
        ],
      }),
    ];
    const res = JSON.parse(
      execFileSync(helper, [toHex(theirs.privateKey), toHex(ours.publicKey), ...packets.map(toHex)]).toString(),
    ) as { parsed: string[]; ping: string; pong: string; cmm: string };
    expect(res.parsed).toEqual([
      `ping tx=${toHex(tx)} nodekey=${toHex(nk)} padding=3`,
      `pong tx=${toHex(tx)} src=127.3.3.40:902`,
      'cmm [100.64.0.5:41641 [fd7a:115c:a1e0::5]:7]',
    ]);
    const txGo = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
    const nkGo = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
    const open = (h: string) => {
      const r = codec.open(fromHex(h));
      if (typeof r === 'string') throw new Error(r);
      expect(r.sender).toEqual(theirs.publicKey);
      return r.message;
    };
    expect(open(res.ping)).toEqual({ type: 'ping', txId: txGo, nodeKey: nkGo, padding: 5 });
    expect(open(res.pong)).toEqual({ type: 'pong', txId: txGo, src: { ip: '127.3.3.40', port: 901 } });
    expect(open(res.cmm)).toEqual({
      type: 'callMeMaybe',
      endpoints: [
        { ip: 'fd7a:115c:a1e0::1', port: 41641 },
        { ip: '192.168.1.2', port: 3 },
      ],
    });
  });
});
