// What a person types, checked where it is typed: a sentence saying what is wrong, or null.

/**
 * Login names as Unix systems accept them (POSIX portable filename characters, as useradd and
 * OpenSSH's own checks do, plus '.' which many directories use): letters, digits, '.', '_' and '-',
 * not starting with '-' (it would read as an option), an optional trailing '$' (Samba machine
 * accounts), at most 32 characters (Linux's LOGIN_NAME_MAX minus the NUL is larger, but useradd
 * stops at 32).
 */
export function sshUserProblem(name: string): string | null {
  if (!name) return 'Enter the user to log in as, e.g. root.';
  if (name.length > 32) return 'A user name has at most 32 characters.';
  if (!/^[A-Za-z0-9._][A-Za-z0-9._-]*\$?$/.test(name)) {
    return "A user name is letters, digits, '.', '_' and '-' (not first), like alice or svc-backup; spaces and ;|&$ are not part of any.";
  }
  return null;
}

/** A TCP port as typed: a whole number from 1 to 65535. */
export function portProblem(text: string): string | null {
  if (!/^\d{1,5}$/.test(text.trim())) return 'A port is a number from 1 to 65535, e.g. 22.';
  const n = Number(text);
  return n >= 1 && n <= 65535 ? null : 'A port is a number from 1 to 65535, e.g. 22.';
}

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * The name this browser takes in the tailnet (the connect form's "machine name"): one DNS label (RFC 1123 §2.1:
 * letters, digits and '-', not first or last, at most 63), as MagicDNS names machines.
 */
export function machineNameProblem(name: string): string | null {
  if (!name) return "Enter this browser's machine name, e.g. laptop-browser.";
  if (name.length > 63) return 'A machine name has at most 63 characters.';
  if (!LABEL.test(name))
    return "A machine name is letters, digits and '-' (not first or last), like laptop-browser; no spaces, dots or other signs.";
  return null;
}

/**
 * A machine of the tailnet as typed where one is asked for: its name (MagicDNS, short as `nas` or
 * whole as `nas.tail1234.ts.net`: dot-separated RFC 1123 labels, at most 253 characters), or its
 * tailnet address (IPv4 dotted quad, or IPv6, with or without brackets).
 */
export function hostNameProblem(host: string): string | null {
  if (!host) return 'Enter a machine of your tailnet: its name (e.g. nas) or its address (e.g. 100.64.0.2).';
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare.includes(':')) {
    try {
      new URL(`http://[${bare}]/`);
      return null;
    } catch {
      return `"${host}" is not an IPv6 address; write a machine's name (e.g. nas) or its address (e.g. 100.64.0.2).`;
    }
  }
  if (/^[\d.]+$/.test(host))
    return IPV4.test(host) ? null : `"${host}" is not an IPv4 address: four numbers 0-255 with dots, e.g. 100.64.0.2.`;
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length > 253) return 'A machine name has at most 253 characters.';
  if (!name.split('.').every((l) => LABEL.test(l)))
    return "A machine name is letters, digits and '-' (not first or last in each part), parts joined by dots, like nas or nas.tail1234.ts.net; no spaces, '_' or other signs.";
  return null;
}

/**
 * A web-view address: http://machine[:port][/path]. Plain http only (WireGuard already encrypts
 * the tailnet; the web view speaks no TLS to the app), no user:password@ (the app asks for its
 * own login), a machine as hostNameProblem takes it. The scheme may be left out.
 */
export function webAddressProblem(text: string): string | null {
  const t = text.trim();
  if (!t) return 'Enter the address of a web app in your tailnet, e.g. http://nas:8080/.';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(t)?.[1]?.toLowerCase();
  if (scheme === 'https')
    return 'The web view opens http:// addresses only (the tailnet already encrypts the traffic): write http:// and the port the app serves plain HTTP on.';
  if (scheme && scheme !== 'http') return `The web view opens http:// addresses only, not ${scheme}://.`;
  // The authority as typed (URL() would rewrite some: 'http://1.2.3/' becomes 1.2.0.3).
  const authority = /^(?:[a-z]+:\/\/)?([^/?#]*)/i.exec(t)![1]!;
  if (authority.includes('@'))
    return 'Leave out user:password@ from the address: the app asks for its own login in the web view.';
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(authority)!;
  const hostProblem = hostNameProblem(hp[1]!);
  if (hostProblem) return hostProblem;
  if (hp[2] !== undefined) {
    const portSays = portProblem(hp[2]);
    if (portSays) return `In ${t}: ${portSays}`;
  }
  try {
    new URL(scheme ? t : `http://${t}`);
  } catch {
    return `"${t}" is not an address: write it as http://machine:port/path, e.g. http://nas:8080/.`;
  }
  return null;
}

/** A control server address (connect form): an http(s) URL, no user:password@ in it. */
export function controlUrlProblem(text: string): string | null {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return 'The control server is an address like https://controlplane.tailscale.com or your Headscale URL (with https://).';
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    return 'The control server is an https:// (or http://) address, like https://controlplane.tailscale.com or your Headscale URL.';
  if (u.username || u.password)
    return 'Leave out user:password@ from the control server address: the login happens on its page or with an auth key.';
  return null;
}
