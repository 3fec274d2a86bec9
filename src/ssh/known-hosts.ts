// Host key checking: trust on first use, recorded through an injected store (IndexedDB in the
// app, a Map in tests); a changed key is refused naming both fingerprints. For Tailscale SSH the
// tailnet has already authenticated the peer (WireGuard node key), so checking is skipped — and
// the caller is told so, never silently.
import { toBase64 } from '../crypto/bytes.js';
import type { HostKeyInfo, HostKeyVerifier } from './transport/transport.js';
import { fingerprint } from './hostkey.js';
import { fromBase64 } from '../crypto/bytes.js';

export interface KnownHostsStore {
  /** Recorded host key blob (base64) for a host id such as "host.example:22". */
  get(host: string): Promise<string | undefined>;
  set(host: string, keyBlobBase64: string): Promise<void>;
}

export class MemoryKnownHosts implements KnownHostsStore {
  readonly entries = new Map<string, string>();
  async get(host: string): Promise<string | undefined> {
    return this.entries.get(host);
  }
  async set(host: string, key: string): Promise<void> {
    this.entries.set(host, key);
  }
}

export type HostKeyEvent =
  | { kind: 'first-use'; host: string; fingerprint: string; algorithm: string }
  | { kind: 'known'; host: string; fingerprint: string }
  | { kind: 'tailnet-authenticated'; host: string; fingerprint: string; note: string };

export class HostKeyChangedError extends Error {
  constructor(
    readonly host: string,
    readonly recordedFingerprint: string,
    readonly presentedFingerprint: string,
  ) {
    super(
      `WARNING: the host key of ${host} has changed. Recorded: ${recordedFingerprint}; presented now: ${presentedFingerprint}. ` +
        'Someone could be intercepting the connection, or the host was reinstalled. Connection refused; remove the recorded key only if you know why it changed.',
    );
    this.name = 'HostKeyChangedError';
  }
}

/** Trust on first use: record an unknown host's key, accept a matching one, refuse a changed one. */
export function knownHostsVerifier(
  store: KnownHostsStore,
  host: string,
  onEvent?: (e: HostKeyEvent) => void,
): HostKeyVerifier {
  return async (info: HostKeyInfo) => {
    const recorded = await store.get(host);
    const presented = toBase64(info.blob);
    if (recorded === undefined) {
      await store.set(host, presented);
      onEvent?.({ kind: 'first-use', host, fingerprint: info.fingerprint, algorithm: info.algorithm });
      return;
    }
    if (recorded === presented) {
      onEvent?.({ kind: 'known', host, fingerprint: info.fingerprint });
      return;
    }
    let recordedFp = '(unreadable record)';
    try {
      recordedFp = fingerprint(fromBase64(recorded));
    } catch {
      /* keep the placeholder */
    }
    throw new HostKeyChangedError(host, recordedFp, info.fingerprint);
  };
}

/** For Tailscale SSH: the tailnet authenticated the peer; the SSH host key is not checked. */
export function tailnetAuthenticatedVerifier(host: string, onEvent?: (e: HostKeyEvent) => void): HostKeyVerifier {
  return (info: HostKeyInfo) => {
    onEvent?.({
      kind: 'tailnet-authenticated',
      host,
      fingerprint: info.fingerprint,
      note: 'Host key not checked: this is Tailscale SSH and the tailnet (WireGuard node key) authenticates the peer.',
    });
  };
}
