// The request/response shapes, options and error of the HTTP/2 client (client.ts), and the per-stream
// state (RFC 9113 §5.1) its roles share.
import type { Clock } from '../../platform/clock.js';
import { ErrorCode } from './frames.js';

export interface Http2Response {
  status: number;
  headers: [string, string][];
  body: ReadableStream<Uint8Array>;
  text(): Promise<string>;
  bytes(): Promise<Uint8Array>;
}

export interface Http2Request {
  method: string;
  path: string;
  authority?: string;
  scheme?: string;
  headers?: [string, string][];
  body?: Uint8Array | ReadableStream<Uint8Array>;
}

export interface Http2ClientOptions {
  clock?: Clock;
  /** Our own ceiling on concurrently open streams (the peer's SETTINGS may lower it further). */
  maxConcurrentStreams?: number;
  onGoAway?: (lastStreamId: number, code: number, debug: string) => void;
  onClose?: (err?: Error) => void;
  /** Per-stream receive window we advertise (default 1 MiB). */
  streamWindow?: number;
  /** Connection receive window (default 16 MiB). */
  connectionWindow?: number;
}

/** A failure of one request; `code` is the RFC 9113 §7 error code. */
export class Http2Error extends Error {
  override name = 'Http2Error';
  constructor(
    message: string,
    readonly code: number,
    readonly retryable = false,
  ) {
    super(message);
  }
}

const ERROR_NAMES = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [v, k]));
export function errorCodeName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

export const MAX_HEADER_BLOCK = 1 << 20; // refuse header blocks (with CONTINUATIONs) above 1 MiB
export const decoder = new TextDecoder();

export type StreamPhase = 'open' | 'half-closed-local' | 'half-closed-remote' | 'closed';

export interface Stream {
  id: number;
  phase: StreamPhase;
  sendWindow: number;
  /** Bytes the peer may still send before we credit more. */
  recvWindow: number;
  /** Bytes read by the consumer but not yet credited back to the peer. */
  unacked: number;
  gotHeaders: boolean;
  resolve: (r: Http2Response) => void;
  reject: (e: Error) => void;
  queue: Uint8Array[];
  queuedBytes: number;
  ended: boolean;
  error?: Error;
  pullWaiter?: () => void;
  windowWaiters: (() => void)[];
  bodyCancelled: boolean;
}

export function wake(ws: (() => void)[]): void {
  const all = ws.splice(0);
  for (const w of all) w();
}

export function hexKey(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

export function asError(e: unknown, what: string): Error {
  return e instanceof Error ? e : new Error(`${what}: ${String(e)}`);
}
