// Browser side of the Machines-list check in e2e/ui.test.ts: ?n= synthetic PeerViews (10,000 by
// default) handed to <tt-machines>, then the time the first render took on window.renderMs.
import '../src/ui/global.css';
import '../src/ui/views/machines.js';
import type { PeerView } from '../src/app/node-api.js';
import type { MachinesView } from '../src/ui/views/machines.js';

const n = Number(new URLSearchParams(location.search).get('n') ?? 10_000);
const OSES = ['linux', 'windows', 'macOS', 'iOS', 'android'];
const peers: PeerView[] = Array.from({ length: n }, (_, i) => ({
  id: String(1000 + i),
  name: `host-${i}`,
  fqdn: `host-${i}.tail1234.ts.net`,
  ips: [`100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, `fd7a:115c:a1e0::${(i + 1).toString(16)}`],
  os: OSES[i % OSES.length]!,
  online: i % 3 !== 0,
  ...(i % 3 === 0 ? { lastSeen: '2026-12-01T10:00:00Z' } : {}),
  tailscaleSsh: i % 2 === 0,
  relayRegion: 1 + (i % 20),
  relayRegionName: `Region ${1 + (i % 20)}`,
  rxBytes: 0,
  txBytes: 0,
  ...(i % 50 === 7 ? { subnetRoutes: [`10.${(i >> 8) & 255}.${i & 255}.0/24`] } : {}),
}));
const el = document.querySelector('tt-machines') as MachinesView;
const t0 = performance.now();
el.peers = peers;
await el.updateComplete;
(window as unknown as { renderMs: number }).renderMs = performance.now() - t0;
document.getElementById('status')!.textContent = 'ready';
