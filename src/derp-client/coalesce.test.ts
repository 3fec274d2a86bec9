import { describe, expect, it } from 'vitest';
import { coalescingWebSocketFactory } from './coalesce.js';
import type { WebSocketLike } from '../platform/websocket.js';
import { encodeFrame, FrameReassembler } from './frames.js';

function fakeSocket() {
  const sent: Uint8Array[] = [];
  const ws: WebSocketLike = {
    binaryType: 'arraybuffer',
    readyState: 1,
    bufferedAmount: 0,
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
    send: (d) => {
      sent.push(d.slice());
    },
    close() {
      (ws as { readyState: number }).readyState = 3;
    },
  };
  return { ws, sent };
}

const nextTask = () => new Promise((r) => setTimeout(r, 5));
const packet = (n: number, fill: number) =>
  encodeFrame({ type: 'sendPacket', dstKey: new Uint8Array(32).fill(1), packet: new Uint8Array(n).fill(fill) });

describe('coalescingWebSocketFactory', () => {
  it('frames sent back to back (before the next task) reach the server as one message that parses back into the same frames, in order', async () => {
    const { ws, sent } = fakeSocket();
    const c = coalescingWebSocketFactory(() => ws)('wss://x/derp', ['derp']);
    const frames = [packet(100, 1), packet(1200, 2), packet(40, 3)];
    for (const f of frames) c.send(f);
    expect(sent.length).toBe(0);
    expect(c.bufferedAmount).toBe(frames.reduce((a, f) => a + f.length, 0));
    await nextTask();
    expect(sent.length).toBe(1);
    expect(c.bufferedAmount).toBe(0);
    const r = new FrameReassembler();
    const back = r.push(sent[0]!);
    expect(back.map((f) => (f.ok && f.frame.type === 'sendPacket' ? f.frame.packet[0] : -1))).toEqual([1, 2, 3]);
  });

  it('no message exceeds the cap (bounded bursts into derper), a single frame goes as it is', async () => {
    const { ws, sent } = fakeSocket();
    const c = coalescingWebSocketFactory(() => ws, 4000)('wss://x/derp', ['derp']);
    for (let i = 0; i < 10; i++) c.send(packet(1200, i));
    await nextTask();
    expect(sent.length).toBeGreaterThan(2);
    for (const m of sent) expect(m.length).toBeLessThanOrEqual(4000);
    expect(sent.reduce((a, m) => a + m.length, 0)).toBe(10 * packet(1200, 0).length);
  });

  it('a message goes out as soon as it holds maxFrames frames (ACKs of a long burst are not all held to its end)', async () => {
    const { ws, sent } = fakeSocket();
    const c = coalescingWebSocketFactory(() => ws, 16 * 1024, 8)('wss://x/derp', ['derp']);
    for (let i = 0; i < 20; i++) c.send(packet(40, i));
    expect(sent.length).toBe(2); // frames 0-7 and 8-15 without waiting for the next task
    await nextTask();
    expect(sent.length).toBe(3);
    const r = new FrameReassembler();
    const back = sent.flatMap((m) => r.push(m));
    expect(back.map((f) => (f.ok && f.frame.type === 'sendPacket' ? f.frame.packet[0] : -1))).toEqual([
      ...Array(20).keys(),
    ]);
  });

  it('nothing is sent after close', async () => {
    const { ws, sent } = fakeSocket();
    const c = coalescingWebSocketFactory(() => ws)('wss://x/derp', ['derp']);
    c.send(packet(10, 1));
    c.close();
    await nextTask();
    expect(sent.length).toBe(0);
  });
});
