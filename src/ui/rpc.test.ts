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
