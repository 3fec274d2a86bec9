// 'tailtab/ssh': the SSH-2 client and SFTP over any byte duplex ({ readable, writable } of
// Uint8Array) — a TailnetNode's dial(host, 22) in practice. See README.md beside this file.
export {
  SshClient,
  type SshConnectOptions,
  type SshSession,
  type KeepaliveStats,
  type HostKeyInfo,
  type HostKeyVerifier,
  type AuthMethod,
  type ExitInfo,
  type PtyOptions,
  type ChannelStats,
} from './client.js';
export { SshError, HostKeyRefused } from './transport/transport.js';
export { AuthenticationFailed, type KeyboardInteractiveChallenge, type KeyboardInteractivePrompt } from './userauth.js';
export {
  SftpClient,
  SftpError,
  SftpSessionError,
  FXF,
  fileType,
  type FileType,
  type SftpAttrs,
  type SftpNameEntry,
  type SftpEntry,
  type SftpStats,
  type SftpStartOptions,
  type TransferOptions,
} from './sftp.js';
export {
  generateEd25519Key,
  ed25519KeyFromSeed,
  publicKeyBlob,
  authorizedKeysLine,
  userKeyFingerprint,
  type Ed25519UserKey,
  type UserKey,
  type SshSigner,
} from './keys.js';
export { openSshPrivateKey, writeOpenSshPrivateKey } from './keyfile-write.js';
export { KeyFileError, parseOpenSshPrivateKey } from './keyfile.js';
export { parsePrivateKeyFile, isEncryptedPrivateKeyFile } from './keyfile-pem.js';
export {
  MemoryKnownHosts,
  HostKeyChangedError,
  knownHostsVerifier,
  tailnetAuthenticatedVerifier,
  type KnownHostsStore,
  type HostKeyEvent,
} from './known-hosts.js';
export { TailnetHostKeyMismatchError, tailnetHostKeysVerifier } from './tailnet-host-keys.js';
export { fingerprint } from './hostkey.js';
export type { ByteDuplex } from '../platform/duplex.js';
