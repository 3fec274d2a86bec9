import { expect, it } from 'vitest';
import { RpcClient, serveRpc, WithTransfer } from './rpc.js';

it('carries calls, results, errors, events and transferred streams across a MessageChannel', async () => {
  const { port1, port2 } = new MessageChannel();
  const push = serveRpc(port2, {
    add: (a: number, b: number) => a + b,
    fail: () => {
      throw new Error('no relay reachable');
    },
    stream: () => {
      const rs = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new Uint8Array([1, 2, 3]));
          c.close();
        },
      });
      return new WithTransfer({ output: rs }, [rs as unknown as Transferable]);
    },
  });
  const client = new RpcClient(port1);
  const events: unknown[] = [];
  client.onEvent((e) => events.push(e));
  expect(await client.call<number>('add', [2, 3])).toBe(5);
  await expect(client.call('fail')).rejects.toThrow('no relay reachable');
  await expect(client.call('nope')).rejects.toThrow(/unknown method/);
  const { output } = await client.call<{ output: ReadableStream<Uint8Array> }>('stream');
  const { value } = await output.getReader().read();
  expect([...value!]).toEqual([1, 2, 3]);
  push({ type: 'status', state: 'running' });
  await new Promise((r) => setTimeout(r, 10));
  expect(events).toEqual([{ type: 'status', state: 'running' }]);
  port1.close();
  port2.close();
});

it('answers malformed calls from a page with errors (or drops them) and keeps serving', async () => {
  const fc = await import('fast-check');
  const sent: unknown[] = [];
  let onMessage!: (e: MessageEvent) => void;
  const port = {
    postMessage: (m: unknown) => void sent.push(m),
    addEventListener: (_t: 'message', l: (e: MessageEvent) => void) => void (onMessage = l),
  };
  serveRpc(port, { add: (a: number, b: number) => a + b, constructor: () => 'not a method' });
  await fc.assert(
    fc.asyncProperty(fc.anything().filter((d) => !(d && (d as { method?: unknown }).method === 'add' && Array.isArray((d as { args?: unknown }).args))), async (data) => {
      sent.length = 0;
      onMessage({ data } as MessageEvent);
      await new Promise((r) => setTimeout(r, 0));
      // Anything that is not a well-formed call is either ignored or answered with an error.
      for (const m of sent) expect((m as { kind: string }).kind).toBe('error');
    }),
    { numRuns: 300 },
  );
  // Hand-made bad calls: no args, args not an array, a name from Object.prototype.
  for (const data of [{ kind: 'call', id: 1, method: 'add' }, { kind: 'call', id: 2, method: 'add', args: 5 }, { kind: 'call', id: 3, method: 'toString', args: [] }]) {
    sent.length = 0;
    onMessage({ data } as MessageEvent);
    await new Promise((r) => setTimeout(r, 0));
    expect(sent).toEqual([expect.objectContaining({ kind: 'error', id: data.id })]);
  }
  sent.length = 0;
  onMessage({ data: { kind: 'call', id: 4, method: 'add', args: [2, 3] } } as MessageEvent);
  await new Promise((r) => setTimeout(r, 0));
  expect(sent).toEqual([{ kind: 'result', id: 4, value: 5 }]);
});

it('rejects waiting and later calls once the other side is known never to answer', async () => {
  const { port1 } = new MessageChannel();
  const client = new RpcClient(port1);
  const waiting = client.call('status');
  client.fail('the node Worker could not start');
  await expect(waiting).rejects.toThrow('the node Worker could not start');
  await expect(client.call('up', [{}])).rejects.toThrow('the node Worker could not start');
  port1.close();
});
