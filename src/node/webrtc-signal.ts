// The WebRTC path's wire formats, in one place so they can follow tailscale/tailscale PR #21030
// (issue #21027) when it merges. Today they are those of the branch `adrianosela/demo-may-19-webrtc`
// (commit cab3f319f, disco/disco.go and wgengine/magicsock/webrtc.go), read in the mirror:
//
// Signalling: disco v0 messages inside the normal sealed disco box (disco.ts), sent over DERP:
//   0x0A offer | 0x0B answer | 0x0C ICE candidate, then version byte 0, then a JSON payload: pion's
//   SessionDescription `{"type","sdp"}` or ICECandidateInit
//   `{"candidate","sdpMid","sdpMLineIndex","usernameFragment"}` (the browser's toJSON() forms).
// The PR folds the three into one `TypeWebRTCSignal` carrying a kind and the same JSON; its type
// number and kind encoding are not in any source reachable here (the PR head cannot be fetched):
// when they are known, only the constants and the two functions below change.
//
// Data channel: label `tailscale-wg`, unordered, maxRetransmits 0. A message is one WireGuard (or
// disco) packet, or a batch: 0xBA then repeated [u16 big-endian length][packet] (magicsock.go
// sendWebRTCBatch). WireGuard packets begin 0x01-0x04 and disco 0x54, so 0xBA is unambiguous.
// The path shows as endpoint 127.3.3.41:12345 (tailcfg.WebRTCMagicIP): a disco pong over it names
// that address.

export const WebRtcDiscoType = { Offer: 0x0a, Answer: 0x0b, Candidate: 0x0c } as const;
export const WEBRTC_DISCO_TYPES: ReadonlySet<number> = new Set(Object.values(WebRtcDiscoType));

export const WEBRTC_MAGIC_IP = '127.3.3.41';
export const WEBRTC_MAGIC_PORT = 12345;
export const DATA_CHANNEL_LABEL = 'tailscale-wg';
export const BATCH_MAGIC = 0xba;

/**
 * Largest signalling payload accepted or sent. A data-channel-only SDP is under 1 KiB and a
 * candidate line under 300 bytes; the bound keeps a peer from making us parse megabytes of JSON.
 */
export const MAX_SIGNAL_PAYLOAD = 16 * 1024;
/** Largest candidate line (RFC 8839 §5.1 has no limit; real ones are under 300 bytes). */
const MAX_CANDIDATE_LINE = 1024;

export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

export type WebRtcSignal =
  | { type: 'webrtcOffer'; sdp: string }
  | { type: 'webrtcAnswer'; sdp: string }
  | { type: 'webrtcCandidate'; candidate: IceCandidateInit };

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** The disco plaintext of a signal: type, version 0, JSON. */
export function encodeSignalPlaintext(m: WebRtcSignal): Uint8Array {
  let type: number;
  let json: string;
  if (m.type === 'webrtcCandidate') {
    type = WebRtcDiscoType.Candidate;
    const c = m.candidate;
    json = JSON.stringify({
      candidate: c.candidate,
      sdpMid: c.sdpMid ?? null,
      sdpMLineIndex: c.sdpMLineIndex ?? null,
      usernameFragment: c.usernameFragment ?? null,
    });
  } else {
    type = m.type === 'webrtcOffer' ? WebRtcDiscoType.Offer : WebRtcDiscoType.Answer;
    json = JSON.stringify({ type: m.type === 'webrtcOffer' ? 'offer' : 'answer', sdp: m.sdp });
  }
  const body = enc.encode(json);
  const out = new Uint8Array(2 + body.length);
  out[0] = type;
  out.set(body, 2);
  return out;
}

function optString(v: unknown, max: number): string | null | undefined | false {
  if (v === undefined || v === null) return v;
  return typeof v === 'string' && v.length <= max ? v : false;
}

/**
 * Parses the payload (after type and version) of a signal of disco type `type`; null when the type
 * is not a signal or the payload is not the JSON that type carries (the caller counts and drops it).
 */
export function decodeSignalPayload(type: number, body: Uint8Array): WebRtcSignal | null {
  if (!WEBRTC_DISCO_TYPES.has(type) || body.length === 0 || body.length > MAX_SIGNAL_PAYLOAD) return null;
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(body));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (type === WebRtcDiscoType.Candidate) {
    if (typeof o.candidate !== 'string' || o.candidate.length > MAX_CANDIDATE_LINE) return null;
    const sdpMid = optString(o.sdpMid, 64);
    const ufrag = optString(o.usernameFragment, 256);
    const idx = o.sdpMLineIndex;
    if (sdpMid === false || ufrag === false) return null;
    if (
      idx !== undefined &&
      idx !== null &&
      !(Number.isInteger(idx) && (idx as number) >= 0 && (idx as number) < 65536)
    )
      return null;
    const candidate: IceCandidateInit = { candidate: o.candidate };
    if (sdpMid !== undefined) candidate.sdpMid = sdpMid;
    if (idx !== undefined) candidate.sdpMLineIndex = idx as number | null;
    if (ufrag !== undefined) candidate.usernameFragment = ufrag;
    return { type: 'webrtcCandidate', candidate };
  }
  const want = type === WebRtcDiscoType.Offer ? 'offer' : 'answer';
  // pion marshals SDPType as its name; the browser's toJSON() gives the same.
  if (o.type !== want || typeof o.sdp !== 'string' || !o.sdp.startsWith('v=0')) return null;
  return type === WebRtcDiscoType.Offer ? { type: 'webrtcOffer', sdp: o.sdp } : { type: 'webrtcAnswer', sdp: o.sdp };
}

// ---- data channel messages ----

/** One data channel message for `packets`: the packet itself when alone, else a 0xBA batch. */
export function encodeDataChannelMessage(packets: readonly Uint8Array[]): Uint8Array {
  if (packets.length === 1) return packets[0]!;
  let size = 1;
  for (const p of packets) {
    if (p.length > 0xffff) throw new Error(`packet of ${p.length} bytes cannot be batched (limit 65535)`);
    size += 2 + p.length;
  }
  const out = new Uint8Array(size);
  out[0] = BATCH_MAGIC;
  let o = 1;
  for (const p of packets) {
    out[o] = p.length >> 8;
    out[o + 1] = p.length & 0xff;
    out.set(p, o + 2);
    o += 2 + p.length;
  }
  return out;
}

/**
 * The packets of a data channel message. A batch whose framing runs past its end yields the
 * packets before the fault and `bad` (the branch's deliverWebRTCMsg delivers those too); an empty
 * message or batch yields none.
 */
export function decodeDataChannelMessage(msg: Uint8Array): { packets: Uint8Array[]; bad: boolean } {
  if (msg.length === 0) return { packets: [], bad: true };
  if (msg[0] !== BATCH_MAGIC) return { packets: [msg], bad: false };
  const packets: Uint8Array[] = [];
  let o = 1;
  while (o + 2 <= msg.length) {
    const n = (msg[o]! << 8) | msg[o + 1]!;
    o += 2;
    if (n > msg.length - o) return { packets, bad: true };
    if (n > 0) packets.push(msg.subarray(o, o + n));
    o += n;
  }
  return { packets, bad: o !== msg.length || packets.length === 0 };
}
