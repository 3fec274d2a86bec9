// Tailtab nodes in browser pages for the WebRTC path (e2e/webrtc-path.test.ts,
// bench/tailnet-webrtc.bench.ts): a node per page over the app's Vite server, with the page's own
// RTCPeerConnection (each data channel kept in window.__channels so a test can close it), and a
// one-shot TCP transfer between two pages. Works with playwright's and puppeteer's pages.

/** A page of either driver (playwright's Chromium, puppeteer's Firefox): what these helpers need of it. */
export interface Tab {
  evaluate(expression: string): Promise<unknown>;
  goto(url: string): Promise<unknown>;
}

export interface TabPeer {
  name: string;
  ips: string[];
  path?: { kind: string; rttMs?: number };
  webrtc?: { state: string; txPackets: number; rxPackets: number };
  derpTxPackets: number;
  derpRxPackets: number;
}

export interface TabStatus {
  self: { ips: string[] };
  peers: TabPeer[];
  counters: Record<string, number>;
  webrtcUnavailable?: string;
}

/** Runs `body` (a function body; `node` is the page's node) in the page. */
export const inTab = <T>(tab: Tab, body: string): Promise<T> =>
  tab.evaluate(`(async () => { const node = window.__node; ${body} })()`) as Promise<T>;
export const tabStatus = (tab: Tab) => inTab<TabStatus>(tab, 'return JSON.parse(JSON.stringify(node.status()));');
export const tabPeer = async (tab: Tab, name: string) =>
  (await tabStatus(tab)).peers.find((p) => p.name.startsWith(name + '.'));

/** Opens the app's origin in `tab` and brings a node up there (ephemeral, pre-auth key). */
export async function upInTab(
  tab: Tab,
  o: { appUrl: string; authKey: string; hostname: string; homeRegion: number },
): Promise<void> {
  await tab.goto(o.appUrl + '/');
  await tab.evaluate(`(async () => {
    const { TailnetNode } = await import('/src/node/node.ts');
    const { createLayers } = await import('/src/node/layers.ts');
    window.__channels = [];
    const createPeerConnection = (config) => {
      const pc = new RTCPeerConnection(config);
      const create = pc.createDataChannel.bind(pc);
      pc.createDataChannel = (label, init) => { const dc = create(label, init); window.__channels.push(dc); return dc; };
      pc.addEventListener('datachannel', (e) => window.__channels.push(e.channel));
      return pc;
    };
    const node = new TailnetNode(createLayers());
    window.__node = node;
    window.__log = [];
    node.on('log', (t) => window.__log.push(t));
    await node.up({ controlUrl: location.origin, authKey: ${JSON.stringify(o.authKey)}, hostname: ${JSON.stringify(o.hostname)},
      ephemeral: true, allowInsecureDerp: true, wallClockMs: () => Date.now(), homeRegion: ${o.homeRegion},
      webrtc: { createPeerConnection } });
  })()`);
}

/**
 * Starts receiving one transfer on `port` in `rx` (window.__rx.bytes counts it); window.__rxDone
 * resolves its length, SHA-256 (unless hash is false) and the wall time it ended.
 */
export function serveOnce(rx: Tab, port: number, o: { hash?: boolean } = {}): Promise<void> {
  return inTab(
    rx,
    `const l = node.listen(${port});
    window.__rx = { bytes: 0 };
    window.__rxDone = (async () => {
      const c = await l.accept(); l.close();
      const r = c.readable.getReader(); const parts = [];
      for (;;) { const { value, done } = await r.read(); if (done) break; ${o.hash === false ? '' : 'parts.push(value); '}window.__rx.bytes += value.length; }
      const doneAt = Date.now();
      let sha256 = '';
      if (${o.hash !== false}) {
        const all = new Uint8Array(window.__rx.bytes); let o = 0; for (const p of parts) { all.set(p, o); o += p.length; }
        const d = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
        sha256 = [...d].map((x) => x.toString(16).padStart(2, '0')).join('');
      }
      await c.close();
      return { length: window.__rx.bytes, sha256, doneAt };
    })();`,
  );
}

/** What serveOnce's receiver saw. */
export const received = (rx: Tab) =>
  inTab<{ length: number; sha256: string; doneAt: number }>(rx, 'return await window.__rxDone;');

/** Sends `size` random bytes from `tx` to host:port; returns their length, SHA-256 and the wall time of the dial. */
export function sendFromTab(
  tx: Tab,
  host: string,
  port: number,
  size: number,
): Promise<{ length: number; sha256: string; startedAt: number }> {
  return inTab(
    tx,
    `const data = new Uint8Array(${size});
    for (let o = 0; o < data.length; o += 65536) crypto.getRandomValues(data.subarray(o, o + 65536));
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
    const startedAt = Date.now();
    const c = await node.dial(${JSON.stringify(host)}, ${port}, { timeoutMs: 30000 });
    const w = c.writable.getWriter();
    for (let o = 0; o < data.length; o += 32768) await w.write(data.subarray(o, o + 32768));
    await w.close();
    return { length: data.length, sha256: [...d].map((x) => x.toString(16).padStart(2, '0')).join(''), startedAt };`,
  );
}
