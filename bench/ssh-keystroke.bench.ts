// Keystroke echo over Tailscale SSH (issue "Speed a person feels"): one byte written, the time until
// it comes back, 200 times in a row, to a tailscaled peer (DERP only) whose shell runs
// `stty raw -echo; exec cat` in a pty (every byte echoed at once by cat, none by the line discipline):
//   tailtab    a Chromium dedicated Worker running TailnetNode + SshClient (the app's node and SSH
//              layers, as its terminals use them; xterm.js's rendering is not included);
//   native     OpenSSH's `ssh -tt` through a second tailscaled peer over the same derper
//              (ProxyCommand `tailscale nc`), timed from the write to its stdin to the byte on its stdout.
// Same rig, same run; median and p95 each. The target: tailtab's median ≤ native + 0.5 ms.
// A measurement, not a pass/fail test. Runs inside a loopback-only netns.
//   npm run bench -- ssh-keystroke
//   TAILTAB_KEYSTROKE_AEAD=nobleEngine   the Worker's WireGuard AEAD engine by its export in aead-batch.ts,
//                                        or =webcrypto: WebCrypto for every packet (the default splits by size)
import { spawn } from 'node:child_process';
import { startRig, rigBinaries } from '../e2e/rig/index.js';
import type { BenchRow } from './run.js';
import { printRowsIfMain, runInNetns } from './in-netns.js';

const KEYS = Math.max(10, Number(process.env.TAILTAB_KEYSTROKES ?? 200) || 200);
const REMOTE = 'stty raw -echo; echo ready; exec cat';
const progress = (t: string) => process.stderr.write(`bench ssh-keystroke: ${t}\n`);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!;
};

const WORKER = `
const { TailnetNode } = await import(self.origin + '/src/node/node.ts');
const { createLayers } = await import(self.origin + '/src/node/layers.ts');
const { SshClient, tailnetAuthenticatedVerifier } = await import(self.origin + '/src/ssh/index.ts');
const aeadName = __AEAD__;
const aead = aeadName ? await import(self.origin + '/src/noise/wireguard/aead-batch.ts') : undefined;
const engine = aeadName === 'webcrypto' ? await aead.detectWebCryptoEngine() : aeadName ? aead[aeadName] : undefined;
const node = new TailnetNode(createLayers(engine ? { aeadEngine: () => engine } : {}));
const bench = {
  up: (c) => node.up({ ...c, wallClockMs: () => Date.now() }),
  async keystrokes(ip, fqdn, n, remote) {
    const c = await SshClient.connect(await node.dial(ip, 22), {
      username: 'root', auth: [{ type: 'none' }], hostKeyVerifier: tailnetAuthenticatedVerifier(fqdn),
    });
    const s = await c.openSession({ pty: { term: 'xterm', cols: 80, rows: 24 }, command: remote });
    const r = s.stdout.getReader(); const w = s.stdin.getWriter();
    let seen = '';
    while (!seen.includes('ready')) seen += new TextDecoder().decode((await r.read()).value);
    const out = [];
    for (let i = 0; i < n; i++) {
      const b = 97 + (i % 26);
      const t0 = performance.now();
      await w.write(new Uint8Array([b]));
      for (;;) { const { value, done } = await r.read(); if (done) throw new Error('session ended'); if (value.includes(b)) break; }
      out.push(performance.now() - t0);
    }
    c.close();
    return out;
  },
};
self.onmessage = async (e) => {
  const { id, fn, args } = e.data;
  try { self.postMessage({ id, value: await bench[fn](...args) }); }
  catch (err) { self.postMessage({ id, error: String(err?.stack ?? err) }); }
};
self.postMessage({ ready: true });
`;

const PAGE = `(async () => {
  const url = URL.createObjectURL(new Blob([${JSON.stringify(WORKER.replace('__AEAD__', JSON.stringify(process.env.TAILTAB_KEYSTROKE_AEAD ?? '')))}], { type: 'text/javascript' }));
  const worker = new Worker(url, { type: 'module', name: 'tailtab-bench-keystroke' });
  const pending = new Map(); let next = 0;
  await new Promise((resolve, reject) => {
    worker.onerror = (e) => reject(new Error('bench worker failed: ' + (e.message || e)));
    worker.onmessage = (e) => {
      if (e.data.ready) { resolve(); return; }
      const p = pending.get(e.data.id); pending.delete(e.data.id);
      if (e.data.error !== undefined) p.reject(new Error(e.data.error)); else p.resolve(e.data.value);
    };
  });
  window.__bench = (fn, ...args) => new Promise((resolve, reject) => { const id = next++; pending.set(id, { resolve, reject }); worker.postMessage({ id, fn, args }); });
})()`;

/** OpenSSH through `from`'s tailscaled to `to`'s Tailscale SSH: the echo time of n single bytes. */
async function nativeKeystrokes(socket: string, ip: string, n: number): Promise<number[]> {
  const ssh = spawn(
    'ssh',
    [
      '-tt',
      '-o',
      `ProxyCommand=${rigBinaries().tailscale} --socket=${socket} nc %h %p`,
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'LogLevel=ERROR',
      `root@${ip}`,
      REMOTE,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let err = '';
  ssh.stderr.on('data', (d: Buffer) => (err += d.toString()));
  let waiting: ((d: Buffer) => void) | undefined;
  let seen = '';
  ssh.stdout.on('data', (d: Buffer) => {
    seen += d.toString();
    waiting?.(d);
  });
  const until = (pred: (d: Buffer) => boolean) =>
    new Promise<void>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`native ssh: no echo in 30 s (${err.trim() || seen.slice(-200)})`)),
        30_000,
      );
      waiting = (d) => {
        if (pred(d)) {
          clearTimeout(t);
          waiting = undefined;
          resolve();
        }
      };
    });
  try {
    if (!seen.includes('ready')) await until(() => seen.includes('ready'));
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const b = 97 + (i % 26);
      const echoed = until((d) => d.includes(b));
      const t0 = performance.now();
      ssh.stdin.write(Buffer.from([b]));
      await echoed;
      out.push(performance.now() - t0);
    }
    return out;
  } finally {
    ssh.kill();
  }
}

async function measure(): Promise<BenchRow[]> {
  const { launchChromium, startAppServer } = await import('../e2e/helpers/browser.testkit.js');
  const rig = await startRig({
    peers: [
      { name: 'client', homeRegion: 900, derpOnly: true },
      { name: 'sshpeer', homeRegion: 900, derpOnly: true, ssh: true },
    ],
    derpers: 1,
    sshd: false,
  });
  const app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl });
  const browser = await launchChromium();
  try {
    await rig.waitConverged();
    const client = rig.peer('client');
    const peer = rig.peer('sshpeer');
    const page = await browser.newPage();
    await page.goto(app.url + '/', { waitUntil: 'domcontentloaded' });
    await page.evaluate(PAGE);
    await page.evaluate(`window.__bench('up', { controlUrl: location.origin, authKey: ${JSON.stringify(rig.authKey)},
      hostname: 'tailtab-bench-keys', allowInsecureDerp: true, homeRegion: 900 })`);
    const ours = (n: number) =>
      page.evaluate(
        `window.__bench('keystrokes', ${JSON.stringify(peer.ipv4)}, ${JSON.stringify(peer.fqdn)}, ${n}, ${JSON.stringify(REMOTE)})`,
      ) as Promise<number[]>;
    // Warm both paths (handshakes, tailscaled's SSH policy), then alternate: native, ours, native, ours.
    progress('warming up');
    await nativeKeystrokes(client.socket, peer.ipv4, 10);
    await ours(10);
    const native: number[] = [];
    const tailtab: number[] = [];
    for (let half = 0; half < 2; half++) {
      progress(`native ssh, ${KEYS / 2} keystrokes`);
      native.push(...(await nativeKeystrokes(client.socket, peer.ipv4, KEYS / 2)));
      progress(`tailtab in Chromium, ${KEYS / 2} keystrokes`);
      tailtab.push(...(await ours(KEYS / 2)));
    }
    const nMed = pct(native, 50);
    const oMed = pct(tailtab, 50);
    return [
      {
        name: `native ssh via tailscaled, echo median of ${native.length}`,
        value: nMed,
        unit: 'ms',
        note: 'reference',
      },
      { name: `native ssh via tailscaled, echo p95`, value: pct(native, 95), unit: 'ms' },
      {
        name: `tailtab (Chromium Worker), echo median of ${tailtab.length}`,
        value: oMed,
        unit: 'ms',
        note: `native + ${(oMed - nMed).toFixed(2)} ms`,
      },
      { name: `tailtab (Chromium Worker), echo p95`, value: pct(tailtab, 95), unit: 'ms' },
    ];
  } finally {
    await browser.close().catch(() => {});
    await app.stop();
    await rig.stop();
  }
}

export function run(): Promise<BenchRow[]> {
  return runInNetns(import.meta.url, 'ssh-keystroke', measure);
}

// `tsx bench/ssh-keystroke.bench.ts` (what run() executes inside the netns): print the rows as JSON.
printRowsIfMain(import.meta.url, measure);
