// The one error type of the HTTP client: every failure (dial, timeout, malformed response, body
// decoding, redirect refused) reaches the caller as an HttpError with a stable `code`.

export type HttpErrorCode =
  | 'bad-request' // the caller's request cannot be encoded (bad method, header, URL)
  | 'connect' // the dialer failed
  | 'timeout' // connect, response-head or body-idle timeout
  | 'protocol' // the server's bytes are not an HTTP/1.1 response (RFC 9112)
  | 'closed' // the connection ended before the message did
  | 'aborted' // the caller's AbortSignal fired or the body was cancelled
  | 'redirect' // a redirect the policy refused, or too many
  | 'decode' // gzip/deflate content coding was corrupt
  | 'unsupported'; // https, upgrades, transfer codings other than chunked

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly code: HttpErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Wrap anything thrown by lower layers (streams, dialers) into an HttpError, keeping HttpErrors. */
export function asHttpError(e: unknown, code: HttpErrorCode, context: string): HttpError {
  if (e instanceof HttpError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new HttpError(code, `${context}: ${msg}`, { cause: e });
}
