// One SSH login over the tailnet: dial the host through the node, authenticate and check the host
// key (host-keys.ts). The terminal (ssh-sessions.ts) and file transfer (sftp-sessions.ts) both
// log in here, so both get the same checks and the same questions.
//
// Authentication as OpenSSH's client does it (sshconnect2.c): the method the person chose first,
// then keyboard-interactive and password, each used only if the server asks for it, in whatever
// order a multi-step server (AuthenticationMethods publickey,password) wants. What the server asks
// is shown to the person (login-prompts.ts) with its own words and echo flag; only a prompt that is
// plainly the account password is answered from the password the person already typed, and only
// once (a second "Password:" means it was wrong: the person is asked). The pre-login banner goes to
// the window before any question. A device that needs SHA-1 or a short RSA key is refused with
// the library's sentence; the person may connect anyway as a "legacy device", remembered with the
// known host so the next login does not ask again.
import { SshClient, type AuthMethod } from '../ssh/client.js';
import type { KeyboardInteractiveChallenge } from '../ssh/userauth.js';
import { legacyDeviceWouldHelp } from '../ssh/legacy-device.js';
import type { TcpConnectionLike } from '../node/node.js';
import type { HostKeyVerdict, SftpOpenOptions, SshOpenOptions } from './node-api.js';
import type { AppContext, AppWindow } from './context.js';
import type { HostKeyChecks } from './host-keys.js';
import { SshKeyring } from './ssh-keys.js';
import { isPasswordPrompt, type LoginPrompts } from './login-prompts.js';

export interface SshLogin {
  ssh: SshClient;
  conn: TcpConnectionLike;
  /** How the host's key was vouched for (decided by the verifier during connect). */
  hostKey: HostKeyVerdict;
}

type LoginOptions = (SshOpenOptions | SftpOpenOptions) & { promptId?: string };

export async function connectSsh(
  ctx: AppContext,
  hostKeys: HostKeyChecks,
  owner: AppWindow,
  o: LoginOptions,
): Promise<SshLogin> {
  const prompts = hostKeys.login;
  const node = await ctx.requireRunning();
  const port = o.port ?? 22;
  const hostId = port === 22 ? o.host : `[${o.host}]:${port}`;
  const auth = await authMethods(ctx, prompts, owner, o, hostId);
  const known = o.tailnetAuthenticated ? undefined : await ctx.store().knownHost(hostId);
  const attempt = async (legacyDevice: boolean): Promise<SshLogin> => {
    let hostKey: HostKeyVerdict = { fingerprint: '', verdict: 'first-use' };
    let conn: TcpConnectionLike;
    try {
      conn = await node.dial(o.host, port);
    } catch (e) {
      throw new Error(`Cannot reach ${o.host}:${port} over the tailnet: ${(e as Error).message}`);
    }
    try {
      const ssh = await SshClient.connect(conn, {
        username: o.username,
        auth,
        random: ctx.random,
        keepaliveMs: 30_000,
        legacyDevice,
        hostKeyVerifier: hostKeys.verifier(owner, o, hostId, (v) => (hostKey = v)),
        onBanner: o.promptId ? (text) => owner.push({ type: 'ssh-banner', promptId: o.promptId!, text }) : undefined,
      });
      return { ssh, conn, hostKey }; // decided by the verifier during connect
    } catch (e) {
      try {
        await conn.close();
      } catch {
        /* closing anyway */
      }
      throw e;
    }
  };
  const remembered = o.legacyDevice === true || known?.legacyDevice === true;
  try {
    return await attempt(remembered);
  } catch (e) {
    if (remembered || !o.promptId || o.tailnetAuthenticated || !legacyDeviceWouldHelp(e)) throw e;
    const ok = await prompts.ask(owner, o.promptId, {
      type: 'legacy-prompt',
      host: hostId,
      reason: (e as Error).message,
    });
    if (ok !== true) throw e;
    const login = await attempt(true);
    // Remembered with the host's key (written by the verifier on first use, or already known).
    const rec = await ctx.store().knownHost(hostId);
    if (rec) await ctx.store().putKnownHost({ ...rec, legacyDevice: true });
    return login;
  }
}

/** The methods for this login, in OpenSSH's spirit: what the person gave first, the rest asked. */
export async function authMethods(
  ctx: AppContext,
  prompts: LoginPrompts,
  owner: AppWindow,
  o: LoginOptions,
  hostId: string,
): Promise<AuthMethod[]> {
  if (o.auth.type === 'none') return [{ type: 'none' }];
  // An empty password field means "ask me" (sshd refuses empty passwords by default anyway).
  const given = o.auth.type === 'password' && o.auth.password !== '' ? o.auth.password : undefined;
  let passwordUsed = false;
  const ask = async (c: KeyboardInteractiveChallenge): Promise<string[] | undefined> => {
    if (!o.promptId) return undefined;
    const answers = await prompts.ask(owner, o.promptId, {
      type: 'auth-prompt',
      host: hostId,
      username: o.username,
      ...c,
    });
    // The page's answer is checked for shape: one string per prompt, or declined.
    return Array.isArray(answers) && answers.length === c.prompts.length && answers.every((a) => typeof a === 'string')
      ? answers
      : undefined;
  };
  const keyboardInteractive: AuthMethod = {
    type: 'keyboard-interactive',
    respond: (c) => {
      // PAM sends informational rounds with no prompts (RFC 4256 §3.2: answered with none).
      if (c.prompts.length === 0) return [];
      if (given !== undefined && !passwordUsed && c.prompts.length === 1 && isPasswordPrompt(c.prompts[0])) {
        passwordUsed = true;
        return [given];
      }
      return ask(c);
    },
  };
  const password: AuthMethod = {
    type: 'password',
    password: async (r) => {
      if (given !== undefined && !passwordUsed) {
        passwordUsed = true;
        return given;
      }
      const a = await ask({
        name: '',
        instruction: r.partial ? 'The server wants a password as well.' : '',
        prompts: [{ prompt: `${o.username}@${hostId}'s password:`, echo: false }],
      });
      return a?.[0];
    },
  };
  if (o.auth.type === 'key') {
    // One key, or all of them in order (the server says "publickey" again after each refusal).
    const signers = await new SshKeyring(ctx).signers(o.auth.keyId || undefined);
    if (!signers.length)
      throw new Error(
        o.auth.keyId
          ? 'That SSH key no longer exists in this browser.'
          : 'There is no SSH key in this browser yet: make or import one in Settings.',
      );
    return [...signers.map((key): AuthMethod => ({ type: 'publickey', key })), keyboardInteractive, password];
  }
  // A typed password goes first (as it did before); with nothing typed, keyboard-interactive
  // first, as OpenSSH orders them, so a PAM server asks its own questions.
  return given !== undefined ? [password, keyboardInteractive] : [keyboardInteractive, password];
}
