// The page's half of the Worker's WebRTC path (app/rtc-relay.ts): a Worker has no RTCPeerConnection
// in Chromium or Firefox, so the page creates them at the Worker's request, answers each call with
// the connection's state, forwards its ICE candidates and state changes, and transfers every
// RTCDataChannel to the Worker at once (on creation, and in ondatachannel: the only moment a channel
// is transferable), so the data itself never passes through the page.
import type { RtcHostCall, RtcHostEvent, RtcHostState } from '../app/rtc-relay.js';

/** At most this many peer connections hosted for one Worker (one per peer; a bound, not a budget). */
const MAX_HOSTED = 256;

interface PortOut {
  postMessage(m: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent) => void) | null;
}

/** Serves the relay's calls on `port`; nothing happens where the page has no RTCPeerConnection. */
export function hostPeerConnections(port: PortOut): void {
  if (typeof RTCPeerConnection !== 'function') return;
  const pcs = new Map<number, RTCPeerConnection>();
  /** Whether each peer connection's channels go to the Worker (dedicated) or stay here (SharedWorker). */
  const transfers = new Map<number, boolean>();
  /** Channels kept here, by key (SharedWorker: it cannot receive an RTCDataChannel). */
  const kept = new Map<number, RTCDataChannel>();
  let nextKey = 1;
  const stateOf = (pc: RTCPeerConnection): RtcHostState => ({
    signalingState: pc.signalingState,
    connectionState: pc.connectionState,
    localDescription: pc.localDescription ? { type: pc.localDescription.type, sdp: pc.localDescription.sdp } : null,
  });
  const send = (m: RtcHostEvent, transfer: Transferable[] = []) => port.postMessage(m, transfer);
  const sendChannel = (id: number, channel: RTCDataChannel, chan?: number) => {
    if (transfers.get(id)) {
      send({ ev: 'channel', id, chan, channel } as unknown as RtcHostEvent, [channel as unknown as Transferable]);
      return;
    }
    const key = nextKey++;
    kept.set(key, channel);
    channel.binaryType = 'arraybuffer';
    channel.onopen = () => send({ ev: 'dc', id, key, what: 'open' });
    channel.onclose = () => {
      kept.delete(key);
      send({ ev: 'dc', id, key, what: 'close' });
    };
    channel.onerror = () => send({ ev: 'dc', id, key, what: 'error' });
    channel.onmessage = (e) => {
      if (e.data instanceof ArrayBuffer) send({ ev: 'dc', id, key, what: 'message', data: e.data }, [e.data]);
    };
    send({ ev: 'channelKept', id, chan, key, label: channel.label });
  };

  port.onmessage = (e) => {
    const m = e.data as RtcHostCall;
    if (!m || typeof m !== 'object') return;
    if (m.op === 'create') {
      if (pcs.size >= MAX_HOSTED || pcs.has(m.id)) return;
      const pc = new RTCPeerConnection({ iceServers: m.config.iceServers });
      pcs.set(m.id, pc);
      transfers.set(m.id, m.transfer !== false);
      pc.onicecandidate = (ev) =>
        send({
          ev: 'candidate',
          id: m.id,
          candidate: ev.candidate ? ev.candidate.toJSON() : null,
          state: stateOf(pc),
        } as RtcHostEvent);
      pc.onconnectionstatechange = () => send({ ev: 'state', id: m.id, state: stateOf(pc) });
      pc.onsignalingstatechange = () => send({ ev: 'state', id: m.id, state: stateOf(pc) });
      pc.ondatachannel = (ev) => sendChannel(m.id, ev.channel);
      return;
    }
    const pc = pcs.get(m.id);
    if (!pc) return;
    if (m.op === 'close') {
      pc.close();
      pcs.delete(m.id);
      transfers.delete(m.id);
      return;
    }
    if (m.op === 'dcSend' || m.op === 'dcClose') {
      const dc = kept.get(m.key);
      if (!dc) return;
      if (m.op === 'dcClose') dc.close();
      // A full send buffer drops the packet, as a full UDP socket does (WireGuard and TCP recover).
      else if (dc.readyState === 'open' && dc.bufferedAmount < 1 << 20) dc.send(m.data);
      return;
    }
    if (m.op === 'channel') {
      sendChannel(m.id, pc.createDataChannel(m.label, m.init), m.chan);
      return;
    }
    const done = (error?: string) => send({ ev: 'result', id: m.id, seq: m.seq, error, state: stateOf(pc) });
    const p =
      m.op === 'setLocal'
        ? pc.setLocalDescription(m.desc as RTCSessionDescriptionInit | undefined)
        : m.op === 'setRemote'
          ? pc.setRemoteDescription(m.desc as RTCSessionDescriptionInit)
          : pc.addIceCandidate(m.candidate);
    p.then(
      () => done(),
      (err: unknown) => done(String((err as Error)?.message ?? err)),
    );
  };
}
