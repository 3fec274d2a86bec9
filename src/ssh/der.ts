// The DER subset that private key files use (ITU-T X.690 §8 and §10): definite lengths only,
// single-byte tags, INTEGER, OCTET STRING, BIT STRING, OBJECT IDENTIFIER, NULL, SEQUENCE and
// context-specific [n] wrappers. Strict: anything else, or a length past the end, is a DerError.

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
} as const;

export interface Tlv {
  tag: number;
  body: Uint8Array;
}

export class DerReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  peekTag(): number | undefined {
    return this.done ? undefined : this.buf[this.pos];
  }

  next(): Tlv {
    const b = this.buf;
    if (this.pos + 2 > b.length) throw new DerError('truncated');
    const tag = b[this.pos++];
    if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tag');
    let len = b[this.pos++];
    if (len & 0x80) {
      const n = len & 0x7f;
      // X.690 §10.1: definite form only; 4 length bytes is far beyond any key file.
      if (n === 0 || n > 4) throw new DerError('bad length');
      if (this.pos + n > b.length) throw new DerError('truncated');
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + b[this.pos++];
    }
    if (this.pos + len > b.length) throw new DerError('truncated');
    const body = b.subarray(this.pos, this.pos + len);
    this.pos += len;
    return { tag, body };
  }

  expect(tag: number, what: string): Uint8Array {
    const t = this.next();
    if (t.tag !== tag) throw new DerError(`expected ${what}`);
    return t.body;
  }

  sequence(what = 'SEQUENCE'): DerReader {
    return new DerReader(this.expect(TAG.SEQUENCE, what));
  }

  /** A non-negative INTEGER (key material never is negative). */
  integer(what = 'INTEGER'): bigint {
    const body = this.expect(TAG.INTEGER, what);
    if (body.length === 0 || body[0] & 0x80) throw new DerError(`negative or empty ${what}`);
    let v = 0n;
    for (const x of body) v = (v << 8n) | BigInt(x);
    return v;
  }

  smallInteger(what = 'INTEGER'): number {
    const v = this.integer(what);
    if (v > 0xffffffffn) throw new DerError(`${what} too large`);
    return Number(v);
  }

  octets(what = 'OCTET STRING'): Uint8Array {
    return this.expect(TAG.OCTET_STRING, what);
  }

  bitString(what = 'BIT STRING'): Uint8Array {
    const body = this.expect(TAG.BIT_STRING, what);
    if (body.length === 0 || body[0] !== 0) throw new DerError(`${what} with unused bits`);
    return body.subarray(1);
  }

  oid(what = 'OBJECT IDENTIFIER'): string {
    return decodeOid(this.expect(TAG.OID, what));
  }

  /** Context-specific constructed [n] (EXPLICIT), if it is next. */
  optionalContext(n: number): DerReader | undefined {
    if (this.peekTag() !== (0xa0 | n)) return undefined;
    return new DerReader(this.next().body);
  }

  end(what: string): void {
    if (!this.done) throw new DerError(`trailing bytes after ${what}`);
  }
}

function decodeOid(b: Uint8Array): string {
  if (b.length === 0 || b.length > 64) throw new DerError('bad OBJECT IDENTIFIER');
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    v = v * 128 + (b[i] & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) throw new DerError('bad OBJECT IDENTIFIER');
    if (!(b[i] & 0x80)) {
      parts.push(v);
      v = 0;
    } else if (i === b.length - 1) throw new DerError('bad OBJECT IDENTIFIER');
  }
  const first = parts[0];
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...parts.slice(1)].join('.');
}
