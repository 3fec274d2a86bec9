// The receiving side of the HTTP/2 client: the read loop and one handler per frame type (RFC 9113
// §6): SETTINGS, PING, GOAWAY, WINDOW_UPDATE, HEADERS/CONTINUATION into responses, DATA into bodies
// whose reads give flow-control credit back, RST_STREAM. Bad frames become stream or connection
// errors (§5.4), counted; nothing throws out of the loop.
import { readAll } from '../../platform/streams.js';
import { ErrorCode, FrameError, FrameType, MAX_WINDOW, Setting, type Frame } from './frames.js';
import { HpackError } from './hpack.js';
import {
  asError,
  decoder,
  errorCodeName,
  hexKey,
  Http2Error,
  type Http2Response,
  MAX_HEADER_BLOCK,
  type Stream,
  wake,
} from './client-types.js';
import { Http2ClientCore } from './client-core.js';

export abstract class Http2ClientReceive extends Http2ClientCore {
  protected async readLoop(): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await this.reader.read();
        if (done) {
          this.teardown(new Http2Error('connection closed by peer', ErrorCode.CANCEL, true), undefined);
          return;
        }
        if (this.isClosed) return;
        this.stats.bytesIn += value.length;
        this.frames.push(value);
        for (;;) {
          const f = this.frames.next();
          if (f === undefined) break;
          if (f instanceof FrameError) {
            if (f.streamId === 0) {
              this.connectionError(f.code, f.message);
              return;
            }
            this.streamError(f.streamId, f.code, f.message);
            continue;
          }
          this.stats.framesIn++;
          this.handleFrame(f);
          if (this.isClosed) return;
        }
      }
    } catch (e) {
      this.teardown(asError(e, 'read failed'), undefined);
    }
  }

  protected handleFrame(f: Frame): void {
    // §6.10: while a header block is open, only its CONTINUATION frames may arrive.
    if (this.continuation && (f.type !== FrameType.CONTINUATION || f.streamId !== this.continuation.streamId)) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, 'expected CONTINUATION');
      return;
    }
    switch (f.type) {
      case FrameType.SETTINGS:
        return this.onSettings(f);
      case FrameType.PING:
        if (f.ack) {
          const p = this.pings.get(hexKey(f.data));
          if (p) {
            this.pings.delete(hexKey(f.data));
            p.resolve(this.clock.now() - p.start);
          }
        } else {
          this.stats.pingsAnswered++;
          this.send({ type: FrameType.PING, ack: true, data: f.data });
        }
        return;
      case FrameType.GOAWAY:
        return this.onGoAway(f.lastStreamId, f.code, decoder.decode(f.debug));
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(f.streamId, f.increment);
      case FrameType.HEADERS:
        if (f.streamId % 2 === 0) {
          this.connectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on a server stream id');
          return;
        }
        if (f.endHeaders) return this.onHeaderBlock(f.streamId, f.block, f.endStream);
        this.continuation = { streamId: f.streamId, parts: [f.block], size: f.block.length, endStream: f.endStream };
        return;
      case FrameType.CONTINUATION: {
        const c = this.continuation;
        if (!c) {
          this.connectionError(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without HEADERS');
          return;
        }
        c.parts.push(f.block);
        c.size += f.block.length;
        if (c.size > MAX_HEADER_BLOCK) {
          this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'header block too large');
          return;
        }
        if (f.endHeaders) {
          this.continuation = undefined;
          const block = new Uint8Array(c.size);
          let o = 0;
          for (const p of c.parts) {
            block.set(p, o);
            o += p.length;
          }
          this.onHeaderBlock(c.streamId, block, c.endStream);
        }
        return;
      }
      case FrameType.DATA:
        return this.onData(f.streamId, f.data, f.flowLength, f.endStream);
      case FrameType.RST_STREAM: {
        if (f.streamId > this.highestOpened()) {
          this.connectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on idle stream');
          return;
        }
        this.stats.rstReceived++;
        const s = this.streams.get(f.streamId);
        if (s) {
          const retry = f.code === ErrorCode.REFUSED_STREAM;
          // §8.1: NO_ERROR after the response started means "response complete, stop sending";
          // nghttp2 (Node) ends long responses this way. Keep the body already received.
          if (f.code === ErrorCode.NO_ERROR && s.gotHeaders) s.ended = true;
          this.failStream(s, new Http2Error(`stream reset by server: ${errorCodeName(f.code)}`, f.code, retry));
        }
        return;
      }
      case FrameType.PUSH_PROMISE:
        // We sent ENABLE_PUSH=0 (§8.4).
        this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE with push disabled');
        return;
      case FrameType.PRIORITY:
        return; // deprecated signal (§5.3.2): ignored
      case 'unknown':
        this.stats.unknownFrames++;
        return;
    }
  }

  protected highestOpened(): number {
    return this.nextStreamId - 2;
  }

  protected onSettings(f: Extract<Frame, { type: FrameType.SETTINGS }>): void {
    if (f.ack) return;
    this.stats.settingsReceived++;
    for (const [id, v] of f.settings) {
      switch (id) {
        case Setting.HEADER_TABLE_SIZE:
          this.enc.setPeerMaxTableSize(v);
          break;
        case Setting.MAX_CONCURRENT_STREAMS:
          this.peerMaxConcurrent = v;
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          // §6.9.2: adjust every open stream's send window by the difference.
          const delta = v - this.peerInitialWindow;
          this.peerInitialWindow = v;
          for (const s of this.streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) {
              this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'window overflow after SETTINGS');
              return;
            }
            if (s.sendWindow > 0) wake(s.windowWaiters);
          }
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          this.peerMaxFrameSize = v;
          break;
        default:
          break; // unknown settings are ignored (§6.5.2)
      }
    }
    this.send({ type: FrameType.SETTINGS, ack: true, settings: [] });
    // A raised concurrency limit may free waiting requests.
    for (let i = this.activeCount(); i < Math.min(this.peerMaxConcurrent, this.ourMaxConcurrent); i++)
      this.releaseSlot();
  }

  protected onWindowUpdate(streamId: number, inc: number): void {
    this.stats.windowUpdatesReceived++;
    if (streamId === 0) {
      this.connSendWindow += inc;
      if (this.connSendWindow > MAX_WINDOW) {
        this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
        return;
      }
      wake(this.connWindowWaiters);
      return;
    }
    const s = this.streams.get(streamId);
    if (!s) return; // closed streams may still get updates (§6.9)
    s.sendWindow += inc;
    if (s.sendWindow > MAX_WINDOW) {
      this.streamError(streamId, ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
      return;
    }
    wake(s.windowWaiters);
  }

  protected onHeaderBlock(streamId: number, block: Uint8Array, endStream: boolean): void {
    // Decode even for unknown streams: the HPACK table must stay in step (§4.3).
    const fields = this.dec.decode(block);
    if (fields instanceof HpackError) {
      this.stats.hpackErrors++;
      this.connectionError(ErrorCode.COMPRESSION_ERROR, fields.message);
      return;
    }
    const s = this.streams.get(streamId);
    if (!s) {
      if (streamId > this.highestOpened()) this.connectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on idle stream');
      return;
    }
    if (s.phase === 'half-closed-remote') {
      this.streamError(streamId, ErrorCode.STREAM_CLOSED, 'HEADERS after END_STREAM');
      return;
    }
    if (!s.gotHeaders) {
      const statusField = fields.find(([k]) => k === ':status');
      const status = statusField ? Number(statusField[1]) : NaN;
      if (!Number.isInteger(status) || status < 100 || status > 999) {
        this.streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'response without valid :status');
        return;
      }
      if (status >= 100 && status < 200) {
        if (endStream) this.streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'informational response ended stream');
        return; // 1xx: wait for the final response (§8.1)
      }
      s.gotHeaders = true;
      const headers = fields.filter(([k]) => !k.startsWith(':')) as [string, string][];
      s.resolve(this.makeResponse(s, status, headers));
    }
    // Trailers (or the headers) with END_STREAM end the response body.
    if (endStream) this.onRemoteEnd(s);
  }

  protected onData(streamId: number, data: Uint8Array, flowLength: number, endStream: boolean): void {
    this.stats.dataBytesIn += data.length;
    // Connection-level accounting applies to every DATA frame, even for streams we dropped (§6.9).
    if (flowLength > this.connRecvWindow) {
      this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection receive window exceeded');
      return;
    }
    this.connRecvWindow -= flowLength;
    const s = this.streams.get(streamId);
    if (!s) {
      this.creditConnection(flowLength);
      if (streamId > this.highestOpened()) this.connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on idle stream');
      else this.send({ type: FrameType.RST_STREAM, streamId, code: ErrorCode.STREAM_CLOSED });
      return;
    }
    if (!s.gotHeaders || s.phase === 'half-closed-remote') {
      this.creditConnection(flowLength);
      this.streamError(streamId, s.gotHeaders ? ErrorCode.STREAM_CLOSED : ErrorCode.PROTOCOL_ERROR, 'unexpected DATA');
      return;
    }
    if (flowLength > s.recvWindow) {
      this.creditConnection(flowLength);
      this.streamError(streamId, ErrorCode.FLOW_CONTROL_ERROR, 'stream receive window exceeded');
      return;
    }
    s.recvWindow -= flowLength;
    // Padding is never delivered: credit it back at once.
    const padding = flowLength - data.length;
    if (padding) {
      this.creditConnection(padding);
      this.creditStream(s, padding);
    }
    if (s.bodyCancelled) {
      this.creditConnection(data.length);
    } else if (data.length) {
      if (s.pullWaiter) {
        // A read is waiting: hand over directly; it counts as consumed.
        s.queue.push(data);
        s.queuedBytes += data.length;
        const w = s.pullWaiter;
        s.pullWaiter = undefined;
        w();
      } else {
        s.queue.push(data);
        s.queuedBytes += data.length;
      }
    }
    if (endStream) this.onRemoteEnd(s);
  }

  protected makeResponse(s: Stream, status: number, headers: [string, string][]): Http2Response {
    const body = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          for (;;) {
            const chunk = s.queue.shift();
            if (chunk) {
              s.queuedBytes -= chunk.length;
              controller.enqueue(chunk);
              // Consumed: now the peer may send more (backpressure through flow control).
              this.creditConnection(chunk.length);
              this.creditStream(s, chunk.length);
              return;
            }
            if (s.error) {
              controller.error(s.error);
              return;
            }
            if (s.ended) {
              controller.close();
              return;
            }
            await new Promise<void>((r) => (s.pullWaiter = r));
          }
        },
        cancel: () => {
          s.bodyCancelled = true;
          this.creditConnection(s.queuedBytes);
          s.queue = [];
          s.queuedBytes = 0;
          if (s.phase !== 'closed' && !s.ended)
            this.resetStream(s, ErrorCode.CANCEL, new Http2Error('response body cancelled', ErrorCode.CANCEL));
        },
      },
      { highWaterMark: 0 },
    );
    const bytes = () => readAll(body);
    return { status, headers, body, bytes, text: async () => decoder.decode(await bytes()) };
  }

  protected onRemoteEnd(s: Stream): void {
    s.ended = true;
    if (s.pullWaiter) {
      const w = s.pullWaiter;
      s.pullWaiter = undefined;
      w();
    }
    if (s.phase === 'open') s.phase = 'half-closed-remote';
    else this.finishStream(s);
  }

  protected onGoAway(lastStreamId: number, code: number, debug: string): void {
    this.stats.goawayReceived++;
    this.goAway = { lastStreamId, code };
    // §6.8: streams above lastStreamId were not processed and may be retried elsewhere.
    for (const s of [...this.streams.values()]) {
      if (s.id > lastStreamId) {
        this.failStream(
          s,
          new Http2Error(
            `server going away (${errorCodeName(code)}); request not processed`,
            ErrorCode.REFUSED_STREAM,
            true,
          ),
        );
      }
    }
    wake(this.slotWaiters);
    try {
      this.o.onGoAway?.(lastStreamId, code, debug);
    } catch {
      /* caller's problem */
    }
    this.maybeFinishGoAway();
  }
}
