// Raw TCP connections for windows (NodeApi.tcpDial): the Desktop's VNC, and any other protocol a
// page speaks itself. Only machines of the tailnet are reached, by the node's own rule (node.ts
// resolve(): a tailnet name or address, or an address a subnet route or exit node in use covers),
// the same as SSH and the web view. The host's bytes go to the page as a ReadableStream read from
// the connection only when the page pulls (highWaterMark 0); the page's bytes come as a
// ReadableStream it made, piped into the connection, so its writes wait for the connection.
import { toHex } from '../crypto/bytes.js';
import type { TcpConnectionLike } from '../node/node.js';
import { WithTransfer } from './rpc.js';
import type { AppContext, AppWindow } from './context.js';

/** Raw connections one window may hold open at once. */
export const MAX_TCP_PER_WINDOW = 64;

interface TcpRecord {
  id: string;
  owner: AppWindow;
  conn: TcpConnectionLike;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Stops the page → host pipe (it holds the page's stream locked). */
  stopUp: AbortController;
  closed: boolean;
}

/** host and port as they cross from a window (plain data, checked). */
export function tcpTarget(host: unknown, port: unknown): { host: string; port: number } {
  if (typeof host !== 'string' || !host.trim() || host.length > 253)
    throw new Error('A TCP connection needs a machine name or tailnet address.');
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)
    throw new Error(`${String(port)} is not a TCP port (1–65535).`);
  return { host: host.trim(), port: port as number };
}

/** A dial failure in words, from the netstack's and node's errors. */
export function dialProblem(host: string, port: number, e: unknown): string {
  const code = (e as { code?: string })?.code;
  const msg = (e as Error)?.message ?? String(e);
  const where = `${host}:${port}`;
  if (code === 'ECONNREFUSED' || /connection refused/i.test(msg))
    return `Nothing is listening on ${where} (connection refused).`;
  if (code === 'ETIMEDOUT' || /timed out/i.test(msg))
    return `${where} did not answer (timed out): is the machine online, and does the tailnet's policy allow this port?`;
  if (/^unknown host /.test(msg)) return `${host} is not a machine of this tailnet.`;
  return `Cannot reach ${where} over the tailnet: ${msg}`;
}

export class TcpSessions {
  private readonly conns = new Map<string, TcpRecord>();

  constructor(private readonly ctx: AppContext) {}

  ids(): string[] {
    return [...this.conns.keys()];
  }

  async open(
    owner: AppWindow,
    hostIn: unknown,
    portIn: unknown,
    up: unknown,
  ): Promise<WithTransfer<{ id: string; remote: string; readable: ReadableStream<Uint8Array> }>> {
    const upStream = up instanceof ReadableStream ? (up as ReadableStream<Uint8Array>) : undefined;
    try {
      if (!upStream) throw new Error('tcpDial needs the stream of bytes to send');
      const { host, port } = tcpTarget(hostIn, portIn);
      owner.tcp ??= new Set();
      if (owner.tcp.size >= MAX_TCP_PER_WINDOW)
        throw new Error(`This window already has ${MAX_TCP_PER_WINDOW} connections open; close some first.`);
      const node = await this.ctx.requireRunning();
      let conn: TcpConnectionLike;
      try {
        conn = await node.dial(host, port);
      } catch (e) {
        throw new Error(dialProblem(host, port, e));
      }
      const id = toHex(this.ctx.random(8));
      const rec: TcpRecord = {
        id,
        owner,
        conn,
        reader: conn.readable.getReader(),
        stopUp: new AbortController(),
        closed: false,
      };
      this.conns.set(id, rec);
      owner.tcp.add(id);
      // Page → host. The page closing its writable ends our sending side (a FIN); an error closes all.
      upStream.pipeTo(conn.writable, { signal: rec.stopUp.signal }).catch(() => this.close(id));
      const readable = new ReadableStream<Uint8Array>(
        {
          pull: async (ctl) => {
            try {
              const r = await rec.reader.read();
              if (r.done) {
                ctl.close();
                this.close(id);
              }
              // A view into a larger buffer would cross to the page with all of that buffer (structured clone).
              else ctl.enqueue(r.value.byteLength === r.value.buffer.byteLength ? r.value : r.value.slice());
            } catch (e) {
              ctl.error(e);
              this.close(id);
            }
          },
          cancel: () => this.close(id),
        },
        { highWaterMark: 0 },
      );
      return new WithTransfer({ id, remote: `${host}:${port}`, readable }, [readable as unknown as Transferable]);
    } catch (e) {
      void upStream?.cancel().catch(() => {});
      throw e;
    }
  }

  /** Closes the connection both ways (idempotent). */
  close(id: string): void {
    const r = this.conns.get(id);
    if (!r || r.closed) return;
    r.closed = true;
    this.conns.delete(id);
    r.owner.tcp?.delete(id);
    r.reader.cancel().catch(() => {});
    r.stopUp.abort();
    try {
      void Promise.resolve(r.conn.close()).catch(() => {});
    } catch {
      /* closing anyway */
    }
  }

  /** Every connection of a window (it went away). */
  closeAll(owner: AppWindow): void {
    for (const id of [...(owner.tcp ?? [])]) this.close(id);
  }
}
