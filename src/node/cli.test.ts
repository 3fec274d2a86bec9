import { describe, expect, it } from 'vitest';
import { seededRandom } from '../crypto/random.js';
import { generateKeyPair } from '../crypto/x25519.js';
import { parseArgs, runCli, type CliIo } from './cli.js';
import type { NodeLayers } from './node.js';

// In-memory layers (unit test only): the netmap has one peer; TCP connections echo upper-cased.
function layers(dialed: string[]): NodeLayers {
  const random = seededRandom(5);
  const me = generateKeyPair(random),
    peer = generateKeyPair(random);
  return {
    async startControl() {
      return {
        nodePrivateKey: me.privateKey,
        onNetMap(cb) {
          queueMicrotask(() =>
            cb({
              self: { name: 'me.t.example.', addresses: ['100.64.0.1/32'] },
              peers: [
                {
                  id: '1',
                  name: 'web.t.example.',
                  nodeKey: peer.publicKey,
                  addresses: ['100.64.0.2/32', 'fd7a:115c:a1e0::2/128'],
                  homeDerp: 901,
                },
              ],
              derpMap: { regions: [{ regionId: 901, nodes: [] }] },
              packetFilter: [],
            }),
          );
        },
        setPreferredDerp() {},
        close() {},
      };
    },
    createDerpPool: () => ({ start() {}, setDerpMap() {}, send() {}, close() {} }),
    createNetStack: () => ({
      input() {},
      listen() {
        throw new Error('no listen in fake');
      },
      close() {},
      async connect(addr, port) {
        dialed.push(`${addr}:${port}`);
        const t = new TransformStream<Uint8Array, Uint8Array>({
          transform(c, ctl) {
            ctl.enqueue(new TextEncoder().encode(new TextDecoder().decode(c).toUpperCase()));
          },
        });
        return { readable: t.readable, writable: t.writable, close() {} };
      },
    }),
  };
}

function io(stdinText: string) {
  const out: string[] = [],
    err: string[] = [];
  const x: CliIo = {
    stdin: new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(stdinText));
        c.close();
      },
    }),
    stdout: (b) => {
      out.push(new TextDecoder().decode(b));
    },
    stderr: (s) => {
      err.push(s);
    },
    env: { TAILTAB_CONTROL_URL: 'http://control.invalid' },
    platform: async () => ({}),
  };
  return { x, out, err };
}

describe('cli', () => {
  it('parses flags', () => {
    expect(parseArgs(['--control-url', 'u', 'ping', 'web', '-6', '--count=3'])).toEqual({
      command: 'ping',
      positional: ['web'],
      flags: { 'control-url': 'u', '6': true, count: '3' },
    });
  });
  it('nc pipes stdin to the peer and the reply to stdout, resolving MagicDNS', async () => {
    const dialed: string[] = [];
    const { x, out } = io('hello');
    expect(await runCli(['nc', 'web', '80'], x, layers(dialed))).toBe(0);
    expect(dialed).toEqual(['100.64.0.2:80']);
    expect(out.join('')).toBe('HELLO');
  });
  it('status prints JSON with self and peers; bad usage exits 2', async () => {
    const { x, out } = io('');
    expect(await runCli(['status'], x, layers([]))).toBe(0);
    const st = JSON.parse(out.join(''));
    expect(st.self.ips).toEqual(['100.64.0.1']);
    expect(st.peers[0].relayRegion).toBe(901);
    const bad = io('');
    expect(await runCli(['nc', 'web'], bad.x, layers([]))).toBe(2);
    const noHost = io('');
    expect(await runCli(['nc', 'nosuch', '80'], noHost.x, layers([]))).toBe(1);
    expect(noHost.err.join('')).toContain('unknown host nosuch');
  });
});
