// Node-only test glue for local servers the tests start: a free loopback port, whether a port
// accepts connections, and waiting (bounded) until a started server listens.
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Whether 127.0.0.1:port accepts a TCP connection now. */
export function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Waits (about 5 s at most) until the server `name` started as `proc` accepts connections on port; its log says why not. */
export async function waitListening(port: number, proc: ChildProcess, log: string[], name: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await tcpOpen(port)) return;
    if (proc.exitCode !== null) throw new Error(`${name} exited (${proc.exitCode}): ${log.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not start: ${log.join('')}`);
}
