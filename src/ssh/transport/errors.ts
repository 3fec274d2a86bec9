// The errors of an SSH connection, and how a failure or a server's text becomes words for the
// person (RFC 4251 §9.2: server text is stripped of control characters).
import { SshDecodeError } from '../wire.js';
import { SshProtocolError } from './packet.js';

export class SshError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshError';
  }
}

export class HostKeyRefused extends SshError {
  constructor(message: string) {
    super(message);
    this.name = 'HostKeyRefused';
  }
}

export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function describe(e: unknown): string {
  if (e instanceof SshProtocolError) return `SSH protocol error: ${e.message}`;
  if (e instanceof SshDecodeError) return `SSH protocol error: malformed message (${e.message})`;
  return errText(e);
}

/** Server-provided text shown to a user: strip control characters (RFC 4251 §9.2). */
export function sanitize(text: string): string {
  return text.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '').slice(0, 1000);
}
