// The words that end a refusal the per-host "legacy device" opt-in (SshConnectOptions.legacyDevice)
// would get past: SHA-1 key exchange, ssh-rsa host signatures, hmac-sha1, RSA host keys of
// 1024–2047 bits. The app recognises such a refusal by them to offer the person that choice.
// Also what the negotiation (kex.ts) tells a person whose device offers only algorithms we refuse.
export const LEGACY_DEVICE_HINT = 'if the device cannot be changed, connect to it as a legacy device';

/** True when `e` is a refusal that connecting as a legacy device would get past. */
export function legacyDeviceWouldHelp(e: unknown): boolean {
  return e instanceof Error && e.message.includes(LEGACY_DEVICE_HINT);
}

/** Server-only algorithms we refuse on purpose, with what to change on the device instead. */
export const LEGACY_ADVICE: Record<string, (server: string[]) => string | undefined> = {
  'key exchange': (s) =>
    s.some((k) => /^diffie-hellman-group(1|14|-exchange)-sha1$/.test(k))
      ? 'it only offers SHA-1 key exchange (diffie-hellman-*-sha1), which tailtab refuses; enable curve25519-sha256 or diffie-hellman-group14-sha256 on the device (OpenSSH: KexAlgorithms in sshd_config; Dropbear ≥ 2020.79 has them built in)'
      : undefined,
  'host key': (s) =>
    s.includes('ssh-rsa')
      ? 'it only signs with ssh-rsa (RSA with SHA-1), which tailtab refuses; enable rsa-sha2-256/rsa-sha2-512 (OpenSSH ≥ 7.2: HostKeyAlgorithms in sshd_config) or give the device an Ed25519 or ECDSA host key (ssh-keygen -A)'
      : s.includes('ssh-dss')
        ? 'it only has a DSA (ssh-dss) host key, which tailtab refuses; give the device an Ed25519 or ECDSA host key (ssh-keygen -A)'
        : undefined,
  'client-to-server MAC': (s) => macAdvice(s),
  'server-to-client MAC': (s) => macAdvice(s),
  'client-to-server cipher': (s) => cipherAdvice(s),
  'server-to-client cipher': (s) => cipherAdvice(s),
};

function macAdvice(s: string[]): string | undefined {
  return s.some((m) => m.startsWith('hmac-sha1') || m.startsWith('hmac-md5') || m.startsWith('umac-'))
    ? 'it only offers SHA-1/MD5/UMAC message authentication, which tailtab refuses; enable hmac-sha2-256 (OpenSSH: MACs in sshd_config) or an AES-GCM / chacha20-poly1305 cipher'
    : undefined;
}
function cipherAdvice(s: string[]): string | undefined {
  return s.some((c) => c.endsWith('-cbc') || c === '3des-cbc' || c.startsWith('arcfour'))
    ? 'it only offers CBC or RC4 ciphers, which tailtab refuses; enable aes128-ctr or aes128-gcm@openssh.com (OpenSSH: Ciphers in sshd_config)'
    : undefined;
}
