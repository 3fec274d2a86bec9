// HPACK: Header Compression for HTTP/2 (RFC 7541).
// Static table (Appendix A), dynamic table (§4), integer (§5.1) and string (§5.2) coding,
// Huffman (§5.2, Appendix B) decode and encode. The decoder never throws: malformed input
// yields a HpackError value, which the connection turns into COMPRESSION_ERROR (RFC 9113 §4.3).

import { HUFFMAN_CODES, HUFFMAN_EOS, HUFFMAN_LENGTHS } from './huffman-table.js';

export type HeaderField = [name: string, value: string];

export class HpackError extends Error {
  override name = 'HpackError';
}

// RFC 7541 Appendix A.
export const STATIC_TABLE: readonly HeaderField[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

const utf8enc = new TextEncoder();
// HTTP field values are octets; latin1 keeps every byte round-trippable.
function bytesToString(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}
function stringToBytes(s: string): Uint8Array {
  let ascii = true;
  for (let i = 0; i < s.length; i++)
    if (s.charCodeAt(i) > 0xff) {
      ascii = false;
      break;
    }
  if (!ascii) return utf8enc.encode(s);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** §4.1: an entry's size is name + value octets + 32. */
export function entrySize(f: HeaderField): number {
  return stringToBytes(f[0]).length + stringToBytes(f[1]).length + 32;
}

/** §2.3.2 / §4: the dynamic table, newest entry first. */
export class DynamicTable {
  entries: HeaderField[] = [];
  size = 0;
  constructor(public maxSize = 4096) {}
  add(f: HeaderField): void {
    const s = entrySize(f);
    // §4.4: an entry larger than the table empties it and is not added.
    while (this.entries.length && this.size + s > this.maxSize) this.evictOne();
    if (s <= this.maxSize) {
      this.entries.unshift(f);
      this.size += s;
    }
  }
  setMaxSize(n: number): void {
    this.maxSize = n;
    while (this.size > this.maxSize) this.evictOne();
  }
  private evictOne(): void {
    const e = this.entries.pop();
    if (e) this.size -= entrySize(e);
  }
  /** §2.3.3 index space: 1..61 static, 62.. dynamic. */
  get(index: number): HeaderField | undefined {
    if (index <= 0) return undefined;
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1];
    return this.entries[index - STATIC_TABLE.length - 1];
  }
}

// ---- Huffman (§5.2, Appendix B) ----

// Decoding tree as flat arrays: node i has children left[i], right[i]; a leaf stores sym >= 0.
const hLeft: number[] = [0];
const hRight: number[] = [0];
const hSym: number[] = [-1];
for (let sym = 0; sym <= HUFFMAN_EOS; sym++) {
  const code = HUFFMAN_CODES[sym]!;
  const len = HUFFMAN_LENGTHS[sym]!;
  let node = 0;
  for (let b = len - 1; b >= 0; b--) {
    const bit = (code >>> b) & 1;
    const arr = bit ? hRight : hLeft;
    if (!arr[node]) {
      hLeft.push(0);
      hRight.push(0);
      hSym.push(-1);
      arr[node] = hLeft.length - 1;
    }
    node = arr[node]!;
  }
  hSym[node] = sym;
}

export function huffmanDecode(data: Uint8Array): Uint8Array | HpackError {
  const out: number[] = [];
  let node = 0;
  let depth = 0; // bits consumed since the last symbol
  let allOnes = true; // §5.2: padding must be the most significant bits of EOS (all ones)
  for (let i = 0; i < data.length; i++) {
    const byte = data[i]!;
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >> b) & 1;
      node = bit ? hRight[node]! : hLeft[node]!;
      if (!node) return new HpackError('huffman: invalid code');
      depth++;
      if (!bit) allOnes = false;
      const s = hSym[node]!;
      if (s >= 0) {
        if (s === HUFFMAN_EOS) return new HpackError('huffman: EOS in string');
        out.push(s);
        node = 0;
        depth = 0;
        allOnes = true;
      }
    }
  }
  if (depth > 7) return new HpackError('huffman: padding longer than 7 bits');
  if (!allOnes) return new HpackError('huffman: padding not EOS prefix');
  return Uint8Array.from(out);
}

export function huffmanEncodedLength(data: Uint8Array): number {
  let bits = 0;
  for (const c of data) bits += HUFFMAN_LENGTHS[c]!;
  return (bits + 7) >> 3;
}

export function huffmanEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(data));
  let acc = 0; // pending bits (< 8 kept between symbols)
  let nbits = 0;
  let o = 0;
  for (const c of data) {
    const code = HUFFMAN_CODES[c]!;
    let len = HUFFMAN_LENGTHS[c]!;
    // Feed in chunks of at most 16 bits to stay within 32-bit integer math.
    while (len > 0) {
      const take = Math.min(len, 16);
      const chunk = (code >>> (len - take)) & ((1 << take) - 1);
      acc = (acc << take) | chunk;
      nbits += take;
      len -= take;
      while (nbits >= 8) {
        out[o++] = (acc >>> (nbits - 8)) & 0xff;
        nbits -= 8;
      }
      acc &= (1 << nbits) - 1;
    }
  }
  if (nbits > 0) out[o++] = ((acc << (8 - nbits)) | ((1 << (8 - nbits)) - 1)) & 0xff;
  return out;
}

// ---- Integers (§5.1) and strings (§5.2) ----

export function encodeInteger(out: number[], value: number, prefixBits: number, firstByteFlags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(firstByteFlags | value);
    return;
  }
  out.push(firstByteFlags | max);
  value -= max;
  while (value >= 128) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

/** Returns [value, nextOffset] or an error. Values beyond 2^31 are refused (no sane header needs them). */
export function decodeInteger(buf: Uint8Array, off: number, prefixBits: number): [number, number] | HpackError {
  if (off >= buf.length) return new HpackError('integer: truncated');
  const max = (1 << prefixBits) - 1;
  let v = buf[off]! & max;
  off++;
  if (v < max) return [v, off];
  let m = 0;
  for (;;) {
    if (off >= buf.length) return new HpackError('integer: truncated');
    const b = buf[off++]!;
    v += (b & 0x7f) * 2 ** m;
    m += 7;
    if (v > 0x7fffffff) return new HpackError('integer: overflow');
    if (!(b & 0x80)) return [v, off];
  }
}

function encodeString(out: number[], s: string, huffman: boolean | 'auto'): void {
  const raw = stringToBytes(s);
  const hlen = huffmanEncodedLength(raw);
  const useH = huffman === 'auto' ? hlen < raw.length : huffman;
  if (useH) {
    encodeInteger(out, hlen, 7, 0x80);
    for (const b of huffmanEncode(raw)) out.push(b);
  } else {
    encodeInteger(out, raw.length, 7, 0);
    for (const b of raw) out.push(b);
  }
}

function decodeString(buf: Uint8Array, off: number, maxLen: number): [string, number] | HpackError {
  if (off >= buf.length) return new HpackError('string: truncated');
  const h = (buf[off]! & 0x80) !== 0;
  const r = decodeInteger(buf, off, 7);
  if (r instanceof HpackError) return r;
  const [len, p] = r;
  if (p + len > buf.length) return new HpackError('string: truncated');
  if (len > maxLen) return new HpackError('string: too long');
  const bytes = buf.subarray(p, p + len);
  if (h) {
    const d = huffmanDecode(bytes);
    if (d instanceof HpackError) return d;
    return [bytesToString(d), p + len];
  }
  return [bytesToString(bytes), p + len];
}

// ---- Encoder / decoder ----

export interface EncoderOptions {
  /** 'auto' picks Huffman when shorter (default). */
  huffman?: boolean | 'auto';
  /** Index new fields into the dynamic table (default true). */
  indexing?: boolean;
}

const SENSITIVE = new Set(['authorization', 'cookie', 'proxy-authorization', 'set-cookie']);

export class HpackEncoder {
  readonly table = new DynamicTable(4096);
  private pendingSizeUpdate: number | undefined;
  constructor(private opts: EncoderOptions = {}) {}

  /** The peer's SETTINGS_HEADER_TABLE_SIZE: we use at most min(4096, it) and announce it (§6.3). */
  setPeerMaxTableSize(n: number): void {
    const size = Math.min(n, 4096);
    if (size !== this.table.maxSize) {
      this.table.setMaxSize(size);
      this.pendingSizeUpdate = size;
    }
  }

  encode(fields: HeaderField[]): Uint8Array {
    const out: number[] = [];
    if (this.pendingSizeUpdate !== undefined) {
      encodeInteger(out, this.pendingSizeUpdate, 5, 0x20);
      this.pendingSizeUpdate = undefined;
    }
    const huff = this.opts.huffman ?? 'auto';
    for (const [name, value] of fields) {
      let nameIdx = 0;
      let fullIdx = 0;
      for (let i = 1; i <= STATIC_TABLE.length + this.table.entries.length; i++) {
        const e = this.table.get(i)!;
        if (e[0] !== name) continue;
        if (!nameIdx) nameIdx = i;
        if (e[1] === value) {
          fullIdx = i;
          break;
        }
      }
      if (fullIdx) {
        encodeInteger(out, fullIdx, 7, 0x80); // §6.1 indexed
        continue;
      }
      const sensitive = SENSITIVE.has(name);
      if (sensitive) {
        encodeInteger(out, nameIdx, 4, 0x10); // §6.2.3 never indexed
      } else if (this.opts.indexing === false) {
        encodeInteger(out, nameIdx, 4, 0x00); // §6.2.2 without indexing
      } else {
        encodeInteger(out, nameIdx, 6, 0x40); // §6.2.1 incremental indexing
        this.table.add([name, value]);
      }
      if (!nameIdx) encodeString(out, name, huff);
      encodeString(out, value, huff);
    }
    return Uint8Array.from(out);
  }
}

export class HpackDecoder {
  readonly table: DynamicTable;
  /** Our SETTINGS_HEADER_TABLE_SIZE: the ceiling for the encoder's size updates. */
  maxAllowedTableSize: number;
  constructor(
    maxTableSize = 4096,
    private maxHeaderListSize = 256 * 1024,
  ) {
    this.table = new DynamicTable(maxTableSize);
    this.maxAllowedTableSize = maxTableSize;
  }

  /** Decode one complete header block. Errors are returned, not thrown. */
  decode(block: Uint8Array): HeaderField[] | HpackError {
    const out: HeaderField[] = [];
    let off = 0;
    let listSize = 0;
    let sawField = false;
    while (off < block.length) {
      const b = block[off]!;
      let field: HeaderField;
      if (b & 0x80) {
        const r = decodeInteger(block, off, 7);
        if (r instanceof HpackError) return r;
        const e = this.table.get(r[0]);
        if (!e) return new HpackError(`index ${r[0]} out of range`);
        field = e;
        off = r[1];
      } else if ((b & 0xe0) === 0x20) {
        // §6.3 size update: only at the start of a block (§4.2).
        if (sawField) return new HpackError('table size update after field');
        const r = decodeInteger(block, off, 5);
        if (r instanceof HpackError) return r;
        if (r[0] > this.maxAllowedTableSize) return new HpackError('table size update too large');
        this.table.setMaxSize(r[0]);
        off = r[1];
        continue;
      } else {
        const incremental = (b & 0xc0) === 0x40;
        const prefix = incremental ? 6 : 4;
        const r = decodeInteger(block, off, prefix);
        if (r instanceof HpackError) return r;
        off = r[1];
        let name: string;
        if (r[0] === 0) {
          const s = decodeString(block, off, this.maxHeaderListSize);
          if (s instanceof HpackError) return s;
          [name, off] = s;
        } else {
          const e = this.table.get(r[0]);
          if (!e) return new HpackError(`index ${r[0]} out of range`);
          name = e[0];
        }
        const v = decodeString(block, off, this.maxHeaderListSize);
        if (v instanceof HpackError) return v;
        const value = v[0];
        off = v[1];
        field = [name, value];
        if (incremental) this.table.add(field);
      }
      sawField = true;
      listSize += field[0].length + field[1].length + 32;
      if (listSize > this.maxHeaderListSize) return new HpackError('header list too large');
      out.push([field[0], field[1]]);
    }
    return out;
  }
}
