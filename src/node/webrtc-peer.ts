// What the WebRTC path (webrtc-path.ts) needs of RTCPeerConnection and RTCDataChannel, as
// structural types (core code: no DOM types), the injected constructor, and the small pure helpers
// on ICE configuration and SDP it uses.
import type { IceCandidateInit } from './webrtc-signal.js';

export interface DataChannelLike {
  readonly label: string;
  readonly readyState: string;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: Uint8Array): void;
  close(): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

export interface SessionDescriptionLike {
  type: string;
  sdp?: string;
}

export interface PeerConnectionLike {
  readonly signalingState: string;
  readonly connectionState: string;
  readonly localDescription: SessionDescriptionLike | null;
  createDataChannel(label: string, init: { ordered: boolean; maxRetransmits: number }): DataChannelLike;
  setLocalDescription(d?: SessionDescriptionLike): Promise<void>;
  setRemoteDescription(d: SessionDescriptionLike): Promise<void>;
  addIceCandidate(c: IceCandidateInit): Promise<void>;
  close(): void;
  onicecandidate: ((ev: { candidate: { toJSON(): IceCandidateInit } | null }) => void) | null;
  onconnectionstatechange: ((ev: unknown) => void) | null;
  ondatachannel: ((ev: { channel: DataChannelLike }) => void) | null;
}

export interface IceServer {
  urls: string[];
}

export type PeerConnectionFactory = (config: { iceServers: IceServer[] }) => PeerConnectionLike;

/** The peer connection constructor of this global scope (a page has one; a Worker in Chromium/Firefox has none). */
export function globalPeerConnectionFactory(): PeerConnectionFactory | undefined {
  const Ctor = (globalThis as { RTCPeerConnection?: new (c: unknown) => PeerConnectionLike }).RTCPeerConnection;
  return Ctor ? (config) => new Ctor(config) : undefined;
}

/** STUN servers of a DERP map: each node's own STUN port (tailcfg.DERPNode.STUNPort: 0 is 3478, -1 off). No third party. */
export function stunServersOf(derpMap: { regions: { nodes: unknown[] }[] } | undefined): IceServer[] {
  const urls: string[] = [];
  for (const r of derpMap?.regions ?? [])
    for (const n of r.nodes as { hostName?: string; ipv4?: string; ipv6?: string; stunPort?: number }[]) {
      const port = n.stunPort === undefined || n.stunPort === 0 ? 3478 : n.stunPort;
      if (port < 0 || port > 65535) continue;
      const host = n.ipv4 || (n.ipv6 ? `[${n.ipv6}]` : n.hostName);
      if (host && /^[\w.:[\]-]+$/.test(host)) urls.push(`stun:${host}:${port}`);
    }
  return urls.length ? [{ urls: [...new Set(urls)].slice(0, 8) }] : [];
}

/** The ICE ufrag and DTLS fingerprint of an SDP (RFC 8839 §5.4, RFC 8122 §5): what names its session. */
export function sdpSession(sdp: string): string {
  const ufrag = /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1] ?? '';
  const fp = /^a=fingerprint:(.+)$/m.exec(sdp)?.[1]?.trim() ?? '';
  return `${ufrag} ${fp}`;
}

/** The candidate lines of an SDP (gathered after the first send), for a peer that already applied it. */
export function sdpCandidates(sdp: string, max = 32): IceCandidateInit[] {
  const mid = /^a=mid:(\S+)/m.exec(sdp)?.[1] ?? '0';
  const out: IceCandidateInit[] = [];
  for (const m of sdp.matchAll(/^a=(candidate:[^\r\n]+)/gm)) {
    if (out.length >= max) break;
    out.push({ candidate: m[1]!, sdpMid: mid, sdpMLineIndex: 0 });
  }
  return out;
}
