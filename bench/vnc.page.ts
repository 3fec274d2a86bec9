// Browser side of bench/vnc.bench.ts: the node as the app runs it (ui/node-client.ts: its
// SharedWorker), and full-screen raw RFB updates read through NodeApi.tcpDial and TcpSocket —
// the Desktop view's path, without noVNC's drawing.
import { createNodeClient } from '../src/ui/node-client.js';
import { TcpSocket } from '../src/app/tcp-socket.js';
import type { UpConfig } from '../src/app/node-api.js';
import { chunkReader, rawUpdates } from './rfb-raw.js';

const node = createNodeClient({ name: 'tailtab-vnc-bench' });
(window as unknown as { __vnc: unknown }).__vnc = {
  async up(cfg: UpConfig) {
    await node.up(cfg);
    for (let i = 0; i < 600; i++) {
      if ((await node.status()).state === 'running') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the node did not reach running in 60 s');
  },
  async raw(host: string, port: number, frames: number) {
    const ws = new TcpSocket(await node.tcpDial(host, port));
    const conn = chunkReader(
      (b) => ws.send(b),
      () => ws.close(),
    );
    ws.onmessage = (e) => conn.push(new Uint8Array(e.data as ArrayBuffer));
    ws.onclose = (e) => conn.end(new Error(`closed: ${e.reason}`));
    try {
      return await rawUpdates(conn, frames, () => performance.now());
    } finally {
      ws.close();
    }
  },
};
document.getElementById('status')!.textContent = 'ready';
