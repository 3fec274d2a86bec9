// Words for the page: the failures a person meets when connecting, said clearly, and the secrets
// that must never reach a page or a log scrubbed from any text that does.
import type { UpConfig } from './node-api.js';

/** Clear words for the failures a person meets when connecting. */
export function explain(msg: string, cfg: Pick<UpConfig, 'controlUrl'>): string {
  if (/authkey|auth key|pre-?auth|invalid key|key (is )?expired|not found.*key/i.test(msg))
    return `The auth key was refused by ${cfg.controlUrl}: ${msg}`;
  if (/CORS|Failed to fetch|NetworkError|fetch failed/i.test(msg))
    return msg.includes('CORS')
      ? msg
      : `Cannot reach the control server ${cfg.controlUrl} from this page (${msg}). If it is up, it may not allow this origin (CORS); serve tailtab from the same origin or give its key under Advanced.`;
  return msg;
}

/** `s` with each of `secrets` (the auth key given to up()) and anything shaped like a Tailscale key replaced. */
export function redactSecrets(s: string, secrets: readonly string[]): string {
  let out = s;
  for (const secret of secrets) if (secret) out = out.split(secret).join('<auth key>');
  return out.replace(/tskey-[A-Za-z0-9-]+/g, 'tskey-<redacted>');
}
