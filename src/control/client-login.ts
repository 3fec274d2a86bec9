// Login and logout of the control client: /machine/register with a pre-auth key or AuthURL +
// Followup long-poll (tailscale controlclient/direct.go doLogin), a returning node's resume without
// register, node key rotation, and logout by an expiry in the past.
import { keyToText } from '../crypto/keys.js';
import { storedPublicKey } from '../crypto/static-key.js';
import { withDeadline } from '../platform/deadline.js';
import type { Http2Response } from './h2/client.js';
import { emptyNetworkMap } from './netmap.js';
import { CAPABILITY_VERSION, type RegisterRequest, type RegisterResponse } from './tailcfg.js';
import { fmtSeconds } from './transport.js';
import { loginUrlProblem } from './urls.js';
import { ClientMapStream } from './client-map.js';
import { type LoginOptions, ControlError } from './client-types.js';

const ZERO_NODE_KEY = keyToText('nodekey', new Uint8Array(32));
const ZERO_TIME = '0001-01-01T00:00:00Z';
/** A time in the past: RegisterRequest.Expiry before now asks control to expire the node key (logout). */
const PAST_TIME = '1970-01-01T00:02:03Z';

export abstract class ClientLogin extends ClientMapStream {
  protected async register(req: RegisterRequest): Promise<RegisterResponse> {
    let status: number, text: string;
    if (req.Followup) {
      // Blocks at control until a person approves the login: no deadline (the view shows the link).
      const res = await this.post('/machine/register', req);
      status = res.status;
      text = await res.text();
    } else {
      await this.getSession(); // its stages (/key, WebSocket, Noise) have deadlines of their own
      const ms = this.timeouts.registerMs;
      ({ status, text } = await withDeadline(
        (async () => {
          const res = await this.post('/machine/register', req);
          return { status: res.status, text: await res.text() };
        })(),
        ms,
        this.o.clock,
        () =>
          new ControlError(
            `control accepted the connection but did not answer POST /machine/register within ${fmtSeconds(ms)} (stage: register)`,
          ),
        () => this.dropSession('register timed out'),
      ));
    }
    const res = { status };
    if (res.status !== 200) throw new ControlError(`register: HTTP ${res.status}: ${text.slice(0, 200)}`);
    let rr: RegisterResponse;
    try {
      rr = JSON.parse(text);
    } catch {
      throw new ControlError('register: answer is not JSON');
    }
    if (rr.Error) throw new ControlError(`control refused the login: ${rr.Error}`);
    return rr;
  }

  /**
   * Registers our node key. With authKey: a pre-auth key login. Without: first tries the stored
   * login (same machine + node key = no re-auth), else reports AuthURL via onAuthUrl and waits
   * (Followup long-poll) until a person approves it.
   */
  async login(o: LoginOptions): Promise<RegisterResponse> {
    const st = await this.ensureState();
    if (st.loggedIn && !st.nodeKeyExpired && !o.forceRegister) {
      const resumed = await this.resume(o);
      if (resumed) return resumed;
    }
    if (st.nodeKeyExpired) {
      // direct.go doLogin: an expired key is never re-sent; a new one is registered with the old
      // one as OldNodeKey, so control keeps the same node (addresses, name) for this machine.
      await this.rotateNodeKey();
    }
    this.setState('registering');
    const oldKey = st.oldNodePrivateKey ? keyToText('nodekey', storedPublicKey(st.oldNodePrivateKey)) : ZERO_NODE_KEY;
    const base: RegisterRequest = {
      Version: CAPABILITY_VERSION,
      NodeKey: keyToText('nodekey', this.nodePublicKey),
      OldNodeKey: oldKey,
      Expiry: ZERO_TIME,
      Hostinfo: this.buildHostinfo(o.hostname),
      Ephemeral: !!o.ephemeral,
      Auth: o.authKey ? { AuthKey: o.authKey } : null,
    };
    try {
      let rr = await this.register(base);
      if (rr.NodeKeyExpired) {
        await this.rotateNodeKey();
        this.setState('key-expired', 'node key expired: log in again');
        throw new ControlError('the node key has expired; log in again');
      }
      let followups = 0;
      while (!rr.MachineAuthorized && rr.AuthURL) {
        const bad = loginUrlProblem(rr.AuthURL);
        if (bad) throw new ControlError(`control sent a login link we will not show: ${bad}`);
        this.setState('needs-login', rr.AuthURL);
        if (followups === 0) o.onAuthUrl?.(rr.AuthURL);
        followups++;
        // The followup blocks at control until approved (or its own timeout: then ask again).
        rr = await this.register({ ...base, Auth: null, Followup: rr.AuthURL });
      }
      if (!rr.MachineAuthorized) throw new ControlError('control did not authorize this machine (no AuthURL either)');
      st.loggedIn = true;
      st.oldNodePrivateKey = undefined;
      st.nodeKeyExpired = undefined;
      st.nodeKeyExpiry = undefined;
      this.selfExpired = false;
      st.loginName = rr.Login?.LoginName ?? st.loginName;
      await this.o.store.save(st);
      this.setState('logged-in');
      return rr;
    } catch (e) {
      if (this.state === 'registering' || this.state === 'needs-login') this.setState('idle', String(e));
      throw e;
    }
  }

  /**
   * A returning node (stored login, same machine and node key): no /machine/register, the map
   * request goes out at once on the new connection, as tailscaled does when it starts with a
   * persisted, unexpired login (controlclient: the map poll runs without a new doLogin). Register
   * told us nothing new there: control authorizes the same keys again. Resolves once control
   * accepted the map request (its response is kept for start()); null when control no longer knows
   * the key (HTTP 4xx: deleted, expired, logged out elsewhere), and login() then registers as for a
   * new node. The control key is still checked against the pinned one (getSession).
   */
  protected async resume(o: LoginOptions): Promise<RegisterResponse | null> {
    this.setState('registering');
    let res: Http2Response;
    try {
      res = await this.postMap(this.mapRequest(o.hostname));
    } catch (e) {
      this.setState('idle', String(e));
      throw e;
    }
    if (res.status === 200) {
      this.firstMap = res;
      this.resumedLogins++;
      this.selfExpired = false;
      this.setState('logged-in');
      return {
        MachineAuthorized: true,
        Login: this.st?.loginName ? ({ LoginName: this.st.loginName } as RegisterResponse['Login']) : undefined,
      };
    }
    const t = await res.text().catch(() => '');
    if (res.status >= 400 && res.status < 500) {
      this.log(`control: the stored login was not accepted (HTTP ${res.status} ${t.slice(0, 100)}): registering again`);
      return null;
    }
    this.setState('idle', `map: HTTP ${res.status}`);
    throw new ControlError(`map: HTTP ${res.status}: ${t.slice(0, 200)}`);
  }

  protected async rotateNodeKey(): Promise<void> {
    const st = await this.ensureState();
    // Keep the first old key across repeated attempts: that is the one control knows.
    st.oldNodePrivateKey = st.oldNodePrivateKey ?? st.nodePrivateKey;
    st.nodeKeyExpired = undefined;
    await this.newNodeKey(st);
    st.loggedIn = false;
    await this.o.store.save(st);
  }

  /** Expires our node key at control and forgets the login (the machine key stays). */
  async logout(): Promise<void> {
    const st = await this.ensureState();
    const req: RegisterRequest = {
      Version: CAPABILITY_VERSION,
      NodeKey: keyToText('nodekey', this.nodePublicKey),
      OldNodeKey: ZERO_NODE_KEY,
      Expiry: PAST_TIME,
      Hostinfo: this.buildHostinfo(),
      Auth: null,
    };
    // Say it on the connection that is already open: one request, no new WebSocket or Noise
    // handshake. A kiosk tab being closed leaves its Worker only moments; the request must be on
    // the wire before the Worker goes, or control keeps the node until its inactivity timeout.
    let done = false;
    if (this.session) {
      try {
        await this.register(req);
        done = true;
      } catch {
        /* the open connection failed: retried below on a fresh one */
      }
    }
    await this.stopLoop();
    try {
      if (!done) await this.register(req);
    } finally {
      st.loggedIn = false;
      await this.newNodeKey(st);
      await this.o.store.save(st);
      this.dropSession('logged out');
      this.netMap = emptyNetworkMap();
      this.setState('logged-out');
    }
  }
}
