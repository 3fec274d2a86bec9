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
