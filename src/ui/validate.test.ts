import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  controlUrlProblem,
  hostNameProblem,
  machineNameProblem,
  portProblem,
  sshUserProblem,
  webAddressProblem,
} from './validate.js';

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

describe('machine names, addresses and URLs checked where they are typed', () => {
  it("this browser's machine name is one DNS label", () => {
    for (const ok of ['laptop', 'laptop-browser', 'a', 'A1', 'x'.repeat(63)])
      expect(machineNameProblem(ok), ok).toBeNull();
    expect(machineNameProblem('')).toMatch(/Enter this browser's machine name/);
    expect(machineNameProblem('-x')).toMatch(/not first or last/);
    expect(machineNameProblem('x-')).toMatch(/not first or last/);
    expect(machineNameProblem('my laptop')).toMatch(/no spaces/);
    expect(machineNameProblem('a.b')).toMatch(/no spaces, dots/);
    expect(machineNameProblem('x'.repeat(64))).toMatch(/at most 63/);
  });
  it('a machine is a MagicDNS name or a tailnet address', () => {
    for (const ok of [
      'nas',
      'nas.tail1234.ts.net',
      'nas.tail1234.ts.net.',
      '100.64.0.2',
      'fd7a:115c:a1e0::1',
      '[fd7a:115c:a1e0::1]',
    ])
      expect(hostNameProblem(ok), ok).toBeNull();
    expect(hostNameProblem('')).toMatch(/Enter a machine/);
    expect(hostNameProblem('1.2.3')).toMatch(/not an IPv4 address/);
    expect(hostNameProblem('100.64.0.256')).toMatch(/0-255/);
    expect(hostNameProblem('fd7a::1::2')).toMatch(/not an IPv6 address/);
    for (const bad of ['my nas', 'nas_1', 'nas;rm', '-nas', 'nas..net', 'a'.repeat(64)])
      expect(hostNameProblem(bad), bad).toMatch(/letters, digits and '-'/);
    expect(hostNameProblem(`${'a.'.repeat(127)}ab`)).toMatch(/at most 253/);
  });
  it('a web-view address is http://machine[:port][/path], in words when not', () => {
    for (const ok of [
      'http://nas:8080/',
      'nas',
      'nas:3000/admin?x=1',
      'http://100.64.0.2/',
      'http://[fd7a:115c:a1e0::1]:80/',
    ])
      expect(webAddressProblem(ok), ok).toBeNull();
    expect(webAddressProblem(' ')).toMatch(/Enter the address/);
    expect(webAddressProblem('https://nas/')).toMatch(/http:\/\/ addresses only \(the tailnet already encrypts/);
    expect(webAddressProblem('ftp://nas/')).toMatch(/not ftp:\/\//);
    expect(webAddressProblem('http://bob:pw@nas/')).toMatch(/Leave out user:password@/);
    expect(webAddressProblem('http://nas:99999/')).toMatch(
      /In http:\/\/nas:99999\/: A port is a number from 1 to 65535/,
    );
    expect(webAddressProblem('http://my nas/')).toMatch(/no spaces/);
    expect(webAddressProblem('http://1.2.3/')).toMatch(/not an IPv4 address/);
  });
  it('a control server is an http(s) URL without credentials', () => {
    expect(controlUrlProblem('https://controlplane.tailscale.com')).toBeNull();
    expect(controlUrlProblem('http://127.0.0.1:8080')).toBeNull();
    expect(controlUrlProblem('controlplane.tailscale.com')).toMatch(/with https:\/\//);
    expect(controlUrlProblem('ftp://x/')).toMatch(/https:\/\/ \(or http:\/\/\) address/);
    expect(controlUrlProblem('https://u:p@x/')).toMatch(/Leave out user:password@/);
  });
});

describe('the checks on random text', () => {
  it('never throw; what they accept has no space, shell sign or control character', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (s) => {
        for (const check of [
          sshUserProblem,
          portProblem,
          machineNameProblem,
          hostNameProblem,
          webAddressProblem,
          controlUrlProblem,
        ]) {
          const r = check(s);
          expect(r === null || (typeof r === 'string' && r.length > 0)).toBe(true);
        }
        if (sshUserProblem(s) === null || hostNameProblem(s) === null || machineNameProblem(s) === null)
          expect(s).not.toMatch(/[\s;|&`'"<>()\\\x00-\x1f]/);
      }),
      { numRuns: 2000 },
    );
  });
});
