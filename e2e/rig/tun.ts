// A TUN interface for WebRTC inside the test namespace (scripts/in-netns.sh). With only loopback,
// Chromium gathers no ICE candidate at all (checked, ../shared/docs/tailscale-protocol-facts.md
// "WebSocket in Chromium"); with an interface that is up, has an address and carries the default
// route, it gathers a host candidate on that address and two peer connections in the namespace
// connect over it. The interface is a TUN held open by a small process (open /dev/net/tun,
// TUNSETIFF; linux Documentation/networking/tuntap.rst): nothing reads it, so a packet to any
// other address goes into it and is dropped there. Nothing leaves the machine: the namespace has
// no other interface, and startTun refuses to run where it has one.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** TEST-NET-1 (RFC 5737): documentation space, never routed anywhere. */
export const TUN_ADDRESS = '192.0.2.1';
const TUN_NAME = 'ttrtc0';

// Opens the TUN device (IFF_TUN | IFF_NO_PI) and holds it until killed; prints "ready" once it exists.
const HOLDER = `
import fcntl, os, struct, sys, time
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', sys.argv[1].encode(), 0x0001 | 0x1000))
print('ready', flush=True)
while True:
    time.sleep(3600)
`;

export interface Tun {
  name: string;
  address: string;
  pid: number;
  stop(): Promise<void>;
}

function links(): string[] {
  return execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':')[1]!.trim().split('@')[0]!);
}

/** The IPv4 name servers of /etc/resolv.conf (IPv6 has no route here at all). */
function nameservers(): string[] {
  let conf = '';
  try {
    conf = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return [];
  }
  return [...conf.matchAll(/^\s*nameserver\s+(\d{1,3}(?:\.\d{1,3}){3})\s*$/gm)].map((m) => m[1]!);
}

/** Creates and holds the TUN interface, with TUN_ADDRESS and the default route through it. */
export async function startTun(): Promise<Tun> {
  const others = links().filter((n) => n !== 'lo' && n !== TUN_NAME);
  if (others.length)
    throw new Error(
      `refusing to add a default route: this namespace has interfaces besides loopback (${others.join(', ')}); run the test under scripts/in-netns.sh`,
    );
  const proc: ChildProcess = spawn('python3', ['-c', HOLDER, TUN_NAME], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`TUN holder not ready in 10 s: ${out}`)), 10_000);
    proc.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.stderr!.on('data', (d) => (out += d));
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(
        new Error(
          `TUN holder exited (${code}): ${out.trim()} (needs root and /dev/net/tun: run under scripts/in-netns.sh)`,
        ),
      );
    });
  });
  execFileSync('ip', ['addr', 'add', `${TUN_ADDRESS}/24`, 'dev', TUN_NAME]);
  execFileSync('ip', ['link', 'set', TUN_NAME, 'up']);
  execFileSync('ip', ['route', 'add', 'default', 'dev', TUN_NAME]);
  // The resolver's servers (/etc/resolv.conf) would now be routed into the TUN and time out (5 s a
  // try) instead of failing at once as with loopback alone: a program resolving a public name —
  // tailscaled of the WebRTC branch resolves its STUN server stun.l.google.com, and closing a peer
  // connection waits for that — would stall. Unreachable routes make the lookup fail at once again.
  for (const ns of nameservers()) execFileSync('ip', ['route', 'add', 'unreachable', `${ns}/32`]);
  const pid = proc.pid!;
  return {
    name: TUN_NAME,
    address: TUN_ADDRESS,
    pid,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      process.kill(pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    },
  };
}
