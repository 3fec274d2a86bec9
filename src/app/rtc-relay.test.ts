// The Worker's side of the page-hosted peer connections (rtc-relay.ts), against a scripted page.
import { describe, expect, it } from 'vitest';
import { RtcRelay, type RtcHostCall, type RtcHostEvent } from './rtc-relay.js';
import { FakeDataChannel } from '../node/webrtc-path.testkit.js';

function withHost(transferChannels = true) {
  const relay = new RtcRelay({ transferChannels });
  const calls: RtcHostCall[] = [];
  const port = {
    onmessage: null as ((e: MessageEvent) => void) | null,
    postMessage: (m: unknown) => calls.push(m as RtcHostCall),
  };
  relay.addHost(port);
  const fromPage = (m: RtcHostEvent) => port.onmessage!({ data: m } as MessageEvent);
  return { relay, calls, fromPage };
}

const state = (signalingState: string, sdp?: string) => ({
  signalingState,
  connectionState: 'new',
  localDescription: sdp ? { type: 'offer', sdp } : null,
});

describe('RtcRelay (peer connections hosted by a page)', () => {
  it('without a page to host them, making a peer connection fails in words', () => {
    expect(() => new RtcRelay().factory({ iceServers: [] })).toThrow(/no page is open/);
  });

  it('calls go to the page and resolve with its state; candidates and channels come back', async () => {
    const { relay, calls, fromPage } = withHost();
    const pc = relay.factory({ iceServers: [{ urls: ['stun:127.0.0.1:3478'] }] });
    expect(calls[0]).toMatchObject({ op: 'create', config: { iceServers: [{ urls: ['stun:127.0.0.1:3478'] }] } });
    const dc = pc.createDataChannel('tailscale-wg', { ordered: false, maxRetransmits: 0 });
    const ch = calls[1] as Extract<RtcHostCall, { op: 'channel' }>;
    expect(ch).toMatchObject({ op: 'channel', label: 'tailscale-wg', init: { ordered: false, maxRetransmits: 0 } });
    const set = pc.setLocalDescription();
    const call = calls[2] as Extract<RtcHostCall, { op: 'setLocal' }>;
    fromPage({ ev: 'result', id: call.id, seq: call.seq, state: state('have-local-offer', 'v=0 offer') });
    await set;
    expect(pc.signalingState).toBe('have-local-offer');
    expect(pc.localDescription?.sdp).toBe('v=0 offer');
    const seen: unknown[] = [];
    pc.onicecandidate = (ev) => seen.push(ev.candidate?.toJSON());
    fromPage({
      ev: 'candidate',
      id: call.id,
      candidate: { candidate: 'candidate:1' },
      state: state('have-local-offer'),
    });
    expect(seen).toEqual([{ candidate: 'candidate:1' }]);
    // The page's real channel arrives (transferred) and the proxy forwards both ways.
    const real = new FakeDataChannel('tailscale-wg');
    real.peer = new FakeDataChannel('tailscale-wg');
    let opened = 0;
    dc.onopen = () => opened++;
    fromPage({ ev: 'channel', id: call.id, chan: ch.chan, channel: real });
    expect(dc.readyState).toBe('connecting');
    real.open();
    real.peer.open();
    expect(opened).toBe(1);
    expect(dc.readyState).toBe('open');
    const got: unknown[] = [];
    real.peer.onmessage = (e) => got.push(e.data);
    dc.send(new Uint8Array([1, 2]));
    await Promise.resolve();
    expect(got.length).toBe(1);
  });

  it('a refused call rejects with the page’s words; close rejects what is pending and tells the page', async () => {
    const { relay, calls, fromPage } = withHost();
    const pc = relay.factory({ iceServers: [] });
    const r = pc.setRemoteDescription({ type: 'answer', sdp: 'v=0' });
    const call = calls[1] as Extract<RtcHostCall, { op: 'setRemote' }>;
    fromPage({ ev: 'result', id: call.id, seq: call.seq, error: 'InvalidStateError', state: state('stable') });
    await expect(r).rejects.toThrow('InvalidStateError');
    const pending = pc.addIceCandidate({ candidate: 'candidate:2' });
    pc.close();
    await expect(pending).rejects.toThrow(/closed/);
    expect(calls.at(-1)).toMatchObject({ op: 'close' });
    // A channel for a peer connection no longer here is closed, not kept.
    const stray = new FakeDataChannel('tailscale-wg');
    fromPage({ ev: 'channel', id: call.id, channel: stray });
    expect(stray.readyState).toBe('closed');
  });

  it('a channel the remote side opened reaches ondatachannel', () => {
    const { relay, calls, fromPage } = withHost();
    const pc = relay.factory({ iceServers: [] });
    const got: string[] = [];
    pc.ondatachannel = (ev) => got.push(ev.channel.label);
    fromPage({ ev: 'channel', id: (calls[0] as { id: number }).id, channel: new FakeDataChannel('tailscale-wg') });
    expect(got).toEqual(['tailscale-wg']);
  });

  it('for a SharedWorker the page keeps the channel: sends go over the port, its events and messages come back', async () => {
    const { relay, calls, fromPage } = withHost(false);
    const pc = relay.factory({ iceServers: [] });
    expect(calls[0]).toMatchObject({ op: 'create', transfer: false });
    const dc = pc.createDataChannel('tailscale-wg', { ordered: false, maxRetransmits: 0 });
    const ch = calls[1] as Extract<RtcHostCall, { op: 'channel' }>;
    const id = ch.id;
    fromPage({ ev: 'channelKept', id, chan: ch.chan, key: 7, label: 'tailscale-wg' });
    expect(() => dc.send(new Uint8Array([1]))).toThrow(/not open/);
    let opened = 0;
    const got: number[] = [];
    dc.onopen = () => opened++;
    dc.onmessage = (e) => got.push((e.data as ArrayBuffer).byteLength);
    fromPage({ ev: 'dc', id, key: 7, what: 'open' });
    expect(opened).toBe(1);
    dc.send(new Uint8Array([1, 2, 3]));
    expect(calls.at(-1)).toMatchObject({ op: 'dcSend', id, key: 7 });
    expect(new Uint8Array((calls.at(-1) as { data: ArrayBuffer }).data)).toEqual(new Uint8Array([1, 2, 3]));
    fromPage({ ev: 'dc', id, key: 7, what: 'message', data: new Uint8Array(5).buffer });
    expect(got).toEqual([5]);
    let closed = 0;
    dc.onclose = () => closed++;
    fromPage({ ev: 'dc', id, key: 7, what: 'close' });
    expect(closed).toBe(1);
    expect(dc.readyState).toBe('closed');
  });
});
