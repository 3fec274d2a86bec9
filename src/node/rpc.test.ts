import { describe, expect, it } from 'vitest';
import { NodeRpcClient, serveNode } from './rpc.js';
import type { TailnetNode } from './node.js';

describe('node RPC over a MessageChannel', () => {
  it('carries up/status/ping/down as plain data and dial as a transferred stream pair', async () => {
    const listeners: Record<string, ((v: unknown) => void)[]> = {};
    let upCfg: unknown;
    const echoed: Uint8Array[] = [];
    const stub = {
      on: (ev: string, cb: (v: unknown) => void) => { (listeners[ev] ??= []).push(cb); return () => {}; },
      up: async (c: unknown) => { upCfg = c; listeners.state?.forEach((l) => l('running')); },
      status: () => ({ state: 'running', peers: [], counters: { x: 1 } }),
      ping: async (h: string) => { if (h === 'nope') throw new Error('unknown host nope'); return { ms: 3, ip: '100.64.0.2' }; },
      discoPing: async () => 1,
      dial: async () => {
        const t = new TransformStream<Uint8Array, Uint8Array>({ transform(chunk, ctl) { echoed.push(chunk); ctl.enqueue(chunk); } });
        return { readable: t.readable, writable: t.writable, close() {} };
      },
      down: async () => {},
    };
    const ch = new MessageChannel();
    serveNode(ch.port1 as unknown as MessagePort, stub as unknown as TailnetNode, (c) => ({ ...c, storage: 'worker-side' }));
    const client = new NodeRpcClient(ch.port2 as unknown as MessagePort);
    const events: unknown[] = [];
    client.onEvent((e) => events.push(e));
    await client.up({ controlUrl: 'http://x', hostname: 'h' });
    expect(upCfg).toEqual({ controlUrl: 'http://x', hostname: 'h', storage: 'worker-side' });
    expect((await client.status()).counters.x).toBe(1);
    expect(await client.ping('beta')).toEqual({ ms: 3, ip: '100.64.0.2' });
    await expect(client.ping('nope')).rejects.toThrow('unknown host nope');
    const conn = await client.dial('beta', 80);
    const w = conn.writable.getWriter();
    await w.write(new Uint8Array([1, 2, 3]));
    const r = conn.readable.getReader();
    expect(Array.from((await r.read()).value!)).toEqual([1, 2, 3]);
    expect(events).toContainEqual({ type: 'state', state: 'running' });
    await client.down();
    ch.port1.close(); ch.port2.close();
  });
});
