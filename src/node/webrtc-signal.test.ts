import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzz } from '../platform/fuzz.testkit.js';
import { secureRandom } from '../crypto/random.js';
import { generateKeyPair } from '../crypto/x25519.js';
import { DiscoCodec } from './disco.js';
import {
  BATCH_MAGIC,
  MAX_SIGNAL_PAYLOAD,
  WebRtcDiscoType,
  decodeDataChannelMessage,
  decodeSignalPayload,
  encodeDataChannelMessage,
  encodeSignalPlaintext,
  type WebRtcSignal,
} from './webrtc-signal.js';

const SDP = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\na=ice-ufrag:abcd\r\n';
const enc = new TextEncoder();

function roundTrip(m: WebRtcSignal): WebRtcSignal | null {
  const p = encodeSignalPlaintext(m);
  expect(p[1]).toBe(0);
  return decodeSignalPayload(p[0]!, p.subarray(2));
}

describe('WebRTC signalling payloads (branch adrianosela/demo-may-19-webrtc disco 0x0A-0x0C)', () => {
  it("offer, answer and candidate carry the browser's JSON forms under types 0x0A, 0x0B, 0x0C", () => {
    const offer = encodeSignalPlaintext({ type: 'webrtcOffer', sdp: SDP });
    expect(offer[0]).toBe(0x0a);
    expect(JSON.parse(new TextDecoder().decode(offer.subarray(2)))).toEqual({ type: 'offer', sdp: SDP });
    expect(encodeSignalPlaintext({ type: 'webrtcAnswer', sdp: SDP })[0]).toBe(0x0b);
    const cand = encodeSignalPlaintext({
      type: 'webrtcCandidate',
      candidate: { candidate: 'candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 },
    });
    expect(cand[0]).toBe(0x0c);
    // pion's ICECandidateInit JSON field names (and what RTCIceCandidate.toJSON() gives).
    expect(Object.keys(JSON.parse(new TextDecoder().decode(cand.subarray(2))))).toEqual([
      'candidate',
      'sdpMid',
      'sdpMLineIndex',
      'usernameFragment',
    ]);
    for (const m of [
      { type: 'webrtcOffer', sdp: SDP },
      { type: 'webrtcAnswer', sdp: SDP },
      {
        type: 'webrtcCandidate',
        candidate: { candidate: 'candidate:x', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'u' },
      },
    ] as WebRtcSignal[])
      expect(roundTrip(m)).toEqual(m);
  });

  it('refuses a payload that is not the JSON its type carries', () => {
    const bad: [number, string][] = [
      [WebRtcDiscoType.Offer, '{"type":"answer","sdp":"v=0"}'],
      [WebRtcDiscoType.Answer, '{"type":"answer","sdp":7}'],
      [WebRtcDiscoType.Offer, '{"type":"offer","sdp":"not sdp"}'],
      [WebRtcDiscoType.Offer, '["offer"]'],
      [WebRtcDiscoType.Offer, 'null'],
      [WebRtcDiscoType.Offer, '{"type":"offer"'],
      [WebRtcDiscoType.Candidate, '{"candidate":5}'],
      [WebRtcDiscoType.Candidate, '{"candidate":"c","sdpMLineIndex":-1}'],
      [WebRtcDiscoType.Candidate, '{"candidate":"c","sdpMid":{}}'],
      [WebRtcDiscoType.Candidate, JSON.stringify({ candidate: 'c'.repeat(2000) })],
      [0x01, '{"type":"offer","sdp":"v=0"}'],
    ];
    for (const [t, j] of bad) expect(decodeSignalPayload(t, enc.encode(j))).toBeNull();
    expect(decodeSignalPayload(WebRtcDiscoType.Offer, new Uint8Array([0xff, 0xfe]))).toBeNull();
    const big = enc.encode(JSON.stringify({ type: 'offer', sdp: 'v=0' + 'x'.repeat(MAX_SIGNAL_PAYLOAD) }));
    expect(decodeSignalPayload(WebRtcDiscoType.Offer, big)).toBeNull();
  });

  it('never throws on random or mutated payloads', () => {
    const valid = encodeSignalPlaintext({ type: 'webrtcOffer', sdp: SDP });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300 }), (t, b) => {
        decodeSignalPayload(t, b);
      }),
      fuzz(300),
    );
    fc.assert(
      fc.property(fc.integer({ min: 2, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }), (i, v) => {
        const m = valid.slice();
        m[i] = v;
        const r = decodeSignalPayload(m[0]!, m.subarray(2));
        if (r) expect(r.type).toBe('webrtcOffer');
      }),
      fuzz(300),
    );
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(0x0a, 0x0b, 0x0c), (v, t) => {
        decodeSignalPayload(t, enc.encode(JSON.stringify(v)));
      }),
      fuzz(300),
    );
  });

  it('travels sealed in a disco box and opens as the same signal', () => {
    const a = generateKeyPair(secureRandom);
    const b = generateKeyPair(secureRandom);
    const ca = new DiscoCodec(a.privateKey, a.publicKey, secureRandom);
    const cb = new DiscoCodec(b.privateKey, b.publicKey, secureRandom);
    const m: WebRtcSignal = { type: 'webrtcAnswer', sdp: SDP };
    const r = cb.open(ca.seal(b.publicKey, m));
    expect(typeof r === 'object' && r.message).toEqual(m);
  });
});

describe('data channel messages (0xBA batches)', () => {
  it('sends one packet as is and several as a batch, and reads both back', () => {
    const p1 = new Uint8Array([4, 0, 0, 0, 9]);
    const p2 = new Uint8Array([0x54, 0x53, 1]);
    expect(encodeDataChannelMessage([p1])).toBe(p1);
    const batch = encodeDataChannelMessage([p1, p2]);
    expect([...batch.subarray(0, 3)]).toEqual([BATCH_MAGIC, 0, 5]);
    expect(decodeDataChannelMessage(batch)).toEqual({ packets: [p1, p2], bad: false });
    expect(decodeDataChannelMessage(p1)).toEqual({ packets: [p1], bad: false });
  });

  it('a batch whose framing runs past its end yields the packets before the fault, and says so', () => {
    const batch = encodeDataChannelMessage([new Uint8Array([1, 2]), new Uint8Array([3, 4, 5])]);
    const cut = decodeDataChannelMessage(batch.subarray(0, batch.length - 1));
    expect(cut.bad).toBe(true);
    expect(cut.packets.map((p) => [...p])).toEqual([[1, 2]]);
    expect(decodeDataChannelMessage(new Uint8Array([BATCH_MAGIC])).bad).toBe(true);
    expect(decodeDataChannelMessage(new Uint8Array()).bad).toBe(true);
  });

  it('round-trips any packets and never throws on any message', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { minLength: 2, maxLength: 20 }), (ps) => {
        expect(decodeDataChannelMessage(encodeDataChannelMessage(ps)).packets).toEqual(ps);
      }),
      fuzz(200),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (b, magic) => {
        if (magic && b.length) b[0] = BATCH_MAGIC;
        const r = decodeDataChannelMessage(b);
        let total = 0;
        for (const p of r.packets) total += p.length;
        expect(total).toBeLessThanOrEqual(b.length);
      }),
      fuzz(300),
    );
  });
});
