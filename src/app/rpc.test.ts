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
  await expect.poll(() => events).toEqual([{ type: 'status', state: 'running' }]);
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
    fc.asyncProperty(
      fc
        .anything()
        .filter(
          (d) => !(d && (d as { method?: unknown }).method === 'add' && Array.isArray((d as { args?: unknown }).args)),
        ),
      async (data) => {
        sent.length = 0;
        onMessage({ data } as MessageEvent);
        await new Promise((r) => setTimeout(r, 0));
        // Anything that is not a well-formed call is either ignored or answered with an error.
        for (const m of sent) expect((m as { kind: string }).kind).toBe('error');
      },
    ),
    { numRuns: 300 },
  );
  // Hand-made bad calls: no args, args not an array, a name from Object.prototype.
  for (const data of [
    { kind: 'call', id: 1, method: 'add' },
    { kind: 'call', id: 2, method: 'add', args: 5 },
    { kind: 'call', id: 3, method: 'toString', args: [] },
  ]) {
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

it('carries streams as ports where the browser cannot transfer them (WebKit): both ways, in order, with errors and cancel', async () => {
  const { setStreamTransfer } = await import('./stream-port.js');
  setStreamTransfer(false);
  try {
    const { port1, port2 } = new MessageChannel();
    let pulled = 0;
    let cancelled: unknown;
    const big = new Uint8Array(1000).map((_, i) => i & 0xff);
    serveRpc(port2, {
      output: () => {
        const rs = new ReadableStream<Uint8Array>(
          {
            pull(c) {
              pulled++;
              // A view into a larger buffer: only its own bytes may arrive.
              if (pulled <= 3) c.enqueue(big.subarray(pulled * 10, pulled * 10 + 5));
              else c.close();
            },
          },
          { highWaterMark: 0 },
        );
        return new WithTransfer({ id: 'a', nested: [{ output: rs }] }, [rs as unknown as Transferable]);
      },
      failing: () => {
        const rs = new ReadableStream<Uint8Array>({ pull: (c) => c.error(new Error('connection reset')) });
        return new WithTransfer({ rs }, [rs as unknown as Transferable]);
      },
      endless: () => {
        const rs = new ReadableStream<Uint8Array>({
          pull: (c) => c.enqueue(new Uint8Array(4)),
          cancel: (why) => void (cancelled = why),
        });
        return new WithTransfer({ rs }, [rs as unknown as Transferable]);
      },
      upload: async (name: string, data: ReadableStream<Uint8Array>) => {
        let n = 0;
        for await (const c of data as unknown as AsyncIterable<Uint8Array>) n += c.byteLength;
        return `${name}:${n}`;
      },
    });
    const client = new RpcClient(port1);
    const got = await client.call<{ id: string; nested: { output: ReadableStream<Uint8Array> }[] }>('output');
    expect(got.id).toBe('a');
    const stream = got.nested[0]!.output;
    expect(stream).toBeInstanceOf(ReadableStream);
    await new Promise((r) => setTimeout(r, 20));
    expect(pulled).toBe(0); // nothing read before the page asks
    const chunks: number[][] = [];
    for await (const c of stream as unknown as AsyncIterable<Uint8Array>) chunks.push([...c]);
    expect(chunks).toEqual([
      [10, 11, 12, 13, 14],
      [20, 21, 22, 23, 24],
      [30, 31, 32, 33, 34],
    ]);
    const { rs: failing } = await client.call<{ rs: ReadableStream<Uint8Array> }>('failing');
    await expect(failing.getReader().read()).rejects.toThrow('connection reset');
    const { rs: endless } = await client.call<{ rs: ReadableStream<Uint8Array> }>('endless');
    const reader = endless.getReader();
    expect((await reader.read()).value?.byteLength).toBe(4);
    await reader.cancel('closed by the page');
    await expect.poll(() => cancelled).toBe('closed by the page');
    const up = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(7));
        c.enqueue(new Uint8Array(9));
        c.close();
      },
    });
    expect(await client.call<string>('upload', ['f.bin', up], [up as unknown as Transferable])).toBe('f.bin:16');
    port1.close();
    port2.close();
  } finally {
    setStreamTransfer(undefined);
  }
});
