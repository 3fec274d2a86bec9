// HTTP/1.1 response parser (RFC 9112) as an explicit, push-driven state machine:
//
//   StatusLine → Headers ─┬─ (1xx) ────────────────────────────→ StatusLine
//                         ├─ no body (HEAD, 204, 304) ──────────→ Done
//                         ├─ Content-Length ─→ BodyLength ──────→ Done
//                         ├─ chunked ─→ ChunkSize ⇄ ChunkData → ChunkDataEnd … ChunkSize(0) → Trailers → Done
//                         └─ neither ─→ BodyUntilClose ──(EOF)─→ Done
//
// `push(bytes)` returns the events those bytes complete; `finish()` is the connection's EOF.
// Both throw only HttpError (code 'protocol', 'closed' or 'unsupported'); after one, the parser
// is Failed and stays so. Every buffered element is bounded, so no input makes it grow or wait
// without end: a line longer than its limit is an error, not more buffering.
import { HttpError } from './errors.js';
import { isToken, latin1Decode, listValues, HttpHeaders, type HeaderList } from './wire.js';

export interface ResponseHead {
  version: '1.0' | '1.1';
  status: number;
  statusText: string;
  headers: HeaderList;
}

export type Framing = 'none' | 'length' | 'chunked' | 'close';

export type ParserEvent =
  | { kind: 'informational'; head: ResponseHead }
  | { kind: 'head'; head: ResponseHead; framing: Framing; contentLength: number | null; keepAlive: boolean }
  | { kind: 'data'; data: Uint8Array }
  | { kind: 'trailers'; headers: HeaderList }
  | { kind: 'end' };

export enum State {
  StatusLine,
  Headers,
  BodyLength,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  BodyUntilClose,
  Done,
  Failed,
}

export interface ParserOptions {
  /** The request method: a response to HEAD has no body (RFC 9112 §6.3 rule 1). */
  method: string;
  /** Limit of the status line plus header section (default 64 KiB). */
  maxHeadBytes?: number;
  /** Limit of header fields in one head (default 256). */
  maxHeaders?: number;
  /** Informational (1xx) heads allowed before the final one (default 16). */
  maxInformational?: number;
}

const MAX_CHUNK_LINE = 4096;
const LF = 10;
const CR = 13;

export class ResponseParser {
  state: State = State.StatusLine;
  /** Bytes seen in total; 0 at EOF means the server closed without answering (retryable). */
  bytesSeen = 0;
  /** Bytes that arrived after the message ended (the connection must not be reused). */
  extraBytes = 0;
  private readonly method: string;
  private readonly maxHead: number;
  private readonly maxHeaders: number;
  private readonly maxInfo: number;
  private lineParts: Uint8Array[] = [];
  private lineLen = 0;
  private headBytes = 0;
  private infoCount = 0;
  private version: '1.0' | '1.1' = '1.1';
  private status = 0;
  private statusText = '';
  private headers: HeaderList = [];
  private remaining = 0; // body or chunk bytes still expected
  private bodyTotal: number | null = null;
  private bodyRead = 0;
  private failure: HttpError | null = null;

  constructor(o: ParserOptions) {
    this.method = o.method.toUpperCase();
    this.maxHead = o.maxHeadBytes ?? 64 * 1024;
    this.maxHeaders = o.maxHeaders ?? 256;
    this.maxInfo = o.maxInformational ?? 16;
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  push(chunk: Uint8Array): ParserEvent[] {
    if (this.failure) throw this.failure;
    try {
      return this.run(chunk);
    } catch (e) {
      this.state = State.Failed;
      this.failure = e instanceof HttpError ? e : new HttpError('protocol', `response parser: ${(e as Error).message}`);
      throw this.failure;
    }
  }

  /** The connection's EOF. */
  finish(): ParserEvent[] {
    if (this.failure) throw this.failure;
    const fail = (msg: string) => {
      this.state = State.Failed;
      this.failure = new HttpError('closed', msg);
      throw this.failure;
    };
    switch (this.state) {
      case State.Done:
        return [];
      case State.BodyUntilClose:
        this.state = State.Done;
        return [{ kind: 'end' }];
      case State.StatusLine:
        if (this.bytesSeen === 0) return fail('the server closed the connection without a response');
        return fail('the connection closed inside the response status line');
      case State.Headers:
        return fail('the connection closed inside the response headers');
      case State.BodyLength:
        return fail(`the connection closed after ${this.bodyRead} of ${this.bodyTotal} body bytes`);
      default:
        return fail(`the connection closed inside the chunked body after ${this.bodyRead} bytes`);
    }
  }

  private run(chunk: Uint8Array): ParserEvent[] {
    const out: ParserEvent[] = [];
    this.bytesSeen += chunk.length;
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case State.BodyLength: {
          const n = Math.min(this.remaining, chunk.length - i);
          out.push({ kind: 'data', data: chunk.subarray(i, i + n) });
          i += n;
          this.remaining -= n;
          this.bodyRead += n;
          if (this.remaining === 0) {
            this.state = State.Done;
            out.push({ kind: 'end' });
          }
          break;
        }
        case State.ChunkData: {
          const n = Math.min(this.remaining, chunk.length - i);
          out.push({ kind: 'data', data: chunk.subarray(i, i + n) });
          i += n;
          this.remaining -= n;
          this.bodyRead += n;
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          break;
        }
        case State.BodyUntilClose:
          out.push({ kind: 'data', data: chunk.subarray(i) });
          this.bodyRead += chunk.length - i;
          i = chunk.length;
          break;
        case State.Done:
          this.extraBytes += chunk.length - i;
          i = chunk.length;
          break;
        case State.Failed:
          throw this.failure ?? new HttpError('protocol', 'parser failed');
        default: {
          // A line-oriented state: collect up to LF, within this state's limit.
          const limit = this.lineLimit();
          let j = chunk.indexOf(LF, i);
          if (j < 0) j = chunk.length;
          const take = j - i;
          if (this.lineLen + take > limit) throw this.tooLong();
          if (take) {
            // Copied: the caller may reuse its buffer before the line is complete.
            this.lineParts.push(chunk.slice(i, j));
            this.lineLen += take;
          }
          if (this.state === State.StatusLine || this.state === State.Headers || this.state === State.Trailers)
            this.headBytes += take + (j < chunk.length ? 1 : 0);
          if (j === chunk.length) {
            i = j;
            break;
          }
          i = j + 1;
          let line: Uint8Array;
          if (this.lineParts.length === 1) line = this.lineParts[0];
          else {
            line = new Uint8Array(this.lineLen);
            let o = 0;
            for (const part of this.lineParts) {
              line.set(part, o);
              o += part.length;
            }
          }
          this.lineParts = [];
          this.lineLen = 0;
          // RFC 9112 §2.2: CRLF ends a line; a bare LF is accepted; a bare CR anywhere else is invalid.
          let end = line.length;
          if (end > 0 && line[end - 1] === CR) end--;
          const cr = line.indexOf(CR);
          if (cr >= 0 && cr < end) throw new HttpError('protocol', 'bare CR in the response head');
          this.onLine(line.subarray(0, end), out);
        }
      }
    }
    return out;
  }

  private lineLimit(): number {
    if (this.state === State.StatusLine || this.state === State.Headers || this.state === State.Trailers)
      return Math.max(0, this.maxHead - this.headBytes) + 2;
    return MAX_CHUNK_LINE;
  }

  private tooLong(): HttpError {
    if (this.state === State.ChunkSize || this.state === State.ChunkDataEnd)
      return new HttpError('protocol', `chunk-size line longer than ${MAX_CHUNK_LINE} bytes`);
    return new HttpError('protocol', `response head larger than ${this.maxHead} bytes`);
  }

  private onLine(b: Uint8Array, out: ParserEvent[]): void {
    switch (this.state) {
      case State.StatusLine:
        return this.onStatusLine(b);
      case State.Headers:
        if (b.length === 0) return this.onHeadEnd(out);
        return this.onFieldLine(b, this.headers);
      case State.ChunkSize:
        return this.onChunkSize(b, out);
      case State.ChunkDataEnd:
        if (b.length !== 0) throw new HttpError('protocol', 'chunk data longer than its chunk-size');
        this.state = State.ChunkSize;
        return;
      case State.Trailers:
        if (b.length === 0) {
          this.state = State.Done;
          if (this.headers.length) out.push({ kind: 'trailers', headers: this.headers });
          out.push({ kind: 'end' });
          return;
        }
        return this.onFieldLine(b, this.headers);
    }
  }

  // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ]
  private onStatusLine(b: Uint8Array): void {
    const s = latin1Decode(b);
    // Tolerate a missing SP after the code (a few servers send "HTTP/1.1 200"), nothing else.
    const m = /^HTTP\/1\.([01]) ([1-5][0-9]{2})(?: ([\t\x20-\x7e\x80-\xff]*))?$/.exec(s);
    if (!m) {
      const shown = s.length > 60 ? s.slice(0, 60) + '…' : s;
      throw new HttpError('protocol', `not an HTTP/1.x status line: ${JSON.stringify(shown)}`);
    }
    this.version = m[1] === '0' ? '1.0' : '1.1';
    this.status = Number(m[2]);
    this.statusText = m[3] ?? '';
    this.headers = [];
    this.state = State.Headers;
  }

  // RFC 9112 §5: field-line = field-name ":" OWS field-value OWS; obs-fold (§5.2) becomes SP.
  private onFieldLine(b: Uint8Array, list: HeaderList): void {
    if (b[0] === 0x20 || b[0] === 0x09) {
      if (list.length === 0) throw new HttpError('protocol', 'whitespace before the first header field');
      const cont = latin1Decode(b).trim();
      this.checkValue(cont);
      list[list.length - 1][1] = (list[list.length - 1][1] + ' ' + cont).trim();
      return;
    }
    const s = latin1Decode(b);
    const colon = s.indexOf(':');
    if (colon <= 0) throw new HttpError('protocol', `malformed header line ${JSON.stringify(s.slice(0, 40))}`);
    const name = s.slice(0, colon);
    // RFC 9112 §5.1: no whitespace between field name and colon.
    if (!isToken(name)) throw new HttpError('protocol', `invalid header name ${JSON.stringify(name.slice(0, 40))}`);
    const value = s.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    this.checkValue(value);
    if (list.length >= this.maxHeaders) throw new HttpError('protocol', `more than ${this.maxHeaders} header fields`);
    list.push([name, value]);
  }

  private checkValue(v: string): void {
    // RFC 9110 §5.5: CR, LF and NUL are invalid in a field value; we reject other controls too.
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f)
        throw new HttpError('protocol', 'control character in a header value');
    }
  }

  // RFC 9112 §6.3: message body length.
  private onHeadEnd(out: ParserEvent[]): void {
    const head: ResponseHead = {
      version: this.version,
      status: this.status,
      statusText: this.statusText,
      headers: this.headers,
    };
    const h = new HttpHeaders(this.headers);
    if (this.status < 200) {
      if (this.status === 101)
        throw new HttpError('unsupported', 'the server switched protocols (101), which this client never asks for');
      if (++this.infoCount > this.maxInfo)
        throw new HttpError('protocol', `more than ${this.maxInfo} informational responses`);
      out.push({ kind: 'informational', head });
      this.state = State.StatusLine;
      this.headBytes = 0;
      return;
    }
    const conn = listValues(h.get('connection'));
    let keepAlive = this.version === '1.1' ? !conn.includes('close') : conn.includes('keep-alive');
    const te = h.has('transfer-encoding') ? listValues(h.get('transfer-encoding')) : null;
    const clValues = h.getAll('content-length');
    let contentLength: number | null = null;
    if (clValues.length) {
      // §6.3 rule 5: a list of identical decimal values is one value; anything else is invalid.
      const parts = clValues
        .join(',')
        .split(',')
        .map((x) => x.trim());
      if (!parts.every((p) => /^[0-9]{1,15}$/.test(p)) || new Set(parts).size !== 1) {
        throw new HttpError('protocol', `invalid Content-Length ${JSON.stringify(clValues.join(', ').slice(0, 40))}`);
      }
      contentLength = Number(parts[0]);
    }
    const noBody = this.method === 'HEAD' || this.status === 204 || this.status === 304;
    let framing: Framing;
    if (noBody) {
      framing = 'none';
    } else if (te) {
      // §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
      if (this.version === '1.0') throw new HttpError('protocol', 'Transfer-Encoding in an HTTP/1.0 response');
      if (te.length !== 1 || te[0] !== 'chunked')
        throw new HttpError(
          'unsupported',
          `transfer coding ${JSON.stringify(te.join(', '))} (only chunked is supported)`,
        );
      framing = 'chunked';
      // §6.3 rule 3: TE overrides CL, but the pair hints at smuggling: do not reuse the connection.
      if (contentLength !== null) keepAlive = false;
      contentLength = null;
    } else if (contentLength !== null) {
      framing = 'length';
    } else {
      framing = 'close';
      keepAlive = false;
    }
    out.push({ kind: 'head', head, framing, contentLength: framing === 'length' ? contentLength : null, keepAlive });
    this.headers = [];
    this.bodyRead = 0;
    this.bodyTotal = contentLength;
    if (framing === 'none' || (framing === 'length' && contentLength === 0)) {
      this.state = State.Done;
      out.push({ kind: 'end' });
    } else if (framing === 'length') {
      this.remaining = contentLength!;
      this.state = State.BodyLength;
    } else if (framing === 'chunked') {
      this.state = State.ChunkSize;
    } else {
      this.state = State.BodyUntilClose;
    }
  }

  // RFC 9112 §7.1: chunk-size [ chunk-ext ] CRLF; chunk-ext is ignored.
  private onChunkSize(b: Uint8Array, _out: ParserEvent[]): void {
    const s = latin1Decode(b);
    const m = /^([0-9A-Fa-f]+)[ \t]*(;.*)?$/.exec(s);
    if (!m) throw new HttpError('protocol', `invalid chunk-size line ${JSON.stringify(s.slice(0, 40))}`);
    const hex = m[1].replace(/^0+(?=.)/, '');
    if (hex.length > 12) throw new HttpError('protocol', 'chunk size too large');
    const size = parseInt(hex, 16);
    if (size === 0) {
      this.state = State.Trailers;
      this.headers = [];
      this.headBytes = 0;
      return;
    }
    this.remaining = size;
    this.state = State.ChunkData;
  }
}
