// User authentication's method order against a model of sshd's AuthenticationMethods (RFC 4252
// §5.1 partial success; auth2.c: the list sent is the next method of every chain still open).
// The transport is faked: the subject is the client's choice of methods, not the packets' crypto.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MSG } from './messages.js';
import { Reader, Writer } from './wire.js';
import { authenticate, AuthenticationFailed, type AuthMethod } from './userauth.js';
import { generateEd25519Key, publicKeyBlob } from './keys.js';
import type { Transport } from './transport/transport.js';
import { displayText } from './display-text.js';

const KEY = generateEd25519Key((n) => new Uint8Array(n).fill(7));
const KEY_BLOB = publicKeyBlob(KEY);
const PASSWORD = 'hunter2';
const CODE = '123456';

/** sshd's side: chains of methods; a request passes when its credential is right. */
function modelServer(chains: string[][], o: { banner?: string } = {}) {
  const out: Uint8Array[] = [];
  const waiting: ((m: Uint8Array) => void)[] = [];
  const passed: string[] = [];
  const log: string[] = [];
  const push = (m: Uint8Array) => (waiting.length ? waiting.shift()!(m) : out.push(m));
  const started = () => chains.filter((c) => passed.every((p, i) => c[i] === p));
  const open = () => started().filter((c) => c.length > passed.length);
  const next = () => [...new Set(open().map((c) => c[passed.length]))];
  const fail = (partial: boolean) =>
    push(new Writer().byte(MSG.USERAUTH_FAILURE).nameList(next()).bool(partial).finish());
  const verdict = (method: string, ok: boolean) => {
    const accepted = ok && next().includes(method);
    log.push(`${method}:${accepted ? 'ok' : 'no'}`);
    if (!accepted) return fail(false);
    passed.push(method);
    if (started().some((c) => c.length === passed.length)) push(new Uint8Array([MSG.USERAUTH_SUCCESS]));
    else fail(true);
  };
  const t = {
    sessionId: new Uint8Array(32),
    serverSigAlgs: undefined,
    failed: undefined as unknown,
    async send(msg: Uint8Array) {
      const r = new Reader(msg);
      const type = r.byte();
      if (type === MSG.SERVICE_REQUEST) {
        push(new Writer().byte(MSG.SERVICE_ACCEPT).string('ssh-userauth').finish());
        if (o.banner !== undefined) push(new Writer().byte(MSG.USERAUTH_BANNER).string(o.banner).string('').finish());
        return;
      }
      if (type === MSG.USERAUTH_INFO_RESPONSE) {
        const n = r.uint32();
        const answers = Array.from({ length: n }, () => r.text());
        return verdict('keyboard-interactive', answers.length === 2 && answers[0] === PASSWORD && answers[1] === CODE);
      }
      expect(type).toBe(MSG.USERAUTH_REQUEST);
      r.text();
      r.text();
      const method = r.text();
      if (method === 'none') return verdict('none', false);
      if (method === 'password') {
        r.bool();
        return verdict('password', r.text() === PASSWORD);
      }
      if (method === 'publickey') {
        r.bool();
        r.text();
        return verdict('publickey', Buffer.from(r.string()).equals(Buffer.from(KEY_BLOB)));
      }
      if (method === 'keyboard-interactive') {
        // PAM with a password and a TOTP code: one question hidden, the other shown.
        if (!next().includes('keyboard-interactive')) return verdict('keyboard-interactive', false);
        return push(
          new Writer()
            .byte(MSG.USERAUTH_INFO_REQUEST)
            .string('')
            .string('')
            .string('')
            .uint32(2)
            .string('Password: ')
            .bool(false)
            .string('Verification code: ')
            .bool(true)
            .finish(),
        );
      }
      fail(false);
    },
    recv: () => (out.length ? Promise.resolve(out.shift()!) : new Promise<Uint8Array>((r) => waiting.push(r))),
    fail(e: unknown) {
      t.failed = e;
    },
  };
  return { t: t as unknown as Transport & { failed: unknown }, log };
}

const password: AuthMethod = { type: 'password', password: PASSWORD };
const publickey: AuthMethod = { type: 'publickey', key: KEY };
const kbd: AuthMethod = {
  type: 'keyboard-interactive',
  respond: (c) => c.prompts.map((p) => (p.echo ? CODE : PASSWORD)),
};

describe('partial success (RFC 4252 §5.1)', () => {
  for (const chain of [
    ['publickey', 'password'],
    ['password', 'publickey'],
    ['publickey', 'keyboard-interactive'],
    ['keyboard-interactive', 'publickey'],
  ]) {
    for (const order of [
      [password, publickey, kbd],
      [publickey, kbd, password],
      [kbd, password, publickey],
    ]) {
      it(`AuthenticationMethods ${chain.join(',')} with methods offered as ${order.map((m) => m.type).join(', ')}`, async () => {
        const { t, log } = modelServer([chain]);
        expect(await authenticate(t, { username: 'u', methods: order })).toBe(chain[1]);
        // Each factor passed exactly once, in the server's order.
        expect(log.filter((l) => l.endsWith(':ok'))).toEqual(chain.map((c) => `${c}:ok`));
      });
    }
  }

  it('a wrong second factor fails with a sentence naming the step that passed', async () => {
    const { t } = modelServer([['publickey', 'password']]);
    const err = await authenticate(t, {
      username: 'u',
      methods: [publickey, { type: 'password', password: 'wrong' }],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationFailed);
    expect((err as Error).message).toMatch(/publickey accepted as a first step; .*the server now wants password/);
  });

  it('a password asked of the person: asked only when the server wants one, told it is a second step', async () => {
    const asked: boolean[] = [];
    const { t } = modelServer([['publickey', 'password']]);
    const ask: AuthMethod = { type: 'password', password: async (p) => (asked.push(p.partial), PASSWORD) };
    expect(await authenticate(t, { username: 'u', methods: [ask, publickey] })).toBe('password');
    // The server's first list is "publickey" only: the person was not asked before the key passed.
    expect(asked).toEqual([true]);
  });

  it('a declined password is skipped, not sent', async () => {
    const { t, log } = modelServer([['password'], ['publickey']]);
    expect(
      await authenticate(t, {
        username: 'u',
        methods: [{ type: 'password', password: async () => undefined }, publickey],
      }),
    ).toBe('publickey');
    // "none" first, as OpenSSH does, to learn the server's list; the password never went out.
    expect(log).toEqual(['none:no', 'publickey:ok']);
  });

  it('fuzz: any chain set and method order ends in success or AuthenticationFailed, within a bounded number of requests', async () => {
    const method = fc.constantFrom('password', 'publickey', 'keyboard-interactive');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(method, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }),
        fc.shuffledSubarray([password, publickey, kbd]),
        async (chains, order) => {
          const { t, log } = modelServer(chains);
          const r = await authenticate(t, { username: 'u', methods: order }).catch((e: unknown) => e);
          if (!(r instanceof AuthenticationFailed)) expect(typeof r).toBe('string');
          expect(log.length).toBeLessThanOrEqual((order.length + 1) ** 2);
          // A lone chain without repeats made only of offered methods always completes (with
          // several chains the client may walk into one it cannot finish, as OpenSSH's would).
          const offered = new Set<string>(order.map((m) => m.type));
          if (chains.length === 1 && chains.some((c) => new Set(c).size === c.length && c.every((x) => offered.has(x))))
            expect(typeof r).toBe('string');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('banner (RFC 4252 §5.4)', () => {
  it('is passed on whole up to 64 KiB, control sequences removed, newlines kept', async () => {
    const line = 'Authorized use only. \x1b[31mRed\x1b[0m \x1b]0;owned\x07title \x9b2J ok\r\n';
    const banner = line.repeat(2000); // ~80 kB as shown
    const { t } = modelServer([['password']], { banner });
    let shown = '';
    await authenticate(t, { username: 'u', methods: [password], onBanner: (b) => (shown = b) });
    expect(shown.startsWith('Authorized use only. Red title  ok\nAuthorized')).toBe(true);
    expect(shown).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
    expect(shown).toContain('[… cut at 65536 characters]');
    expect(shown.length).toBeGreaterThan(65536);
  });
});

describe('displayText', () => {
  it('fuzz: never returns an escape, C0/C1 control (but newline and tab) or bidi override', () => {
    const chars = fc.constantFrom(
      '\x1b',
      '[',
      ']',
      'P',
      '\\',
      '\x07',
      '\x9b',
      '\x9d',
      '\x9c',
      '\r',
      '\n',
      '\t',
      '\u202e',
      '\u2067',
      'a',
      '1',
      ';',
      'm',
      ' ',
      'é',
      '\x00',
      '\x7f',
    );
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 200 }), (a) => {
        const out = displayText(a.join(''), 150);
        expect(out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
      }),
      { numRuns: 2000 },
    );
  });

  it('plain text (letters, newlines, tabs) is unchanged', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9 .,:\n\t]*$/), (s) => {
        expect(displayText(s, 1e6)).toBe(s);
      }),
    );
  });
});
