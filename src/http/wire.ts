// HTTP/1.1 message syntax (RFC 9112) as pure functions: the request head encoder, field-name and
// field-value validation (RFC 9110 §5.1, §5.5), and a small ordered header list that keeps
// repeated fields (Set-Cookie) apart, as the Fetch `Headers` class cannot.
import { HttpError } from './errors.js';

/** Ordered [name, value] pairs as received or to be sent; names keep their case. */
export type HeaderList = [string, string][];
export type HeadersInput = HeaderList | Record<string, string> | Iterable<[string, string]>;

// RFC 9110 §5.6.2 tchar.
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
export function isToken(s: string): boolean {
  return TCHAR.test(s);
}

/** RFC 9110 §5.5: a field value must not contain CR, LF or NUL (we also refuse other controls but HTAB). */
export function isFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return false;
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

export function toHeaderList(h: HeadersInput | undefined): HeaderList {
  if (!h) return [];
  if (Array.isArray(h)) return h.map(([k, v]) => [String(k), String(v)]);
  if (typeof (h as Iterable<[string, string]>)[Symbol.iterator] === 'function') {
    return [...(h as Iterable<[string, string]>)].map(([k, v]) => [String(k), String(v)]);
  }
  return Object.entries(h as Record<string, string>).map(([k, v]) => [k, String(v)]);
}

/** Case-insensitive access to a HeaderList. */
export class HttpHeaders {
  constructor(readonly list: HeaderList = []) {}
  /** All values of `name` joined with ", " (RFC 9110 §5.3), or null. */
  get(name: string): string | null {
    const n = name.toLowerCase();
    const vals = this.list.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
    return vals.length ? vals.join(', ') : null;
  }
  getAll(name: string): string[] {
    const n = name.toLowerCase();
    return this.list.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
  }
  has(name: string): boolean {
    const n = name.toLowerCase();
    return this.list.some(([k]) => k.toLowerCase() === n);
  }
  delete(name: string): void {
    const n = name.toLowerCase();
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i][0].toLowerCase() === n) this.list.splice(i, 1);
  }
  set(name: string, value: string): void {
    this.delete(name);
    this.list.push([name, value]);
  }
  append(name: string, value: string): void {
    this.list.push([name, value]);
  }
  entries(): HeaderList {
    return this.list.map(([k, v]) => [k, v]);
  }
}

/** Comma-separated list elements of a field value, lower-cased and trimmed (RFC 9110 §5.6.1). */
export function listValues(v: string | null): string[] {
  if (!v) return [];
  return v
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
}

export function latin1Encode(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function latin1Decode(b: Uint8Array, start = 0, end = b.length): string {
  let s = '';
  for (let i = start; i < end; i += 8192) s += String.fromCharCode(...b.subarray(i, Math.min(end, i + 8192)));
  return s;
}

export interface RequestHead {
  method: string;
  /** origin-form (RFC 9112 §3.2.1): "/path?query". */
  target: string;
  headers: HeaderList;
}

/**
 * Encodes "METHOD target HTTP/1.1\r\n" + fields + "\r\n" (RFC 9112 §3, §5). Refuses anything
 * that would let a caller's string split the message (request smuggling / header injection).
 */
export function encodeRequestHead(h: RequestHead): Uint8Array {
  if (!isToken(h.method)) throw new HttpError('bad-request', `invalid method ${JSON.stringify(h.method)}`);
  // origin-form or asterisk-form; no whitespace or controls anywhere in the target.
  if (!(h.target === '*' || h.target.startsWith('/')) || /[\x00-\x20\x7f-\uffff]/.test(h.target)) {
    throw new HttpError('bad-request', `invalid request target ${JSON.stringify(h.target)}`);
  }
  let s = `${h.method} ${h.target} HTTP/1.1\r\n`;
  for (const [k, v] of h.headers) {
    if (!isToken(k)) throw new HttpError('bad-request', `invalid header name ${JSON.stringify(k)}`);
    if (!isFieldValue(v)) throw new HttpError('bad-request', `invalid value for header ${k}`);
    s += `${k}: ${v.trim()}\r\n`;
  }
  s += '\r\n';
  return latin1Encode(s);
}

/** RFC 9112 §7.1: one chunk of a chunked body ("<hex>\r\n<data>\r\n"); an empty chunk is never produced here. */
export function encodeChunk(data: Uint8Array): Uint8Array {
  const head = latin1Encode(data.length.toString(16) + '\r\n');
  const out = new Uint8Array(head.length + data.length + 2);
  out.set(head, 0);
  out.set(data, head.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

/** RFC 9112 §7.1: last-chunk and the empty trailer section. */
export const LAST_CHUNK = latin1Encode('0\r\n\r\n');

/** "host[:port]" for the Host field (RFC 9110 §7.2); IPv6 literals in brackets; port 80 omitted. */
export function hostHeader(host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return port === 80 ? h : `${h}:${port}`;
}
