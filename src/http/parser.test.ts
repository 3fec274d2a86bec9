import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { ResponseParser, type ParserEvent } from './parser.js';
import { HttpError } from './errors.js';
import { encodeRequestHead, encodeChunk, latin1Encode, latin1Decode } from './wire.js';

const enc = (s: string) => latin1Encode(s);

/** Feeds `bytes` split at `cuts`, then EOF; returns events or the HttpError. */
function parseAll(
  bytes: Uint8Array,
  cuts: number[] = [],
  method = 'GET',
  eof = true,
): { events: ParserEvent[]; body: string; error?: HttpError } {
  const p = new ResponseParser({ method });
  const events: ParserEvent[] = [];
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let prev = 0;
  try {
    for (const c of [...points, bytes.length]) {
      events.push(...p.push(bytes.subarray(prev, c)));
      prev = c;
    }
    if (eof) events.push(...p.finish());
  } catch (e) {
    if (!(e instanceof HttpError)) throw e;
    return { events, body: '', error: e };
  }
  const body = events
    .filter((e) => e.kind === 'data')
    .map((e) => latin1Decode((e as { data: Uint8Array }).data))
    .join('');
  return { events, body };
}

describe('HTTP/1.1 response parser (RFC 9112)', () => {
  it('reads a Content-Length response and stops at its end', () => {
    const r = parseAll(
      enc('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello'),
      [3, 20, 40],
    );
    expect(r.error).toBeUndefined();
    const head = r.events.find((e) => e.kind === 'head') as Extract<ParserEvent, { kind: 'head' }>;
    expect(head.head.status).toBe(200);
    expect(head.head.statusText).toBe('OK');
    expect(head.framing).toBe('length');
    expect(head.keepAlive).toBe(true);
    expect(r.body).toBe('hello');
    expect(r.events.at(-1)?.kind).toBe('end');
  });

  it('reads a chunked body with extensions and trailers, split anywhere', () => {
    const msg =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n';
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 8 }), (cuts) => {
        const r = parseAll(enc(msg), cuts);
        expect(r.error).toBeUndefined();
        expect(r.body).toBe('hello world');
        expect(r.events.some((e) => e.kind === 'trailers')).toBe(true);
      }),
      fuzz(100),
    );
  });

  it('skips 100 Continue and 103 Early Hints, refuses 101', () => {
    const r = parseAll(
      enc(
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n',
      ),
    );
    expect(r.events.filter((e) => e.kind === 'informational')).toHaveLength(2);
    expect((r.events.find((e) => e.kind === 'head') as { head: { status: number } }).head.status).toBe(204);
    expect(parseAll(enc('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n')).error?.code).toBe(
      'unsupported',
    );
  });

  it('has no body for HEAD, 204 and 304 even with Content-Length', () => {
    const r = parseAll(enc('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'), [], 'HEAD');
    expect(r.error).toBeUndefined();
    expect(r.body).toBe('');
    expect(parseAll(enc('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n')).error).toBeUndefined();
  });

  it('reads to EOF without framing, and then the connection is not reusable', () => {
    const r = parseAll(enc('HTTP/1.0 200 OK\r\n\r\nall of it'));
    expect(r.body).toBe('all of it');
    expect((r.events[0] as { keepAlive: boolean }).keepAlive).toBe(false);
  });

  it('folds obs-fold lines, keeps repeated Set-Cookie apart, trims OWS', () => {
    const r = parseAll(
      enc('HTTP/1.1 200 OK\r\nX-A:  one\r\n two \r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 0\r\n\r\n'),
    );
    const h = (r.events[0] as { head: { headers: [string, string][] } }).head.headers;
    expect(h).toEqual([
      ['X-A', 'one two'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
      ['Content-Length', '0'],
    ]);
  });

  it('accepts bare LF line ends and "HTTP/1.1 200" without a reason', () => {
    const r = parseAll(enc('HTTP/1.1 200\nContent-Length: 2\n\nok'));
    expect(r.body).toBe('ok');
  });

  it('Transfer-Encoding beats Content-Length but the connection is then not reused (smuggling guard)', () => {
    const r = parseAll(
      enc('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'),
    );
    expect(r.body).toBe('ok');
    expect((r.events[0] as { keepAlive: boolean }).keepAlive).toBe(false);
  });

  it('counts bytes after the end of the message', () => {
    const p = new ResponseParser({ method: 'GET' });
    p.push(enc('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxGARBAGE'));
    expect(p.extraBytes).toBe(7);
  });

  const bad: [string, string, string][] = [
    ['not HTTP', 'SSH-2.0-OpenSSH_9.2\r\n', 'protocol'],
    ['HTTP/2 status line', 'HTTP/2 200 OK\r\n\r\n', 'protocol'],
    ['status out of range', 'HTTP/1.1 999 Nope\r\n\r\n', 'protocol'],
    ['space before colon', 'HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx', 'protocol'],
    ['conflicting lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx', 'protocol'],
    ['negative length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'protocol'],
    ['bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'protocol'],
    [
      'chunk longer than its size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxx\r\n0\r\n\r\n',
      'protocol',
    ],
    ['gzip transfer coding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 'unsupported'],
    ['NUL in a value', 'HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n', 'protocol'],
    ['bare CR', 'HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n', 'protocol'],
    ['truncated body', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', 'closed'],
    ['truncated chunked body', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab', 'closed'],
    ['closed in the headers', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n', 'closed'],
    ['closed before anything', '', 'closed'],
  ];
  for (const [name, msg, code] of bad) {
    it(`refuses ${name} with a clear HttpError (${code})`, () => {
      const r = parseAll(enc(msg));
      expect(r.error).toBeInstanceOf(HttpError);
      expect(r.error!.code).toBe(code);
      expect(r.error!.message.length).toBeGreaterThan(10);
    });
  }

  it('bounds the head: an endless header section is an error, not more buffering', () => {
    const p = new ResponseParser({ method: 'GET', maxHeadBytes: 4096 });
    p.push(enc('HTTP/1.1 200 OK\r\n'));
    let err: unknown;
    try {
      for (let i = 0; i < 1000; i++) p.push(enc(`X-Filler-${i}: ${'v'.repeat(30)}\r\n`));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).message).toMatch(/larger than 4096/);
  });

  it('property: any byte string either parses or fails with HttpError; after EOF it is done or failed', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        fc.constantFrom('GET', 'HEAD'),
        (bytes, cuts, m) => {
          const r = parseAll(bytes, cuts, m); // throws (failing the property) on anything but HttpError
          if (!r.error) expect(r.events.at(-1)?.kind).toBe('end');
        },
      ),
      fuzz(2000),
    );
  });

  const valid = fc
    .tuple(
      fc.constantFrom('1.0', '1.1'),
      fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
      fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/), fc.stringMatching(/^[ -~]{0,30}$/)), {
        maxLength: 6,
      }),
      fc.uint8Array({ maxLength: 300 }),
      fc.boolean(),
    )
    .map(([v, status, hs, body, chunked]) => {
      const fields = hs
        .filter(([k]) => !/^(content-length|transfer-encoding|connection)$/i.test(k))
        .map(([k, val]) => `${k}: ${val.trim()}\r\n`)
        .join('');
      const useChunked = chunked && v === '1.1';
      const framing = useChunked ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${body.length}\r\n`;
      let b = body;
      if (useChunked) {
        const parts: Uint8Array[] = [];
        for (let i = 0; i < body.length; i += 77) parts.push(encodeChunk(body.subarray(i, i + 77)));
        parts.push(enc('0\r\n\r\n'));
        b = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of parts) (b.set(p, o), (o += p.length));
      }
      const head = enc(`HTTP/${v} ${status} X\r\n${fields}${framing}\r\n`);
      const msg = new Uint8Array(head.length + b.length);
      msg.set(head);
      msg.set(b, head.length);
      return { msg, body, status };
    });

  it('property: valid generated responses round-trip their status and body, however split', () => {
    fc.assert(
      fc.property(valid, fc.array(fc.nat(), { maxLength: 6 }), ({ msg, body, status }, cuts) => {
        const r = parseAll(msg, cuts);
        expect(r.error).toBeUndefined();
        expect((r.events.find((e) => e.kind === 'head') as { head: { status: number } }).head.status).toBe(status);
        expect(r.body).toBe(latin1Decode(body));
      }),
      fuzz(500),
    );
  });

  it('property: mutated valid responses parse or fail with HttpError, never anything else', () => {
    fc.assert(
      fc.property(
        valid,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'insert', 'delete')), {
          minLength: 1,
          maxLength: 6,
        }),
        ({ msg }, muts) => {
          const b = Array.from(msg);
          for (const [pos, val, op] of muts) {
            const i = pos % (b.length + 1);
            if (op === 'flip' && i < b.length) b[i] = val;
            else if (op === 'insert') b.splice(i, 0, val);
            else if (op === 'delete') b.splice(i, 1);
          }
          parseAll(Uint8Array.from(b), [], 'GET');
        },
      ),
      fuzz(2000),
    );
  });
});

describe('request head encoding', () => {
  it('writes the request line and fields', () => {
    const b = encodeRequestHead({
      method: 'POST',
      target: '/a?b=1',
      headers: [
        ['Host', 'h:8080'],
        ['Content-Length', '3'],
      ],
    });
    expect(latin1Decode(b)).toBe('POST /a?b=1 HTTP/1.1\r\nHost: h:8080\r\nContent-Length: 3\r\n\r\n');
  });
  it('refuses header injection and bad targets', () => {
    expect(() => encodeRequestHead({ method: 'GET', target: '/', headers: [['X', 'a\r\nInjected: 1']] })).toThrow(
      HttpError,
    );
    expect(() => encodeRequestHead({ method: 'GET', target: '/ HTTP/1.0\r\n', headers: [] })).toThrow(HttpError);
    expect(() => encodeRequestHead({ method: 'G T', target: '/', headers: [] })).toThrow(HttpError);
    expect(() => encodeRequestHead({ method: 'GET', target: '/', headers: [['Bad Name', 'x']] })).toThrow(HttpError);
  });
  it('property: whatever strings go in, the output is one well-formed head or an HttpError', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 4 }),
        (m, t, hs) => {
          let out: Uint8Array;
          try {
            out = encodeRequestHead({ method: m, target: t, headers: hs });
          } catch (e) {
            expect(e).toBeInstanceOf(HttpError);
            return;
          }
          const s = latin1Decode(out);
          // Exactly one blank line, at the end: no caller string split the message.
          expect(s.indexOf('\r\n\r\n')).toBe(s.length - 4);
          expect(s.split('\r\n').length).toBe(hs.length + 3);
        },
      ),
      fuzz(1000),
    );
  });
});
