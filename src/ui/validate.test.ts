import { describe, expect, it } from 'vitest';
import { portProblem, sshUserProblem } from './validate.js';

describe('input checked where it is typed', () => {
  it('accepts the user names people have and refuses shell text, with words', () => {
    for (const ok of ['root', 'alice', 'svc-backup', 'john.doe', '_apt', 'HOST$', 'a'.repeat(32)])
      expect(sshUserProblem(ok), ok).toBeNull();
    expect(sshUserProblem('uname -a; ls /')).toMatch(/letters, digits/);
    expect(sshUserProblem('-oProxyCommand=x')).toMatch(/not first/);
    expect(sshUserProblem('a$b')).toMatch(/letters, digits/);
    expect(sshUserProblem('')).toMatch(/Enter the user/);
    expect(sshUserProblem('a'.repeat(33))).toMatch(/at most 32/);
  });
  it('accepts ports 1-65535 only', () => {
    expect(portProblem('22')).toBeNull();
    expect(portProblem('65535')).toBeNull();
    for (const bad of ['0', '65536', '-1', '22a', '', '2.5']) expect(portProblem(bad), bad).toMatch(/1 to 65535/);
  });
});
