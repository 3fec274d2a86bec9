// TCP protocol behaviour against a scripted peer (hand-built segments) and on a simulated link:
// RFC 5961 hardening, option negotiation with minimal peers, Karn's rule, RTO backoff, NewReno
// fallback without SACK, window scaling.
import { describe, expect, it, vi } from 'vitest';

// Simulated transfers of megabytes: generous per-test time on a loaded CI machine (virtual time is fixed).
vi.setConfig({ testTimeout: 60_000 });
import { seededRandom } from '../crypto/random.js';
import { VirtualClock } from '../platform/clock.js';
import { parseIp } from './addr.js';
import { createNetStack, type NetStack, type TcpConnection } from './index.js';
import { decodeIp, encodeIpHeader, PROTO_TCP } from './ip.js';
import { ACK, decodeTcp, encodeTcpHeader, FIN, RST, SYN, type TcpOptions, type TcpSegment } from './tcp-segment.js';
import { drive, runUntil } from '../platform/virtual-time.testkit.js';
import { SimLink } from './sim-link.testkit.js';

const US = parseIp('100.64.0.1')!;
const PEER = parseIp('100.64.0.9')!;

/** A stack under test whose output the test reads, and a peer the test plays by hand. */
class Scripted {
  readonly clock = new VirtualClock(0);
  readonly out: (TcpSegment & { at: number })[] = [];
  readonly stack: NetStack;
  peerSeq = 5000;
  peerPort = 40000;
  ourPort = 0;
  ourIsn = 0;

  constructor(tcp: Record<string, unknown> = {}) {
    this.stack = createNetStack({
      addresses: ['100.64.0.1'],
      clock: this.clock,
      random: seededRandom(3),
      tcp,
      output: (p) => {
        const ip = decodeIp(p);
        if (!ip.ok) throw new Error('stack sent a bad IP packet');
        const t = decodeTcp(ip.value.payload, ip.value.src, ip.value.dst);
        if (!t.ok) throw new Error('stack sent a bad TCP segment');
        this.out.push({ ...t.value, payload: t.value.payload.slice(), at: this.clock.now() });
      },
    });
  }

  send(flags: number, seq: number, ack: number, o: TcpOptions & { window?: number; payload?: Uint8Array } = {}): void {
    const payload = o.payload ?? new Uint8Array(0);
    const scratch = new Uint8Array(100 + payload.length);
    const seg = {
      srcPort: this.peerPort,
      dstPort: this.ourPort,
      seq: seq >>> 0,
      ack: ack >>> 0,
      flags,
      window: o.window ?? 65535,
      urgent: 0,
      mss: o.mss,
      windowScale: o.windowScale,
      sackPermitted: o.sackPermitted,
      timestamps: o.timestamps,
      sack: o.sack,
    };
    const hlen = encodeTcpHeader(scratch, 20, { ...seg, payloadLength: 0 }, PEER, US);
    const pkt = new Uint8Array(20 + hlen + payload.length);
    pkt.set(payload, 20 + hlen);
    encodeTcpHeader(pkt, 20, { ...seg, payloadLength: payload.length }, PEER, US);
    encodeIpHeader(pkt, { src: PEER, dst: US, proto: PROTO_TCP, payloadLength: hlen + payload.length });
    this.stack.input(pkt);
  }

  /** Active open from our stack; the peer answers with a SYN-ACK carrying synOpts. */
  async open(synOpts: TcpOptions & { window?: number }): Promise<TcpConnection> {
    const p = this.stack.connect('100.64.0.9', 80);
    const syn = this.out.shift()!;
    expect(syn.flags).toBe(SYN);
    this.ourPort = syn.srcPort;
    this.peerPort = 80;
    this.ourIsn = syn.seq;
    this.send(SYN | ACK, this.peerSeq, syn.seq + 1, synOpts);
    this.peerSeq++;
    const c = await drive(this.clock, p);
    const ack = this.out.shift()!;
    expect(ack.flags).toBe(ACK);
    return c;
  }
}

describe('TCP against a scripted peer', () => {
  it('RFC 5961 §3: an in-window RST that is not exact draws a challenge ACK; only the exact one resets', async () => {
    const s = new Scripted();
    const c = await s.open({ mss: 1200, windowScale: 7, sackPermitted: true });
    s.send(RST, s.peerSeq + 1000, 0);
    expect(c.state).toBe('ESTABLISHED');
    expect(s.out.length).toBe(1);
    expect(s.out[0].flags).toBe(ACK);
    expect(s.out[0].ack).toBe(s.peerSeq);
    s.send(RST, s.peerSeq + 10_000_000, 0); // outside the window: silently dropped
    expect(s.out.length).toBe(1);
    s.send(RST, s.peerSeq, 0);
    expect(c.state).toBe('CLOSED');
    await expect(c.closed).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('RFC 5961 §4: a SYN on an established connection draws a challenge ACK and changes nothing', async () => {
    const s = new Scripted();
    const c = await s.open({ mss: 1200 });
    s.send(SYN, s.peerSeq + 77, 0);
    expect(c.state).toBe('ESTABLISHED');
    expect(s.out.map((x) => x.flags)).toEqual([ACK]);
  });

  it('RFC 5961 §5: an ACK for data never sent is answered with an ACK and ignored', async () => {
    const s = new Scripted();
    const c = await s.open({ mss: 1200 });
    s.send(ACK, s.peerSeq, s.ourIsn + 1 + 100_000);
    expect(s.out.map((x) => x.flags)).toEqual([ACK]);
    expect(c.state).toBe('ESTABLISHED');
    expect(s.stack.stats.tcpAckTooNew).toBe(1);
  });

  it('a minimal peer (no options): MSS 536 by default, no timestamps, SACK or window scaling on our side', async () => {
    const s = new Scripted();
    const c = await s.open({});
    const w = c.writable.getWriter();
    await w.write(new Uint8Array(5000));
    const data = s.out.filter((x) => x.payload.length > 0);
    expect(data.length).toBeGreaterThan(0);
    for (const d of data) {
      expect(d.payload.length).toBeLessThanOrEqual(536);
      expect(d.timestamps).toBeUndefined();
    }
    // Our window is not scaled: the field carries the real window, capped at 65535.
    expect(data[0].window).toBe(65535);
  });

  it('window scaling (RFC 7323): the peer window field is shifted by its scale; we send no more than it allows', async () => {
    const s = new Scripted();
    const c = await s.open({ mss: 1000, windowScale: 3, window: 65535 });
    s.send(ACK, s.peerSeq, s.ourIsn + 1, { window: 500 }); // 500 << 3 = 4000 bytes
    const w = c.writable.getWriter();
    await w.write(new Uint8Array(20_000));
    const sent = s.out.reduce((n, x) => n + x.payload.length, 0);
    expect(sent).toBe(4000);
  });

  it('RTO backs off exponentially (RFC 6298 §5.5) and the connection fails after the retry limit', async () => {
    const s = new Scripted({ maxRetransmits: 5 });
    const c = await s.open({ mss: 1000, timestamps: undefined });
    s.out.length = 0;
    const w = c.writable.getWriter();
    void w.write(Uint8Array.of(1, 2, 3)).catch(() => undefined);
    await runUntil(s.clock, () => c.state === 'CLOSED', 200_000, 50);
    const times = s.out.filter((x) => x.payload.length > 0).map((x) => x.at);
    expect(times.length).toBe(6); // original + 5 retransmissions
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThanOrEqual(gaps[i - 1] * 2 - 60); // timer granularity of the test loop
    await expect(c.closed).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(s.out.at(-1)!.flags & RST).toBeTruthy(); // we tell the peer
  });

  it('a FIN is acknowledged and ends our readable; data after it is not delivered', async () => {
    const s = new Scripted();
    const c = await s.open({ mss: 1000 });
    const r = c.readable.getReader();
    s.send(ACK | FIN, s.peerSeq, s.ourIsn + 1, { payload: Uint8Array.of(7, 8) });
    expect(Array.from((await r.read()).value!)).toEqual([7, 8]);
    expect((await r.read()).done).toBe(true);
    expect(c.state).toBe('CLOSE_WAIT');
    expect(s.out.at(-1)!.ack).toBe((s.peerSeq + 3) >>> 0);
  });

  it('while a hole is open every duplicate ACK carries new SACK information and the same window, though the reader drains', async () => {
    // A SACK sender counts an ACK as a duplicate only with new SACK information and an unchanged
    // window (RFC 5681 §2 (e); gVisor's snd.go isDupAck resets its count otherwise), so a window that
    // moves as the reader drains turns a fast retransmit into a retransmission timeout.
    const s = new Scripted();
    const c = await s.open({ mss: 1000, windowScale: 7, sackPermitted: true });
    const r = c.readable.getReader();
    const ack = s.ourIsn + 1;
    const seg = (i: number) => s.send(ACK, s.peerSeq + i * 1000, ack, { payload: new Uint8Array(1000).fill(i) });
    // 40 segments in order, not yet read: the advertised window shrinks by what is buffered.
    for (let i = 0; i < 40; i++) seg(i);
    await drive(s.clock, Promise.resolve());
    s.out.length = 0;
    // Segment 40 is lost; 41..46 arrive while the reader takes what was buffered between them.
    let read = 0;
    for (let i = 41; i <= 46; i++) {
      seg(i);
      for (let k = 0; k < 8 && read < 40_000; k++) read += (await r.read()).value!.length;
    }
    await drive(s.clock, Promise.resolve());
    expect(read).toBe(40_000);
    const hole = (s.peerSeq + 40_000) >>> 0;
    expect(s.out.map((x) => x.ack)).toEqual(Array(6).fill(hole));
    expect(s.out.map((x) => x.sack![0][1])).toEqual([1, 2, 3, 4, 5, 6].map((k) => (hole + 1000 + k * 1000) >>> 0));
    expect(new Set(s.out.map((x) => x.window)).size).toBe(1);
    // The retransmission fills the hole: the cumulative ACK moves and announces the drained buffer.
    const before = s.out[0].window;
    s.out.length = 0;
    seg(40);
    expect(s.out.map((x) => x.ack)).toEqual([(hole + 7000) >>> 0]);
    expect(s.out[0].window).toBeGreaterThan(before);
    expect(s.out[0].sack).toBeUndefined();
  });

  it('PAWS (RFC 7323 §5): data with a timestamp older than the last in-order one is dropped and ACKed; a fresh timestamp gets it in', async () => {
    const s = new Scripted();
    const c = await s.open({ mss: 1000, timestamps: [1000, 0] });
    const r = c.readable.getReader();
    const ack = s.ourIsn + 1;
    s.send(ACK, s.peerSeq, ack, { payload: Uint8Array.of(1), timestamps: [2000, 0] });
    expect(Array.from((await r.read()).value!)).toEqual([1]);
    s.peerSeq++;
    s.out.length = 0;
    // An old duplicate carrying "new" sequence numbers (as after a wrap): not delivered.
    s.send(ACK, s.peerSeq, ack, { payload: Uint8Array.of(2), timestamps: [1500, 0] });
    expect(s.stack.stats.tcpPawsRejected).toBe(1);
    expect(s.out.map((x) => [x.flags, x.ack])).toEqual([[ACK, s.peerSeq]]);
    expect(s.out[0].timestamps![1]).toBe(2000); // TS.Recent unchanged
    // The same bytes with a current timestamp are accepted.
    s.send(ACK, s.peerSeq, ack, { payload: Uint8Array.of(3), timestamps: [2001, 0] });
    expect(Array.from((await r.read()).value!)).toEqual([3]);
    s.peerSeq++;
    // A RST is never PAWS-checked (§5.3 R1): the exact one still resets.
    s.send(RST, s.peerSeq, 0, { timestamps: [1, 0] });
    expect(c.state).toBe('CLOSED');
  });

  it('PAWS: after 24 days of silence an older timestamp is taken as the new TS.Recent (the peer clock may have wrapped)', async () => {
    const s = new Scripted({ keepAliveIdleMs: 0 });
    const c = await s.open({ mss: 1000, timestamps: [4_000_000_000, 0] });
    const r = c.readable.getReader();
    s.clock.advance(25 * 24 * 3600 * 1000);
    s.send(ACK, s.peerSeq, s.ourIsn + 1, { payload: Uint8Array.of(9), timestamps: [5, 0] });
    expect(Array.from((await r.read()).value!)).toEqual([9]);
    expect(s.stack.stats.tcpPawsRejected).toBe(0);
  });
});

describe('TCP on a simulated link: Karn, NewReno fallback', () => {
  it("Karn's rule: without timestamps, the ACK of a retransmitted segment gives no RTT sample", async () => {
    const clock = new VirtualClock(0);
    const net = new SimLink(clock, 5, { delayMs: 10 });
    const a = net.stack(['100.64.0.1'], { tcp: { timestamps: false } });
    const b = net.stack(['100.64.0.2'], { tcp: { timestamps: false } });
    const l = b.listen(80);
    const sp = l.accept();
    const c = await drive(clock, a.connect('100.64.0.2', 80));
    await drive(clock, sp);
    let dropped = false;
    net.filter = (pkt) => {
      if (!dropped && pkt.length > 60) {
        dropped = true;
        return false; // the first data segment is lost once
      }
      return true;
    };
    const w = c.writable.getWriter();
    await w.write(new Uint8Array(100));
    await runUntil(clock, () => (c as unknown as { debug: { inflight: number } }).debug.inflight === 0, 5000);
    const d = (c as unknown as { debug: { srtt: number } }).debug;
    // The only sample is the handshake's 20 ms; timing the retransmitted segment from its first
    // transmission would have added a ~220 ms sample (SRTT ≈ 45 ms).
    expect(d.srtt).toBe(20);
    expect(a.stats.tcpRtoExpirations).toBe(1);
  });

  it('a peer without SACK or timestamps: 1 MB under 3% loss arrives intact (NewReno-style recovery)', async () => {
    const clock = new VirtualClock(0);
    const net = new SimLink(clock, 6, { delayMs: 15, loss: 0.03 });
    const a = net.stack(['100.64.0.1']);
    const b = net.stack(['100.64.0.2'], { tcp: { sack: false, timestamps: false, windowScale: 0 } });
    const l = b.listen(80);
    const data = new Uint8Array(1 << 20).map((_, i) => (i * 13) & 0xff);
    const got = (async () => {
      const c = await l.accept();
      const r = c.readable.getReader();
      const parts: Uint8Array[] = [];
      for (;;) {
        const x = await r.read();
        if (x.done) break;
        parts.push(x.value);
      }
      return Buffer.concat(parts);
    })();
    const c = await drive(clock, a.connect('100.64.0.2', 80));
    const dbg = (c as unknown as { debug: { sackOk: boolean; tsOk: boolean; wscale: number[] } }).debug;
    expect([dbg.sackOk, dbg.tsOk, dbg.wscale]).toEqual([false, false, [0, 0]]);
    const w = c.writable.getWriter();
    await drive(
      clock,
      (async () => {
        await w.write(data);
        await w.close();
      })(),
      900_000,
    );
    expect(Buffer.from(data).equals(await drive(clock, got))).toBe(true);
    expect(a.stats.tcpFastRecoveries).toBeGreaterThan(0);
  });
});

describe('TCP write coalescing', () => {
  for (const nagle of [false, true]) {
    it(`Nagle ${nagle ? 'on: small writes wait for the ACK and go out together' : 'off (default): every small write leaves at once'}`, async () => {
      const s = new Scripted({ nagle });
      const c = await s.open({ mss: 1000 });
      const w = c.writable.getWriter();
      for (let i = 0; i < 10; i++) await w.write(Uint8Array.of(i));
      const segs = s.out.filter((x) => x.payload.length > 0);
      if (!nagle) expect(segs.map((x) => x.payload.length)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
      else {
        expect(segs.map((x) => x.payload.length)).toEqual([1]);
        s.send(ACK, s.peerSeq, s.ourIsn + 2);
        expect(s.out.filter((x) => x.payload.length > 0).map((x) => x.payload.length)).toEqual([1, 9]);
      }
    });
  }
});

describe('spurious retransmission timeouts (Eifel, RFC 3522/4015)', () => {
  /** 3 MB over a 20 ms link whose ACKs sent between 200 and 700 ms take 1.5 s longer (a stalled relay). */
  async function spike(ts: boolean) {
    const clock = new VirtualClock(0);
    const net = new SimLink(clock, 9, { delayMs: 20 });
    const a = net.stack(['100.64.0.1'], { tcp: { timestamps: ts } });
    const b = net.stack(['100.64.0.2'], { tcp: { timestamps: ts } });
    const l = b.listen(80);
    const data = new Uint8Array(3 << 20).map((_, i) => (i * 11) & 0xff);
    const got = (async () => {
      const c = await l.accept();
      const r = c.readable.getReader();
      const parts: Uint8Array[] = [];
      for (;;) {
        const x = await r.read();
        if (x.done) break;
        parts.push(x.value);
      }
      return Buffer.concat(parts);
    })();
    const c = await drive(clock, a.connect('100.64.0.2', 80));
    net.extraDelay = (pkt) => (pkt[19] === 1 && clock.now() >= 200 && clock.now() < 700 ? 1500 : 0);
    const w = c.writable.getWriter();
    await drive(
      clock,
      (async () => {
        for (let i = 0; i < data.length; i += 65536) await w.write(data.subarray(i, i + 65536));
        await w.close();
      })(),
      600_000,
    );
    expect(Buffer.from(data).equals(await drive(clock, got))).toBe(true);
    return { ms: clock.now(), stats: a.stats };
  }

  it('with timestamps the timeout is recognised as spurious and the window reduction undone; without, it costs a slow start', async () => {
    const withTs = await spike(true);
    const without = await spike(false);
    expect(withTs.stats.tcpRtoExpirations).toBeGreaterThan(0);
    expect(without.stats.tcpRtoExpirations).toBeGreaterThan(0);
    expect(withTs.stats.tcpSpuriousRtos).toBe(1);
    expect(without.stats.tcpSpuriousRtos).toBe(0);
    // Virtual time: the undo keeps the window, so the same transfer ends much sooner.
    expect(withTs.ms).toBeLessThan(without.ms * 0.75);
  });
});

describe('tail loss probe (RFC 8985 §7)', () => {
  it('the last two segments of a write lost: a probe after about two RTTs plus early retransmit repair them, not the RTO', async () => {
    const clock = new VirtualClock(0);
    const net = new SimLink(clock, 10, { delayMs: 20 });
    const a = net.stack(['100.64.0.1']);
    const b = net.stack(['100.64.0.2']);
    const l = b.listen(80);
    const sp = l.accept();
    const c = await drive(clock, a.connect('100.64.0.2', 80));
    const sc = await drive(clock, sp);
    let dropped = 0;
    let dataSegs = 0;
    net.filter = (pkt) => {
      // Drop the 4th and 5th data segments of the write (the tail), once each.
      if (pkt[9] === 6 && pkt[19] === 2 && pkt.length > 60) {
        dataSegs++;
        if (dataSegs === 4 || dataSegs === 5) {
          dropped++;
          return false;
        }
      }
      return true;
    };
    const r = sc.readable.getReader();
    const w = c.writable.getWriter();
    const t0 = clock.now();
    await w.write(new Uint8Array(5 * 1228).fill(1));
    let got = 0;
    while (got < 5 * 1228) got += (await drive(clock, r.read())).value!.length;
    expect(dropped).toBe(2);
    expect(a.stats.tcpTailLossProbes).toBe(1); // resends the last segment: its SACK exposes the hole
    expect(a.stats.tcpEarlyRetransmits).toBe(1); // two segments outstanding: one duplicate suffices
    expect(a.stats.tcpRtoExpirations).toBe(0);
    // Delayed ACK of segment 3 (40 ms) + PTO 2*SRTT (80 ms) + probe and retransmission round trips;
    // without them, two RTOs (200 ms, then 400 ms backed off) would be needed.
    expect(clock.now() - t0).toBeLessThan(300);
  });
});
