import { describe, expect, it } from 'vitest';
import { controlUrlProblem, isLoopbackHost, loginUrlProblem } from './urls.js';

describe('control and login URLs a hostile server or a typo could give', () => {
  it('takes https anywhere and http only for this machine', () => {
    for (const ok of [
      'https://controlplane.tailscale.com',
      'https://hs.example:8443/',
      'http://127.0.0.1:8080',
      'http://localhost:5173',
      'http://tailtab.localhost:5173',
      'http://[::1]:9000',
      'http://127.9.9.9',
    ]) {
      expect(controlUrlProblem(ok), ok).toBeNull();
    }
    expect(controlUrlProblem('http://hs.example')).toMatch(/plain http: use https/);
    expect(controlUrlProblem('http://10.0.0.5:8080')).toMatch(/plain http/);
    expect(controlUrlProblem('http://localhost.evil.example')).toMatch(/plain http/);
    expect(controlUrlProblem('http://127.0.0.1.evil.example')).toMatch(/plain http/);
    expect(controlUrlProblem('ftp://hs.example')).toMatch(/must be https/);
    expect(controlUrlProblem('not a url')).toMatch(/not a URL/);
  });
  it('refuses javascript:, data: and remote http: login links', () => {
    expect(loginUrlProblem('https://hs.example/register/abc')).toBeNull();
    expect(loginUrlProblem('http://127.0.0.1:8080/register/abc')).toBeNull();
    expect(loginUrlProblem('javascript:alert(document.domain)')).toMatch(/javascript: .* refused/);
    expect(loginUrlProblem('JaVaScRiPt:alert(1)')).toMatch(/javascript:/);
    expect(loginUrlProblem('data:text/html,<script>1</script>')).toMatch(/data:/);
    expect(loginUrlProblem('http://phish.example/login')).toMatch(/http: .* refused/);
    expect(loginUrlProblem('')).toMatch(/not a URL/);
  });
  it('knows loopback names', () => {
    expect(isLoopbackHost('LOCALHOST')).toBe(true);
    expect(isLoopbackHost('a.b.localhost.')).toBe(true);
    expect(isLoopbackHost('localhostx')).toBe(false);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
  });
});
