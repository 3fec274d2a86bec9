// The client against a scripted in-memory server (test-server.testkit.ts) on a VirtualClock: the
// ML-KEM hybrid key exchange, SSH_MSG_UNIMPLEMENTED both ways (RFC 4253 §11.4), keepalive with
// missed replies, signals and exit-signal (RFC 4254 §6.9–6.10), per-session byte counters.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { seededRandom } from '../crypto/random.js';
import { VirtualClock } from '../platform/clock.js';
import { turnsUntil } from '../platform/virtual-time.testkit.js';
import { SshClient, type SshConnectOptions } from './client.js';
import { curve25519Start, mlkem768x25519Start } from './kex.js';
import { MSG } from './messages.js';
import { SshProtocolError } from './transport/packet.js';
import { testServer, type TestServerPeer } from './test-server.testkit.js';
import { Reader, Writer } from './wire.js';

function connect(
  script: (p: TestServerPeer) => Promise<void>,
  extra: Partial<SshConnectOptions> & { serverKex?: string[] } = {},
) {
  const { serverKex, ...opts } = extra;
  const duplex = testServer({ random: seededRandom(21), kex: serverKex, script });
  return SshClient.connect(duplex, {
    username: 'u',
    auth: [{ type: 'none' }],
    hostKeyVerifier: () => {},
    random: seededRandom(22),
    clock: new VirtualClock(),
    ...opts,
  });
}

const idle = () => new Promise<void>(() => {});

/** Server side of one session channel: confirm the open, say yes to requests with want-reply. */
async function serveSessionOpen(p: TestServerPeer): Promise<number> {
  const open = new Reader(await p.recv());
  expect(open.byte()).toBe(MSG.CHANNEL_OPEN);
  expect(open.text()).toBe('session');
  const clientId = open.uint32();
  p.send(
    new Writer()
      .byte(MSG.CHANNEL_OPEN_CONFIRMATION)
      .uint32(clientId)
      .uint32(7)
      .uint32(1 << 20)
      .uint32(32768)
      .finish(),
  );
  return clientId;
}

describe('mlkem768x25519-sha256', () => {
  it('is preferred when the server offers it, and both sides derive the same keys (login succeeds under them)', async () => {
    let serverKex = '';
    const c = await connect(async (p) => ((serverKex = p.kex), idle()));
    expect(c.algorithms.kex).toBe('mlkem768x25519-sha256');
    expect(serverKex).toBe('mlkem768x25519-sha256');
    c.close();
  });

  it('falls back to curve25519-sha256 when the server lacks it (OpenSSH < 9.9)', async () => {
    const c = await connect(idle, { serverKex: ['curve25519-sha256'] });
    expect(c.algorithms.kex).toBe('curve25519-sha256');
    c.close();
  });

  it('K is SHA-256(ML-KEM secret || X25519 secret) as an SSH string; wrong-sized replies are refused', () => {
    const rnd = seededRandom(5);
    const st = mlkem768x25519Start(rnd);
    expect(st.clientPublic.length).toBe(1184 + 32);
    const { cipherText, sharedSecret } = ml_kem768.encapsulate(st.clientPublic.subarray(0, 1184));
    const xPriv = rnd(32);
    const qs = new Uint8Array([...cipherText, ...x25519.getPublicKey(xPriv)]);
    const expected = sha256(
      new Uint8Array([...sharedSecret, ...x25519.getSharedSecret(xPriv, st.clientPublic.subarray(1184))]),
    );
    expect(st.shared(qs)).toEqual(new Writer().string(expected).finish());
    expect(() => st.shared(qs.subarray(1))).toThrow(SshProtocolError);
    expect(() => st.shared(new Uint8Array(1088 + 32))).toThrow(SshProtocolError); // all-zero X25519 point
    expect(() => curve25519Start(rnd).shared(new Uint8Array(31))).toThrow(SshProtocolError);
  });

  it('fuzz: any server Q_S gives a 32-byte K (right size) or SshProtocolError, never another error', () => {
    const st = mlkem768x25519Start(seededRandom(6));
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 1200 }), fc.uint8Array({ minLength: 1120, maxLength: 1120 })),
        (qs) => {
          try {
            expect(st.shared(qs).length).toBe(4 + 32);
            expect(qs.length).toBe(1120);
          } catch (e) {
            if (!(e instanceof SshProtocolError)) throw e;
          }
        },
      ),
      fuzz(300),
    );
  });
});

describe('SSH_MSG_UNIMPLEMENTED (RFC 4253 §11.4)', () => {
  it('answers unknown message numbers with their sequence numbers, in order, and carries on', async () => {
    const answers: number[] = [];
    const sent: number[] = [];
    let sessionOpened = false;
    const c = await connect(async (p) => {
      sent.push(p.send(new Uint8Array([200, 1, 2, 3])));
      sent.push(p.send(new Uint8Array([77])));
      for (let i = 0; i < 2; i++) {
        const r = new Reader(await p.recv());
        expect(r.byte()).toBe(MSG.UNIMPLEMENTED);
        answers.push(r.uint32());
      }
      await serveSessionOpen(p);
      sessionOpened = true;
      await idle();
    });
    await turnsUntil(() => answers.length === 2);
    expect(answers).toEqual(sent);
    // The connection still works after the unknown messages.
    const ch = c.openSession({ command: 'x' }).catch(() => {});
    await turnsUntil(() => sessionOpened);
    expect(sessionOpened).toBe(true);
    expect(c.stats.transport.unimplementedSent).toBe(2);
    c.close();
    await ch;
  });

  it('a request the server answers with UNIMPLEMENTED is ended as refused, and later replies still match', async () => {
    const c = await connect(async (p) => {
      const id = await serveSessionOpen(p);
      // exec with want-reply: the server "does not know" it.
      const req = new Reader(await p.recv());
      expect(req.byte()).toBe(MSG.CHANNEL_REQUEST);
      p.send(new Writer().byte(MSG.UNIMPLEMENTED).uint32(p.lastRecvSeq()).finish());
      // The client closes that channel; a second session's exec gets a real success.
      for (;;) {
        const m = await p.recv();
        if (m[0] === MSG.CHANNEL_CLOSE) break;
      }
      p.send(new Writer().byte(MSG.CHANNEL_CLOSE).uint32(id).finish());
      const id2 = await serveSessionOpen(p);
      expect((await p.recv())[0]).toBe(MSG.CHANNEL_REQUEST);
      p.send(new Writer().byte(MSG.CHANNEL_SUCCESS).uint32(id2).finish());
      await idle();
    });
    await expect(c.openSession({ command: 'true' })).rejects.toThrow(/refused to run the command/);
    expect(c.stats.connection.requestsUnimplemented).toBe(1);
    expect(c.stats.transport.unimplementedFromPeer).toBe(1);
    const s = await c.openSession({ command: 'true' });
    expect(s.stats()).toEqual({ bytesIn: 0, stderrBytesIn: 0, bytesOut: 0 });
    c.close();
  });
});

describe('keepalive (keepalive@openssh.com, want-reply) on a virtual clock', () => {
  it('every interval; any reply counts (failure or UNIMPLEMENTED); after M unanswered the client disconnects', async () => {
    const clock = new VirtualClock();
    const seen: string[] = [];
    const c = await connect(
      async (p) => {
        for (let i = 0; ; i++) {
          const r = new Reader(await p.recv());
          expect(r.byte()).toBe(MSG.GLOBAL_REQUEST);
          seen.push(`${r.text()} ${r.bool()}`);
          if (i === 0) p.send(new Uint8Array([MSG.REQUEST_FAILURE])); // what OpenSSH answers
          if (i === 1) p.send(new Writer().byte(MSG.UNIMPLEMENTED).uint32(p.lastRecvSeq()).finish());
          // then silence: the server hangs
        }
      },
      { clock, keepaliveMs: 15_000, keepaliveMaxMissed: 3 },
    );
    let ended: Error | undefined;
    void c.closed.then((e) => (ended = e));
    for (let t = 15; t <= 75; t += 15) {
      clock.advance(15_000);
      await turnsUntil(() => seen.length === t / 15); // keepalive #t/15 reached the server
      await turnsUntil(() => ended !== undefined, 20);
      expect(ended, `still up at ${t} s`).toBeUndefined();
    }
    expect(c.stats.keepalive).toEqual({ sent: 5, answered: 2 });
    clock.advance(15_000); // 90 s: #3, #4, #5 unanswered
    await turnsUntil(() => ended !== undefined);
    expect(ended?.message).toMatch(/stopped answering: 3 keepalives unanswered, 15 s apart/);
    expect(seen).toEqual(Array(5).fill('keepalive@openssh.com true'));
  });
});

describe('signals, exit-signal and per-session byte counters', () => {
  it('sends signal "TERM" (no SIG prefix, no reply wanted), reports exit-signal, counts channel bytes', async () => {
    let signalSeen = '';
    const c = await connect(async (p) => {
      const id = await serveSessionOpen(p);
      expect((await p.recv())[0]).toBe(MSG.CHANNEL_REQUEST); // exec
      p.send(new Writer().byte(MSG.CHANNEL_SUCCESS).uint32(id).finish());
      p.send(new Writer().byte(MSG.CHANNEL_DATA).uint32(id).string(new TextEncoder().encode('hello')).finish());
      p.send(
        new Writer()
          .byte(MSG.CHANNEL_EXTENDED_DATA)
          .uint32(id)
          .uint32(1)
          .string(new TextEncoder().encode('err'))
          .finish(),
      );
      for (;;) {
        const r = new Reader(await p.recv());
        const type = r.byte();
        r.uint32();
        if (type === MSG.CHANNEL_REQUEST) {
          const name = r.text();
          const want = r.bool();
          signalSeen = `${name} ${want} ${r.text()}`;
          break;
        }
      }
      p.send(
        new Writer()
          .byte(MSG.CHANNEL_REQUEST)
          .uint32(id)
          .string('exit-signal')
          .bool(false)
          .string('TERM')
          .bool(false)
          .string('Terminated\x07')
          .string('')
          .finish(),
      );
      p.send(new Writer().byte(MSG.CHANNEL_EOF).uint32(id).finish());
      p.send(new Writer().byte(MSG.CHANNEL_CLOSE).uint32(id).finish());
      await idle();
    });
    const s = await c.openSession({ command: 'sleep 100' });
    const w = s.stdin.getWriter();
    await w.write(new TextEncoder().encode('typed!'));
    const out = s.stdout.getReader();
    expect(new TextDecoder().decode((await out.read()).value)).toBe('hello');
    await s.signal('SIGTERM');
    const exit = await s.exit;
    expect(signalSeen).toBe('signal false TERM');
    expect(exit).toEqual({ signal: 'TERM', coreDumped: false, message: 'Terminated' });
    expect(exit.code).toBeUndefined();
    expect(s.stats()).toEqual({ bytesIn: 8, stderrBytesIn: 3, bytesOut: 6 });
    c.close();
  });
});
