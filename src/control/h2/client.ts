// HTTP/2 client with prior knowledge (RFC 9113 §3.3) over any byte duplex.
// Connection preface and SETTINGS (§3.4, §6.5), stream states (§5.1), concurrency (§5.1.2),
// flow control (§5.2, §6.9), PING (§6.7), GOAWAY (§6.8), RST_STREAM (§6.4), header blocks with
// CONTINUATION (§4.3, §6.10), errors (§5.4). Bad frames from the peer become connection or
// stream errors and are counted in stats; nothing throws out of the read loop.//
// Http2Client is one object whose methods live in files by role: client-core.ts (state, sending, flow
// control credit, stream and connection teardown) <- client-receive.ts (the read loop, frame
// handlers, response bodies) <- client.ts (request, ping, close); shapes and errors in
// client-types.ts.
import { ErrorCode, FrameType, MAX_WINDOW } from './frames.js';
import { type HeaderField } from './hpack.js';
import { hexKey, Http2Error, type Http2Request, type Http2Response, type Stream } from './client-types.js';
import { Http2ClientReceive } from './client-receive.js';

export { Http2Error, errorCodeName } from './client-types.js';
export type { Http2Response, Http2Request, Http2ClientOptions } from './client-types.js';

export class Http2Client extends Http2ClientReceive {
  async request(r: Http2Request): Promise<Http2Response> {
    await this.acquireSlot();
    if (this.isClosed) throw new Http2Error('connection closed', ErrorCode.REFUSED_STREAM, true);
    if (this.goAway) throw new Http2Error('connection is going away', ErrorCode.REFUSED_STREAM, true);
    if (this.nextStreamId > MAX_WINDOW) throw new Http2Error('stream ids exhausted', ErrorCode.REFUSED_STREAM, true);

    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const hasBody = r.body !== undefined && !(r.body instanceof Uint8Array && r.body.length === 0);
    let resolve!: (r: Http2Response) => void;
    let reject!: (e: Error) => void;
    const responseP = new Promise<Http2Response>((a, b) => {
      resolve = a;
      reject = b;
    });
    const s: Stream = {
      id,
      phase: hasBody ? 'open' : 'half-closed-local',
      sendWindow: this.peerInitialWindow,
      recvWindow: this.streamWindow,
      unacked: 0,
      gotHeaders: false,
      resolve,
      reject,
      queue: [],
      queuedBytes: 0,
      ended: false,
      windowWaiters: [],
      bodyCancelled: false,
    };
    this.streams.set(id, s);
    this.stats.streamsOpened++;
    this.stats.streamsActive = this.streams.size;

    const fields: HeaderField[] = [
      [':method', r.method],
      [':scheme', r.scheme ?? 'http'],
      [':authority', r.authority ?? 'localhost'],
      [':path', r.path],
    ];
    for (const [k, v] of r.headers ?? []) {
      const name = k.toLowerCase();
      // §8.2.2: connection-specific fields are forbidden in HTTP/2.
      if (['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host'].includes(name))
        continue;
      fields.push([name, v]);
    }
    // Encode and emit HEADERS + CONTINUATIONs synchronously: HPACK state and frame order must agree,
    // and no other frame may come between them (§6.10).
    const block = this.enc.encode(fields);
    this.sendHeaderBlock(id, block, !hasBody);

    if (hasBody) {
      this.sendBody(s, r.body!).catch((e) => {
        if (s.phase !== 'closed') this.resetStream(s, ErrorCode.CANCEL, e instanceof Error ? e : new Error(String(e)));
      });
    }
    return responseP;
  }

  /** Round-trip time of a PING in milliseconds (§6.7). */
  ping(): Promise<number> {
    if (this.isClosed) return Promise.reject(new Http2Error('connection closed', ErrorCode.INTERNAL_ERROR));
    const data = new Uint8Array(8);
    let n = ++this.pingSeq;
    for (let i = 7; i >= 0; i--) {
      data[i] = n & 0xff;
      n = Math.floor(n / 256);
    }
    const key = hexKey(data);
    return new Promise((resolve, reject) => {
      this.pings.set(key, { start: this.clock.now(), resolve, reject });
      this.stats.pingsSent++;
      this.send({ type: FrameType.PING, ack: false, data });
    });
  }

  /** Graceful close: GOAWAY(NO_ERROR), then the transport is closed. */
  close(): void {
    if (this.isClosed) return;
    this.send({ type: FrameType.GOAWAY, lastStreamId: 0, code: ErrorCode.NO_ERROR, debug: new Uint8Array(0) });
    this.teardown(new Http2Error('connection closed by client', ErrorCode.CANCEL), undefined);
  }
}
