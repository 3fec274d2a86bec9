import { describe, expect, it } from 'vitest';
import { seededRandom } from '../crypto/random.js';
import { VirtualClock } from '../platform/clock.js';
import { nextTurn } from '../platform/virtual-time.testkit.js';
import type { ByteDuplex } from '../platform/duplex.js';
import { SshClient } from './client.js';
import { testServer, type TestServerPeer } from './test-server.testkit.js';
import { MSG } from './messages.js';
import { Writer } from './wire.js';

/** A peer that sends `reply` (if any) once it hears our version line, then maybe closes. */
function peer(reply?: string, close = false): ByteDuplex {
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  const readable = new ReadableStream<Uint8Array>({ start: (c) => void (ctl = c) });
  const writable = new WritableStream<Uint8Array>({
    write() {
      if (reply !== undefined) ctl.enqueue(new TextEncoder().encode(reply));
      reply = undefined;
      if (close) {
        try {
          ctl.close();
        } catch {
          /* already closed */
        }
      }
    },
  });
  return { readable, writable };
}

function connect(d: ByteDuplex, clock: VirtualClock, prompt?: () => Promise<void>) {
  return SshClient.connect(d, {
    username: 'u',
    auth: [{ type: 'none' }],
    hostKeyVerifier: prompt ?? (() => {}),
    random: seededRandom(3),
    clock,
    handshakeTimeoutMs: 10_000,
  });
}

describe('handshake timeout and non-SSH ports', () => {
  it('a silent port fails at the deadline, saying nothing was received', async () => {
    const clock = new VirtualClock();
    const p = connect(peer(), clock);
    const caught = p.catch((e: Error) => e);
    await nextTurn();
    clock.advance(9_999);
    await nextTurn();
    clock.advance(1);
    const e = await caught;
    expect(String(e)).toMatch(
      /no SSH answer from the server within 10 s; nothing was received from it \(is an SSH server listening on this port\?\)/,
    );
  });

  it('an HTTP server that answers and closes: the error quotes its first line at once', async () => {
    const clock = new VirtualClock();
    const e = await connect(
      peer('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n', true),
      clock,
    ).catch((x: Error) => x);
    expect(String(e)).toMatch(
      /closed the connection before its SSH version; instead of an SSH identification it sent "HTTP\/1\.1 400 Bad Request" — this port does not look like an SSH server/,
    );
  });

  it('a port that talks but never says SSH- is quoted at the deadline (no newline either)', async () => {
    const clock = new VirtualClock();
    const caught = connect(peer('\x00\x01binary banner without newline'), clock).catch((x: Error) => x);
    await nextTurn();
    clock.advance(10_000);
    expect(String(await caught)).toMatch(
      /within 10 s; instead of an SSH identification it sent "binary banner without newline"/,
    );
  });

  it('a stalled key exchange names the stage', async () => {
    const clock = new VirtualClock();
    // Version, then nothing: stuck in the key exchange.
    const caught = connect(peer('SSH-2.0-OpenSSH_9.9\r\n'), clock).catch((x: Error) => x);
    await nextTurn();
    clock.advance(10_000);
    expect(String(await caught)).toMatch(/handshake did not finish within 10 s \(stuck at the key exchange\)/);
  });

  it('time the person spends at the host key prompt does not count against the deadline', async () => {
    const clock = new VirtualClock();
    const duplex = testServer({ random: seededRandom(4), script: () => new Promise(() => {}) });
    let answer!: () => void;
    const p = connect(duplex, clock, () => {
      // The person reads the fingerprint for a minute, then accepts.
      setTimeout(() => {
        clock.advance(60_000);
        answer();
      }, 5);
      return new Promise<void>((r) => (answer = r));
    });
    const c = await p;
    expect(c.serverVersion).toMatch(/^SSH-2\.0-/);
    c.close();
  });

  describe('a keyboard-interactive question (RFC 4256)', () => {
    /** After the "none" probe: one INFO_REQUEST "Verification code:", then `then`. */
    const asking = (then: (p: TestServerPeer) => Promise<void>) => async (p: TestServerPeer) => {
      await p.recv(); // none
      p.send(new Writer().byte(MSG.USERAUTH_FAILURE).nameList(['keyboard-interactive']).bool(false).finish());
      await p.recv(); // keyboard-interactive
      p.send(
        new Writer()
          .byte(MSG.USERAUTH_INFO_REQUEST)
          .string('')
          .string('')
          .string('')
          .uint32(1)
          .string('Verification code: ')
          .bool(false)
          .finish(),
      );
      await then(p);
    };
    const kbd = (clock: VirtualClock, duplex: ByteDuplex, respond: () => Promise<string[] | undefined>) =>
      SshClient.connect(duplex, {
        username: 'u',
        auth: [{ type: 'keyboard-interactive', respond }],
        hostKeyVerifier: () => {},
        random: seededRandom(5),
        clock,
        handshakeTimeoutMs: 10_000,
      });

    it("the person's time answering does not count against the deadline", async () => {
      const clock = new VirtualClock();
      let answered = '';
      const duplex = testServer({
        random: seededRandom(6),
        login: asking(async (p) => {
          const r = await p.recv();
          answered = new TextDecoder().decode(r.subarray(9));
          p.send(new Uint8Array([MSG.USERAUTH_SUCCESS]));
        }),
        script: () => new Promise(() => {}),
      });
      const c = await kbd(
        clock,
        duplex,
        () => new Promise((r) => setTimeout(() => (clock.advance(60_000), r(['123456'])), 5)),
      );
      expect(answered).toBe('123456');
      c.close();
    });

    it('a server that gives up while the question is open ends the wait with its reason', async () => {
      const clock = new VirtualClock();
      const duplex = testServer({
        random: seededRandom(7),
        login: asking(async (p) => {
          // OpenSSH's LoginGraceTime: "Timeout before authentication", then the connection closes.
          p.send(
            new Writer().byte(MSG.DISCONNECT).uint32(2).string('Timeout before authentication').string('').finish(),
          );
        }),
        script: () => new Promise(() => {}),
      });
      const e = await kbd(clock, duplex, () => new Promise(() => {})).catch((x: Error) => x);
      expect(String(e)).toMatch(/server disconnected: Timeout before authentication/);
    });

    it('a question declined by the person ends the login with a sentence', async () => {
      const clock = new VirtualClock();
      const duplex = testServer({
        random: seededRandom(8),
        login: asking(() => new Promise(() => {})),
        script: () => new Promise(() => {}),
      });
      const e = await kbd(clock, duplex, async () => undefined).catch((x: Error) => x);
      expect(String(e)).toMatch(/login cancelled: the server's question was not answered/);
    });
  });
});
