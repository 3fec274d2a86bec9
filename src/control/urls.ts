// Which URLs control may make us use. The control connection is Noise-encrypted to the control
// key whatever the scheme, but an http: control URL lets anyone on the path swap the /key answer
// (on first use) and the login page; and a login link is put in an <a href> for a person to open,
// where a javascript: or data: link from a hostile control server would run in our origin.
// So: https everywhere, http only to this machine (loopback, *.localhost: test rigs, the demo).

const LOOPBACK_V4 = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** A host name that can only mean this machine (RFC 6761 §6.3 for .localhost). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost') || LOOPBACK_V4.test(h) || h === '::1';
}

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** Null when a control server URL is acceptable, else the reason in words. */
export function controlUrlProblem(url: string): string | null {
  const u = parse(url);
  if (!u) return `"${url}" is not a URL`;
  if (u.protocol === 'https:') return null;
  if (u.protocol === 'http:') {
    return isLoopbackHost(u.hostname)
      ? null
      : `control server ${u.origin} is plain http: use https (http only for this machine: localhost, 127.0.0.1, *.localhost)`;
  }
  return `control server URL must be https:, not ${u.protocol}`;
}

/** Null when a login link from control may be shown to a person, else the reason in words. */
export function loginUrlProblem(url: string): string | null {
  const u = parse(url);
  if (!u) return 'the login link is not a URL';
  if (u.protocol === 'https:') return null;
  if (u.protocol === 'http:' && isLoopbackHost(u.hostname)) return null;
  return `the login link is ${u.protocol} (${url.slice(0, 60)}), not https: refused`;
}
