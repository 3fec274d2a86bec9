// Test glue for a real TOTP second factor: Debian's libpam-google-authenticator
// (pam_google_authenticator.so) with a secret file this test writes, and the code computed here
// (RFC 6238: HOTP of the 30-second step, RFC 4226 dynamic truncation, HMAC-SHA-1, 6 digits).
import { createHmac, randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const PAM_GOOGLE_AUTHENTICATOR = '/lib/x86_64-linux-gnu/security/pam_google_authenticator.so';

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32(b: Uint8Array): string {
  let bits = 0;
  let v = 0;
  let out = '';
  for (const x of b) {
    v = (v << 8) | x;
    bits += 8;
    while (bits >= 5) {
      out += B32[(v >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits) out += B32[(v << (5 - bits)) & 31];
  return out;
}

/** RFC 6238 TOTP (SHA-1, 30 s, 6 digits) of `key` at `now`. */
export function totp(key: Uint8Array, now = Date.now()): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const off = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(off) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

/**
 * A TOTP secret for `user` in `dir`/ga/<user> (owned by the user, 0600, as the module demands),
 * and the PAM stack that asks the password (pam_unix) and then the "Verification code:".
 */
export function totpSetup(dir: string, user: string): { key: Uint8Array; pamConfig: string } {
  if (!existsSync(PAM_GOOGLE_AUTHENTICATOR))
    throw new Error(
      `missing ${PAM_GOOGLE_AUTHENTICATOR}: install Debian package libpam-google-authenticator (scripts/install.sh does)`,
    );
  const key = new Uint8Array(randomBytes(20));
  const gaDir = join(dir, 'ga');
  mkdirSync(gaDir, { recursive: true });
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }));
  chownSync(gaDir, uid, gid);
  chmodSync(gaDir, 0o700);
  const file = join(gaDir, user);
  // The file format of google-authenticator(1): the secret, then option lines.
  writeFileSync(file, `${base32(key)}\n" WINDOW_SIZE 3\n" TOTP_AUTH\n`, { mode: 0o600 });
  chownSync(file, uid, gid);
  const pamConfig = [
    'auth required pam_unix.so',
    `auth required ${PAM_GOOGLE_AUTHENTICATOR} secret=${gaDir}/\${USER}`,
    'account required pam_unix.so',
    'session required pam_unix.so',
    '',
  ].join('\n');
  return { key, pamConfig };
}
