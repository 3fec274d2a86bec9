// Small display helpers for the UI: sizes, ages, and safe text (Lit escapes all interpolations;
// nothing from a peer is ever put into innerHTML).

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

export function formatAge(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return 'never';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h}h ago`;
  return `${Math.round(h / 24)}d ago`;
}

export function formatLastSeen(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'unknown';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return 'unknown';
  return formatAge(now - t);
}

/** "host.tailnet.ts.net." → "host.tailnet.ts.net" */
export function trimDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

export function shortName(fqdn: string): string {
  return trimDot(fqdn).split('.')[0] ?? fqdn;
}

/** A terminal's title for a session: user@machine, the machine found by address or name. */
export function sessionTitle(
  l: { host: string; username: string },
  peers: readonly { ips: string[]; fqdn: string; name: string }[],
): string {
  const peer = peers.find((p) => p.ips.includes(l.host) || p.fqdn === l.host || p.name === l.host);
  return `${l.username}@${peer ? shortName(peer.fqdn || peer.name) : l.host}`;
}

/** Case-insensitive match of a search query against a peer's names, IPs and OS. */
export function matchesQuery(query: string, fields: (string | undefined)[]): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return q.split(/\s+/).every((word) => fields.some((f) => f?.toLowerCase().includes(word)));
}
