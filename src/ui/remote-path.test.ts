import { describe, expect, it } from 'vitest';
import { joinPath, parentPath } from './remote-path.js';
import { sortEntries, toFileEntry } from '../app/sftp-sessions.js';

describe('remote paths', () => {
  it('joins and goes up', () => {
    expect(joinPath('/home/u', 'a.txt')).toBe('/home/u/a.txt');
    expect(joinPath('/', 'etc')).toBe('/etc');
    expect(parentPath('/home/u')).toBe('/home');
    expect(parentPath('/home/u/')).toBe('/home');
    expect(parentPath('/home')).toBe('/');
    expect(parentPath('/')).toBe('/');
  });

  it('lists directories first, then by name, from SFTP attributes', () => {
    const list = [
      { filename: 'b.txt', longname: '', attrs: { size: 3, permissions: 0o100644, mtime: 1 } },
      { filename: 'z', longname: '', attrs: { permissions: 0o040755 } },
      { filename: 'a.txt', longname: '', attrs: { size: 1, permissions: 0o100600 } },
      { filename: '..', longname: '', attrs: { permissions: 0o040755 } },
    ].map(toFileEntry);
    expect(sortEntries(list).map((e) => [e.name, e.dir])).toEqual([
      ['z', true],
      ['a.txt', false],
      ['b.txt', false],
    ]);
  });
});
