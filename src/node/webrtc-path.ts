// A direct path per peer over a WebRTC data channel, beside DERP (tailscale/tailscale PR #21030,
// issue #21027; feature/webrtc/{connect,signal,datachannel}.go of the PR and the earlier branch).
// Signalling (offer, answer, ICE candidates) travels as disco messages over DERP (webrtc-signal.ts);
// the data channel `tailscale-wg` (unordered, maxRetransmits 0) then carries WireGuard and disco
// packets. The path is used only once disco pings over it are answered, ranked above DERP, and
// dropped back to DERP when pings stop being answered or the channel or connection closes: magicsock
// then sends over DERP again and the WireGuard session (and every TCP connection above it) goes on.
//
// Core code: no DOM. The RTCPeerConnection constructor is injected (webrtc-peer.ts): a page
// passes its own; Chromium and Firefox have none in a dedicated Worker (checked here: Chromium 156
// `typeof RTCPeerConnection` is "undefined" in a Worker, RTCDataChannel is defined and transferable
// on creation), so a node in a Worker without a factory reports the path unavailable.
import { toHex } from '../crypto/bytes.js';
import type { Clock, TimerHandle } from '../platform/clock.js';
import {
  sdpCandidates,
  sdpSession,
  type DataChannelLike,
  type IceServer,
  type PeerConnectionFactory,
  type PeerConnectionLike,
} from './webrtc-peer.js';
import {
  DATA_CHANNEL_LABEL,
  decodeDataChannelMessage,
  encodeDataChannelMessage,
  type IceCandidateInit,
  type WebRtcSignal,
} from './webrtc-signal.js';

// ---- timings and bounds ----

/** A path that did not open in this long is given up (the peer may not speak WebRTC). */
const CONNECT_TIMEOUT_MS = 20_000;
/**
 * DERP is best-effort (a derper drops when a queue is full or the peer is not on that region yet):
 * an unanswered offer is sent again this often, with the candidates gathered since in its SDP; the
 * answerer answers a repeat of the offer it already answered again (same ICE ufrag and fingerprint).
 */
const RESEND_MS = 2_000;
/** Disco pings over the channel: until the first pong, then as a heartbeat. */
const PROBE_INTERVAL_MS = 1_000;
const HEARTBEAT_MS = 5_000;
/** No pong for this long: the path is no longer used (DERP again); for twice as long: closed. */
const STALE_MS = 15_000;
/** Retries after a failure: 15 s (the branch's retry ticker), doubling to 5 min. */
const RETRY_MIN_MS = 15_000;
const RETRY_MAX_MS = 300_000;
/**
 * A new session offered by a peer (not a repeat of one) at most this often: each costs a peer
 * connection, and an honest peer re-offers only after a failure (15 s) or on glare (a repeat).
 */
const NEW_OFFER_MIN_MS = 3_000;
/** ICE candidates held until the remote description is set, per peer. */
export const MAX_EARLY_CANDIDATES = 32;
/** Data channel send buffer above which packets are dropped (what a full UDP socket does). */
const MAX_BUFFERED = 1 << 20;
/** A batch message carries at most this much (Chromium's SCTP message limit is 256 KiB; loss costs the whole batch). */
const MAX_BATCH_BYTES = 16 * 1024;

export type PathState = 'connecting' | 'open' | 'active' | 'failed';

export interface WebRtcStats {
  offersSent: number;
  answersSent: number;
  candidatesSent: number;
  offersReceived: number;
  answersReceived: number;
  candidatesReceived: number;
  /** Answers or candidates that fit no negotiation of ours (late, replayed from an old session). */
  signalsUnexpected: number;
  /** An offer or answer of a session already applied (resent over lossy DERP): its new candidates used. */
  duplicateSignals: number;
  offersResent: number;
  /** New sessions a peer offered faster than NEW_OFFER_MIN_MS: dropped. */
  offersThrottled: number;
  glareWon: number;
  glareLost: number;
  candidatesBuffered: number;
  candidatesDropped: number;
  channelsOpened: number;
  channelsRejected: number;
  pathsUp: number;
  /** A path in use that stopped (channel closed, connection failed, pings unanswered): DERP again. */
  fallbacks: number;
  connectTimeouts: number;
  errors: number;
  txPackets: number;
  rxPackets: number;
  txDropped: number;
  rxBadMessages: number;
}

export interface WebRtcPathsOptions {
  clock: Clock;
  /** undefined: the path is unavailable here (unavailableReason says why). */
  createPeerConnection?: PeerConnectionFactory;
  unavailableReason?: string;
  /** Our disco public key and a peer's (glare: the lower key keeps its offer). */
  ourDiscoKey: () => Uint8Array;
  peerDiscoKey: (nodeKey: Uint8Array) => Uint8Array | undefined;
  iceServers: () => IceServer[];
  /** Sends a signal to the peer over DERP (magicsock seals it). */
  sendSignal: (nodeKey: Uint8Array, m: WebRtcSignal) => void;
  /** A sealed disco ping for the peer and its TxID. */
  makePing: (nodeKey: Uint8Array) => { packet: Uint8Array; txId: Uint8Array } | null;
  /** A packet that came over the channel (magicsock: disco or WireGuard). */
  deliver: (nodeKey: Uint8Array, packet: Uint8Array) => void;
  log?: (text: string) => void;
}

interface PeerPath {
  nodeKey: Uint8Array;
  hex: string;
  state: PathState;
  pc?: PeerConnectionLike;
  dc?: DataChannelLike;
  remoteDescSet: boolean;
  /** ICE ufrag and DTLS fingerprint of the remote description applied: a repeat of it is no new session. */
  remoteSession?: string;
  opened: boolean;
  /** When the peer last offered a new session (NEW_OFFER_MIN_MS). */
  lastOfferAt?: number;
  pending: IceCandidateInit[];
  startedAt: number;
  lastPongAt?: number;
  rttMs?: number;
  pings: Map<string, number>;
  timer?: TimerHandle;
  failures: number;
  retryAt: number;
  queue: Uint8Array[];
  queuedBytes: number;
  txPackets: number;
  rxPackets: number;
}

export interface PeerPathStatus {
  state: PathState;
  rttMs?: number;
  txPackets: number;
  rxPackets: number;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export class WebRtcPaths {
  private readonly peers = new Map<string, PeerPath>();
  private enabled = true;
  readonly stats: WebRtcStats = {
    offersSent: 0,
    answersSent: 0,
    candidatesSent: 0,
    offersReceived: 0,
    answersReceived: 0,
    candidatesReceived: 0,
    signalsUnexpected: 0,
    duplicateSignals: 0,
    offersResent: 0,
    offersThrottled: 0,
    glareWon: 0,
    glareLost: 0,
    candidatesBuffered: 0,
    candidatesDropped: 0,
    channelsOpened: 0,
    channelsRejected: 0,
    pathsUp: 0,
    fallbacks: 0,
    connectTimeouts: 0,
    errors: 0,
    txPackets: 0,
    rxPackets: 0,
    txDropped: 0,
    rxBadMessages: 0,
  };

  constructor(private readonly o: WebRtcPathsOptions) {}

  /** Why the path cannot be used here, or undefined when it can. */
  get unavailable(): string | undefined {
    if (!this.enabled) return 'turned off';
    if (!this.o.createPeerConnection)
      return this.o.unavailableReason ?? 'this JavaScript engine has no RTCPeerConnection here';
    return undefined;
  }

  /** Turns the path on or off; off closes every peer connection (DERP carries everything). */
  setEnabled(on: boolean): void {
    this.enabled = on;
    if (!on) for (const p of [...this.peers.values()]) this.drop(p, 'turned off', false);
  }

  /** A WireGuard packet went to the peer over DERP: the side with data to send offers (connect.go). */
  wantPath(nodeKey: Uint8Array, hex: string): void {
    if (this.unavailable) return;
    const p = this.peers.get(hex);
    if (p && (p.state !== 'failed' || this.o.clock.now() < p.retryAt)) return;
    if (!this.o.peerDiscoKey(nodeKey)) return;
    this.startOffer(nodeKey, hex, p?.failures ?? 0);
  }

  /** Sends a WireGuard packet over the peer's path when it is in use; false: use DERP. */
  send(hex: string, datagram: Uint8Array): boolean {
    const p = this.peers.get(hex);
    if (!p || p.state !== 'active' || !p.dc || p.dc.readyState !== 'open') return false;
    if (p.dc.bufferedAmount > MAX_BUFFERED) {
      this.stats.txDropped++;
      return true;
    }
    p.queue.push(datagram);
    p.queuedBytes += datagram.length + 2;
    if (p.queue.length === 1) queueMicrotask(() => this.flush(p));
    else if (p.queuedBytes >= MAX_BATCH_BYTES) this.flush(p);
    return true;
  }

  /** Sends a disco packet (a pong to a ping that came over the channel) straight away. */
  sendDisco(hex: string, packet: Uint8Array): boolean {
    const p = this.peers.get(hex);
    if (!p?.dc || p.dc.readyState !== 'open') return false;
    return this.transmit(p, packet);
  }

  /** A disco pong that came over the channel: ours if it answers one of our pings over it. */
  onPong(hex: string, txId: Uint8Array): boolean {
    const p = this.peers.get(hex);
    const id = toHex(txId);
    const sentAt = p?.pings.get(id);
    if (!p || sentAt === undefined) return false;
    p.pings.delete(id);
    const now = this.o.clock.now();
    p.lastPongAt = now;
    p.rttMs = now - sentAt;
    if (p.state === 'open') {
      p.state = 'active';
      this.stats.pathsUp++;
      this.log(
        p,
        `WebRTC path up (disco ping answered in ${Math.round(p.rttMs)} ms); DERP no longer carries its packets`,
      );
    }
    return true;
  }

  /** A signal from the peer over DERP (its disco key already checked by magicsock). */
  onSignal(nodeKey: Uint8Array, hex: string, m: WebRtcSignal): void {
    if (this.unavailable) return;
    if (m.type === 'webrtcOffer') {
      this.stats.offersReceived++;
      this.onOffer(nodeKey, hex, m.sdp);
    } else if (m.type === 'webrtcAnswer') {
      this.stats.answersReceived++;
      const p = this.peers.get(hex);
      if (p?.pc && p.remoteSession !== undefined && p.remoteSession === sdpSession(m.sdp)) {
        // The answer again (our offer was resent): only its candidates may be new.
        this.stats.duplicateSignals++;
        for (const c of sdpCandidates(m.sdp, MAX_EARLY_CANDIDATES)) p.pc.addIceCandidate(c).catch(() => undefined);
        return;
      }
      if (!p?.pc || p.pc.signalingState !== 'have-local-offer') {
        this.stats.signalsUnexpected++;
        return;
      }
      const pc = p.pc;
      p.remoteSession = sdpSession(m.sdp);
      void pc
        .setRemoteDescription({ type: 'answer', sdp: m.sdp })
        .then(() => this.remoteDescSet(p, pc))
        .catch((e: unknown) => this.fail(p, pc, `its answer was refused (${String(e)})`));
    } else {
      this.stats.candidatesReceived++;
      const p = this.peers.get(hex);
      if (!p || !p.pc || !p.remoteDescSet) {
        // Before the remote description (or before the offer itself): held, bounded (signal.go).
        const q = p ?? this.earlyEntry(nodeKey, hex);
        if (q.pending.length >= MAX_EARLY_CANDIDATES) {
          this.stats.candidatesDropped++;
          return;
        }
        this.stats.candidatesBuffered++;
        q.pending.push(m.candidate);
        return;
      }
      p.pc.addIceCandidate(m.candidate).catch(() => this.stats.candidatesDropped++);
    }
  }

  /** The path of a peer for status, or undefined when none was tried. */
  status(hex: string): PeerPathStatus | undefined {
    const p = this.peers.get(hex);
    if (!p || (p.state === 'failed' && !p.pc && p.txPackets === 0 && p.failures === 0)) return undefined;
    return { state: p.state, rttMs: p.rttMs, txPackets: p.txPackets, rxPackets: p.rxPackets };
  }

  isActive(hex: string): boolean {
    return this.peers.get(hex)?.state === 'active';
  }

  removePeer(hex: string): void {
    const p = this.peers.get(hex);
    if (p) this.drop(p, 'peer removed', false);
    this.peers.delete(hex);
  }

  close(): void {
    for (const p of [...this.peers.values()]) this.drop(p, 'node stopping', false);
    this.peers.clear();
  }

  // ---- negotiation ----

  /** A placeholder for candidates that came before any offer: failed, so a send may still offer. */
  private earlyEntry(nodeKey: Uint8Array, hex: string): PeerPath {
    const p = this.newEntry(nodeKey, hex, 'failed', 0);
    p.retryAt = 0;
    return p;
  }

  private newEntry(nodeKey: Uint8Array, hex: string, state: PathState, failures: number): PeerPath {
    const old = this.peers.get(hex);
    const p: PeerPath = {
      nodeKey,
      hex,
      state,
      remoteDescSet: false,
      opened: false,
      // Candidates held while no remote description was set are the peer's for its current offer
      // (after glare, the one we now answer): kept.
      pending: old && !old.remoteDescSet ? old.pending : [],
      startedAt: this.o.clock.now(),
      pings: new Map(),
      failures,
      retryAt: 0,
      queue: [],
      queuedBytes: 0,
      txPackets: old?.txPackets ?? 0,
      rxPackets: old?.rxPackets ?? 0,
    };
    if (old) this.drop(old, 'replaced', false);
    this.peers.set(hex, p);
    return p;
  }

  private newPeerConnection(p: PeerPath): PeerConnectionLike | undefined {
    let pc: PeerConnectionLike;
    try {
      pc = this.o.createPeerConnection!({ iceServers: this.o.iceServers() });
    } catch (e) {
      this.stats.errors++;
      this.log(p, `cannot create a peer connection: ${String(e)}`);
      p.state = 'failed';
      p.retryAt = this.o.clock.now() + RETRY_MAX_MS;
      return undefined;
    }
    p.pc = pc;
    pc.onicecandidate = (ev) => {
      if (p.pc !== pc || !ev.candidate) return;
      const c = ev.candidate.toJSON();
      // The end-of-candidates marker is not sent (signal.go handleLocalICECandidate).
      if (!c.candidate || c.candidate === 'candidate:') return;
      this.stats.candidatesSent++;
      this.o.sendSignal(p.nodeKey, { type: 'webrtcCandidate', candidate: c });
    };
    pc.onconnectionstatechange = () => {
      if (p.pc !== pc) return;
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed')
        this.fail(p, pc, `connection ${pc.connectionState}`);
    };
    const check = () => {
      if (p.pc !== pc || p.state !== 'connecting') return;
      if (this.o.clock.now() - p.startedAt >= CONNECT_TIMEOUT_MS) {
        this.stats.connectTimeouts++;
        this.fail(p, pc, `no data channel within ${CONNECT_TIMEOUT_MS / 1000} s (the peer may not speak WebRTC)`);
        return;
      }
      if (pc.signalingState === 'have-local-offer') this.sendOffer(p, pc, true);
      this.armTimer(p, RESEND_MS, check);
    };
    this.armTimer(p, RESEND_MS, check);
    return pc;
  }

  private sendOffer(p: PeerPath, pc: PeerConnectionLike, again: boolean): void {
    const sdp = pc.localDescription?.sdp;
    if (!sdp) return;
    if (again) this.stats.offersResent++;
    else this.stats.offersSent++;
    this.o.sendSignal(p.nodeKey, { type: 'webrtcOffer', sdp });
  }

  private startOffer(nodeKey: Uint8Array, hex: string, failures: number): void {
    const p = this.newEntry(nodeKey, hex, 'connecting', failures);
    const pc = this.newPeerConnection(p);
    if (!pc) return;
    let dc: DataChannelLike;
    try {
      dc = pc.createDataChannel(DATA_CHANNEL_LABEL, { ordered: false, maxRetransmits: 0 });
    } catch (e) {
      this.fail(p, pc, `cannot create the data channel (${String(e)})`);
      return;
    }
    this.attachChannel(p, pc, dc);
    void pc
      .setLocalDescription()
      .then(() => {
        if (p.pc !== pc) return;
        if (!pc.localDescription?.sdp) throw new Error('no local description');
        this.sendOffer(p, pc, false);
      })
      .catch((e: unknown) => this.fail(p, pc, `cannot make an offer (${String(e)})`));
  }

  private onOffer(nodeKey: Uint8Array, hex: string, sdp: string): void {
    const p0 = this.peers.get(hex);
    if (p0?.pc && p0.remoteSession !== undefined && p0.remoteSession === sdpSession(sdp)) {
      // The offer we answered, sent again (our answer may have been lost): answer again.
      this.stats.duplicateSignals++;
      for (const c of sdpCandidates(sdp, MAX_EARLY_CANDIDATES)) p0.pc.addIceCandidate(c).catch(() => undefined);
      const answer = p0.pc.localDescription?.sdp;
      if (answer && p0.pc.localDescription?.type === 'answer') {
        this.stats.answersSent++;
        this.o.sendSignal(nodeKey, { type: 'webrtcAnswer', sdp: answer });
      }
      return;
    }
    if (p0?.pc && p0.pc.signalingState === 'have-local-offer') {
      // Glare: both offered. The lower disco key keeps its offer; the other answers (signal.go).
      const theirs = this.o.peerDiscoKey(nodeKey);
      if (theirs && compareBytes(this.o.ourDiscoKey(), theirs) < 0) {
        this.stats.glareWon++;
        this.log(p0, 'both sides offered: ours stands (lower disco key)');
        // Theirs crossed ours on the way; ours may also have been lost: send it again now.
        this.sendOffer(p0, p0.pc, true);
        return;
      }
      this.stats.glareLost++;
      this.log(p0, 'both sides offered: answering theirs (higher disco key)');
    }
    // A new offer (also over a path thought up: the peer rebuilds its side) gets a fresh answerer.
    const now = this.o.clock.now();
    if (p0?.lastOfferAt !== undefined && now - p0.lastOfferAt < NEW_OFFER_MIN_MS) {
      this.stats.offersThrottled++;
      return;
    }
    const p = this.newEntry(nodeKey, hex, 'connecting', p0?.failures ?? 0);
    p.lastOfferAt = now;
    const pc = this.newPeerConnection(p);
    if (!pc) return;
    p.remoteSession = sdpSession(sdp);
    pc.ondatachannel = (ev) => {
      if (p.pc !== pc) return;
      if (ev.channel.label !== DATA_CHANNEL_LABEL || p.dc) {
        this.stats.channelsRejected++;
        ev.channel.close();
        return;
      }
      this.attachChannel(p, pc, ev.channel);
    };
    void pc
      .setRemoteDescription({ type: 'offer', sdp })
      .then(() => {
        this.remoteDescSet(p, pc);
        return pc.setLocalDescription();
      })
      .then(() => {
        if (p.pc !== pc) return;
        const answer = pc.localDescription?.sdp;
        if (!answer) throw new Error('no local description');
        this.stats.answersSent++;
        this.o.sendSignal(nodeKey, { type: 'webrtcAnswer', sdp: answer });
      })
      .catch((e: unknown) => this.fail(p, pc, `cannot answer its offer (${String(e)})`));
  }

  private remoteDescSet(p: PeerPath, pc: PeerConnectionLike): void {
    if (p.pc !== pc) return;
    p.remoteDescSet = true;
    const pending = p.pending;
    p.pending = [];
    for (const c of pending) pc.addIceCandidate(c).catch(() => this.stats.candidatesDropped++);
  }

  // ---- the channel ----

  private attachChannel(p: PeerPath, pc: PeerConnectionLike, dc: DataChannelLike): void {
    p.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.onopen = () => {
      if (p.pc !== pc || p.dc !== dc || p.opened) return;
      p.opened = true;
      this.stats.channelsOpened++;
      p.state = 'open';
      p.failures = 0;
      this.probe(p, pc);
    };
    dc.onclose = () => {
      if (p.pc === pc && p.dc === dc) this.fail(p, pc, 'data channel closed');
    };
    dc.onerror = () => {
      if (p.pc === pc && p.dc === dc) this.stats.errors++;
    };
    dc.onmessage = (ev) => {
      if (p.pc !== pc) return;
      const d = ev.data;
      const bytes =
        d instanceof ArrayBuffer
          ? new Uint8Array(d)
          : ArrayBuffer.isView(d)
            ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
            : null;
      if (!bytes) {
        this.stats.rxBadMessages++;
        return;
      }
      const { packets, bad } = decodeDataChannelMessage(bytes);
      if (bad) this.stats.rxBadMessages++;
      for (const pkt of packets) {
        p.rxPackets++;
        this.stats.rxPackets++;
        this.o.deliver(p.nodeKey, pkt);
      }
    };
    if (dc.readyState === 'open') dc.onopen(undefined);
  }

  /** Disco pings over the channel: fast until answered, then a heartbeat; unanswered, DERP again. */
  private probe(p: PeerPath, pc: PeerConnectionLike): void {
    if (p.pc !== pc || (p.state !== 'open' && p.state !== 'active')) return;
    const now = this.o.clock.now();
    const since = p.lastPongAt ?? p.startedAt;
    if (p.state === 'active' && now - since > STALE_MS) {
      p.state = 'open';
      this.stats.fallbacks++;
      this.log(p, `WebRTC path stopped answering disco pings for ${STALE_MS / 1000} s: back to DERP`);
    } else if (p.state === 'open' && p.lastPongAt !== undefined && now - since > 2 * STALE_MS) {
      this.fail(p, pc, 'disco pings over the data channel unanswered');
      return;
    }
    const ping = this.o.makePing(p.nodeKey);
    if (ping) {
      if (p.pings.size >= 16) p.pings.delete(p.pings.keys().next().value!);
      p.pings.set(toHex(ping.txId), now);
      this.transmit(p, ping.packet);
    }
    this.armTimer(p, p.state === 'active' ? HEARTBEAT_MS : PROBE_INTERVAL_MS, () => this.probe(p, pc));
  }

  private flush(p: PeerPath): void {
    const q = p.queue;
    if (!q.length) return;
    p.queue = [];
    p.queuedBytes = 0;
    let start = 0;
    let bytes = 1;
    for (let i = 0; i < q.length; i++) {
      bytes += q[i]!.length + 2;
      if (bytes > MAX_BATCH_BYTES && i > start) {
        this.transmitPackets(p, q.slice(start, i));
        start = i;
        bytes = 1 + q[i]!.length + 2;
      }
    }
    this.transmitPackets(p, q.slice(start));
  }

  private transmitPackets(p: PeerPath, packets: Uint8Array[]): void {
    if (this.transmit(p, encodeDataChannelMessage(packets))) {
      p.txPackets += packets.length;
      this.stats.txPackets += packets.length;
    }
  }

  private transmit(p: PeerPath, msg: Uint8Array): boolean {
    try {
      p.dc!.send(msg);
      return true;
    } catch {
      // Closing under us: the close event moves the peer back to DERP.
      this.stats.txDropped++;
      return false;
    }
  }

  // ---- failure ----

  private fail(p: PeerPath, pc: PeerConnectionLike, why: string): void {
    if (p.pc !== pc) return;
    const wasActive = p.state === 'active';
    if (wasActive) this.stats.fallbacks++;
    else if (!why.startsWith('data channel closed')) this.stats.errors++;
    p.failures++;
    const backoff = wasActive ? RETRY_MIN_MS : Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (p.failures - 1));
    this.log(
      p,
      `WebRTC path ${wasActive ? 'lost' : 'not established'}: ${why}; DERP carries its packets (next try in ${backoff / 1000} s)`,
    );
    this.drop(p, why, true);
    p.retryAt = this.o.clock.now() + backoff;
  }

  private drop(p: PeerPath, _why: string, keep: boolean): void {
    if (p.timer !== undefined) this.o.clock.clearTimeout(p.timer);
    p.timer = undefined;
    const pc = p.pc;
    const dc = p.dc;
    p.pc = undefined;
    p.dc = undefined;
    p.state = 'failed';
    p.remoteDescSet = false;
    p.queue = [];
    p.queuedBytes = 0;
    p.pings.clear();
    try {
      dc?.close();
    } catch {
      /* closing anyway */
    }
    try {
      pc?.close();
    } catch {
      /* closing anyway */
    }
    if (!keep && this.peers.get(p.hex) === p) this.peers.delete(p.hex);
  }

  private armTimer(p: PeerPath, ms: number, fn: () => void): void {
    if (p.timer !== undefined) this.o.clock.clearTimeout(p.timer);
    p.timer = this.o.clock.setTimeout(fn, ms);
  }

  private log(p: PeerPath, text: string): void {
    this.o.log?.(`webrtc: nodekey:${p.hex.slice(0, 8)}…: ${text}`);
  }
}
