import { afterEach, describe, expect, it, vi } from 'vitest';
import { HostKeyChecks } from './host-keys.js';
import { ASK_DEADLINE_MS } from './login-prompts.js';
import { MemoryWorkerStore } from './store.js';
import type { AppWindow } from './context.js';
import type { WorkerEvent } from './node-api.js';
import type { HostKeyInfo } from '../ssh/transport/transport.js';

function setup() {
  const store = new MemoryWorkerStore();
  const checks = new HostKeyChecks({
    requireRunning: () => Promise.reject(new Error('not running')),
    node: () => undefined,
    store: () => store,
    random: (n) => new Uint8Array(n),
    now: () => 0,
  });
  const pushed: WorkerEvent[] = [];
  const owner: AppWindow = { push: (e) => pushed.push(e), sessions: new Set(), sftp: new Set(), released: false };
  const info: HostKeyInfo = {
    algorithm: 'ssh-ed25519',
    keyType: 'ssh-ed25519',
    blob: new Uint8Array([1, 2, 3]),
    fingerprint: 'SHA256:abc',
  };
  const verifier = checks.verifier(owner, { host: 'pi', promptId: 'p1' }, 'pi', () => {});
  const verify = (i: HostKeyInfo) => Promise.resolve(verifier(i));
  return { checks, pushed, info, verify, store };
}

describe('host-key prompts', () => {
  afterEach(() => vi.useRealTimers());

  it('a first-contact question nobody answers is declined in words after the deadline', async () => {
    vi.useFakeTimers();
    const t = setup();
    const result = t.verify(t.info).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    // (Not vi.waitFor: under fake timers it moves the clock.)
    for (let i = 0; i < 50 && !t.pushed.length; i++) await Promise.resolve();
    expect(t.pushed.map((e) => e.type)).toEqual(['host-key-prompt']);
    await vi.advanceTimersByTimeAsync(ASK_DEADLINE_MS - 1);
    let settled = false;
    void result.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await result).toBe('Host key SHA256:abc of pi was not confirmed within 10 minutes; not connected.');
    // A late answer changes nothing.
    t.checks.answer('p1', true);
    expect(await t.store.knownHost('pi')).toBeUndefined();
  });

  it('an answer in time decides: no is refused, yes is remembered', async () => {
    const t = setup();
    const refused = t.verify(t.info).catch((e: Error) => e.message);
    await vi.waitFor(() => expect(t.pushed.length).toBe(1));
    t.checks.answer('p1', false);
    expect(await refused).toBe('Host key SHA256:abc of pi not accepted; not connected.');
    const accepted = t.verify(t.info);
    await vi.waitFor(() => expect(t.pushed.length).toBe(2));
    t.checks.answer('p1', true);
    await accepted;
    expect((await t.store.knownHost('pi'))?.fingerprint).toBe('SHA256:abc');
  });
});
