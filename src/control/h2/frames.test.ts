// Frame codec round trips, fuzzing of the frame reader, and a client fed random and mutated
// frames by a scripted fake server: errors become GOAWAY/RST and a closed connection, never a throw.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../../platform/fuzz.testkit.js';
import {
  CONNECTION_PREFACE,
  ErrorCode,
  FrameError,
  FrameReader,
  FrameType,
  encodeFrame,
  encodeFrameRaw,
  type Frame,
} from './frames.js';
import { Http2Client } from './client.js';
import { HpackEncoder } from './hpack.js';
import { VirtualClock } from '../../platform/clock.js';
import { nextTurn, turnsUntil } from '../../platform/virtual-time.testkit.js';

function readAll(b: Uint8Array, max = 1 << 24): (Frame | FrameError)[] {
  const r = new FrameReader(max);
  r.push(b);
  const out: (Frame | FrameError)[] = [];
  for (;;) {
    const f = r.next();
    if (!f) return out;
    out.push(f);
    if (f instanceof FrameError) return out;
  }
}

describe('frames', () => {
  it('round-trips every frame type', () => {
    const frames: Exclude<Frame, { type: 'unknown' }>[] = [
      { type: FrameType.DATA, streamId: 1, endStream: true, data: Uint8Array.of(1, 2, 3), flowLength: 3 },
      {
        type: FrameType.HEADERS,
        streamId: 3,
        endStream: false,
        endHeaders: true,
        block: Uint8Array.of(0x82),
        priority: { exclusive: true, dependency: 1, weight: 16 },
      },
      { type: FrameType.PRIORITY, streamId: 5, exclusive: false, dependency: 3, weight: 256 },
      { type: FrameType.RST_STREAM, streamId: 7, code: ErrorCode.CANCEL },
      {
        type: FrameType.SETTINGS,
        ack: false,
        settings: [
          [1, 4096],
          [4, 65535],
          [5, 16384],
        ],
      },
      { type: FrameType.PUSH_PROMISE, streamId: 1, promisedId: 2, endHeaders: true, block: Uint8Array.of(0x82) },
      { type: FrameType.PING, ack: true, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) },
      { type: FrameType.GOAWAY, lastStreamId: 9, code: ErrorCode.ENHANCE_YOUR_CALM, debug: Uint8Array.of(0x61) },
      { type: FrameType.WINDOW_UPDATE, streamId: 0, increment: 0x7fffffff },
      { type: FrameType.CONTINUATION, streamId: 1, endHeaders: false, block: Uint8Array.of(0x84) },
    ];
    for (const f of frames) expect(readAll(encodeFrame(f))).toEqual([f]);
  });

  it('strips padding and refuses bad padding', () => {
    const padded = encodeFrameRaw(FrameType.DATA, 0x8 | 0x1, 1, Uint8Array.of(2, 0x41, 0x42, 0, 0));
    expect(readAll(padded)[0]).toMatchObject({
      type: FrameType.DATA,
      data: Uint8Array.of(0x41, 0x42),
      flowLength: 5,
      endStream: true,
    });
    expect(readAll(encodeFrameRaw(FrameType.DATA, 0x8, 1, Uint8Array.of(5, 0)))[0]).toBeInstanceOf(FrameError);
  });

  it('enforces limits: frame size, zero window increment, SETTINGS values', () => {
    expect(readAll(encodeFrameRaw(FrameType.DATA, 0, 1, new Uint8Array(16385)), 16384)[0]).toMatchObject({
      code: ErrorCode.FRAME_SIZE_ERROR,
    });
    expect(readAll(encodeFrameRaw(FrameType.WINDOW_UPDATE, 0, 3, new Uint8Array(4)))[0]).toMatchObject({
      code: ErrorCode.PROTOCOL_ERROR,
      streamId: 3,
    });
    expect(readAll(encodeFrame({ type: FrameType.SETTINGS, ack: false, settings: [[5, 100]] }))[0]).toMatchObject({
      code: ErrorCode.PROTOCOL_ERROR,
    });
    expect(
      readAll(encodeFrame({ type: FrameType.SETTINGS, ack: false, settings: [[4, 0x80000000]] }))[0],
    ).toMatchObject({ code: ErrorCode.FLOW_CONTROL_ERROR });
    expect(readAll(encodeFrameRaw(FrameType.PING, 0, 0, new Uint8Array(7)))[0]).toMatchObject({
      code: ErrorCode.FRAME_SIZE_ERROR,
    });
    expect(readAll(encodeFrameRaw(0xfa, 0, 0, new Uint8Array(3)))[0]).toMatchObject({
      type: 'unknown',
      frameType: 0xfa,
    });
  });

  it('fuzz: random bytes split anywhere give frames, "need more", or a FrameError; never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(400), { maxLength: 5 }), (bytes, cuts) => {
        const r = new FrameReader(16384);
        let prev = 0;
        for (const c of [...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length]) {
          r.push(bytes.subarray(prev, Math.max(prev, c)));
          prev = Math.max(prev, c);
          for (let f = r.next(); f && !(f instanceof FrameError); f = r.next()) expect(f.type).toBeDefined();
        }
      }),
      fuzz(3000),
    );
  });
});

/** An in-memory connection: the test plays the server. */
function pipePair() {
  const toServer: Uint8Array[] = [];
  let serverCtl!: ReadableStreamDefaultController<Uint8Array>;
  const readable = new ReadableStream<Uint8Array>({
    start: (c) => {
      serverCtl = c;
    },
  });
  const writable = new WritableStream<Uint8Array>({
    write: (c) => {
      toServer.push(c.slice());
    },
  });
  return {
    duplex: { readable, writable },
    send: (b: Uint8Array) => {
      try {
        serverCtl.enqueue(b);
      } catch {
        /* closed */
      }
    },
    sentCount: () => toServer.length,
    end: () => {
      try {
        serverCtl.close();
      } catch {
        /* closed */
      }
    },
    sentFrames: () => {
      const all = new Uint8Array(toServer.reduce((n, b) => n + b.length, 0));
      let o = 0;
      for (const b of toServer) {
        all.set(b, o);
        o += b.length;
      }
      expect([...all.subarray(0, CONNECTION_PREFACE.length)]).toEqual([...CONNECTION_PREFACE]);
      return readAll(all.subarray(CONNECTION_PREFACE.length));
    },
  };
}
/** Waits (no time passing) until the client's HEADERS for stream 1 has reached the scripted server. */
async function requestOut(p: ReturnType<typeof pipePair>): Promise<void> {
  const out = await turnsUntil(
    () =>
      p.sentCount() > 0 && p.sentFrames().some((f) => 'type' in f && f.type === FrameType.HEADERS && f.streamId === 1),
  );
  expect(out, 'the request reached the server').toBe(true);
}

describe('client against a scripted server', () => {
  it('answers SETTINGS and PING, and maps a RST to the request only', async () => {
    const p = pipePair();
    const c = new Http2Client(p.duplex, { clock: new VirtualClock() });
    p.send(encodeFrame({ type: FrameType.SETTINGS, ack: false, settings: [[3, 10]] }));
    p.send(encodeFrame({ type: FrameType.PING, ack: false, data: Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9) }));
    const req = c.request({ method: 'GET', path: '/x' });
    await requestOut(p);
    p.send(encodeFrame({ type: FrameType.RST_STREAM, streamId: 1, code: ErrorCode.REFUSED_STREAM }));
    await expect(req).rejects.toMatchObject({ code: ErrorCode.REFUSED_STREAM, retryable: true });
    const sent = p.sentFrames();
    expect(sent.some((f) => 'type' in f && f.type === FrameType.SETTINGS && f.ack)).toBe(true);
    expect(sent.some((f) => 'type' in f && f.type === FrameType.PING && f.ack && f.data[0] === 9)).toBe(true);
    expect(sent.some((f) => 'type' in f && f.type === FrameType.HEADERS && f.streamId === 1 && f.endStream)).toBe(true);
    c.close();
  });

  it('a bad HPACK block is a COMPRESSION_ERROR: GOAWAY sent, requests fail, onClose reports it', async () => {
    const p = pipePair();
    let closed: Error | undefined;
    const c = new Http2Client(p.duplex, { clock: new VirtualClock(), onClose: (e) => (closed = e) });
    const req = c.request({ method: 'GET', path: '/x' });
    await requestOut(p);
    p.send(
      encodeFrame({
        type: FrameType.HEADERS,
        streamId: 1,
        endStream: false,
        endHeaders: true,
        block: Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f),
      }),
    );
    await expect(req).rejects.toThrow(/COMPRESSION_ERROR/);
    await c.closed;
    expect(closed?.message).toMatch(/COMPRESSION_ERROR/);
    expect(c.stats.hpackErrors).toBe(1);
    expect(
      p.sentFrames().some((f) => 'type' in f && f.type === FrameType.GOAWAY && f.code === ErrorCode.COMPRESSION_ERROR),
    ).toBe(true);
  });

  it('DATA beyond the advertised window is a flow-control error', async () => {
    const p = pipePair();
    const c = new Http2Client(p.duplex, { clock: new VirtualClock(), streamWindow: 1000 });
    const req = c.request({ method: 'GET', path: '/x' });
    await requestOut(p);
    const enc = new HpackEncoder();
    p.send(
      encodeFrame({
        type: FrameType.HEADERS,
        streamId: 1,
        endStream: false,
        endHeaders: true,
        block: enc.encode([[':status', '200']]),
      }),
    );
    const res = await req;
    p.send(
      encodeFrame({
        type: FrameType.DATA,
        streamId: 1,
        endStream: false,
        data: new Uint8Array(1001),
        flowLength: 1001,
      }),
    );
    await expect(res.bytes()).rejects.toThrow(/window/);
    expect(
      p
        .sentFrames()
        .some((f) => 'type' in f && f.type === FrameType.RST_STREAM && f.code === ErrorCode.FLOW_CONTROL_ERROR),
    ).toBe(true);
    c.close();
  });

  it('fuzz: random and mutated server frames never throw out of the client', async () => {
    const enc = new HpackEncoder();
    const valid: Uint8Array[] = [
      encodeFrame({
        type: FrameType.SETTINGS,
        ack: false,
        settings: [
          [4, 100],
          [5, 20000],
          [1, 0],
        ],
      }),
      encodeFrame({
        type: FrameType.HEADERS,
        streamId: 1,
        endStream: false,
        endHeaders: false,
        block: enc.encode([
          [':status', '200'],
          ['a', 'b'],
        ]),
      }),
      encodeFrame({ type: FrameType.CONTINUATION, streamId: 1, endHeaders: true, block: Uint8Array.of(0x88) }),
      encodeFrame({ type: FrameType.DATA, streamId: 1, endStream: true, data: Uint8Array.of(1, 2), flowLength: 2 }),
      encodeFrame({ type: FrameType.WINDOW_UPDATE, streamId: 1, increment: 10 }),
      encodeFrame({ type: FrameType.GOAWAY, lastStreamId: 1, code: 0, debug: new Uint8Array(0) }),
      encodeFrame({ type: FrameType.RST_STREAM, streamId: 3, code: 8 }),
      encodeFrame({ type: FrameType.PING, ack: true, data: new Uint8Array(8) }),
    ];
    const mutated = fc
      .tuple(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
      )
      .map(([v, m]) => {
        const b = v.slice();
        for (const [i, x] of m) b[i % b.length] = x;
        return b;
      });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(mutated, fc.uint8Array({ maxLength: 40 })), { maxLength: 8 }),
        async (chunks) => {
          const p = pipePair();
          const c = new Http2Client(p.duplex, { clock: new VirtualClock() });
          const reqs = [
            c.request({ method: 'GET', path: '/a' }),
            c.request({ method: 'POST', path: '/b', body: new Uint8Array(100) }),
          ];
          const settled = reqs.map((r) =>
            r.then(
              async (res) => {
                await res.bytes().catch(() => undefined);
              },
              () => undefined,
            ),
          );
          await nextTurn();
          for (const ch of chunks) p.send(ch);
          await nextTurn();
          p.end();
          await Promise.all(settled);
          await c.closed;
          // Every request settled (awaited above) and no stream is left open after the transport ended.
          expect(c.stats.streamsActive).toBe(0);
        },
      ),
      fuzz(300),
    );
  });
});
