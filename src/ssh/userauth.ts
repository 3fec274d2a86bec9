// User authentication (RFC 4252): the ssh-userauth service request, then methods in the caller's
// order: none, password (§8), publickey (§7) with Ed25519 (RFC 8709), ECDSA (RFC 5656) or RSA
// signing rsa-sha2-512/256 as the server's server-sig-algs allow (RFC 8332, 8308), keyboard-interactive
// (RFC 4256). Banners (§5.4) go to a callback, control characters stripped.
import { MSG, DISCONNECT } from './messages.js';
import { Reader, Writer } from './wire.js';
import { asSigner, signatureAlgorithms, type SshSigner, type UserKey } from './keys.js';
import { sanitize, SshError, type Transport } from './transport/transport.js';
import { SshProtocolError } from './transport/packet.js';

export interface KeyboardInteractivePrompt {
  prompt: string;
  echo: boolean;
}
export interface KeyboardInteractiveChallenge {
  name: string;
  instruction: string;
  prompts: KeyboardInteractivePrompt[];
}

export type AuthMethod =
  | { type: 'none' }
  | { type: 'password'; password: string }
  | { type: 'publickey'; key: UserKey | SshSigner }
  | { type: 'keyboard-interactive'; respond: (c: KeyboardInteractiveChallenge) => Promise<string[]> | string[] };

export class AuthenticationFailed extends SshError {
  constructor(
    message: string,
    readonly serverMethods: string[],
  ) {
    super(message);
    this.name = 'AuthenticationFailed';
  }
}

const SERVICE = 'ssh-connection';

export interface AuthOptions {
  username: string;
  methods: AuthMethod[];
  onBanner?: (text: string) => void;
}

/** Returns the method that succeeded. */
export async function authenticate(t: Transport, o: AuthOptions): Promise<AuthMethod['type']> {
  await t.send(new Writer().byte(MSG.SERVICE_REQUEST).string('ssh-userauth').finish());
  const accept = await t.recv();
  if (accept[0] !== MSG.SERVICE_ACCEPT) throw new SshProtocolError(`expected SERVICE_ACCEPT, got message ${accept[0]}`);
  let serverMethods: string[] = [];
  const tried: string[] = [];
  for (const m of o.methods) {
    // Skip methods the server said it does not accept (RFC 4252 §5.1), except the first "none" probe.
    if (serverMethods.length && m.type !== 'none' && !serverMethods.includes(m.type)) continue;
    tried.push(m.type);
    const result = await tryMethod(t, o, m);
    if (result === true) return m.type;
    serverMethods = result;
  }
  const err = new AuthenticationFailed(
    `authentication failed for user ${JSON.stringify(o.username)} (tried ${tried.join(', ') || 'nothing'}; the server accepts ${serverMethods.join(', ') || 'nothing we offered'})`,
    serverMethods,
  );
  t.fail(err);
  throw err;
}

function request(user: string, method: string): Writer {
  return new Writer().byte(MSG.USERAUTH_REQUEST).string(user).string(SERVICE).string(method);
}

/** true on success, else the server's list of methods that can continue. */
async function tryMethod(t: Transport, o: AuthOptions, m: AuthMethod): Promise<true | string[]> {
  switch (m.type) {
    case 'none':
      await t.send(request(o.username, 'none').finish());
      break;
    case 'password':
      await t.send(request(o.username, 'password').bool(false).string(m.password).finish());
      break;
    case 'publickey': {
      const signer = asSigner(m.key);
      const blob = signer.publicBlob;
      const algorithms = signatureAlgorithms(signer, t.serverSigAlgs);
      if (algorithms.length === 0) {
        // server-sig-algs lists no rsa-sha2-*: it only verifies ssh-rsa (SHA-1) signatures.
        throw new AuthenticationFailed(
          `the server accepts RSA keys only with ssh-rsa (SHA-1) signatures, which tailtab refuses; use an Ed25519 or ECDSA key, or enable rsa-sha2-256/512 on the server (OpenSSH ≥ 7.2: PubkeyAcceptedAlgorithms) (it lists ${t.serverSigAlgs!.join(',')})`,
          [],
        );
      }
      // Sign directly rather than probing first (RFC 4252 §7 allows both). An RSA key tries
      // rsa-sha2-512 then -256: server-sig-algs lists what the server knows, not what its
      // PubkeyAcceptedAlgorithms allows (OpenSSH 9.2).
      for (let i = 0; ; i++) {
        const algorithm = algorithms[i];
        const signed = new Writer()
          .string(t.sessionId!)
          .byte(MSG.USERAUTH_REQUEST)
          .string(o.username)
          .string(SERVICE)
          .string('publickey')
          .bool(true)
          .string(algorithm)
          .string(blob)
          .finish();
        await t.send(request(o.username, 'publickey').bool(true).string(algorithm).string(blob).string(await signer.sign(algorithm, signed)).finish());
        const result = await reply(t, o, m);
        if (result === true || i === algorithms.length - 1 || !result.includes('publickey')) return result;
      }
    }
    case 'keyboard-interactive':
      await t.send(request(o.username, 'keyboard-interactive').string('').string('').finish());
      break;
  }
  return reply(t, o, m);
}

async function reply(t: Transport, o: AuthOptions, m: AuthMethod): Promise<true | string[]> {
  for (;;) {
    const msg = await t.recv();
    const r = new Reader(msg);
    const type = r.byte();
    if (type === MSG.USERAUTH_SUCCESS) return true;
    if (type === MSG.USERAUTH_FAILURE) {
      const methods = r.nameList();
      r.bool(); // partial success: multi-factor chains are not supported yet
      return methods;
    }
    if (type === MSG.USERAUTH_BANNER) {
      const text = r.text();
      o.onBanner?.(sanitize(text));
      continue;
    }
    if (type === MSG.USERAUTH_INFO_REQUEST && m.type === 'keyboard-interactive') {
      const name = r.text();
      const instruction = r.text();
      r.string(); // language tag (deprecated)
      const n = r.uint32();
      if (n > 64) throw new SshProtocolError('too many keyboard-interactive prompts');
      const prompts: KeyboardInteractivePrompt[] = [];
      for (let i = 0; i < n; i++) prompts.push({ prompt: sanitize(r.text()), echo: r.bool() });
      const answers = await m.respond({ name: sanitize(name), instruction: sanitize(instruction), prompts });
      if (answers.length !== n) throw new SshError(`keyboard-interactive: ${n} prompts but ${answers.length} answers`);
      const w = new Writer().byte(MSG.USERAUTH_INFO_RESPONSE).uint32(n);
      for (const a of answers) w.string(a);
      await t.send(w.finish());
      continue;
    }
    throw new SshProtocolError(`unexpected message ${type} during user authentication`, DISCONNECT.PROTOCOL_ERROR);
  }
}
