// Node-only test glue: TigerVNC's Xvnc (Debian tigervnc-standalone-server), a headless X server
// with VNC built in, on a loopback port of this machine; a tailscaled rig peer forwards tailnet
// TCP to its loopback ports, so the desktop is reachable at the peer's tailnet address. X clients
// (xsetroot, xterm, xclip) run against its display. Every process is started with the rig's
// spawnLogged (own log file, stopped by PID).
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnLogged, waitFor, type RigProcess } from '../rig/proc.js';
import { freePort, tcpOpen } from './ports.testkit.js';

export const XVNC = '/usr/bin/Xvnc';

export interface Xvnc {
  /** ":<n>" */
  display: string;
  port: number;
  /** The desktop name the server announces (RFB ServerInit). */
  name: string;
  proc: RigProcess;
  /** Runs an X client against this display and returns its stdout. */
  x(cmd: string, args: string[], input?: string): string;
  /** Starts a long-running X client (stopped by PID with stop()). */
  spawn(name: string, cmd: string, args: string[]): RigProcess;
  stop(): Promise<void>;
}

/** A display number no X server on this machine uses (lock files are in the shared /tmp). */
function freeDisplay(): number {
  for (let n = 40 + Math.floor(Math.random() * 400); ; n++) {
    if (!existsSync(`/tmp/.X${n}-lock`) && !existsSync(`/tmp/.X11-unix/X${n}`)) return n;
  }
}

export async function startXvnc(o: {
  dir: string;
  name: string;
  password?: string;
  securityTypes?: string;
  geometry?: string;
}): Promise<Xvnc> {
  // No skipping: a missing server is a failed test that says what to install.
  if (!existsSync(XVNC))
    throw new Error(
      `missing ${XVNC}: install Debian packages tigervnc-standalone-server tigervnc-tools (scripts/install.sh does)`,
    );
  const n = freeDisplay();
  const display = `:${n}`;
  const port = await freePort();
  const args = [
    display,
    '-rfbport',
    String(port),
    '-localhost',
    '-geometry',
    o.geometry ?? '1024x768',
    '-depth',
    '24',
    '-desktop',
    o.name,
    '-SecurityTypes',
    o.securityTypes ?? (o.password ? 'VncAuth' : 'None'),
    '-AlwaysShared',
    '-nolisten',
    'tcp',
  ];
  if (o.password) {
    const file = join(o.dir, `vncpasswd-${n}`);
    writeFileSync(file, execFileSync('vncpasswd', ['-f'], { input: `${o.password}\n` }), { mode: 0o600 });
    args.push('-rfbauth', file);
  }
  const proc = spawnLogged({ name: `Xvnc${display}`, cmd: XVNC, args, logPath: join(o.dir, `xvnc-${n}.log`) });
  const env = { ...process.env, DISPLAY: display };
  const clients: RigProcess[] = [];
  const x = (cmd: string, a: string[], input?: string) =>
    execFileSync(cmd, a, {
      env,
      input,
      encoding: 'utf8',
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: 20_000,
    });
  await waitFor(
    `Xvnc on ${display} (port ${port})`,
    async () => {
      if (proc.hasExited()) throw new Error(`Xvnc exited:\n${proc.log()}`);
      return (await tcpOpen(port)) || undefined;
    },
    30_000,
  );
  // The RFB port opens before the X display accepts clients on some builds: wait for both.
  await waitFor(
    `X display ${display}`,
    () => {
      x('xsetroot', ['-name', o.name]);
      return true;
    },
    30_000,
  );
  return {
    display,
    port,
    name: o.name,
    proc,
    x,
    spawn(name, cmd, a) {
      const p = spawnLogged({
        name,
        cmd,
        args: a,
        env: { DISPLAY: display },
        logPath: join(o.dir, `${name}-${n}.log`),
      });
      clients.push(p);
      return p;
    },
    async stop() {
      for (const c of clients) await c.stop();
      await proc.stop();
    },
  };
}
