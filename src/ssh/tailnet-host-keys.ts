// Tailscale SSH host keys from the network map. tailscaled publishes its SSH host keys in
// Hostinfo.sshHostKeys (OpenSSH "type base64" lines), and `tailscale ssh` writes them into a
// known_hosts file for the target (cmd/tailscale/cli/ssh.go genKnownHosts). So for a Tailscale SSH
// peer we can do better than "the tailnet authenticated the machine": the key the server presents
// must be one its node published through control. A mismatch is refused, naming the fingerprint.
import { fromBase64, toBase64 } from '../crypto/bytes.js';
import { fingerprint } from './hostkey.js';
import type { HostKeyInfo, HostKeyVerifier } from './transport/transport.js';
import type { HostKeyEvent } from './known-hosts.js';

export class TailnetHostKeyMismatchError extends Error {
  constructor(
    readonly host: string,
    readonly presentedFingerprint: string,
    readonly listedFingerprints: string[],
  ) {
    super(
      `WARNING: ${host} presented SSH host key ${presentedFingerprint}, which is none of the host keys its machine published to the tailnet ` +
        `(${listedFingerprints.join(', ') || 'none readable'}). Connection refused.`,
    );
    this.name = 'TailnetHostKeyMismatchError';
  }
}

/** The key blobs (base64) of OpenSSH "type base64 [comment]" lines; unreadable lines are skipped. */
export function hostKeyBlobs(lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const b64 = line.trim().split(/\s+/)[1];
    if (!b64) continue;
    try {
      out.push(toBase64(fromBase64(b64)));
    } catch {
      /* not base64: ignore this line */
    }
  }
  return out;
}

/** Accept only a host key listed for the peer in the map; report it as known. */
export function tailnetHostKeysVerifier(
  host: string,
  lines: readonly string[],
  onEvent?: (e: HostKeyEvent) => void,
): HostKeyVerifier {
  const listed = hostKeyBlobs(lines);
  return (info: HostKeyInfo) => {
    const presented = toBase64(info.blob);
    if (listed.includes(presented)) {
      onEvent?.({ kind: 'known', host, fingerprint: info.fingerprint });
      return;
    }
    const fps = listed.map((b) => {
      try {
        return fingerprint(fromBase64(b));
      } catch {
        return '(unreadable)';
      }
    });
    throw new TailnetHostKeyMismatchError(host, info.fingerprint, fps);
  };
}
