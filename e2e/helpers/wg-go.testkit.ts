// Node-only test glue: runs Debian's wireguard-go on a TUN device inside the test's network
// namespace and configures it with `wg` (wireguard-tools). Processes are tracked and stopped by PID.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const WIREGUARD_GO = '/usr/bin/wireguard-go';
export const WG = '/usr/bin/wg';

export function requireBinaries(): void {
  for (const b of [WIREGUARD_GO, WG, '/usr/sbin/ip']) {
    if (!existsSync(b))
      throw new Error(`missing ${b}: install Debian packages wireguard-go, wireguard-tools, iproute2`);
  }
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface WgPeerConfig {
  publicKeyB64: string;
  allowedIps: string[];
  endpoint?: string;
  persistentKeepalive?: number;
}

export class WireGuardGo {
  private proc: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'wg-go-'));
  readonly log: string[] = [];

  constructor(
    readonly ifname: string,
    readonly privateKeyB64: string,
    readonly listenPort: number,
    readonly addresses: string[],
  ) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts wireguard-go in the foreground, waits for its UAPI socket, then sets key, port and addresses. */
  async start(peers: WgPeerConfig[]): Promise<void> {
    const sock = `/var/run/wireguard/${this.ifname}.sock`;
    const proc = spawn(WIREGUARD_GO, ['-f', this.ifname], {
      env: { ...process.env, WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'verbose' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    proc.stdout!.on('data', (b) => this.log.push(String(b)));
    proc.stderr!.on('data', (b) => this.log.push(String(b)));
    const deadline = Date.now() + 10_000;
    while (!existsSync(sock)) {
      if (proc.exitCode !== null) throw new Error(`wireguard-go exited (${proc.exitCode}): ${this.log.join('')}`);
      if (Date.now() > deadline) throw new Error(`wireguard-go did not create ${sock}: ${this.log.join('')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const keyFile = join(this.dir, 'private.key');
    writeFileSync(keyFile, this.privateKeyB64 + '\n', { mode: 0o600 });
    run(WG, ['set', this.ifname, 'private-key', keyFile, 'listen-port', String(this.listenPort)]);
    for (const p of peers) this.setPeer(p);
    for (const a of this.addresses) run('ip', ['addr', 'add', a, 'dev', this.ifname]);
    run('ip', ['link', 'set', this.ifname, 'up']);
  }

  setPeer(p: WgPeerConfig): void {
    const args = ['set', this.ifname, 'peer', p.publicKeyB64, 'allowed-ips', p.allowedIps.join(',')];
    if (p.endpoint) args.push('endpoint', p.endpoint);
    if (p.persistentKeepalive) args.push('persistent-keepalive', String(p.persistentKeepalive));
    run(WG, args);
  }

  /** `wg show <if> latest-handshakes` as a map base64 key → unix seconds (0 = never). */
  latestHandshakes(): Map<string, number> {
    const out = new Map<string, number>();
    for (const line of run(WG, ['show', this.ifname, 'latest-handshakes']).trim().split('\n')) {
      const [k, t] = line.split('\t');
      if (k) out.set(k, Number(t));
    }
    return out;
  }

  /** `wg show <if> transfer`: key → [rx, tx] bytes. */
  transfer(): Map<string, [number, number]> {
    const out = new Map<string, [number, number]>();
    for (const line of run(WG, ['show', this.ifname, 'transfer']).trim().split('\n')) {
      const [k, rx, tx] = line.split('\t');
      if (k) out.set(k, [Number(rx), Number(tx)]);
    }
    return out;
  }

  /** Stops the process by PID (SIGTERM, then SIGKILL) and waits for it to exit. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null || proc.pid === undefined) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    process.kill(proc.pid, 'SIGTERM');
    const t = setTimeout(() => {
      if (proc.exitCode === null && proc.pid !== undefined) process.kill(proc.pid, 'SIGKILL');
    }, 3000);
    await exited;
    clearTimeout(t);
    // The TUN device disappears with the process; wait for that so a restart can recreate it.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      try {
        run('ip', ['link', 'show', this.ifname]);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
