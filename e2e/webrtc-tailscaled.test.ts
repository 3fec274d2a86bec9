// The WebRTC path between a tailtab node in Chromium and tailscaled built from tailscale/tailscale's
// branch adrianosela/demo-may-19-webrtc (commit cab3f319f; issue #20), on real Headscale and
// derpers. That tailscaled tries WebRTC with every peer it sends to over DERP (no knob), signalling
// over disco through DERP, so the two meet in the middle: offers cross, the lower disco key keeps its
// own, a data channel `tailscale-wg` opens over host candidates on the namespace's TUN address
// (e2e/rig/tun.ts; the branch's STUN server, stun.l.google.com, does not resolve in the namespace).
// Proof: our status shows the path as WebRTC, tailscaled's shows its WebRTC endpoint, and a download
// from the peer arrives with its SHA-256 while our per-path counters count no WireGuard packet of
// the pair over DERP.
//
// Optional: its peer is built only with TAILTAB_WEBRTC_PEER=1 bash scripts/install.sh, and the file
// runs only with that knob (vitest.config.ts); with the knob and no build, startRig fails.
//   TAILTAB_WEBRTC_PEER=1 bash scripts/in-netns.sh npx vitest run --project e2e e2e/webrtc-tailscaled.test.ts
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startRig, type Rig, type RigPeer } from './rig/index.js';
import { startTun, type Tun } from './rig/tun.js';
import { bytesSha256 } from './rig/webserver.js';
import { launchChromium, startAppServer, type AppServer } from './helpers/browser.testkit.js';
import { inTab, tabPeer, upInTab, type Tab } from './helpers/webrtc-tabs.testkit.js';

/** The branch build's directory name under .rig/bin (tailscale-<this>). */
const BRANCH_BUILD = 'webrtc-cab3f319f';
const SIZE = 16 << 20;

let tun: Tun;
let rig: Rig;
let app: AppServer;
let browser: Browser;
let tab: Tab;
let peer: RigPeer;

beforeAll(async () => {
  tun = await startTun();
  rig = await startRig({
    peers: [{ name: 'rtcts', homeRegion: 901 }],
    sshd: false,
    versions: { tailscale: BRANCH_BUILD },
  });
  peer = rig.peer('rtcts');
  app = await startAppServer({ TAILTAB_CONTROL_UPSTREAM: rig.headscaleUrl });
  browser = await launchChromium(['--disable-features=WebRtcHideLocalIpsWithMdns']);
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  tab = page as unknown as Tab;
  await upInTab(tab, { appUrl: app.url, authKey: rig.authKey, hostname: 'rtc-tab', homeRegion: 900 });
}, 300_000);

afterAll(async () => {
  // Both sides' view of the path, for a failure's reader.
  const lines = await tab?.evaluate('window.__log.filter((t) => t.startsWith("webrtc:")).slice(-20)').catch(() => []);
  if ((lines as string[] | undefined)?.length) console.log(`tab:\n  ${(lines as string[]).join('\n  ')}`);
  const c = (await tab?.evaluate('window.__node.status().counters').catch(() => ({}))) as Record<string, number>;
  console.log(
    'tab',
    JSON.stringify(Object.fromEntries(Object.entries(c ?? {}).filter(([k]) => /webrtc|Signal|Direct/.test(k)))),
  );
  await tab?.evaluate('window.__node && window.__node.down()').catch(() => {});
  await browser?.close();
  await app?.stop();
  await rig?.stop();
  await tun?.stop();
});

/** tailscaled's per-path packet counters (`tailscale metrics print`: tailscaled_{in,out}bound_packets_total{path=…}). */
async function peerPackets(): Promise<Record<string, number>> {
  const out = await peer.tailscale(['metrics', 'print']);
  const c: Record<string, number> = {};
  for (const m of out.matchAll(/^tailscaled_(inbound|outbound)_packets_total\{path="(\w+)"\} (\d+)$/gm))
    c[`${m[1]}.${m[2]}`] = Number(m[3]);
  return c;
}

/** tailscaled's view of the tab: `tailscale status --json` Peer entry. */
async function peerSideOfTab() {
  const st = await peer.status();
  return Object.values(st.Peer ?? {}).find((p) => p.HostName === 'rtc-tab');
}

describe('WebRTC path between a tailtab node in Chromium and the WebRTC branch of tailscaled', () => {
  it('comes up over disco signalling through DERP; both sides show it as the path', async () => {
    await expect.poll(async () => !!(await tabPeer(tab, 'rtcts')), { timeout: 60_000, interval: 500 }).toBe(true);
    // The branch signals only to a peer's home DERP from its netmap (webrtc_signaling_disco.go): an
    // offer that comes before it is answered into the void ("no DERP address for peer"), and the
    // branch then ignores every offer until its own ICE gives up (30 s) and its retry (15 s) offers.
    // Wait for the tailnet to settle, as a person's second look would.
    await expect
      .poll(async () => (await peerSideOfTab())?.Relay ?? '', { timeout: 60_000, interval: 500 })
      .not.toBe('');
    // Traffic over DERP makes both sides offer (our wantPath, the branch's ensureConnecting).
    await inTab(tab, `await node.ping(${JSON.stringify(peer.ipv4)}, { timeoutMs: 20000 });`);
    await expect
      // Up to ~45 s: on glare the branch cannot roll back its offer (pion v4.2.12: "invalid SDP type
      // supplied to SetLocalDescription(): rollback"), and recovers only by its ICE failing (30 s)
      // and its retry ticker (15 s) offering again.
      .poll(async () => (await tabPeer(tab, 'rtcts'))?.path?.kind, { timeout: 90_000, interval: 500 })
      .toBe('webrtc');
    // The branch reports a WebRTC path as CurAddr 127.3.3.41:12345 (tailcfg.WebRTCMagicIP) and the ICE address.
    await expect
      .poll(async () => (await peerSideOfTab())?.CurAddr ?? '', { timeout: 30_000, interval: 500 })
      .toMatch(/^127\.3\.3\.41:12345/);
    const p = (await tabPeer(tab, 'rtcts'))!;
    expect(p.path!.rttMs).toBeGreaterThanOrEqual(0);
  }, 200_000);

  it(`a ${SIZE >> 20} MiB download from the peer arrives with its SHA-256, none of the pair's WireGuard packets over DERP`, async () => {
    const before = (await tabPeer(tab, 'rtcts'))!;
    const peerBefore = await peerPackets();
    const got = await inTab<{ status: string; length: number; sha256: string }>(
      tab,
      `const c = await node.dial(${JSON.stringify(peer.ipv4)}, ${rig.httpPort}, { timeoutMs: 30000 });
      const w = c.writable.getWriter();
      await w.write(new TextEncoder().encode('GET /bytes/${SIZE} HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n'));
      const r = c.readable.getReader(); const parts = []; let n = 0;
      for (;;) { const { value, done } = await r.read(); if (done) break; parts.push(value); n += value.length; }
      const all = new Uint8Array(n); let o = 0; for (const p of parts) { all.set(p, o); o += p.length; }
      let h = 0; while (h + 3 < n && !(all[h] === 13 && all[h + 1] === 10 && all[h + 2] === 13 && all[h + 3] === 10)) h++;
      const body = all.subarray(h + 4);
      const d = new Uint8Array(await crypto.subtle.digest('SHA-256', body));
      return { status: new TextDecoder().decode(all.subarray(0, all.indexOf(13))), length: body.length,
        sha256: [...d].map((x) => x.toString(16).padStart(2, '0')).join('') };`,
    );
    expect(got.status).toBe('HTTP/1.1 200 OK');
    expect(got).toMatchObject({ length: SIZE, sha256: bytesSha256(SIZE) });
    const after = (await tabPeer(tab, 'rtcts'))!;
    expect(after.path?.kind).toBe('webrtc');
    expect(after.derpTxPackets - before.derpTxPackets).toBe(0);
    expect(after.derpRxPackets - before.derpRxPackets).toBe(0);
    expect(after.webrtc!.rxPackets - before.webrtc!.rxPackets).toBeGreaterThan(SIZE / 1500);
    expect(after.webrtc!.txPackets - before.webrtc!.txPackets).toBeGreaterThan(0);
    // And tailscaled's own counters: it sent the download over its WebRTC path, none over DERP.
    const peerAfter = await peerPackets();
    const d = (k: string) => (peerAfter[k] ?? 0) - (peerBefore[k] ?? 0);
    expect(d('outbound.webrtc')).toBeGreaterThan(SIZE / 1500);
    expect(d('inbound.webrtc')).toBeGreaterThan(0);
    expect(d('outbound.derp')).toBe(0);
    expect(d('inbound.derp')).toBe(0);
  }, 120_000);
});
