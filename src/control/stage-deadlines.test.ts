// Every stage of reaching control has a deadline, and a control server that stops answering at
// any of them ends login() in an error naming that stage, at that deadline (virtual time): the
// person sees what is stuck instead of "Connecting…" for good.
import { describe, expect, it } from 'vitest';
import { ControlClient, DEFAULT_CONTROL_TIMEOUTS } from './client.js';
import { MemoryStore } from './storage.js';
import type { FetchLike } from './key.js';
import { HEADER_LEN, RecordCipher, respondHandshake } from '../noise/controlbase.js';
import { fromBase64 } from '../crypto/bytes.js';
import { keyToText } from '../crypto/keys.js';
import { seededRandom } from '../crypto/random.js';
import { generateKeyPair } from '../crypto/x25519.js';
import { VirtualClock } from '../platform/clock.js';
import type { WebSocketLike } from '../platform/websocket.js';
import { runUntil } from '../platform/virtual-time.testkit.js';

const server = generateKeyPair(seededRandom(1));
const mkey = keyToText('mkey', server.publicKey);

/** A WebSocket to /ts2021 that opens or not, and answers Noise or not; then takes bytes and says nothing. */
class StuckSocket implements WebSocketLike {
  binaryType = 'blob';
  readyState = 0;
  bufferedAmount = 0;
  closed = false;
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onerror: WebSocketLike['onerror'] = null;
  onclose: WebSocketLike['onclose'] = null;
  constructor(url: string, how: 'never-open' | 'no-noise' | 'noise-then-silence') {
    if (how === 'never-open') return;
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.({});
      if (how === 'noise-then-silence') {
        const init = fromBase64(decodeURIComponent(new URL(url).searchParams.get('X-Tailscale-Handshake')!));
        const { response, keys } = respondHandshake({
          initiation: init,
          controlPrivateKey: server.privateKey,
          random: seededRandom(2),
        });
        this.onmessage?.({ data: response.slice().buffer });
        // An HTTP/2 server's first frame (an empty SETTINGS, RFC 9113 §3.4), then nothing more.
        const settings = new RecordCipher(keys.tx).seal(Uint8Array.of(0, 0, 0, 4, 0, 0, 0, 0, 0));
        expect(settings.length).toBeGreaterThan(HEADER_LEN);
        this.onmessage?.({ data: settings.slice().buffer });
      }
    });
  }
  send(): void {}
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.readyState = 3;
    queueMicrotask(() => this.onclose?.({ code: 1006 }));
  }
}

function setup(o: { how?: 'never-open' | 'no-noise' | 'noise-then-silence'; withKey?: boolean; fetch?: FetchLike }) {
  const clock = new VirtualClock();
  const sockets: StuckSocket[] = [];
  const c = new ControlClient({
    // Raw (noble) keys: WebCrypto's key generation runs on real time, which virtual time would
    // outrun; the subject here is the deadlines, not key custody (static-key.test.ts).
    controlUrl: 'http://control.localhost',
    store: new MemoryStore('raw'),
    clock,
    random: seededRandom(3),
    discoPublicKey: new Uint8Array(32).fill(7),
    controlKey: o.withKey === false ? undefined : mkey,
    fetch: o.fetch,
    webSocketFactory: (url) => {
      const s = new StuckSocket(url, o.how ?? 'never-open');
      sockets.push(s);
      return s;
    },
  });
  return { clock, c, sockets };
}

/** Runs login() on virtual time; returns its error and the virtual ms it took. */
async function loginError(clock: VirtualClock, c: ControlClient): Promise<{ message: string; ms: number }> {
  let err: Error | undefined;
  const t0 = clock.now();
  c.login({ hostname: 'me', authKey: 'k' }).then(
    () => {
      err = new Error('login succeeded');
    },
    (e: Error) => {
      err = e;
    },
  );
  await runUntil(clock, () => err !== undefined, 120_000, 100);
  return { message: err!.message, ms: clock.now() - t0 };
}

describe('control stage deadlines', () => {
  it('/key: a server that accepts and never answers → "/key fetch" at 15 s, and the fetch is aborted', async () => {
    let signal: AbortSignal | undefined;
    const fetch: FetchLike = (_u, init) => {
      signal = init?.signal;
      return new Promise(() => {});
    };
    const { clock, c } = setup({ withKey: false, fetch });
    const e = await loginError(clock, c);
    expect(e.message).toBe(
      'the control server at http://control.localhost did not answer GET /key within 15 s (stage: /key fetch)',
    );
    expect(e.ms).toBeGreaterThanOrEqual(DEFAULT_CONTROL_TIMEOUTS.keyMs);
    expect(e.ms).toBeLessThan(DEFAULT_CONTROL_TIMEOUTS.keyMs + 200);
    expect(signal?.aborted).toBe(true);
  });

  it('/ts2021: the WebSocket upgrade never completes → "WebSocket upgrade" at 15 s, socket closed', async () => {
    const { clock, c, sockets } = setup({ how: 'never-open' });
    const e = await loginError(clock, c);
    expect(e.message).toBe(
      'the control WebSocket to ws://control.localhost/ts2021 did not open within 15 s (stage: WebSocket upgrade)',
    );
    expect(e.ms).toBeLessThan(DEFAULT_CONTROL_TIMEOUTS.openMs + 200);
    expect(sockets.every((s) => s.closed)).toBe(true);
  });

  it('/ts2021: the WebSocket opens and Noise never answers → "Noise handshake" at 15 s, socket closed', async () => {
    const { clock, c, sockets } = setup({ how: 'no-noise' });
    const e = await loginError(clock, c);
    expect(e.message).toBe(
      'the control server opened the WebSocket on /ts2021 but sent no Noise handshake response within 15 s (stage: Noise handshake)',
    );
    expect(e.ms).toBeGreaterThanOrEqual(DEFAULT_CONTROL_TIMEOUTS.handshakeMs);
    expect(e.ms).toBeLessThan(DEFAULT_CONTROL_TIMEOUTS.handshakeMs + 200);
    expect(sockets.every((s) => s.closed)).toBe(true);
  });

  it('register: Noise done, then no HTTP/2 answer → "register" at 30 s, connection dropped', async () => {
    const { clock, c, sockets } = setup({ how: 'noise-then-silence' });
    const e = await loginError(clock, c);
    expect(e.message).toBe(
      'control accepted the connection but did not answer POST /machine/register within 30 s (stage: register)',
    );
    expect(e.ms).toBeGreaterThanOrEqual(DEFAULT_CONTROL_TIMEOUTS.registerMs);
    expect(e.ms).toBeLessThan(DEFAULT_CONTROL_TIMEOUTS.registerMs + 200);
    expect(sockets.every((s) => s.closed)).toBe(true);
    expect(c.state).toBe('idle');
  });
});
