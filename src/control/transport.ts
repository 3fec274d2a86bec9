// The browser control transport: WebSocket to /ts2021 with the Noise initiation in the
// X-Tailscale-Handshake query parameter and subprotocol "tailscale-control-protocol"
// (tailscale control/controlhttp/client_js.go; server: controlhttpserver.AcceptHTTP). After the
// upgrade the socket is a byte stream: message boundaries mean nothing.
import { toBase64 } from '../crypto/bytes.js';
import type { RandomSource } from '../crypto/random.js';
import type { Clock } from '../platform/clock.js';
import { withDeadline } from '../platform/deadline.js';
import type { StaticX25519Key } from '../crypto/static-key.js';
import { clientHandshake, initiateHandshake, type ControlNoiseConn } from '../noise/controlbase.js';
import type { ByteDuplex } from '../platform/duplex.js';
import type { WebSocketFactory, WebSocketLike } from '../platform/websocket.js';

export const CONTROL_SUBPROTOCOL = 'tailscale-control-protocol';
export const HANDSHAKE_PARAM = 'X-Tailscale-Handshake';

export class ControlTransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlTransportError';
  }
}

/** ws(s)://host/ts2021?X-Tailscale-Handshake=<base64 std, URL-encoded>. */
export function controlWebSocketUrl(controlUrl: string, initiation: Uint8Array): string {
  const u = new URL(controlUrl);
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new ControlTransportError(`control URL must be http(s): ${controlUrl}`);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = u.pathname.replace(/\/+$/, '') + '/ts2021';
  u.search = `?${HANDSHAKE_PARAM}=${encodeURIComponent(toBase64(initiation))}`;
  return u.toString();
}

export function fmtSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/** Opens a WebSocket and exposes it as a byte duplex; rejects if it fails to open. */
export function openWebSocketDuplex(
  factory: WebSocketFactory,
  url: string,
  protocols: string[],
  clock?: Clock,
  openTimeoutMs = 15_000,
): Promise<ByteDuplex & { close(): void }> {
  return new Promise((resolve, reject) => {
    let ws: WebSocketLike;
    try {
      ws = factory(url, protocols);
    } catch (e) {
      reject(new ControlTransportError(`cannot open control WebSocket: ${String(e)}`));
      return;
    }
    ws.binaryType = 'arraybuffer';
    let opened = false;
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    let ended = false;
    const timer = clock?.setTimeout(() => {
      if (!opened) {
        ws.close();
        reject(
          new ControlTransportError(
            `the control WebSocket to ${url.split('?')[0]} did not open within ${fmtSeconds(openTimeoutMs)} (stage: WebSocket upgrade)`,
          ),
        );
      }
    }, openTimeoutMs);
    const readable = new ReadableStream<Uint8Array>({
      start(c) {
        ctrl = c;
      },
      cancel() {
        ended = true;
        ws.close();
      },
    });
    const writable = new WritableStream<Uint8Array>({
      write(chunk) {
        if (ended) throw new ControlTransportError('control WebSocket is closed');
        ws.send(chunk);
      },
      close() {
        ended = true;
        ws.close(1000);
      },
      abort() {
        ended = true;
        ws.close();
      },
    });
    ws.onopen = () => {
      opened = true;
      if (timer) clock?.clearTimeout(timer);
      resolve({
        readable,
        writable,
        close: () => {
          ended = true;
          ws.close();
        },
      });
    };
    ws.onmessage = (ev) => {
      const b = toBytes(ev.data);
      if (b && !ended) ctrl.enqueue(b.slice());
    };
    ws.onerror = () => {
      if (!opened) reject(new ControlTransportError(`control WebSocket to ${url.split('?')[0]} failed to open`));
    };
    ws.onclose = (ev) => {
      if (timer) clock?.clearTimeout(timer);
      if (!opened) {
        reject(new ControlTransportError(`control WebSocket closed before opening (code ${ev?.code ?? '?'})`));
        return;
      }
      if (!ended) {
        ended = true;
        try {
          ctrl.close();
        } catch {
          /* already errored */
        }
      }
    };
  });
}

export interface DialControlOptions {
  controlUrl: string;
  controlPublicKey: Uint8Array;
  /** Raw bytes or a key object (a non-extractable WebCrypto key, crypto/static-key.ts). */
  machineKey: Uint8Array | StaticX25519Key;
  protocolVersion: number;
  webSocketFactory: WebSocketFactory;
  random: RandomSource;
  clock?: Clock;
  /** The WebSocket must open within this (ms; default 15 s). */
  openTimeoutMs?: number;
  /** The server's Noise response must come within this after the WebSocket opened (ms; default 15 s; needs clock). */
  handshakeTimeoutMs?: number;
}

/** WebSocket + Noise: returns the decrypted byte stream ready for HTTP/2. */
export async function dialControl(o: DialControlOptions): Promise<ControlNoiseConn & { close(): void }> {
  const init = await initiateHandshake({
    protocolVersion: o.protocolVersion,
    machineKey: o.machineKey,
    controlPublicKey: o.controlPublicKey,
    random: o.random,
  });
  const ws = await openWebSocketDuplex(
    o.webSocketFactory,
    controlWebSocketUrl(o.controlUrl, init.message),
    [CONTROL_SUBPROTOCOL],
    o.clock,
    o.openTimeoutMs,
  );
  try {
    const hsMs = o.handshakeTimeoutMs ?? 15_000;
    let answered = false;
    const handshake = clientHandshake(ws, {
      ...o,
      init,
      sendInitiation: false,
      onResponse: () => {
        answered = true;
      },
    });
    const conn = o.clock
      ? await withDeadline(
          handshake,
          hsMs,
          o.clock,
          () =>
            new ControlTransportError(
              answered
                ? `the control server answered the Noise handshake on /ts2021 but sent nothing after it (no HTTP/2 settings) within ${fmtSeconds(hsMs)} (stage: Noise handshake)`
                : `the control server opened the WebSocket on /ts2021 but sent no Noise handshake response within ${fmtSeconds(hsMs)} (stage: Noise handshake)`,
            ),
          () => ws.close(),
        )
      : await handshake;
    return Object.assign(conn, { close: () => ws.close() });
  } catch (e) {
    ws.close();
    throw e;
  }
}
