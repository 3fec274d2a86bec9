// HttpClient throughput and request rate against a node:http server on loopback, next to Node's
// own node:http client (llhttp, keep-alive Agent) as the native reference in the same run. Our
// client runs over a net.Socket → web-streams adapter (as the node's TCP would give it streams).
import { createServer, request as nodeRequest, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BenchRow } from './run.js';
import { HttpClient } from '../src/http/client.js';
import { netDialer } from '../src/http/net-socket.testkit.js';

const BIG = 256 * 1024 * 1024;
const SMALL_REQUESTS = 2000;

export async function run(): Promise<BenchRow[]> {
  const block = new Uint8Array(1 << 20).fill(0x5a);
  const server = createServer((req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-length': BIG });
      let off = 0;
      const pump = () => {
        while (off < BIG) {
          off += block.length;
          if (!res.write(block)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const rows: BenchRow[] = [];
  try {
    // Native reference: node:http.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const nodeGet = (path: string) =>
      new Promise<number>((resolve, reject) => {
        nodeRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
          let n = 0;
          res.on('data', (d: Buffer) => (n += d.length));
          res.on('end', () => resolve(n));
          res.on('error', reject);
        })
          .on('error', reject)
          .end();
      });
    let t = performance.now();
    if ((await nodeGet('/big')) !== BIG) throw new Error('node:http short read');
    const nodeMBs = BIG / 1048576 / ((performance.now() - t) / 1000);
    t = performance.now();
    for (let i = 0; i < SMALL_REQUESTS; i++) await nodeGet('/small');
    const nodeRps = SMALL_REQUESTS / ((performance.now() - t) / 1000);
    agent.destroy();

    const client = new HttpClient({ dial: netDialer() });
    t = performance.now();
    const r = await client.request({ url: `http://127.0.0.1:${port}/big` });
    let n = 0;
    const reader = r.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.length;
    }
    if (n !== BIG) throw new Error('HttpClient short read');
    const ourMBs = BIG / 1048576 / ((performance.now() - t) / 1000);
    t = performance.now();
    for (let i = 0; i < SMALL_REQUESTS; i++)
      await (await client.request({ url: `http://127.0.0.1:${port}/small` })).bytes();
    const ourRps = SMALL_REQUESTS / ((performance.now() - t) / 1000);
    const opened = client.stats().opened;
    client.close();

    rows.push({
      name: 'HttpClient 256 MiB download',
      value: ourMBs,
      unit: 'MiB/s',
      note: `${(ourMBs / nodeMBs).toFixed(2)}× node:http (${nodeMBs.toFixed(0)} MiB/s)`,
    });
    rows.push({
      name: `HttpClient ${SMALL_REQUESTS} sequential keep-alive GETs`,
      value: ourRps,
      unit: 'req/s',
      note: `${(ourRps / nodeRps).toFixed(2)}× node:http (${nodeRps.toFixed(0)} req/s); ${opened} connection(s)`,
    });
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  return rows;
}
