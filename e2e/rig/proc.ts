// Child processes of the rig: each one logs to its own file, is tracked by PID, and is stopped
// by PID (SIGTERM, then SIGKILL after a grace period) on stop(), on process exit, SIGINT and SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';

export interface RigProcess {
  name: string;
  pid: number;
  logPath: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  hasExited(): boolean;
  stop(graceMs?: number): Promise<void>;
  log(): string;
}

const live = new Set<RigProcess>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL whatever is left.
  process.on('exit', () => {
    for (const p of live) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void stopAll().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }
}

/** Stops every process started through this module that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

/** PIDs of processes started through this module that are still running. */
export function livePids(): number[] {
  return [...live].filter((p) => !p.hasExited()).map((p) => p.pid);
}

export interface SpawnOptions {
  name: string;
  cmd: string;
  args: string[];
  logPath: string;
  env?: Record<string, string>;
  cwd?: string;
}

export function spawnLogged(o: SpawnOptions): RigProcess {
  installExitHooks();
  const fd = openSync(o.logPath, 'a');
  const child = spawn(o.cmd, o.args, {
    cwd: o.cwd,
    env: { ...process.env, ...o.env },
    stdio: ['ignore', fd, fd],
    // Own process group: a terminal's Ctrl-C reaches us, and we stop children in order.
    detached: true,
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${o.name} (${o.cmd}); see ${o.logPath}`);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? -1 : null);
      live.delete(proc);
      resolve(exitCode);
    });
    child.once('error', () => {
      exitCode = -1;
      live.delete(proc);
      resolve(-1);
    });
  });
  const proc: RigProcess = {
    name: o.name,
    pid: child.pid,
    logPath: o.logPath,
    child,
    exited,
    hasExited: () => exitCode !== undefined,
    log: () => {
      try {
        return readFileSync(o.logPath, 'utf8');
      } catch {
        return '';
      }
    },
    async stop(graceMs = 3000) {
      if (exitCode !== undefined) return;
      try {
        process.kill(proc.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs));
      if ((await Promise.race([exited, timer])) === 'timeout') {
        try {
          process.kill(proc.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        await exited;
      }
    },
  };
  live.add(proc);
  child.unref();
  return proc;
}

/** Last lines of a log, for error messages. */
export function tail(text: string, lines = 30): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** Thrown inside a waitFor check to stop waiting at once (e.g. the process exited). */
export class GiveUp extends Error {}

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 30_000,
  everyMs = 100,
  onTimeout?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof GiveUp) throw new Error(`gave up waiting for ${what}: ${e.message}`);
      lastErr = e;
    }
    if (Date.now() > deadline) {
      const extra = onTimeout ? `\n${onTimeout()}` : '';
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${String(lastErr)})` : ''}${extra}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
