// One SSH login over the tailnet: dial the host through the node, authenticate (none, password
// with keyboard-interactive as its echo, or the keys in this session's store: one, or each in turn) and check the host
// key (host-keys.ts). The terminal (ssh-sessions.ts) and file transfer (sftp-sessions.ts) both
// log in here, so both get the same checks.
import { SshClient, type AuthMethod } from '../ssh/client.js';
import type { TcpConnectionLike } from '../node/node.js';
import type { HostKeyVerdict, SftpOpenOptions, SshOpenOptions } from './node-api.js';
import type { AppContext, AppWindow } from './context.js';
import type { HostKeyChecks } from './host-keys.js';
import { SshKeyring } from './ssh-keys.js';

export interface SshLogin {
  ssh: SshClient;
  conn: TcpConnectionLike;
  /** How the host's key was vouched for (decided by the verifier during connect). */
  hostKey: HostKeyVerdict;
}

export async function connectSsh(
  ctx: AppContext, hostKeys: HostKeyChecks, owner: AppWindow, o: (SshOpenOptions | SftpOpenOptions) & { promptId?: string },
): Promise<SshLogin> {
  const node = await ctx.requireRunning();
  const port = o.port ?? 22;
  const hostId = port === 22 ? o.host : `[${o.host}]:${port}`;
  let auth: AuthMethod[];
  if (o.auth.type === 'none') auth = [{ type: 'none' }];
  else if (o.auth.type === 'password') {
    const pw = o.auth.password;
    auth = [{ type: 'password', password: pw }, { type: 'keyboard-interactive', respond: (c) => c.prompts.map(() => pw) }];
  } else {
    // One key, or all of them in order (the server says "publickey" again after each refusal).
    const signers = await new SshKeyring(ctx).signers(o.auth.keyId || undefined);
    if (!signers.length) throw new Error(o.auth.keyId ? 'That SSH key no longer exists in this browser.' : 'There is no SSH key in this browser yet: make or import one in Settings.');
    auth = signers.map((key) => ({ type: 'publickey', key }));
  }
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
      legacyDevice: o.legacyDevice === true,
      hostKeyVerifier: hostKeys.verifier(owner, o, hostId, (v) => (hostKey = v)),
    });
    return { ssh, conn, hostKey }; // decided by the verifier during connect
  } catch (e) {
    try { await conn.close(); } catch { /* closing anyway */ }
    throw e;
  }
}
