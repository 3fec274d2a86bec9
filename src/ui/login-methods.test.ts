import { describe, expect, it } from 'vitest';
import { initialMethod, loginMethods } from './login-methods.js';

const shown = (peer: { tailscaleSsh?: boolean }, keys: number) =>
  loginMethods(peer, keys).map((c) => `${c.disabled ? '(off) ' : ''}${c.label}`);

describe('the login dialog offers only what can work, or says why not', () => {
  it('a machine that runs Tailscale SSH, with a key in this browser: all three, on', () => {
    expect(shown({ tailscaleSsh: true }, 1)).toEqual([
      'Tailscale SSH (the tailnet authenticates you)',
      'Password',
      'SSH key kept in this browser',
    ]);
  });

  it('a machine that does not run Tailscale SSH, and no key yet: both off, each saying why', () => {
    expect(shown({ tailscaleSsh: false }, 0)).toEqual([
      '(off) Tailscale SSH (this machine does not run it)',
      'Password',
      '(off) SSH key kept in this browser (none yet: add one in Settings)',
    ]);
  });

  it('starts on the method used last only while it still works', () => {
    expect(initialMethod({ tailscaleSsh: true }, 0, undefined)).toBe('none');
    expect(initialMethod({ tailscaleSsh: false }, 2, undefined)).toBe('key');
    expect(initialMethod({ tailscaleSsh: false }, 0, undefined)).toBe('password');
    expect(initialMethod({ tailscaleSsh: true }, 1, 'password')).toBe('password');
    expect(initialMethod({ tailscaleSsh: false }, 1, 'none')).toBe('key');
    expect(initialMethod({ tailscaleSsh: true }, 0, 'key')).toBe('none');
  });
});
