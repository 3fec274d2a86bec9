// Host-key checks for the app's SSH logins (terminal and file transfer alike): the host's key is
// checked against the known hosts of this session's store, asked of the person on first contact
// (ssh(1)'s "are you sure"), or — for Tailscale SSH — pinned to the keys the peer publishes in the
// netmap. Also the page's list of known hosts.
import { tailnetHostKeysVerifier } from '../ssh/tailnet-host-keys.js';
import {
  knownHostsVerifier,
  tailnetAuthenticatedVerifier,
  type HostKeyEvent,
  type KnownHostsStore,
} from '../ssh/known-hosts.js';
import type { HostKeyInfo, HostKeyVerifier } from '../ssh/client.js';
import type { KnownHostRecord } from '../platform/idb.js';
import type { HostKeyVerdict, KnownHostView, SshOpenOptions } from './node-api.js';
import type { AppContext, AppWindow } from './context.js';
import { ASK_DEADLINE_MS, LoginPrompts } from './login-prompts.js';

export class HostKeyChecks {
  /** First-contact questions waiting for the person's answer, by prompt id. */
  private readonly prompts = new Map<string, (ok: boolean) => void>();
  /** The login's other questions (keyboard-interactive, legacy device), asked of the same window. */
  readonly login = new LoginPrompts();

  constructor(private readonly ctx: AppContext) {}

  /** The page's answer to a host-key prompt. */
  answer(promptId: string, ok: boolean): void {
    this.prompts.get(promptId)?.(!!ok);
  }

  async knownHosts(): Promise<KnownHostView[]> {
    return (await this.ctx.store().knownHosts()).map((h) => ({
      host: h.host,
      fingerprint: h.fingerprint,
      addedAt: h.addedAt,
      ...(h.legacyDevice ? { legacyDevice: true } : {}),
    }));
  }

  /** The Settings switch: a known host stops (or starts) being a legacy device. */
  async setLegacy(host: string, allow: boolean): Promise<void> {
    const rec = await this.ctx.store().knownHost(host);
    if (!rec) throw new Error(`${host} is not a known host.`);
    await this.ctx.store().putKnownHost({ ...rec, legacyDevice: allow === true });
  }

  forget(host: string): Promise<void> {
    return this.ctx.store().deleteKnownHost(host);
  }

  /** The verifier for one login to `hostId`; `decided` learns how the key was vouched for. */
  verifier(
    owner: AppWindow,
    o: Pick<SshOpenOptions, 'host' | 'tailnetAuthenticated'> & { promptId?: string },
    hostId: string,
    decided: (v: HostKeyVerdict) => void,
  ): HostKeyVerifier {
    const onEvent = (e: HostKeyEvent) =>
      decided({
        fingerprint: e.fingerprint,
        verdict: e.kind === 'known' ? 'known' : e.kind === 'first-use' ? 'first-use' : 'tailnet',
      });
    if (o.tailnetAuthenticated) {
      // The peer's published SSH host keys (map Hostinfo.sshHostKeys) pin the key, as `tailscale
      // ssh` does; only without them is the tailnet's authentication of the machine all we have.
      const listed = this.peerSshHostKeys(o.host);
      return listed.length
        ? tailnetHostKeysVerifier(hostId, listed, (e) =>
            decided({ fingerprint: e.fingerprint, verdict: 'tailnet-pinned' }),
          )
        : tailnetAuthenticatedVerifier(hostId, onEvent);
    }
    const store = this.ctx.store();
    return async (info: HostKeyInfo) => {
      const rec = await store.knownHost(hostId);
      if (!rec && o.promptId) {
        // First connection: the person decides, seeing the fingerprint (ssh(1)'s "are you sure").
        let unanswered = false;
        const ok = await new Promise<boolean>((resolve) => {
          // As the login's other questions: unanswered (a window gone, a person away) is declined
          // after ASK_DEADLINE_MS, by which time any SSH server has given up on the login anyway.
          const timer = setTimeout(() => {
            unanswered = true;
            resolve(false);
          }, ASK_DEADLINE_MS);
          this.prompts.set(o.promptId!, (v) => {
            clearTimeout(timer);
            resolve(v);
          });
          owner.push({
            type: 'host-key-prompt',
            promptId: o.promptId!,
            host: hostId,
            fingerprint: info.fingerprint,
            keyType: info.keyType,
          });
        }).finally(() => this.prompts.delete(o.promptId!));
        if (unanswered)
          throw new Error(
            `Host key ${info.fingerprint} of ${hostId} was not confirmed within ${ASK_DEADLINE_MS / 60_000} minutes; not connected.`,
          );
        if (!ok) throw new Error(`Host key ${info.fingerprint} of ${hostId} not accepted; not connected.`);
      }
      const adapter: KnownHostsStore = {
        get: async (h) => (await store.knownHost(h))?.keyBlob ?? undefined,
        set: async (h, blob) => {
          const r: KnownHostRecord = {
            host: h,
            keyType: info.keyType,
            fingerprint: info.fingerprint,
            keyBlob: blob,
            addedAt: this.ctx.now(),
          };
          await store.putKnownHost(r);
        },
      };
      return knownHostsVerifier(adapter, hostId, onEvent)(info);
    };
  }

  private peerSshHostKeys(host: string): string[] {
    const node = this.ctx.node();
    if (!node?.resolve) return [];
    let ip: string;
    try {
      ip = node.resolve(host);
    } catch {
      return [];
    }
    return node.status().peers.find((p) => p.ips.includes(ip))?.sshHostKeys ?? [];
  }
}
