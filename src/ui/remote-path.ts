// Paths on the remote host as SFTP speaks them: POSIX, "/"-separated (draft-ietf-secsh-filexfer-02
// §6: the server resolves them; we only join and go up, and ask realpath for the canonical form).

/** `name` inside folder `dir` (a name is one path element: it came from READDIR or a picked file). */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** The folder above `dir` ("/" stays "/"). */
export function parentPath(dir: string): string {
  const trimmed = dir.replace(/\/+$/, '');
  const i = trimmed.lastIndexOf('/');
  return i <= 0 ? '/' : trimmed.slice(0, i);
}

/** "2026-12-04 17:30" in local time for an SFTP mtime (seconds since the epoch). */
export function formatMtime(sec: number | undefined): string {
  if (sec === undefined) return '–';
  const d = new Date(sec * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
