// Content codings (RFC 9110 §8.4.1): gzip and deflate through the platform's DecompressionStream
// (a global in browsers, Workers and Node ≥ 18). Backpressure is kept: pipeThrough pulls from the
// connection only as the consumer reads.
import { HttpError, asHttpError } from './errors.js';
import { listValues } from './wire.js';

const KNOWN = new Set(['gzip', 'x-gzip', 'deflate', 'identity']);

/** The codings to undo (outermost first), or null if one of them is not one we can decode. */
export function decodableCodings(contentEncoding: string | null): string[] | null {
  const list = listValues(contentEncoding);
  if (!list.every((c) => KNOWN.has(c))) return null;
  return list.filter((c) => c !== 'identity').reverse();
}

export function decodeBody(body: ReadableStream<Uint8Array>, codings: string[]): ReadableStream<Uint8Array> {
  let s = body;
  for (const c of codings)
    s =
      c === 'deflate'
        ? deflateAuto(s)
        : s.pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>);
  return mapErrors(s, 'decode', 'the response body is not valid ' + codings.join('+'));
}

/**
 * RFC 9110 §8.4.1.2 says "deflate" is the zlib format (RFC 1950), but some servers send raw
 * deflate (RFC 1951), as browsers tolerate. A zlib stream starts with CMF/FLG where CM = 8 and
 * (CMF·256 + FLG) is a multiple of 31; otherwise we decode it as raw.
 */
function deflateAuto(src: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const reader = src.getReader();
  let out: ReadableStreamDefaultReader<Uint8Array> | null = null;
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        if (!out) {
          const head: Uint8Array[] = [];
          let n = 0;
          let ended = false;
          while (n < 2) {
            const r = await reader.read();
            if (r.done) {
              ended = true;
              break;
            }
            head.push(r.value);
            n += r.value.length;
          }
          const first = new Uint8Array(n);
          let o = 0;
          for (const h of head) {
            first.set(h, o);
            o += h.length;
          }
          const zlib = n >= 2 && (first[0] & 0x0f) === 8 && ((first[0] << 8) | first[1]) % 31 === 0;
          let sentFirst = false;
          const joined = new ReadableStream<Uint8Array>(
            {
              async pull(c) {
                if (!sentFirst) {
                  sentFirst = true;
                  if (first.length) c.enqueue(first);
                  if (ended) c.close();
                  return;
                }
                const r = await reader.read();
                if (r.done) c.close();
                else c.enqueue(r.value);
              },
              cancel(reason) {
                return reader.cancel(reason);
              },
            },
            { highWaterMark: 0 },
          );
          out = joined
            .pipeThrough(
              new DecompressionStream(zlib ? 'deflate' : 'deflate-raw') as unknown as TransformStream<
                Uint8Array,
                Uint8Array
              >,
            )
            .getReader();
        }
        const r = await out.read();
        if (r.done) ctrl.close();
        else ctrl.enqueue(r.value);
      },
      cancel(reason) {
        return out ? out.cancel(reason) : reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** Re-raise a stream's errors as HttpError (keeping HttpErrors from the connection as they are). */
export function mapErrors(
  s: ReadableStream<Uint8Array>,
  code: 'decode' | 'closed',
  context: string,
): ReadableStream<Uint8Array> {
  const reader = s.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        try {
          const r = await reader.read();
          if (r.done) c.close();
          else c.enqueue(r.value);
        } catch (e) {
          c.error(e instanceof HttpError ? e : asHttpError(e, code, context));
        }
      },
      cancel(reason) {
        return reader.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}
