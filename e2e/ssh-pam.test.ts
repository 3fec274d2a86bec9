// keyboard-interactive (RFC 4256) against a real PAM conversation: Debian's OpenSSH sshd with
// UsePAM yes and PasswordAuthentication no, so the only way to give the password is to answer
// the prompt pam_unix sends through sshd's keyboard-interactive "pam" device.
//   bash scripts/in-netns.sh npx vitest run --project e2e e2e/ssh-pam.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshClient, type SshConnectOptions } from '../src/ssh/client.js';
import { AuthenticationFailed, type KeyboardInteractiveChallenge } from '../src/ssh/userauth.js';
import { knownHostsVerifier, MemoryKnownHosts } from '../src/ssh/known-hosts.js';
import { connectDuplex, startSshd, type Sshd } from './helpers/ssh-sshd.testkit.js';

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
    expect(sshd.log.join('')).toMatch(new RegExp(`Accepted keyboard-interactive/pam for ${sshd.user} `));
    c.close();
  });

  it('a wrong answer is refused by PAM and the error names keyboard-interactive', async () => {
    let asked = 0;
    const err = await connect([{ type: 'keyboard-interactive', respond: (ch) => (asked++, ch.prompts.map(() => 'not-the-password')) }]).then(
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
