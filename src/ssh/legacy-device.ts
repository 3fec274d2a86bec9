// The words that end a refusal the per-host "legacy device" opt-in (SshConnectOptions.legacyDevice)
// would get past: SHA-1 key exchange, ssh-rsa host signatures, hmac-sha1, RSA host keys of
// 1024–2047 bits. The app recognises such a refusal by them to offer the person that choice.
export const LEGACY_DEVICE_HINT = 'if the device cannot be changed, connect to it as a legacy device';

/** True when `e` is a refusal that connecting as a legacy device would get past. */
export function legacyDeviceWouldHelp(e: unknown): boolean {
  return e instanceof Error && e.message.includes(LEGACY_DEVICE_HINT);
}
