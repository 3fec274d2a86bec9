// Questions a login puts to the person in the window that opened it, and the answers back:
// keyboard-interactive prompts (RFC 4256), a password the server wants, the legacy-device
// choice; and the banner, which needs no answer. Each question has its own id; an unanswered one
// is dropped (as declined) after ASK_DEADLINE_MS, by which time any SSH server has given up
// (OpenSSH's LoginGraceTime is 2 min).
import type { AuthPrompt, LegacyPrompt } from './node-api.js';
import type { AppWindow } from './context.js';

export const ASK_DEADLINE_MS = 10 * 60_000;

/** RFC 4256 prompts that are plainly the account password (PAM's "Password: ", ssh's "user@host's password: "). */
export function isPasswordPrompt(p: { prompt: string; echo: boolean }): boolean {
  return !p.echo && /^\s*(?:\S+'s\s+)?password(?:\s+for\s+\S+)?\s*:\s*$/i.test(p.prompt);
}

export class LoginPrompts {
  private readonly waiting = new Map<string, (v: unknown) => void>();
  private seq = 0;

  answer(askId: string, value: unknown): void {
    this.waiting.get(askId)?.(value);
  }

  /** Pushes the question to `owner` and waits for its answer (undefined: declined or too late). */
  ask(owner: AppWindow, promptId: string, q: { type: 'auth-prompt' } & AuthPrompt): Promise<string[] | undefined>;
  ask(owner: AppWindow, promptId: string, q: { type: 'legacy-prompt' } & LegacyPrompt): Promise<boolean | undefined>;
  ask(
    owner: AppWindow,
    promptId: string,
    q: ({ type: 'auth-prompt' } & AuthPrompt) | ({ type: 'legacy-prompt' } & LegacyPrompt),
  ): Promise<unknown> {
    const askId = `${promptId}#${++this.seq}`;
    return new Promise<unknown>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), ASK_DEADLINE_MS);
      this.waiting.set(askId, (v) => {
        clearTimeout(timer);
        resolve(v);
      });
      owner.push({ ...q, promptId, askId });
    }).finally(() => this.waiting.delete(askId));
  }
}
