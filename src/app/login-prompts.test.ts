// The app's answer policy for server questions: which prompts the typed password answers (only a
// plain password prompt, once), what is put to the person, and the ask/answer bookkeeping.
import { describe, expect, it } from 'vitest';
import { isPasswordPrompt, LoginPrompts } from './login-prompts.js';
import { authMethods } from './ssh-connect.js';
import type { AppContext, AppWindow } from './context.js';
import type { WorkerEvent } from './node-api.js';
import type { AuthMethod } from '../ssh/client.js';

describe('isPasswordPrompt', () => {
  it('takes the account password prompts PAM and sshd send, hidden', () => {
    for (const p of ['Password: ', 'password:', "tailtab@host's password: ", 'Password for alice: '])
      expect(isPasswordPrompt({ prompt: p, echo: false })).toBe(true);
  });
  it('refuses everything else: codes, new passwords, OTPs, passphrases, shown answers', () => {
    for (const p of [
      'Verification code: ',
      'New password: ',
      'Retype new password: ',
      "One-time password (OATH) for `alice': ",
      'Passcode or option (1-3): ',
      'Enter passphrase for key: ',
      'Password and code: ',
      'Current password: ',
    ])
      expect(isPasswordPrompt({ prompt: p, echo: false }), p).toBe(false);
    expect(isPasswordPrompt({ prompt: 'Password: ', echo: true })).toBe(false);
  });
});

function window(): AppWindow & { events: WorkerEvent[] } {
  const events: WorkerEvent[] = [];
  return { events, push: (e) => events.push(e), sessions: new Set(), sftp: new Set(), released: false };
}
const ctx = {} as AppContext;

async function methods(
  auth: { type: 'password'; password: string } | { type: 'interactive' },
  prompts: LoginPrompts,
  owner: AppWindow,
) {
  return authMethods(ctx, prompts, owner, { host: 'h', username: 'alice', auth, promptId: 'p1' }, 'h');
}
const kbdOf = (m: AuthMethod[]) =>
  m.find((x) => x.type === 'keyboard-interactive') as Extract<AuthMethod, { type: 'keyboard-interactive' }>;

describe('answers from the typed password', () => {
  it('PAM "Password:" is answered from it once; "Verification code:" and a second "Password:" are asked', async () => {
    const prompts = new LoginPrompts();
    const w = window();
    const kbd = kbdOf(await methods({ type: 'password', password: 's3cret' }, prompts, w));
    expect(await kbd.respond({ name: '', instruction: '', prompts: [{ prompt: 'Password: ', echo: false }] })).toEqual([
      's3cret',
    ]);
    expect(w.events).toEqual([]);
    const code = kbd.respond({ name: '', instruction: '', prompts: [{ prompt: 'Verification code: ', echo: false }] });
    const asked = w.events[0] as Extract<WorkerEvent, { type: 'auth-prompt' }>;
    expect(asked).toMatchObject({
      type: 'auth-prompt',
      promptId: 'p1',
      host: 'h',
      username: 'alice',
      prompts: [{ prompt: 'Verification code: ', echo: false }],
    });
    prompts.answer(asked.askId, ['123456']);
    expect(await code).toEqual(['123456']);
    const again = kbd.respond({ name: '', instruction: '', prompts: [{ prompt: 'Password: ', echo: false }] });
    expect(w.events).toHaveLength(2);
    prompts.answer((w.events[1] as { askId: string }).askId, ['typed-again']);
    expect(await again).toEqual(['typed-again']);
  });

  it('an answer of the wrong shape from the page is a decline; PAM info rounds (no prompts) need no one', async () => {
    const prompts = new LoginPrompts();
    const w = window();
    const kbd = kbdOf(await methods({ type: 'interactive' }, prompts, w));
    expect(await kbd.respond({ name: '', instruction: 'Welcome', prompts: [] })).toEqual([]);
    const r = kbd.respond({
      name: '',
      instruction: '',
      prompts: [
        { prompt: 'Code: ', echo: true },
        { prompt: 'PIN: ', echo: false },
      ],
    });
    prompts.answer((w.events[0] as { askId: string }).askId, ['only one']);
    expect(await r).toBeUndefined();
  });

  it('"interactive" (or an empty password field) asks keyboard-interactive before password, and the password method asks too', async () => {
    const prompts = new LoginPrompts();
    const w = window();
    expect((await methods({ type: 'password', password: '' }, prompts, w)).map((x) => x.type)).toEqual([
      'keyboard-interactive',
      'password',
    ]);
    const m = await methods({ type: 'interactive' }, prompts, w);
    expect(m.map((x) => x.type)).toEqual(['keyboard-interactive', 'password']);
    const pw = m[1] as Extract<AuthMethod, { type: 'password' }>;
    const p = (pw.password as (r: { username: string; partial: boolean }) => Promise<string | undefined>)({
      username: 'alice',
      partial: true,
    });
    const ev = w.events[0] as Extract<WorkerEvent, { type: 'auth-prompt' }>;
    expect(ev.prompts).toEqual([{ prompt: "alice@h's password:", echo: false }]);
    expect(ev.instruction).toMatch(/password as well/);
    prompts.answer(ev.askId, ['pw']);
    expect(await p).toBe('pw');
  });
});
