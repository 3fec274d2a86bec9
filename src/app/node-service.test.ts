// NodeService (the node Worker's NodeApi) over real MessageChannels, with a scripted node in
// place of TailnetNode: what windows see (status, shared node, refusals), what never crosses to a
// page (private keys, the auth key), and what an ephemeral session leaves behind (nothing).
import { describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519.js';
import { fromBase64, toHex } from '../crypto/bytes.js';
import { seededRandom } from '../crypto/random.js';
import type { NodeEventMap, NodeNetMap, NodeState, NodeStatus, UpConfig as NodeUpConfig } from '../node/node.js';
import type { NodeLike } from './context.js';
import type { NodeApi, NodeEvent, UpConfig } from './node-api.js';
import { createNodeClientOnPort } from './node-client.js';
import { NodeService } from './node-service.js';
import { toStatusView } from './status.js';
import { MemoryWorkerStore } from './store.js';
import { NO_GESTURE } from './gesture.js';
import { SshKeyring } from './ssh-keys.js';
import type { AppContext } from './context.js';
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import { parseOpenSshPrivateKey } from '../ssh/keyfile.js';
import type { Subtle } from '../ssh/key-custody.js';
import { parseHostKey, verifySignature } from '../ssh/hostkey.js';
import { authorizedKeysLine, ed25519KeyFromSeed } from '../ssh/keys.js';

const NM: NodeNetMap = {
  self: { name: 'browser.tailtab.test.', addresses: ['100.64.0.9/32', 'fd7a:115c:a1e0::9/128'], user: 'tailtab' },
  peers: [
    {
      id: '1',
      name: 'peer1.tailtab.test.',
      nodeKey: new Uint8Array(32).fill(1),
      addresses: ['100.64.0.1/32'],
      homeDerp: 900,
      online: true,
      os: 'linux',
    },
    {
      id: '2',
      name: 'peer2.tailtab.test.',
      nodeKey: new Uint8Array(32).fill(2),
      addresses: ['100.64.0.2/32'],
      homeDerp: 901,
      online: false,
      os: 'linux',
    },
  ],
  derpMap: {
    regions: [
      { regionId: 900, regionCode: 'rig900', regionName: 'Rig 900', nodes: [] },
      { regionId: 901, regionCode: 'rig901', regionName: 'Rig 901', nodes: [] },
    ],
  },
};

class ScriptedNode implements NodeLike {
  state: NodeState = 'stopped';
  ups: NodeUpConfig[] = [];
  loggedOut = 0;
  failWith?: string;
  private ls = new Map<string, Set<(v: unknown) => void>>();
  on<K extends keyof NodeEventMap>(ev: K, cb: (v: NodeEventMap[K]) => void) {
    if (!this.ls.has(ev)) this.ls.set(ev, new Set());
    this.ls.get(ev)!.add(cb as (v: unknown) => void);
    return () => this.ls.get(ev)!.delete(cb as (v: unknown) => void);
  }
  emit<K extends keyof NodeEventMap>(ev: K, v: NodeEventMap[K]) {
    for (const cb of this.ls.get(ev) ?? []) cb(v);
  }
  async up(cfg: NodeUpConfig) {
    this.ups.push(cfg);
    this.state = 'starting';
    this.emit('state', 'starting');
    this.emit('log', `registering with key ${cfg.authKey}`);
    if (this.failWith) {
      this.state = 'error';
      throw new Error(this.failWith);
    }
    // The control store given by the service must work (it is where the login is kept).
    const store = cfg.storage as { save(s: unknown): Promise<void> };
    await store.save({ machinePrivateKey: 'ab'.repeat(32), loggedIn: true });
    this.state = 'running';
    this.emit('netmap', NM);
    this.emit('state', 'running');
  }
  /** When set, down() waits for it (a logout or shutdown that takes a while). */
  downGate?: Promise<void>;
  downStarted?: () => void;
  async down() {
    this.downStarted?.();
    await this.downGate;
    this.state = 'stopped';
    this.emit('state', 'stopped');
  }
  async logout() {
    this.loggedOut++;
    await this.down();
  }
  routes: { acceptRoutes?: boolean; exitNodeId?: string } = {};
  setRoutePrefs(p: { acceptRoutes?: boolean; exitNodeId?: string }) {
    if (p.exitNodeId && !['1', '2'].includes(p.exitNodeId))
      throw new Error(`exit node ${p.exitNodeId} is not a peer in the tailnet`);
    this.routes = { ...p };
  }
  status(): NodeStatus {
    return {
      routes: this.routes,
      state: this.state,
      self:
        this.state === 'running'
          ? {
              name: NM.self.name,
              ips: ['100.64.0.9', 'fd7a:115c:a1e0::9'],
              nodeKey: 'nodekey:00',
              discoKey: 'discokey:00',
            }
          : undefined,
      peers:
        this.state === 'running'
          ? [
              {
                id: '1',
                name: 'peer1.tailtab.test.',
                nodeKey: 'nodekey:01',
                ips: ['100.64.0.1'],
                online: true,
                os: 'linux',
                relayRegion: 900,
                handshakeAgeMs: 1200,
                rxBytes: 10,
                txBytes: 20,
                subnetRoutes: ['10.77.0.0/24'],
                exitNode: true,
              },
              {
                id: '2',
                name: 'peer2.tailtab.test.',
                nodeKey: 'nodekey:02',
                ips: ['100.64.0.2'],
                online: false,
                os: 'linux',
                rxBytes: 0,
                txBytes: 0,
              },
            ]
          : [],
      derp:
        this.state === 'running'
          ? [{ regionId: 900, state: 'connected', home: true, rttMs: 1.5, bytesIn: 5, bytesOut: 6, drops: 0 }]
          : undefined,
      counters: {},
    };
  }
  async ping() {
    return { ms: 3, ip: '100.64.0.1' };
  }
  async dial(): Promise<never> {
    throw new Error('no netstack in this test');
  }
}

/** A service with windows attached over MessageChannels; every message a window receives is kept. */
function setup(o: { fail?: string; leaveWaitMs?: number } = {}) {
  const node = new ScriptedNode();
  node.failWith = o.fail;
  const persistent = new MemoryWorkerStore();
  const svc = new NodeService({
    createNode: async () => node,
    persistentStore: persistent,
    random: seededRandom(7),
    statusIntervalMs: 60_000,
    leaveWaitMs: o.leaveWaitMs,
  });
  const seen: unknown[] = [];
  const windows: NodeApi[] = [];
  const open = () => {
    const ch = new MessageChannel();
    svc.attach(ch.port1 as unknown as Parameters<NodeService['attach']>[0]);
    ch.port2.addEventListener('message', (e) => seen.push(e.data));
    const api = createNodeClientOnPort(ch.port2 as unknown as Parameters<typeof createNodeClientOnPort>[0]);
    windows.push(api);
    return api;
  };
  return {
    node,
    persistent,
    svc,
    seen,
    open,
    close: () => {
      /* ports are GC'd */
    },
  };
}

const CFG: UpConfig = {
  controlUrl: 'http://127.0.0.1:8080',
  authKey: 'hskey-auth-SECRETSECRET',
  hostname: 'browser',
  ephemeral: false,
  profileId: '',
};

function events(api: NodeApi): NodeEvent[] {
  const out: NodeEvent[] = [];
  api.subscribe((e) => out.push(e));
  return out;
}

describe('toStatusView', () => {
  it('gives the page names, MagicDNS names, IPs, relay region names and DERP RTTs', () => {
    const node = new ScriptedNode();
    node.state = 'running';
    const v = toStatusView(node.status(), NM);
    expect(v.self).toEqual({
      name: 'browser',
      fqdn: 'browser.tailtab.test',
      ips: ['100.64.0.9', 'fd7a:115c:a1e0::9'],
      user: undefined,
    });
    expect(v.peers.map((p) => [p.name, p.fqdn, p.online, p.relayRegionName])).toEqual([
      ['peer1', 'peer1.tailtab.test', true, 'Rig 900'],
      ['peer2', 'peer2.tailtab.test', false, 'Rig 901'],
    ]);
    expect(v.derp).toEqual([
      {
        regionId: 900,
        regionName: 'Rig 900',
        state: 'connected',
        home: true,
        rttMs: 1.5,
        bytesIn: 5,
        bytesOut: 6,
        drops: 0,
        lastError: undefined,
      },
    ]);
  });

  it('says why a relay or control is down and when the next try is; secrets in errors are redacted', () => {
    const node = new ScriptedNode();
    node.state = 'running';
    const st = node.status();
    st.derp = [
      {
        regionId: 900,
        state: 'backoff',
        home: true,
        bytesIn: 0,
        bytesOut: 0,
        drops: 0,
        lastError: 'connection closed by server (code 1006)',
        retryInMs: 2400,
      },
    ];
    st.control = {
      state: 'reconnecting',
      lastError: 'control did not answer … with key SECRET (stage: map response head)',
      retryInMs: 700,
      failures: 3,
    };
    const v = toStatusView(st, NM, (t) => t.replace('SECRET', '<redacted>'));
    expect(v.derp[0]).toMatchObject({
      state: 'backoff',
      lastError: 'connection closed by server (code 1006)',
      retryInMs: 2400,
    });
    expect(v.control).toEqual({
      state: 'reconnecting',
      error: 'control did not answer … with key <redacted> (stage: map response head)',
      retryInMs: 700,
    });
    st.control = { state: 'streaming', failures: 0 };
    expect(toStatusView(st, NM).control).toEqual({ state: 'streaming' });
  });
});

describe('NodeService', () => {
  it('brings the node up, pushes status to every window, and lets a second window join the same node', async () => {
    const t = setup();
    const a = t.open();
    const b = t.open();
    const evB = events(b);
    await a.up(CFG);
    const st = await b.status();
    expect(st.state).toBe('running');
    expect(st.peers.map((p) => p.name)).toEqual(['peer1', 'peer2']);
    await expect.poll(() => evB.some((e) => e.type === 'status' && e.status.state === 'running')).toBe(true);
    // The second window asks for the same login: it joins; the node is not brought up twice.
    await b.up({ ...CFG, authKey: undefined });
    expect(t.node.ups.length).toBe(1);
    // A different machine name while connected is refused in words, not by breaking the first window.
    await expect(b.up({ ...CFG, hostname: 'other' })).rejects.toThrow(
      /already connected as browser.*Sign out there first/,
    );
    expect((await a.status()).state).toBe('running');
  });

  it('turns subnet routes on and chooses an exit node for every window; refuses malformed choices in words', async () => {
    const t = setup();
    const a = t.open();
    const b = t.open();
    await a.up(CFG);
    let st = await b.status();
    expect(st.routes).toEqual({ acceptRoutes: false });
    expect(st.peers[0]).toMatchObject({ name: 'peer1', subnetRoutes: ['10.77.0.0/24'], offersExitNode: true });
    expect(st.peers[0]!.isExitNode).toBeUndefined();
    await a.setRoutePrefs({ acceptRoutes: true, exitNodeId: '1' });
    st = await b.status();
    expect(st.routes).toEqual({ acceptRoutes: true, exitNodeId: '1' });
    expect(st.peers[0]!.isExitNode).toBe(true);
    await expect(a.setRoutePrefs({ acceptRoutes: 'yes' as unknown as boolean })).rejects.toThrow(/true or false/);
    await expect(a.setRoutePrefs({ exitNodeId: '99' })).rejects.toThrow(/not a peer/);
    await a.setRoutePrefs({});
    expect((await b.status()).routes).toEqual({ acceptRoutes: false });
  });

  it('never lets the auth key reach a window, neither in log lines nor in errors', async () => {
    const t = setup({ fail: 'register: invalid key hskey-auth-SECRETSECRET' });
    const a = t.open();
    const ev = events(a);
    await expect(a.up(CFG)).rejects.toThrow(/auth key was refused/);
    await expect.poll(() => ev.filter((e) => e.type === 'log').length).toBeGreaterThan(1);
    expect(JSON.stringify(t.seen)).not.toContain('SECRETSECRET');
    expect(ev.some((e) => e.type === 'log' && e.line.text.includes('<auth key>'))).toBe(true);
    expect((await a.status()).state).toBe('error');
  });

  it('creates Ed25519 SSH keys held as non-extractable CryptoKeys: no private bytes stored, export refused', async () => {
    const t = setup();
    const a = t.open();
    const k = await a.sshKeyCreate('laptop');
    expect(k.publicKey).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/=]+ laptop$/);
    expect(k).toMatchObject({ type: 'ssh-ed25519', custody: 'webcrypto', exportable: false, source: 'generated' });
    expect(k.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const [rec] = await t.persistent.sshKeys();
    expect(rec!.signingKeys!['ssh-ed25519']!.extractable).toBe(false);
    expect(rec!.privateFields).toBeUndefined();
    expect(rec!.exportable).toBeUndefined();
    expect(rec!.seed).toBeUndefined();
    await expect(a.sshKeyExport(k.id)).rejects.toThrow(/stored without "allow export"/);
    await a.sshKeyDelete(k.id);
    expect(await a.sshKeys()).toEqual([]);
  });

  it('a key made with "allow export": its private half crosses to a window only in the export, passphrase-protected when asked', async () => {
    const t = setup();
    const a = t.open();
    const k = await a.sshKeyCreate('laptop', { allowExport: true });
    expect(k).toMatchObject({ exportable: true, custody: 'webcrypto' });
    const [rec] = await t.persistent.sshKeys();
    const seed = rec!.exportable!.subarray(rec!.exportable!.length - 64, rec!.exportable!.length - 32);
    expect(toHex(ed25519.getPublicKey(seed))).toBe(toHex(fromBase64(k.publicKey.split(' ')[1]!).subarray(-32)));
    const wire = () => JSON.stringify(t.seen, (_k, v) => (v instanceof Uint8Array ? toHex(v) : v));
    expect(wire()).not.toContain(toHex(seed));
    const plain = await a.sshKeyExport(k.id);
    expect(plain).toMatch(
      /^-----BEGIN OPENSSH PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END OPENSSH PRIVATE KEY-----\n$/,
    );
    expect(parseOpenSshPrivateKey(plain).key).toMatchObject({ privateKey: seed });
    const locked = await a.sshKeyExport(k.id, { passphrase: 'hunter22' });
    expect(() => parseOpenSshPrivateKey(locked)).toThrow(/protected by a passphrase/);
    expect(parseOpenSshPrivateKey(locked, 'hunter22').key).toMatchObject({ privateKey: seed });
  });

  it('without a fresh user gesture (navigator.userActivation inactive) export is refused in the page and never reaches the Worker', async () => {
    const t = setup();
    const a = t.open();
    const k = await a.sshKeyCreate('laptop', { allowExport: true });
    const g = globalThis as { navigator?: unknown };
    const saved = Object.getOwnPropertyDescriptor(g, 'navigator');
    const calls = () => t.seen.length;
    try {
      Object.defineProperty(g, 'navigator', { value: { userActivation: { isActive: false } }, configurable: true });
      const before = calls();
      await expect(a.sshKeyExport(k.id)).rejects.toThrow(NO_GESTURE);
      expect(calls()).toBe(before);
      Object.defineProperty(g, 'navigator', { value: { userActivation: { isActive: true } }, configurable: true });
      expect(await a.sshKeyExport(k.id)).toMatch(/OPENSSH PRIVATE KEY/);
    } finally {
      if (saved) Object.defineProperty(g, 'navigator', saved);
      else delete g.navigator;
    }
  });

  it("imports the person's key files: asks for a passphrase, says a wrong one, refuses a duplicate and a DSA key in words; listed in the order logins try them", async () => {
    const t = setup();
    const a = t.open();
    const file = (n: string) => readFileSync(new URL(`../ssh/testdata/${n}`, import.meta.url), 'utf8');
    expect(await a.sshKeyImport(file('ed25519-pass.key'))).toMatchObject({ ok: false, code: 'passphrase-needed' });
    expect(await a.sshKeyImport(file('ed25519-pass.key'), { passphrase: 'nope' })).toEqual({
      ok: false,
      code: 'wrong-passphrase',
      message: 'wrong passphrase for this key',
    });
    const ed = await a.sshKeyImport(file('ed25519-pass.key'), { passphrase: 'pass' });
    expect(ed).toMatchObject({
      ok: true,
      key: { name: 'kat@tailtab', type: 'ssh-ed25519', custody: 'webcrypto', exportable: false, source: 'imported' },
    });
    expect(ed.ok && ed.key.publicKey).toBe(file('ed25519-pass.key.pub').trim());
    expect(await a.sshKeyImport(file('ed25519-pass.key'), { passphrase: 'pass' })).toMatchObject({
      ok: false,
      code: 'duplicate',
      message: 'this key is already here, as "kat@tailtab"',
    });
    const rsa = await a.sshKeyImport(file('rsa2048-pkcs1.pem'), { name: 'old rsa' });
    expect(rsa).toMatchObject({ ok: true, key: { name: 'old-rsa', type: 'ssh-rsa', custody: 'webcrypto' } });
    const dsa = await a.sshKeyImport(
      '-----BEGIN DSA PRIVATE KEY-----\nMIIBuwIBAAKBgQ==\n-----END DSA PRIVATE KEY-----\n',
    );
    expect(dsa).toMatchObject({ ok: false, code: 'unsupported' });
    expect(!dsa.ok && dsa.message).toMatch(/DSA keys are obsolete/);
    const recs = await t.persistent.sshKeys();
    expect(recs.map((r) => Object.keys(r.signingKeys ?? {}))).toEqual([
      ['ssh-ed25519'],
      ['rsa-sha2-512', 'rsa-sha2-256'],
    ]);
    expect(recs.every((r) => !r.privateFields && !r.exportable)).toBe(true);
    expect((await a.sshKeys()).map((k) => k.name)).toEqual(['kat@tailtab', 'old-rsa']);
  });

  it('an engine without Ed25519 keeps raw bytes for that key only, and still signs; a v2 record (raw seed) is moved into a CryptoKey', async () => {
    const store = new MemoryWorkerStore();
    const ctx = { store: () => store, random: seededRandom(3), now: () => 1000 } as unknown as AppContext;
    const subtle = webcrypto.subtle;
    const noEd = {
      ...Object.fromEntries(
        ['importKey', 'sign', 'exportKey'].map((m) => [
          m,
          (subtle as never as Record<string, (...x: unknown[]) => unknown>)[m]!.bind(subtle),
        ]),
      ),
    } as unknown as Subtle;
    const imp = noEd.importKey;
    noEd.importKey = ((...x: Parameters<Subtle['importKey']>) =>
      (x[2] as Algorithm).name === 'Ed25519'
        ? Promise.reject(new DOMException('no', 'NotSupportedError'))
        : imp(...x)) as Subtle['importKey'];
    noEd.generateKey = (() => Promise.reject(new DOMException('no', 'NotSupportedError'))) as Subtle['generateKey'];
    const ring = new SshKeyring(ctx, noEd);
    const k = await ring.create('old-engine');
    expect(k.custody).toBe('raw');
    const [rec] = await store.sshKeys();
    expect(rec!.privateFields!.length).toBeGreaterThan(64);
    const [signer] = await ring.signers();
    const data = new Uint8Array([1, 2, 3]);
    expect(
      verifySignature(parseHostKey(signer!.publicBlob), 'ssh-ed25519', await signer!.sign('ssh-ed25519', data), data),
    ).toBe(true);
    // A record as v2 wrote it: the raw seed.
    const seed = new Uint8Array(32).fill(5);
    const line = authorizedKeysLine(ed25519KeyFromSeed(seed), 'v2');
    await store.deleteSshKey(rec!.id);
    await store.putSshKey({ id: 'v2', name: 'v2', seed: seed.slice(), publicKey: line, createdAt: 1 });
    const modern = new SshKeyring(ctx, webcrypto.subtle as unknown as Subtle);
    expect(await modern.list()).toMatchObject([{ id: 'v2', custody: 'webcrypto', exportable: true, publicKey: line }]);
    const [moved] = await store.sshKeys();
    expect(moved!.seed).toBeUndefined();
    expect(moved!.signingKeys!['ssh-ed25519']!.extractable).toBe(false);
  });

  it('an ephemeral session keeps its login in memory only and logs out when its last window goes', async () => {
    const t = setup();
    const a = t.open();
    const b = t.open();
    await a.up({ ...CFG, ephemeral: true });
    await a.sshKeyCreate('kiosk');
    expect(await t.persistent.sshKeys()).toEqual([]);
    expect(await t.persistent.controlStore('http://127.0.0.1:8080#browser').load()).toBeNull();
    await a.release();
    expect(t.node.loggedOut).toBe(0); // window b is still open
    expect((await b.status()).state).toBe('running');
    await b.release();
    expect(t.node.loggedOut).toBe(1);
    expect(t.node.state).toBe('stopped');
    const c = t.open();
    expect(await c.sshKeys()).toEqual([]);
  });

  it("the widget's keys: apart from the app's, for the visit unless remembered, then in the persistent store as CryptoKeys; Forget removes them", async () => {
    const t = setup();
    const a = t.open();
    const file = (n: string) => readFileSync(new URL(`../ssh/testdata/${n}`, import.meta.url), 'utf8');
    // The app's own key on this origin: the widget neither lists nor blocks on it.
    await a.sshKeyImport(file('ecdsa.key'));
    await a.up({ ...CFG, ephemeral: true });
    const visit = await a.sshKeyImport(file('ecdsa.key'), { scope: 'widget' });
    expect(visit).toMatchObject({ ok: true, key: { scope: 'widget', remembered: false, custody: 'webcrypto' } });
    const kept = await a.sshKeyImport(file('ed25519-pass.key'), {
      passphrase: 'pass',
      scope: 'widget',
      remember: true,
    });
    expect(kept).toMatchObject({ ok: true, key: { scope: 'widget', remembered: true } });
    expect(await a.sshKeyImport(file('ed25519-pass.key'), { passphrase: 'pass', scope: 'widget' })).toMatchObject({
      ok: false,
      code: 'duplicate',
    });
    expect((await a.sshKeys({ scope: 'widget' })).map((k) => [k.type, k.remembered])).toEqual([
      ['ecdsa-sha2-nistp256', false],
      ['ssh-ed25519', true],
    ]);
    // Remembered: in the persistent store, as a non-extractable CryptoKey and no private bytes.
    const stored = (await t.persistent.sshKeys()).filter((r) => r.scope === 'widget');
    expect(stored.map((r) => r.type)).toEqual(['ssh-ed25519']);
    expect(stored[0]!.signingKeys!['ssh-ed25519']!.extractable).toBe(false);
    expect(stored[0]!.privateFields ?? stored[0]!.exportable).toBeUndefined();
    await a.release();
    // A later visit: the remembered key is there, the visit's one is gone; the app sees only its own.
    const b = t.open();
    await b.up({ ...CFG, ephemeral: true });
    const later = await b.sshKeys({ scope: 'widget' });
    expect(later.map((k) => k.type)).toEqual(['ssh-ed25519']);
    await b.down();
    expect((await b.sshKeys()).map((k) => k.type)).toEqual(['ecdsa-sha2-nistp256']);
    expect(await b.sshKeyExport(later[0]!.id).catch((e: Error) => e.message)).toMatch(/no longer exists/);
    // Forget: only as a widget key (the app's delete of that id does nothing), then gone.
    await b.sshKeyDelete(later[0]!.id);
    expect(await b.sshKeys({ scope: 'widget' })).toHaveLength(1);
    await b.sshKeyDelete(later[0]!.id, { scope: 'widget' });
    expect(await b.sshKeys({ scope: 'widget' })).toEqual([]);
    expect((await t.persistent.sshKeys()).map((r) => r.type)).toEqual(['ecdsa-sha2-nistp256']);
  });

  it('the last window of a remembered session takes the node down without logging out; a window opened meanwhile sees it after', async () => {
    const t = setup();
    const a = t.open();
    await a.up(CFG);
    const store = t.persistent.controlStore('http://127.0.0.1:8080#browser');
    // The Worker may outlive its windows (extendedLifetime): nothing may stay online without one.
    let open!: () => void;
    t.node.downGate = new Promise((r) => (open = r));
    const started = new Promise<void>((r) => (t.node.downStarted = r));
    const gone = a.release();
    await started;
    const b = t.open(); // a reload of the same tab, arriving while the node goes down
    const st = b.status();
    open();
    await gone;
    expect((await st).state).toBe('stopped');
    expect(t.node.state).toBe('stopped');
    expect(t.node.loggedOut).toBe(0);
    expect((await store.load())?.loggedIn).toBe(true);
    await b.up({ ...CFG, authKey: undefined });
    expect((await b.status()).state).toBe('running');
  });

  it("a window arriving while the last one's logout hangs (control unreachable) is served after a while anyway", async () => {
    const t = setup({ leaveWaitMs: 30 });
    const a = t.open();
    await a.up({ ...CFG, ephemeral: true });
    const started = new Promise<void>((r) => (t.node.downStarted = r));
    t.node.downGate = new Promise(() => {}); // never goes down
    void a.release();
    await started;
    const b = t.open();
    expect((await b.status()).state).toBe('running');
  });

  it('a window released twice (pagehide, then the element removed) logs an ephemeral node out once', async () => {
    const t = setup();
    const a = t.open();
    await a.up({ ...CFG, ephemeral: true });
    await Promise.all([a.release(), a.release()]);
    expect(t.node.loggedOut).toBe(1);
  });

  it('a remembered profile keeps its login in the persistent store; sign-out marks it logged out', async () => {
    const t = setup();
    const a = t.open();
    await a.up(CFG);
    const store = t.persistent.controlStore('http://127.0.0.1:8080#browser');
    expect((await store.load())?.loggedIn).toBe(true);
    await a.down({ logout: true });
    expect(t.node.loggedOut).toBe(1);
    expect((await store.load())?.loggedIn).toBe(false);
  });
});

describe('NodeService status of a large tailnet', () => {
  it('sends a window its peers whole once, then only what changed; the window sees the whole list', async () => {
    const t = setup();
    const a = t.open();
    const evA = events(a);
    await a.up(CFG);
    const peerAt = (i: number, online: boolean) => ({
      id: String(i),
      name: `p${i}.tailtab.test.`,
      nodeKey: `nodekey:${i}`,
      ips: [`100.64.${i >> 8}.${i & 255}`],
      online,
      os: 'linux',
      rxBytes: 0,
      txBytes: 0,
    });
    let peers = Array.from({ length: 300 }, (_, i) => peerAt(i + 1, true));
    const base = t.node.status.bind(t.node);
    t.node.status = () => ({ ...base(), peers });
    const lastStatus = () => [...evA].reverse().find((e) => e.type === 'status')?.status;
    const wire = () =>
      t.seen.flatMap((m) => {
        const ev = (
          m as {
            kind?: string;
            event?: {
              type?: string;
              peersDiff?: { upsert: unknown[]; remove: string[] };
              status?: { peers: unknown[] };
            };
          }
        ).event;
        return (m as { kind?: string }).kind === 'event' && ev?.type === 'status' ? [ev] : [];
      });
    t.node.emit('netmap', NM);
    await expect.poll(() => lastStatus()?.peers.length).toBe(300);

    // One peer goes offline, one leaves, one joins: the window is sent those three, and has all.
    const sentBefore = wire().length;
    peers = [...peers.slice(1).map((p) => (p.id === '17' ? peerAt(17, false) : p)), peerAt(999, true)];
    await new Promise((r) => setTimeout(r, 300));
    t.node.emit('netmap', NM);
    await expect
      .poll(() => lastStatus()?.peers.length === 300 && lastStatus()?.peers.some((p) => p.id === '999'))
      .toBe(true);
    const diff = wire().slice(sentBefore).at(-1)!;
    expect(diff.status!.peers).toEqual([]);
    expect(diff.peersDiff!.remove).toEqual(['1']);
    expect(diff.peersDiff!.upsert.map((p) => (p as { id: string }).id).sort()).toEqual(['17', '999']);
    const seen = lastStatus()!.peers;
    expect(seen.find((p) => p.id === '17')!.online).toBe(false);
    expect(new Set(seen.map((p) => p.id))).toEqual(new Set(peers.map((p) => p.id)));
    expect(seen).toEqual(expect.arrayContaining(toStatusView({ ...base(), peers }, NM).peers));

    // Map changes in quick succession share one push.
    const n = wire().length;
    for (let i = 0; i < 20; i++) t.node.emit('netmap', NM);
    await new Promise((r) => setTimeout(r, 400));
    expect(wire().length - n).toBeLessThanOrEqual(2);
    // A second window gets the whole list first.
    const b = t.open();
    const evB = events(b);
    t.node.emit('netmap', NM);
    await expect
      .poll(() => [...evB].reverse().find((e) => e.type === 'status')?.status.peers.length, { timeout: 2000 })
      .toBe(300);
  });
});
