// User authentication (RFC 4252): the ssh-userauth service request, then methods in the caller's
// order: none, password (§8), publickey (§7) with Ed25519 (RFC 8709), ECDSA (RFC 5656) or RSA
// signing rsa-sha2-512/256 as the server's server-sig-algs allow (RFC 8332, 8308), keyboard-interactive
// (RFC 4256). Banners (§5.4) go to a callback, control sequences stripped (display-text.ts).
// Partial success (§5.1, servers with `AuthenticationMethods publickey,password`): as OpenSSH's
// client does (sshconnect2.c authmethod_get: a changed list starts over from the preferred
// order), each partial success starts again from the top of the caller's list with the server's
// new list, skipping the methods that already succeeded, so a chain completes in whatever order
// the server demands.
import { MSG, DISCONNECT } from './messages.js';
import { Reader, Writer } from './wire.js';
import { asSigner, signatureAlgorithms, type SshSigner, type UserKey } from './keys.js';
import { SshError, type Transport } from './transport/transport.js';
import { BANNER_MAX_CHARS, displayText } from './display-text.js';
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

export interface PasswordRequest {
  username: string;
  /** This is not the first method: an earlier one succeeded partially (RFC 4252 §5.1). */
  partial: boolean;
}

export type AuthMethod =
  | { type: 'none' }
  /** A password, or a question put to the person when the server wants one (undefined: not given). */
  | { type: 'password'; password: string | ((p: PasswordRequest) => Promise<string | undefined>) }
  | { type: 'publickey'; key: UserKey | SshSigner }
  /** Answers, one per prompt; undefined when the person declines (the method is abandoned). */
  | {
      type: 'keyboard-interactive';
      respond: (c: KeyboardInteractiveChallenge) => Promise<string[] | undefined> | string[] | undefined;
    };

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

/** Bound on partial successes (chains longer than this are not a real configuration). */
const MAX_PARTIAL = 8;

/** Returns the method that completed authentication. */
export async function authenticate(t: Transport, o: AuthOptions): Promise<AuthMethod['type']> {
  await t.send(new Writer().byte(MSG.SERVICE_REQUEST).string('ssh-userauth').finish());
  const accept = await t.recv();
  if (accept[0] !== MSG.SERVICE_ACCEPT) throw new SshProtocolError(`expected SERVICE_ACCEPT, got message ${accept[0]}`);
  let serverMethods: string[] = [];
  const tried: string[] = [];
  const partial: string[] = [];
  const done = new Set<AuthMethod>();
  // Like OpenSSH, ask with "none" first: its answer lists the methods the server wants, so a
  // password is asked of the person only when the server will take one (RFC 4252 §5.2).
  const methods: AuthMethod[] = o.methods[0]?.type === 'none' ? o.methods : [{ type: 'none' }, ...o.methods];
  restart: for (;;) {
    for (const m of methods) {
      if (done.has(m)) continue;
      // Skip methods the server said it does not accept (RFC 4252 §5.1), except the first "none" probe.
      if (serverMethods.length && !serverMethods.includes(m.type)) continue;
      if (m.type === 'none' && (tried.length || partial.length)) continue;
      const result = await tryMethod(t, o, m, partial.length > 0);
      if (result === 'skipped') continue;
      if (m.type !== 'none' || o.methods.includes(m)) tried.push(m.type);
      if (result === true) return m.type;
      serverMethods = result.methods;
      if (result.partial) {
        // One factor of a chain passed; the server's new list says what comes next.
        done.add(m);
        partial.push(m.type);
        if (partial.length > MAX_PARTIAL) break restart;
        continue restart;
      }
    }
    break;
  }
  const err = new AuthenticationFailed(
    `authentication failed for user ${JSON.stringify(o.username)} (${partial.length ? `${partial.join(', then ')} accepted as a first step; ` : ''}tried ${tried.join(', ') || 'nothing'}; the server ${partial.length ? 'now wants' : 'accepts'} ${serverMethods.join(', ') || 'nothing we offered'})`,
    serverMethods,
  );
  t.fail(err);
  throw err;
}

type Outcome = true | { methods: string[]; partial: boolean };

function request(user: string, method: string): Writer {
  return new Writer().byte(MSG.USERAUTH_REQUEST).string(user).string(SERVICE).string(method);
}

/** true on success, else the server's list of methods that can continue; 'skipped' when the person gave nothing. */
async function tryMethod(t: Transport, o: AuthOptions, m: AuthMethod, partial: boolean): Promise<Outcome | 'skipped'> {
  switch (m.type) {
    case 'none':
      await t.send(request(o.username, 'none').finish());
      break;
    case 'password': {
      const pw = typeof m.password === 'string' ? m.password : await m.password({ username: o.username, partial });
      if (pw === undefined) return 'skipped';
      await t.send(request(o.username, 'password').bool(false).string(pw).finish());
      break;
    }
    case 'publickey': {
      const signer = asSigner(m.key);
      const blob = signer.publicBlob;
      const algorithms = signatureAlgorithms(signer, t.serverSigAlgs);
      if (algorithms.length === 0) {
        // server-sig-algs lists no rsa-sha2-*: it only verifies ssh-rsa (SHA-1) signatures. With
        // other keys still to offer, this one is passed over (as ssh skips an identity it cannot
        // use); the last one left says why in words.
        if (
          o.methods.some(
            (x) =>
              x !== m && x.type === 'publickey' && signatureAlgorithms(asSigner(x.key), t.serverSigAlgs).length > 0,
          )
        )
          return 'skipped';
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
        await t.send(
          request(o.username, 'publickey')
            .bool(true)
            .string(algorithm)
            .string(blob)
            .string(await signer.sign(algorithm, signed))
            .finish(),
        );
        const result = await reply(t, o, m);
        if (result === true || result.partial || i === algorithms.length - 1 || !result.methods.includes('publickey'))
          return result;
      }
    }
    case 'keyboard-interactive':
      await t.send(request(o.username, 'keyboard-interactive').string('').string('').finish());
      break;
  }
  return reply(t, o, m);
}

async function reply(t: Transport, o: AuthOptions, m: AuthMethod): Promise<Outcome> {
  for (;;) {
    const msg = await t.recv();
    const r = new Reader(msg);
    const type = r.byte();
    if (type === MSG.USERAUTH_SUCCESS) return true;
    if (type === MSG.USERAUTH_FAILURE) {
      const methods = r.nameList();
      return { methods, partial: r.bool() };
    }
    if (type === MSG.USERAUTH_BANNER) {
      // Not r.text(): a banner in another encoding is shown with replacement characters, not fatal.
      const text = new TextDecoder().decode(r.string());
      o.onBanner?.(displayText(text, BANNER_MAX_CHARS));
      continue;
    }
    if (type === MSG.USERAUTH_INFO_REQUEST && m.type === 'keyboard-interactive') {
      const name = r.text();
      const instruction = r.text();
      r.string(); // language tag (deprecated)
      const n = r.uint32();
      if (n > 64) throw new SshProtocolError('too many keyboard-interactive prompts');
      const prompts: KeyboardInteractivePrompt[] = [];
      for (let i = 0; i < n; i++) prompts.push({ prompt: displayText(r.text(), 1000), echo: r.bool() });
      const answers = await m.respond({
        name: displayText(name, 1000),
        instruction: displayText(instruction, 8000),
        prompts,
      });
      if (answers === undefined) {
        // The person declined. RFC 4256 has no cancel message; OpenSSH's client, on ^C, ends
        // the connection. We do the same, with a sentence.
        throw new AuthenticationFailed("login cancelled: the server's question was not answered", []);
      }
      if (answers.length !== n) throw new SshError(`keyboard-interactive: ${n} prompts but ${answers.length} answers`);
      const w = new Writer().byte(MSG.USERAUTH_INFO_RESPONSE).uint32(n);
      for (const a of answers) w.string(a);
      await t.send(w.finish());
      continue;
    }
    throw new SshProtocolError(`unexpected message ${type} during user authentication`, DISCONNECT.PROTOCOL_ERROR);
  }
}
