// tcpDial end to end through NodeService and the RPC over real MessageChannels (streams
// transferred, and sent as ports as WebKit needs), with a node whose dial gives an in-memory echo
// host: bytes both ways, the refusals in words, and connections closed with their window.
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../crypto/random.js';
import type { NodeEventMap, NodeStatus, TcpConnectionLike } from '../node/node.js';
import type { NodeLike } from './context.js';
import { createNodeClientOnPort } from './node-client.js';
import { NodeService } from './node-service.js';
import { MemoryWorkerStore } from './store.js';
import { setStreamTransfer } from './stream-port.js';
import { NetStackError } from '../netstack/errors.js';
import { dialProblem, tcpTarget } from './tcp-sessions.js';

/** An echo host: what is written comes back; `closed` counts connections the service closed. */
class EchoNode implements NodeLike {
  state: NodeStatus['state'] = 'running';
  closed = 0;
  open = 0;
  on<K extends keyof NodeEventMap>(_ev: K, _cb: (v: NodeEventMap[K]) => void) {
    return () => {};
  }
  async up() {}
  async down() {}
  status(): NodeStatus {
    return { state: this.state, peers: [] } as unknown as NodeStatus;
  }
  async ping() {
    return { ms: 1, ip: '100.64.0.1' };
  }
  async dial(host: string, port: number): Promise<TcpConnectionLike> {
    if (host === 'nowhere') throw new Error('unknown host nowhere');
    if (port === 5999) throw new NetStackError('ECONNREFUSED', `connect 100.64.0.1:${port}: connection refused`);
    const echo = new TransformStream<Uint8Array, Uint8Array>();
    this.open++;
    return {
      readable: echo.readable,
      writable: echo.writable,
      close: () => {
        this.closed++;
        this.open--;
      },
    };
  }
}

function setup() {
  const node = new EchoNode();
  const svc = new NodeService({
    createNode: async () => node,
    persistentStore: new MemoryWorkerStore(),
    random: seededRandom(3),
    statusIntervalMs: 60_000,
  });
  const ch = new MessageChannel();
  svc.attach(ch.port1 as unknown as Parameters<NodeService['attach']>[0]);
  const api = createNodeClientOnPort(ch.port2 as unknown as Parameters<typeof createNodeClientOnPort>[0]);
  return { node, api };
}

afterEach(() => setStreamTransfer(undefined));

describe('NodeApi.tcpDial', () => {
  for (const transfer of [true, false]) {
    it(`bytes both ways, and close() ends the connection in the Worker (streams ${transfer ? 'transferred' : 'as ports, as in WebKit'})`, async () => {
      setStreamTransfer(transfer);
      const { node, api } = setup();
      const c = await api.tcpDial('peer1', 5901);
      expect(c.remote).toBe('peer1:5901');
      const w = c.writable.getWriter();
      const r = c.readable.getReader();
      await w.write(new TextEncoder().encode('RFB 003.008\n'));
      let got = '';
      while (got.length < 12) got += new TextDecoder().decode((await r.read()).value);
      expect(got).toBe('RFB 003.008\n');
      w.releaseLock();
      r.releaseLock();
      c.close();
      for (let i = 0; i < 100 && node.closed === 0; i++) await new Promise((res) => setTimeout(res, 2));
      expect(node.closed).toBe(1);
    });
  }

  it('refusals are sentences: nothing listening, not a tailnet machine, not a port', async () => {
    const { api } = setup();
    await expect(api.tcpDial('peer1', 5999)).rejects.toThrow(
      'Nothing is listening on peer1:5999 (connection refused).',
    );
    await expect(api.tcpDial('nowhere', 5900)).rejects.toThrow('nowhere is not a machine of this tailnet.');
    await expect(api.tcpDial('peer1', 70000)).rejects.toThrow('70000 is not a TCP port (1–65535).');
    expect(() => tcpTarget('', 1)).toThrow('A TCP connection needs a machine name or tailnet address.');
    expect(dialProblem('h', 1, new NetStackError('ETIMEDOUT', 'connect: timed out after 30000 ms'))).toBe(
      "h:1 did not answer (timed out): is the machine online, and does the tailnet's policy allow this port?",
    );
  });

  it('a window going away closes its connections', async () => {
    const { node, api } = setup();
    await api.tcpDial('peer1', 5901);
    await api.tcpDial('peer1', 5902);
    expect(node.open).toBe(2);
    await api.release();
    expect(node.open).toBe(0);
  });

  it('refused while the node is not running', async () => {
    const { node, api } = setup();
    node.state = 'stopped';
    await expect(api.tcpDial('peer1', 5901)).rejects.toThrow('Not connected to a tailnet (node stopped).');
  });
});
