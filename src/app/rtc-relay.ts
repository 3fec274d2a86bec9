// The WebRTC path for a node in a Worker (node/webrtc-path.ts): Chromium and Firefox have no
// RTCPeerConnection in a Worker, so a page hosts the peer connections (ui/rtc-host.ts) and this
// side, in the Worker, drives them over a MessagePort. Each RTCDataChannel is transferred to the
// Worker the moment the page has it (createDataChannel, ondatachannel: transferable RTCDataChannel,
// Chromium 156 and Firefox 153, checked), so WireGuard packets go straight between the channel and
// the node here; only signalling calls and state cross the port.
// A SharedWorker cannot receive an RTCDataChannel (Chromium 156: `messageerror` on its port,
// checked), so for one the page keeps the channel and relays its messages over the port instead
// (`transfer: false`): a copy and the page's main thread on the way, but the path still works.
// A peer connection proxy keeps the page's last signalling state, connection state and local
// description (every reply and event carries them), which WebRtcPaths reads synchronously.
import type {
  DataChannelLike,
  IceServer,
  PeerConnectionFactory,
  PeerConnectionLike,
  SessionDescriptionLike,
} from '../node/webrtc-peer.js';
import type { IceCandidateInit } from '../node/webrtc-signal.js';
import type { PostingPort } from '../platform/port.js';

/** The page's state of one peer connection, sent with every reply and event. */
export interface RtcHostState {
  signalingState: string;
  connectionState: string;
  localDescription: SessionDescriptionLike | null;
}

/** Worker → page. */
export type RtcHostCall =
  | { op: 'create'; id: number; config: { iceServers: IceServer[] }; transfer: boolean }
  | { op: 'channel'; id: number; chan: number; label: string; init: { ordered: boolean; maxRetransmits: number } }
  | { op: 'setLocal'; id: number; seq: number; desc?: SessionDescriptionLike }
  | { op: 'setRemote'; id: number; seq: number; desc: SessionDescriptionLike }
  | { op: 'addCandidate'; id: number; seq: number; candidate: IceCandidateInit }
  | { op: 'close'; id: number }
  /** The page keeps the channel (transfer: false): send on it, close it. */
  | { op: 'dcSend'; id: number; key: number; data: ArrayBuffer }
  | { op: 'dcClose'; id: number; key: number };

/** Page → Worker (a channel travels in the transfer list). */
export type RtcHostEvent =
  | { ev: 'result'; id: number; seq: number; error?: string; state: RtcHostState }
  | { ev: 'state'; id: number; state: RtcHostState }
  | { ev: 'candidate'; id: number; candidate: IceCandidateInit | null; state: RtcHostState }
  | { ev: 'channel'; id: number; chan?: number; channel: DataChannelLike }
  /** A channel the page keeps (transfer: false), named by `key`, and what happens on it. */
  | { ev: 'channelKept'; id: number; chan?: number; key: number; label: string }
  | { ev: 'dc'; id: number; key: number; what: 'open' | 'close' | 'error' | 'message'; data?: ArrayBuffer };

/** Stands in for a channel until the page's real one arrives (transferred), then forwards to it. */
class ChannelProxy implements DataChannelLike {
  private real?: DataChannelLike;
  binaryType = 'arraybuffer';
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  private closedEarly = false;

  constructor(readonly label: string) {}

  get readyState(): string {
    return this.real?.readyState ?? (this.closedEarly ? 'closed' : 'connecting');
  }

  get bufferedAmount(): number {
    return this.real?.bufferedAmount ?? 0;
  }

  /** The page keeps the channel: sends and closes go to it over the relay, events come back. */
  bindKept(post: (m: { op: 'dcSend'; data: ArrayBuffer } | { op: 'dcClose' }) => void): void {
    let state = 'connecting';
    this.bind({
      label: this.label,
      get readyState() {
        return state;
      },
      bufferedAmount: 0,
      binaryType: 'arraybuffer',
      send: (d) => {
        if (state !== 'open') throw new Error('InvalidStateError: data channel not open');
        const copy = d.slice();
        post({ op: 'dcSend', data: copy.buffer });
      },
      close: () => {
        if (state === 'closed') return;
        state = 'closed';
        post({ op: 'dcClose' });
        queueMicrotask(() => this.onclose?.({}));
      },
      onopen: null,
      onclose: null,
      onerror: null,
      onmessage: null,
    });
    this.keptEvent = (what, data) => {
      if (what === 'open') {
        state = 'open';
        this.onopen?.({});
      } else if (what === 'close') {
        if (state === 'closed') return;
        state = 'closed';
        this.onclose?.({});
      } else if (what === 'error') this.onerror?.({});
      else if (what === 'message' && state === 'open' && data) this.onmessage?.({ data });
    };
  }

  keptEvent?: (what: 'open' | 'close' | 'error' | 'message', data?: ArrayBuffer) => void;

  bind(real: DataChannelLike): void {
    this.real = real;
    real.binaryType = this.binaryType;
    real.onopen = (e) => this.onopen?.(e);
    real.onclose = (e) => this.onclose?.(e);
    real.onerror = (e) => this.onerror?.(e);
    real.onmessage = (e) => this.onmessage?.(e);
    if (this.closedEarly) real.close();
    else if (real.readyState === 'open') this.onopen?.({});
  }

  send(d: Uint8Array): void {
    if (!this.real) throw new Error('InvalidStateError: data channel not open yet');
    this.real.send(d);
  }

  close(): void {
    if (this.real) this.real.close();
    else this.closedEarly = true;
  }
}

class PeerConnectionProxy implements PeerConnectionLike {
  signalingState = 'stable';
  connectionState = 'new';
  localDescription: SessionDescriptionLike | null = null;
  onicecandidate: ((ev: { candidate: { toJSON(): IceCandidateInit } | null }) => void) | null = null;
  onconnectionstatechange: ((ev: unknown) => void) | null = null;
  ondatachannel: ((ev: { channel: DataChannelLike }) => void) | null = null;
  readonly channels = new Map<number, ChannelProxy>();
  /** Channels the page keeps (SharedWorker), by the page's key. */
  readonly kept = new Map<number, ChannelProxy>();
  readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

  constructor(
    private readonly relay: RtcRelay,
    readonly id: number,
  ) {}

  apply(s: RtcHostState): void {
    const before = this.connectionState;
    this.signalingState = s.signalingState;
    this.connectionState = s.connectionState;
    this.localDescription = s.localDescription;
    if (before !== s.connectionState) this.onconnectionstatechange?.({});
  }

  createDataChannel(label: string, init: { ordered: boolean; maxRetransmits: number }): DataChannelLike {
    const chan = this.relay.nextSeq();
    const c = new ChannelProxy(label);
    this.channels.set(chan, c);
    this.relay.post({ op: 'channel', id: this.id, chan, label, init });
    return c;
  }

  setLocalDescription(desc?: SessionDescriptionLike): Promise<void> {
    return this.call((seq) => ({ op: 'setLocal', id: this.id, seq, ...(desc ? { desc } : {}) }));
  }

  setRemoteDescription(desc: SessionDescriptionLike): Promise<void> {
    return this.call((seq) => ({ op: 'setRemote', id: this.id, seq, desc }));
  }

  addIceCandidate(candidate: IceCandidateInit): Promise<void> {
    return this.call((seq) => ({ op: 'addCandidate', id: this.id, seq, candidate }));
  }

  close(): void {
    this.relay.post({ op: 'close', id: this.id });
    this.relay.forget(this);
    this.signalingState = 'closed';
    this.connectionState = 'closed';
    for (const w of this.waiting.values()) w.reject(new Error('peer connection closed'));
    this.waiting.clear();
    for (const c of this.channels.values()) c.close();
  }

  private call(make: (seq: number) => RtcHostCall): Promise<void> {
    if (this.signalingState === 'closed') return Promise.reject(new Error('peer connection closed'));
    const seq = this.relay.nextSeq();
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      this.relay.post(make(seq));
    });
  }
}

/**
 * The Worker's side: pages offer themselves as hosts (`addHost`, the newest is used for new peer
 * connections); `factory` is what UpConfig.webrtc.createPeerConnection takes. Without a host the
 * factory throws, and WebRtcPaths reports that and keeps the peer on DERP.
 */
export class RtcRelay {
  private host?: PostingPort;

  /** transferChannels: false in a SharedWorker (it cannot receive an RTCDataChannel). */
  constructor(private readonly o: { transferChannels: boolean } = { transferChannels: true }) {}

  private readonly pcs = new Map<number, PeerConnectionProxy>();
  private seq = 1;

  readonly factory: PeerConnectionFactory = (config) => {
    if (!this.host) throw new Error('no page is open to host WebRTC peer connections for the Worker');
    const pc = new PeerConnectionProxy(this, this.nextSeq());
    this.pcs.set(pc.id, pc);
    this.post({ op: 'create', id: pc.id, config, transfer: this.o.transferChannels });
    return pc;
  };

  /** A page's port (ui/rtc-host.ts): its messages are the page's replies and events. */
  addHost(port: PostingPort & { onmessage: ((e: MessageEvent) => void) | null }): void {
    this.host = port;
    port.onmessage = (e) => this.onEvent(e.data as RtcHostEvent);
  }

  nextSeq(): number {
    return this.seq++;
  }

  post(m: RtcHostCall): void {
    if (m.op === 'dcSend') this.host?.postMessage(m, [m.data]);
    else this.host?.postMessage(m);
  }

  forget(pc: PeerConnectionProxy): void {
    this.pcs.delete(pc.id);
  }

  private onEvent(m: RtcHostEvent): void {
    const pc = m && this.pcs.get(m.id);
    if (!pc) {
      if (m?.ev === 'channel') m.channel.close();
      return;
    }
    if (m.ev === 'result') {
      pc.apply(m.state);
      const w = pc.waiting.get(m.seq);
      pc.waiting.delete(m.seq);
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve();
    } else if (m.ev === 'state') {
      pc.apply(m.state);
    } else if (m.ev === 'candidate') {
      pc.apply(m.state);
      const c = m.candidate;
      pc.onicecandidate?.({ candidate: c ? { toJSON: () => c } : null });
    } else if (m.ev === 'channelKept') {
      const c = (m.chan !== undefined ? pc.channels.get(m.chan) : undefined) ?? new ChannelProxy(m.label);
      const key = m.key;
      c.bindKept((x) => this.post({ ...x, id: pc.id, key }));
      pc.kept.set(key, c);
      if (m.chan === undefined) {
        pc.channels.set(this.nextSeq(), c);
        pc.ondatachannel?.({ channel: c });
      }
    } else if (m.ev === 'dc') {
      const c = pc.kept.get(m.key);
      c?.keptEvent?.(m.what, m.data);
    } else if (m.ev === 'channel') {
      const mine = m.chan !== undefined ? pc.channels.get(m.chan) : undefined;
      if (mine) {
        mine.bind(m.channel);
        return;
      }
      const c = new ChannelProxy(m.channel.label);
      c.bind(m.channel);
      pc.channels.set(this.nextSeq(), c);
      pc.ondatachannel?.({ channel: c });
    }
  }
}
