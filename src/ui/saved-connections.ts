// Saved connections, per profile, in the app's IndexedDB (the `settings` store, one record per
// profile): how the person last reached each host (user, port, login method, the key's id) and a
// label, for "Recent" on the Machines list, the SSH dialog's presets, and reopening the terminals of
// the last visit. Never a secret: a password is not written, a key is named by its id (the key
// itself stays in the Worker's store). Records are checked when read: a damaged one is dropped with
// a message, never a blank page.
import { openTailtabDb } from '../platform/idb.js';
import type { SshOpenOptions, SshSessionListing } from '../app/node-api.js';

export type LoginMethod = 'none' | 'password' | 'key';

export interface SavedConnection {
  /** host|user|port|method: the same login to the same host is one entry. */
  id: string;
  /** The tailnet address dialled (the peer's first IP). */
  host: string;
  /** The machine's MagicDNS name when saved, to find it again if its address changed. */
  fqdn: string;
  user: string;
  port: number;
  method: LoginMethod;
  keyId?: string;
  label: string;
  lastUsedAt: number;
}

export interface VisitTerminal {
  title: string;
  connectionId: string;
}

/** Most recent first; older ones drop off. */
export const MAX_SAVED = 20;

const connectionsKey = (profileId: string) => `connections:${profileId}`;
const visitKey = (profileId: string) => `lastVisit:${profileId}`;
export const REOPEN_SETTING = 'reopenLastVisit';

export function connectionId(c: Pick<SavedConnection, 'host' | 'user' | 'port' | 'method'>): string {
  return `${c.host}|${c.user}|${c.port}|${c.method}`;
}

/** What a terminal was opened with, as a saved connection (the password, if any, left out). */
/** A login's method as saved: "interactive" (everything asked) is a password login without the password. */
export function loginMethodOf(auth: SshOpenOptions['auth']): LoginMethod {
  return auth.type === 'interactive' ? 'password' : auth.type;
}

export function fromOptions(o: SshOpenOptions, fqdn: string, label: string, now: number): SavedConnection {
  const method = loginMethodOf(o.auth);
  const c = { host: o.host, user: o.username, port: o.port ?? 22, method };
  return {
    id: connectionId(c),
    ...c,
    fqdn,
    ...(o.auth.type === 'key' ? { keyId: o.auth.keyId } : {}),
    label,
    lastUsedAt: now,
  };
}

/** The options to open a saved connection with (a password one still needs the password). */
export function toOptions(c: SavedConnection, cols = 80, rows = 24): SshOpenOptions {
  const auth =
    c.method === 'none'
      ? { type: 'none' as const }
      : c.method === 'key'
        ? { type: 'key' as const, keyId: c.keyId ?? '' }
        : { type: 'password' as const, password: '' };
  return { host: c.host, port: c.port, username: c.user, auth, cols, rows, tailnetAuthenticated: c.method === 'none' };
}

function isSaved(v: unknown): v is SavedConnection {
  const c = v as SavedConnection;
  return (
    !!c &&
    typeof c === 'object' &&
    typeof c.host === 'string' &&
    typeof c.user === 'string' &&
    typeof c.fqdn === 'string' &&
    Number.isInteger(c.port) &&
    c.port >= 1 &&
    c.port <= 65535 &&
    ['none', 'password', 'key'].includes(c.method) &&
    typeof c.label === 'string' &&
    typeof c.lastUsedAt === 'number' &&
    (c.keyId === undefined || typeof c.keyId === 'string') &&
    c.id === connectionId(c)
  );
}

export interface Loaded<T> {
  value: T;
  dropped: number;
}

async function read(key: string): Promise<unknown> {
  const db = await openTailtabDb();
  try {
    return (await db.get('settings', key))?.value;
  } finally {
    db.close();
  }
}

async function write(key: string, value: unknown): Promise<void> {
  const db = await openTailtabDb();
  try {
    await db.put('settings', { key, value });
  } finally {
    db.close();
  }
}

export async function loadConnections(profileId: string): Promise<Loaded<SavedConnection[]>> {
  const raw = await read(connectionsKey(profileId));
  if (raw === undefined) return { value: [], dropped: 0 };
  if (!Array.isArray(raw)) return { value: [], dropped: 1 };
  const value = raw
    .filter(isSaved)
    .sort((a, b) => b.lastUsedAt - a.lastUsedAt)
    .slice(0, MAX_SAVED);
  return { value, dropped: raw.length - raw.filter(isSaved).length };
}

/** Adds or refreshes one connection (most recent first, at most MAX_SAVED); returns the new list. */
export async function rememberConnection(profileId: string, c: SavedConnection): Promise<SavedConnection[]> {
  const { value } = await loadConnections(profileId);
  const list = [c, ...value.filter((x) => x.id !== c.id)].slice(0, MAX_SAVED);
  await write(connectionsKey(profileId), list);
  return list;
}

export async function forgetConnection(profileId: string, id: string): Promise<SavedConnection[]> {
  const { value } = await loadConnections(profileId);
  const list = value.filter((x) => x.id !== id);
  await write(connectionsKey(profileId), list);
  return list;
}

export async function loadLastVisit(profileId: string): Promise<VisitTerminal[]> {
  const raw = await read(visitKey(profileId));
  return Array.isArray(raw)
    ? raw
        .filter((t): t is VisitTerminal => !!t && typeof t.title === 'string' && typeof t.connectionId === 'string')
        .slice(0, MAX_SAVED)
    : [];
}

/**
 * The visit to remember: this window's terminals, and the shells other windows of the profile still
 * show from the same Worker (`windows > 0`), so that closing a view of a shared shell in one tab
 * does not forget the shell another tab still runs. Per connection, the larger count of the two.
 */
export function visitWithOthers(
  mine: VisitTerminal[],
  running: Pick<SshSessionListing, 'host' | 'port' | 'username' | 'method' | 'windows'>[],
  titleOf: (l: Pick<SshSessionListing, 'host' | 'username'>) => string,
): VisitTerminal[] {
  const out = [...mine];
  const count = new Map<string, number>();
  for (const t of mine) count.set(t.connectionId, (count.get(t.connectionId) ?? 0) + 1);
  for (const l of running) {
    if (l.windows <= 0) continue;
    const id = connectionId({ host: l.host, user: l.username, port: l.port, method: l.method });
    const n = count.get(id) ?? 0;
    // One of mine may be this very shell: only shells beyond this window's own count are added.
    if (n > 0) count.set(id, n - 1);
    else out.push({ title: titleOf(l), connectionId: id });
  }
  return out;
}

export async function saveLastVisit(profileId: string, terminals: VisitTerminal[]): Promise<void> {
  await write(visitKey(profileId), terminals.slice(0, MAX_SAVED));
}

export async function loadReopenSetting(): Promise<boolean> {
  return (await read(REOPEN_SETTING).catch(() => false)) === true;
}

export async function saveReopenSetting(on: boolean): Promise<void> {
  await write(REOPEN_SETTING, on);
}
