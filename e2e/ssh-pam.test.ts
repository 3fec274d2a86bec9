// keyboard-interactive (RFC 4256) against a real PAM conversation: Debian's OpenSSH sshd with
// UsePAM yes and PasswordAuthentication no, so the only way to give the password is to answer
// the prompt pam_unix sends through sshd's keyboard-interactive "pam" device. Also: a real TOTP
// second factor (pam_google_authenticator after pam_unix, in a PAM stack of this sshd's own), and
// AuthenticationMethods chains (partial success) with our methods offered in either order.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/ssh-pam.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshClient, type SshConnectOptions } from '../src/ssh/client.js';
import { AuthenticationFailed, type KeyboardInteractiveChallenge } from '../src/ssh/userauth.js';
import { knownHostsVerifier, MemoryKnownHosts } from '../src/ssh/known-hosts.js';
import { connectDuplex, startSshd, USER, type Sshd } from './helpers/ssh-sshd.testkit.js';
import { totp, totpSetup } from './helpers/totp.testkit.js';
import { authorizedKeysLine, generateEd25519Key } from '../src/ssh/keys.js';
import { secureRandom } from '../src/crypto/random.js';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cleanups: (() => void)[] = [];
afterAll(() => cleanups.forEach((f) => f()));

let sshd: Sshd;

beforeAll(async () => {
  sshd = await startSshd({ pam: true });
});
afterAll(async () => {
  await sshd?.stop();
});

async function connect(auth: SshConnectOptions['auth']): Promise<SshClient> {
  return SshClient.connect(await connectDuplex(sshd.port), {
    username: sshd.user,
    auth,
    hostKeyVerifier: knownHostsVerifier(new MemoryKnownHosts(), `127.0.0.1:${sshd.port}`),
  });
}

async function text(s: ReadableStream<Uint8Array>): Promise<string> {
  let t = '';
  for await (const c of s as unknown as AsyncIterable<Uint8Array>) t += new TextDecoder().decode(c);
  return t;
}

describe('keyboard-interactive through PAM (OpenSSH sshd, UsePAM yes)', () => {
  it('answers the PAM password prompt and gets a shell command run', async () => {
    const asked: KeyboardInteractiveChallenge[] = [];
    const c = await connect([
      {
        type: 'keyboard-interactive',
        respond: (ch) => {
          asked.push(ch);
          return ch.prompts.map(() => sshd.password);
        },
      },
    ]);
    // pam_unix asks one hidden "Password: " question (the prompt text is PAM's, not sshd's).
    const prompts = asked.flatMap((a) => a.prompts);
    expect(prompts.length).toBeGreaterThanOrEqual(1);
    expect(prompts[0].prompt).toMatch(/password/i);
    expect(prompts[0].echo).toBe(false);
    const s = await c.openSession({ command: 'whoami; exit 5' });
    await s.stdin.close();
    const [out, exit] = await Promise.all([text(s.stdout), s.exit]);
    expect(out).toBe(`${sshd.user}\n`);
    expect(exit.code).toBe(5);
    // sshd's own log says which path let us in.
    await expect
      .poll(() => sshd.log.join(''), { timeout: 10_000 })
      .toMatch(new RegExp(`Accepted keyboard-interactive/pam for ${sshd.user} `));
    c.close();
  });

  it('a wrong answer is refused by PAM and the error names keyboard-interactive', async () => {
    let asked = 0;
    const err = await connect([
      { type: 'keyboard-interactive', respond: (ch) => (asked++, ch.prompts.map(() => 'not-the-password')) },
    ]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(asked).toBeGreaterThanOrEqual(1);
    expect(err).toBeInstanceOf(AuthenticationFailed);
    expect((err as Error).message).toMatch(/tried keyboard-interactive/);
  }, 20_000);

  it('plain password auth is off: the client says the server only accepts publickey and keyboard-interactive', async () => {
    const err = await connect([{ type: 'password', password: sshd.password }]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthenticationFailed);
    expect((err as AuthenticationFailed).serverMethods.sort()).toEqual(['keyboard-interactive', 'publickey']);
  });
});

describe('TOTP second factor through PAM (libpam-google-authenticator)', () => {
  let totpSshd: Sshd;
  let key: Uint8Array;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ssh-totp-'));
    chmodSync(dir, 0o755);
    const t = totpSetup(dir, USER);
    key = t.key;
    totpSshd = await startSshd({ pam: true, pamConfig: t.pamConfig });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  });
  afterAll(async () => {
    await totpSshd?.stop();
  });

  it('PAM asks "Password:" (hidden) and then "Verification code:"; the code computed here (RFC 6238) lets us in', async () => {
    const asked: KeyboardInteractiveChallenge[] = [];
    const c = await SshClient.connect(await connectDuplex(totpSshd.port), {
      username: totpSshd.user,
      auth: [
        {
          type: 'keyboard-interactive',
          respond: (ch) => (
            asked.push(ch),
            ch.prompts.map((p) => (/code/i.test(p.prompt) ? totp(key) : totpSshd.password))
          ),
        },
      ],
      hostKeyVerifier: () => {},
    });
    const prompts = asked.flatMap((a) => a.prompts);
    expect(prompts.map((p) => p.prompt)).toEqual(['Password: ', 'Verification code: ']);
    expect(prompts.map((p) => p.echo)).toEqual([false, false]);
    const s = await c.openSession({ command: 'echo ok; exit 3' });
    await s.stdin.close();
    const [out, exit] = await Promise.all([text(s.stdout), s.exit]);
    expect(out).toBe('ok\n');
    expect(exit.code).toBe(3);
    c.close();
  });

  it('a wrong code is refused by PAM', async () => {
    const wrong = String((Number(totp(key)) + 500_000) % 1_000_000).padStart(6, '0');
    const err = await SshClient.connect(await connectDuplex(totpSshd.port), {
      username: totpSshd.user,
      auth: [
        {
          type: 'keyboard-interactive',
          respond: (ch) => ch.prompts.map((p) => (/code/i.test(p.prompt) ? wrong : totpSshd.password)),
        },
      ],
      hostKeyVerifier: () => {},
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AuthenticationFailed);
  }, 30_000);
});

describe('partial success: AuthenticationMethods chains against OpenSSH (RFC 4252 §5.1)', () => {
  const user = generateEd25519Key(secureRandom);
  const line = authorizedKeysLine(user, 'chain');
  const cases: { chain: string; pam?: boolean; expectLog: RegExp }[] = [
    { chain: 'publickey,password', expectLog: /Partial publickey for [\s\S]*Accepted password for/ },
    { chain: 'password,publickey', expectLog: /Partial password for [\s\S]*Accepted publickey for/ },
    {
      chain: 'publickey,keyboard-interactive',
      pam: true,
      expectLog: /Partial publickey for [\s\S]*Accepted keyboard-interactive\/pam for/,
    },
  ];
  for (const { chain, pam, expectLog } of cases) {
    for (const order of ['key first', 'password first'] as const) {
      it(`${chain}, our methods ${order}: both steps pass and the command runs`, async () => {
        const s = await startSshd({ pam, extraConfig: [`AuthenticationMethods ${chain}`] });
        try {
          s.addAuthorizedKey(line);
          const pw: SshConnectOptions['auth'] = [
            { type: 'password', password: s.password },
            { type: 'keyboard-interactive', respond: (ch) => ch.prompts.map(() => s.password) },
          ];
          const pk: SshConnectOptions['auth'] = [{ type: 'publickey', key: user }];
          const c = await SshClient.connect(await connectDuplex(s.port), {
            username: s.user,
            auth: order === 'key first' ? [...pk, ...pw] : [...pw, ...pk],
            hostKeyVerifier: () => {},
          });
          const sess = await c.openSession({ command: 'echo ok; exit 3' });
          await sess.stdin.close();
          const [out, exit] = await Promise.all([text(sess.stdout), sess.exit]);
          expect(out).toBe('ok\n');
          expect(exit.code).toBe(3);
          c.close();
          // sshd logs each step ("Partial publickey for …", then "Accepted password for …"): both, in the server's order.
          await expect.poll(() => s.log.join(''), { timeout: 10_000 }).toMatch(expectLog);
        } finally {
          await s.stop();
        }
      });
    }
  }
});
