// The last visit a returning person is offered: what this window shows, and the shells other tabs of
// the profile still show from the same Worker.
import { describe, expect, it } from 'vitest';
import { connectionId, visitWithOthers } from './saved-connections.js';

const id = (host: string, user = 'root') => connectionId({ host, user, port: 22, method: 'none' });
const running = (host: string, windows: number) => ({
  host,
  port: 22,
  username: 'root',
  method: 'none' as const,
  windows,
});
const title = (l: { host: string; username: string }) => `${l.username}@${l.host}`;

describe('visitWithOthers', () => {
  it('a tab that closes its view of a shell another tab still shows keeps that shell in the visit', () => {
    expect(visitWithOthers([], [running('100.64.0.2', 1)], title)).toEqual([
      { title: 'root@100.64.0.2', connectionId: id('100.64.0.2') },
    ]);
  });

  it('a shell this window shows is not counted twice; a second shell to the same machine is', () => {
    const mine = [{ title: 'root@peer2', connectionId: id('100.64.0.2') }];
    expect(visitWithOthers(mine, [running('100.64.0.2', 1)], title)).toEqual(mine);
    expect(visitWithOthers(mine, [running('100.64.0.2', 1), running('100.64.0.2', 1)], title)).toHaveLength(2);
  });

  it('a shell no window shows (its tab reloading, or ended) is not added', () => {
    expect(visitWithOthers([], [running('100.64.0.2', 0)], title)).toEqual([]);
  });
});
