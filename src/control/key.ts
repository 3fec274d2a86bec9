// The control server's Noise public key: GET <control>/key?v=<capver> returns
// tailcfg.OverTLSPublicKeyResponse {"legacyPublicKey":"mkey:…","publicKey":"mkey:<hex>"}
// (tailscale control/controlclient/direct.go loadServerPubKeys; headscale answers JSON for v >= 39).
// Headscale sends no Access-Control-Allow-Origin, so a page on another origin cannot read it.
import { keyFromText } from '../crypto/keys.js';
import type { OverTLSPublicKeyResponse } from './tailcfg.js';

export class ControlKeyError extends Error {
  constructor(
    message: string,
    readonly probablyCors = false,
  ) {
    super(message);
    this.name = 'ControlKeyError';
  }
}

export type FetchLike = (
  url: string,
  init?: { signal?: AbortSignal },
) => Promise<{ ok: boolean; status: number; text(): Promise<string> }>;

/** Parses the /key body; accepts a bare "mkey:…" too. */
export function parseControlKey(body: string): Uint8Array {
  let text = body.trim();
  if (text.startsWith('{')) {
    let v: OverTLSPublicKeyResponse;
    try {
      v = JSON.parse(text);
    } catch {
      throw new ControlKeyError('control /key answer is not valid JSON');
    }
    if (typeof v?.publicKey !== 'string') throw new ControlKeyError('control /key answer has no publicKey');
    text = v.publicKey;
  }
  try {
    return keyFromText('mkey', text);
  } catch {
    throw new ControlKeyError(`control /key answer is not an mkey: ${text.slice(0, 80)}`);
  }
}

function pageOrigin(): string | null {
  const loc = (globalThis as { location?: { origin?: string } }).location;
  return typeof loc?.origin === 'string' && loc.origin !== 'null' ? loc.origin : null;
}

export async function fetchControlKey(
  controlUrl: string,
  capVersion: number,
  fetchFn?: FetchLike,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const f = fetchFn ?? (globalThis.fetch as unknown as FetchLike | undefined);
  if (!f) throw new ControlKeyError('no fetch available to read the control key; pass controlKey in the configuration');
  const url = new URL(controlUrl);
  url.pathname = url.pathname.replace(/\/+$/, '') + '/key';
  url.search = `?v=${capVersion}`;
  let res: Awaited<ReturnType<FetchLike>>;
  try {
    res = await f(url.toString(), signal ? { signal } : undefined);
  } catch (e) {
    const origin = pageOrigin();
    if (e instanceof TypeError && origin && origin !== url.origin) {
      throw new ControlKeyError(
        `The browser blocked reading ${url.origin}/key from this page (${origin}): the control server sends no CORS ` +
          `header. Serve tailtab from the same origin as the control server (e.g. behind the same reverse proxy), ` +
          `or give the control key in the configuration (controlKey: "mkey:…", shown by ` +
          `\`curl '${url.origin}/key?v=${capVersion}'\`).`,
        true,
      );
    }
    throw new ControlKeyError(
      `cannot reach the control server at ${url.origin}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (!res.ok) throw new ControlKeyError(`control server answered ${res.status} for /key`);
  return parseControlKey(await res.text());
}
