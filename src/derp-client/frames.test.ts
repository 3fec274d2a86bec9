import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { decodeFramePayload, encodeFrame, FrameReassembler, MAGIC, type Frame, type DecodeResult } from './frames.js';

const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  key.map((k) => ({ type: 'serverKey', serverKey: k }) as Frame),
  fc
    .tuple(key, fc.uint8Array({ minLength: 24, maxLength: 200 }))
    .map(([k, s]) => ({ type: 'clientInfo', clientKey: k, sealed: s }) as Frame),
  fc
    .tuple(key, fc.uint8Array({ maxLength: 2000 }))
    .map(([k, p]) => ({ type: 'recvPacket', srcKey: k, packet: p }) as Frame),
  fc
    .tuple(key, fc.uint8Array({ maxLength: 2000 }))
    .map(([k, p]) => ({ type: 'sendPacket', dstKey: k, packet: p }) as Frame),
  fc.constant({ type: 'keepAlive' } as Frame),
  fc.boolean().map((b) => ({ type: 'notePreferred', preferred: b }) as Frame),
  fc.tuple(key, fc.integer({ min: 0, max: 1 })).map(([k, r]) => ({ type: 'peerGone', peerKey: k, reason: r }) as Frame),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((d) => ({ type: 'ping', data: d }) as Frame),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((d) => ({ type: 'pong', data: d }) as Frame),
  fc.string().map((s) => ({ type: 'health', problem: s }) as Frame),
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => ({ type: 'restarting', reconnectInMs: a, tryForMs: b }) as Frame),
);

function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const o = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    o.set(p, off);
    off += p.length;
  }
  return o;
}

describe('DERP frames', () => {
  it('round-trips every frame type', () => {
    fc.assert(
      fc.property(frameArb, (f) => {
        const enc = encodeFrame(f);
        const r = new FrameReassembler().push(enc);
        expect(r).toEqual([{ ok: true, frame: f }]);
      }),
      fuzz(100),
    );
  });

  it('random chunking gives identical frames', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, cuts) => {
        const stream = concat(frames.map(encodeFrame));
        const whole = new FrameReassembler().push(stream);
        const pts = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const ra = new FrameReassembler();
        const got: DecodeResult[] = [];
        let prev = 0;
        for (const p of [...pts, stream.length]) {
          got.push(...ra.push(stream.slice(prev, p)));
          prev = p;
        }
        expect(got).toEqual(whole);
        expect(whole.map((x) => (x.ok ? x.frame : null))).toEqual(frames);
        expect(ra.pendingBytes).toBe(0);
      }),
      fuzz(100),
    );
  });

  it('a 64 KiB frame in 1-byte chunks is joined once, not re-copied per chunk; at most one frame is held', () => {
    const f: Frame = {
      type: 'recvPacket',
      srcKey: new Uint8Array(32).fill(1),
      packet: new Uint8Array(64 * 1024 - 100).map((_, i) => i & 0xff),
    };
    const enc = encodeFrame(f);
    const ra = new FrameReassembler();
    const got: DecodeResult[] = [];
    let most = 0;
    for (let i = 0; i < enc.length; i++) {
      got.push(...ra.push(enc.subarray(i, i + 1)));
      most = Math.max(most, ra.pendingBytes);
    }
    expect(got).toEqual([{ ok: true, frame: f }]);
    expect(ra.copiedBytes).toBe(enc.length); // the old buffer-concatenation copied ~2 GB here
    expect(most).toBeLessThan(enc.length);
    expect(ra.pendingBytes).toBe(0);
    // A frame within one chunk is decoded from it, with no joining copy.
    const one = new FrameReassembler();
    one.push(concat([enc, enc]));
    expect(one.copiedBytes).toBe(0);
  });

  it('a length over the bound is refused at its header, before anything is buffered', () => {
    const ra = new FrameReassembler(1000);
    const r = ra.push(Uint8Array.of(5, 0, 0, 0x03, 0xe9));
    expect(r).toEqual([{ ok: false, error: 'frame too large (1001 bytes, type 0x5)' }]);
    expect(ra.failed).toMatch(/too large/);
    expect(ra.pendingBytes).toBe(0);
    // Split header: the same answer once the header is whole.
    const rb = new FrameReassembler(1000);
    expect(rb.push(Uint8Array.of(5, 0, 0))).toEqual([]);
    expect(rb.push(Uint8Array.of(0x03, 0xe9, 1, 2, 3))).toEqual([
      { ok: false, error: 'frame too large (1001 bytes, type 0x5)' },
    ]);
  });

  it('never throws on random or mutated input', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 10 }),
        fc.uint8Array({ maxLength: 300 }),
        (frames, muts, junk) => {
          const s = concat([...frames.map(encodeFrame), junk]);
          for (const [i, v] of muts) if (s.length) s[i % s.length] = v;
          const ra = new FrameReassembler(1 << 16);
          expect(() => ra.push(s)).not.toThrow();
        },
      ),
      fuzz(100),
    );
  });

  it('rejects wrong magic, short frames and oversized lengths as error values', () => {
    const bad = new Uint8Array(40);
    bad.set(MAGIC);
    bad[0] = 0x45;
    expect(decodeFramePayload(1, bad)).toEqual({ ok: false, error: 'server key frame: wrong magic' });
    expect(decodeFramePayload(5, new Uint8Array(10)).ok).toBe(false);
    expect(decodeFramePayload(0x15, new Uint8Array(3)).ok).toBe(false);
    const ra = new FrameReassembler();
    const r = ra.push(new Uint8Array([5, 0x7f, 0xff, 0xff, 0xff]));
    expect(r[0].ok).toBe(false);
    expect(ra.failed).toMatch(/too large/);
    expect(ra.push(encodeFrame({ type: 'keepAlive' }))).toEqual([]);
  });

  it('keeps unknown frame types as values (forward compatibility)', () => {
    const r = new FrameReassembler().push(
      encodeFrame({ type: 'unknown', frameType: 0x42, payload: new Uint8Array([1, 2]) }),
    );
    expect(r).toEqual([{ ok: true, frame: { type: 'unknown', frameType: 0x42, payload: new Uint8Array([1, 2]) } }]);
  });
});
