// SSH data type representations (RFC 4251 §5): byte, boolean, uint32, uint64, string, mpint,
// name-list. Encoders build payloads; the Reader decodes with strict bounds checks and throws
// SshDecodeError on anything malformed, which the transport turns into a clean disconnect.

export class SshDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshDecodeError';
  }
}

/** Grows as needed; one allocation per payload in the common case. */
export class Writer {
  private buf: Uint8Array;
  private len = 0;
  constructor(initial = 256) {
    this.buf = new Uint8Array(initial);
  }
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  byte(v: number): this {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }
  bool(v: boolean): this {
    return this.byte(v ? 1 : 0);
  }
  uint32(v: number): this {
    this.ensure(4);
    const b = this.buf;
    const o = this.len;
    b[o] = (v >>> 24) & 0xff;
    b[o + 1] = (v >>> 16) & 0xff;
    b[o + 2] = (v >>> 8) & 0xff;
    b[o + 3] = v & 0xff;
    this.len += 4;
    return this;
  }
  raw(bytes: Uint8Array): this {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
    return this;
  }
  /** string: uint32 length + bytes (text is UTF-8). */
  string(v: Uint8Array | string): this {
    const bytes = typeof v === 'string' ? new TextEncoder().encode(v) : v;
    this.uint32(bytes.length);
    return this.raw(bytes);
  }
  nameList(names: readonly string[]): this {
    return this.string(names.join(','));
  }
  /** mpint of a non-negative big-endian magnitude (leading zeros stripped, 0x00 added if the top bit is set). */
  mpintBytes(magnitude: Uint8Array): this {
    let i = 0;
    while (i < magnitude.length && magnitude[i] === 0) i++;
    const m = magnitude.subarray(i);
    if (m.length === 0) return this.uint32(0);
    if (m[0] & 0x80) {
      this.uint32(m.length + 1);
      this.byte(0);
      return this.raw(m);
    }
    return this.string(m);
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export class Reader {
  private off = 0;
  constructor(private readonly buf: Uint8Array) {}
  get remaining(): number {
    return this.buf.length - this.off;
  }
  private need(n: number, what: string): void {
    if (n < 0 || this.off + n > this.buf.length) throw new SshDecodeError(`truncated ${what}`);
  }
  byte(): number {
    this.need(1, 'byte');
    return this.buf[this.off++];
  }
  bool(): boolean {
    return this.byte() !== 0;
  }
  uint32(): number {
    this.need(4, 'uint32');
    const b = this.buf;
    const o = this.off;
    this.off += 4;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }
  raw(n: number): Uint8Array {
    this.need(n, 'bytes');
    const out = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }
  string(): Uint8Array {
    const n = this.uint32();
    this.need(n, 'string');
    return this.raw(n);
  }
  text(): string {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.string());
    } catch (e) {
      if (e instanceof SshDecodeError) throw e;
      throw new SshDecodeError('string is not valid UTF-8');
    }
  }
  nameList(): string[] {
    const s = this.text();
    if (s === '') return [];
    const names = s.split(',');
    for (const n of names) {
      if (n === '' || n.length > 64 || /[\s\x00-\x1f\x7f]/.test(n)) throw new SshDecodeError('malformed name-list');
    }
    return names;
  }
  /** mpint as a non-negative bigint; negative values are refused (none are legal where we read them). */
  mpint(): bigint {
    const b = this.string();
    if (b.length === 0) return 0n;
    if (b[0] & 0x80) throw new SshDecodeError('negative mpint');
    return bytesToBigint(b);
  }
  rest(): Uint8Array {
    const out = this.buf.subarray(this.off);
    this.off = this.buf.length;
    return out;
  }
  /** Messages must not carry trailing garbage we silently ignore (it hides framing bugs). */
  end(what: string): void {
    if (this.off !== this.buf.length) throw new SshDecodeError(`${what}: ${this.remaining} unexpected trailing bytes`);
  }
}

export function bytesToBigint(b: Uint8Array): bigint {
  let hex = '';
  for (let i = 0; i < b.length; i++) hex += b[i].toString(16).padStart(2, '0');
  return hex === '' ? 0n : BigInt('0x' + hex);
}

export function bigintToBytes(v: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = v;
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  if (x !== 0n) throw new Error('bigint does not fit');
  return out;
}

/** base^exp mod mod, by square-and-multiply (RSA and finite-field Diffie-Hellman). */
export function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}
