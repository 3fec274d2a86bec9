// Test support: in-memory RTCPeerConnection / RTCDataChannel pairs (the structural interfaces of
// webrtc-path.ts). Two FakePeerConnections find each other by the ICE ufrag in their SDPs and
// "connect" once each has both descriptions and one remote candidate, as ICE needs at least one
// candidate pair; the offerer's data channels then appear on the answerer (ondatachannel) and open.
import type { DataChannelLike, PeerConnectionLike, SessionDescriptionLike } from './webrtc-peer.js';
import type { IceCandidateInit } from './webrtc-signal.js';

export class FakeDataChannel implements DataChannelLike {
  readyState = 'connecting';
  bufferedAmount = 0;
  binaryType = 'blob';
  peer?: FakeDataChannel;
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  constructor(readonly label: string) {}

  send(d: Uint8Array): void {
    if (this.readyState !== 'open') throw new Error('InvalidStateError: channel not open');
    const peer = this.peer!;
    const copy = d.slice();
    queueMicrotask(() => {
      if (peer.readyState === 'open') peer.onmessage?.({ data: copy.buffer });
    });
  }

  open(): void {
    if (this.readyState !== 'connecting') return;
    this.readyState = 'open';
    this.onopen?.({});
  }

  close(): void {
    for (const c of [this, this.peer]) {
      if (!c || c.readyState === 'closed') continue;
      c.readyState = 'closed';
      queueMicrotask(() => c.onclose?.({}));
    }
  }
}

let seq = 0;
const byUfrag = new Map<string, FakePeerConnection>();

export class FakePeerConnection implements PeerConnectionLike {
  signalingState = 'stable';
  connectionState = 'new';
  localDescription: SessionDescriptionLike | null = null;
  remote?: SessionDescriptionLike;
  readonly id = ++seq;
  readonly channels: FakeDataChannel[] = [];
  readonly candidates: IceCandidateInit[] = [];
  closed = false;
  connected = false;
  onicecandidate: ((ev: { candidate: { toJSON(): IceCandidateInit } | null }) => void) | null = null;
  onconnectionstatechange: ((ev: unknown) => void) | null = null;
  ondatachannel: ((ev: { channel: DataChannelLike }) => void) | null = null;

  constructor() {
    byUfrag.set(`u${this.id}`, this);
  }

  createDataChannel(label: string): FakeDataChannel {
    const c = new FakeDataChannel(label);
    this.channels.push(c);
    return c;
  }

  async setLocalDescription(): Promise<void> {
    if (this.closed) throw new Error('InvalidStateError: closed');
    const type = this.signalingState === 'have-remote-offer' ? 'answer' : 'offer';
    this.localDescription = {
      type,
      sdp: `v=0\r\na=ice-ufrag:u${this.id}\r\na=fingerprint:sha-256 F${this.id}\r\na=mid:0\r\n`,
    };
    this.signalingState = type === 'offer' ? 'have-local-offer' : 'stable';
    const line = `candidate:${this.id} 1 udp 2130706431 192.0.2.1 ${1000 + this.id} typ host`;
    queueMicrotask(() => {
      // As a browser does, the local description grows the candidates gathered.
      if (this.localDescription) this.localDescription.sdp += `a=${line}\r\n`;
      this.onicecandidate?.({ candidate: { toJSON: () => ({ candidate: line, sdpMid: '0', sdpMLineIndex: 0 }) } });
    });
    queueMicrotask(() => this.onicecandidate?.({ candidate: null }));
    this.tryConnect();
  }

  async setRemoteDescription(d: SessionDescriptionLike): Promise<void> {
    if (this.closed) throw new Error('InvalidStateError: closed');
    if (d.type === 'offer') {
      if (this.signalingState !== 'stable') throw new Error('InvalidStateError: not stable');
      this.signalingState = 'have-remote-offer';
    } else {
      if (this.signalingState !== 'have-local-offer') throw new Error('InvalidStateError: no local offer');
      this.signalingState = 'stable';
    }
    this.remote = d;
    // Candidates in the description count as added ones (RFC 8839 §5.1).
    for (const m of (d.sdp ?? '').matchAll(/^a=(candidate:[^\r\n]+)/gm)) this.candidates.push({ candidate: m[1]! });
    this.tryConnect();
  }

  async addIceCandidate(c: IceCandidateInit): Promise<void> {
    if (!this.remote) throw new Error('InvalidStateError: no remote description');
    this.candidates.push(c);
    this.tryConnect();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.signalingState = 'closed';
    this.connectionState = 'closed';
    for (const c of this.channels) c.close();
  }

  private tryConnect(): void {
    const ufrag = /ice-ufrag:(\S+)/.exec(this.remote?.sdp ?? '')?.[1];
    const peer = ufrag ? byUfrag.get(ufrag) : undefined;
    if (!peer || this.connected || this.closed || peer.closed || !this.localDescription || !peer.localDescription)
      return;
    if (!peer.remote || this.signalingState !== 'stable' || peer.signalingState !== 'stable') return;
    if (!this.candidates.length || !peer.candidates.length) return;
    this.connected = peer.connected = true;
    this.connectionState = peer.connectionState = 'connected';
    const [offerer, answerer] = this.localDescription.type === 'offer' ? [this, peer] : [peer, this];
    queueMicrotask(() => {
      for (const c of offerer.channels) {
        const other = new FakeDataChannel(c.label);
        other.peer = c;
        c.peer = other;
        answerer.channels.push(other);
        answerer.ondatachannel?.({ channel: other });
        c.open();
        other.open();
      }
    });
  }
}
