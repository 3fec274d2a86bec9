import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import {
  CLOSE_INVALID_DATA,
  CLOSE_PROTOCOL_ERROR,
  CLOSE_TOO_BIG,
  FrameDecoder,
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_TEXT,
  acceptFor,
  checkHandshake,
  closePayload,
  encodeFrame,
  encodeHandshake,
  parseHandshakeResponse,
  type WsEvent,
} from './websocket.js';
import { connectWebSocket, type WebSocketClient, type WsCloseInfo } from './websocket-client.js';
import { socketConn } from './net-socket.testkit.js';
import { latin1Decode, latin1Encode } from './wire.js';

const enc = (s: string) => new TextEncoder().encode(s);
const frame = (op: number, payload: Uint8Array | string, fin = true) =>
  encodeFrame(op, typeof payload === 'string' ? enc(payload) : payload, null, fin);
const decodeAll = (bytes: Uint8Array, opts = {}) => new FrameDecoder(opts).push(bytes);

describe('RFC 6455 codec', () => {
  it("computes Sec-WebSocket-Accept as in the RFC's example (§1.3)", () => {
    expect(acceptFor('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('encodes the opening handshake and refuses injected fields and bad subprotocols', () => {
    const h = latin1Decode(
      encodeHandshake({
        host: 'nas:8080',
        target: '/ws?x=1',
        key: 'k',
        protocols: ['a', 'b'],
        headers: [
          ['Origin', 'http://nas:8080'],
          ['Upgrade', 'evil'],
        ],
      }),
    );
    expect(h).toBe(
      'GET /ws?x=1 HTTP/1.1\r\nHost: nas:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\nOrigin: http://nas:8080\r\n\r\n',
    );
    expect(() => encodeHandshake({ host: 'h', target: '/', key: 'k', headers: [['X', 'a\r\nB: c']] })).toThrow(
      /invalid value/,
    );
    expect(() => encodeHandshake({ host: 'h', target: '/', key: 'k', protocols: ['a b'] })).toThrow(/subprotocol/);
    expect(() => encodeHandshake({ host: 'h', target: '/', key: 'k', protocols: ['a', 'a'] })).toThrow(/subprotocol/);
  });

  it('parses the 101 head and keeps bytes after it; checks Accept, Upgrade, subprotocol, extensions', () => {
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    const head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\nSec-WebSocket-Protocol: chat\r\n\r\n`;
    const bytes = new Uint8Array([...latin1Encode(head), 0x81, 0x00]);
    expect(parseHandshakeResponse(bytes.subarray(0, 20))).toBeNull();
    const p = parseHandshakeResponse(bytes)!;
    expect(p.rest).toBe(head.length);
    expect(checkHandshake(p.head, key, ['chat', 'x'])).toEqual({ protocol: 'chat' });
    expect(() => checkHandshake(p.head, key, ['x'])).toThrow(/not offered/);
    expect(() => checkHandshake(p.head, 'AAAAAAAAAAAAAAAAAAAAAA==', ['chat'])).toThrow(/Accept/);
    const noUp = parseHandshakeResponse(latin1Encode(head.replace('Upgrade: websocket\r\n', '')))!;
    expect(() => checkHandshake(noUp.head, key, ['chat'])).toThrow(/Upgrade/);
    const ext = parseHandshakeResponse(
      latin1Encode(head.replace('\r\n\r\n', '\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n')),
    )!;
    expect(() => checkHandshake(ext.head, key, ['chat'])).toThrow(/extension/);
    const notFound = parseHandshakeResponse(latin1Encode('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'))!;
    expect(() => checkHandshake(notFound.head, key, [])).toThrow(/404/);
    expect(() => parseHandshakeResponse(latin1Encode('SSH-2.0-OpenSSH\r\n\r\n'))).toThrow(/not an HTTP response/);
    expect(() => parseHandshakeResponse(new Uint8Array(20000).fill(65))).toThrow(/over/);
  });

  it('masks client frames (§5.3) with the given key and uses 7/16/64-bit lengths', () => {
    const f = encodeFrame(OP_TEXT, enc('Hello'), new Uint8Array([0x37, 0xfa, 0x21, 0x3d]));
    // §5.7's masked "Hello" example.
    expect([...f]).toEqual([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    expect([...encodeFrame(OP_BINARY, new Uint8Array(256), null).subarray(0, 4)]).toEqual([0x82, 0x7e, 0x01, 0x00]);
    expect([...encodeFrame(OP_BINARY, new Uint8Array(65536), null).subarray(0, 10)]).toEqual([
      0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0,
    ]);
  });

  it("decodes the RFC's examples: unmasked text, fragments, ping, 64-bit length; split at every byte", () => {
    const hello = new Uint8Array([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    expect(decodeAll(hello)).toEqual([{ type: 'text', data: 'Hello' }]);
    const frags = new Uint8Array([0x01, 0x03, 0x48, 0x65, 0x6c, 0x89, 0x00, 0x80, 0x02, 0x6c, 0x6f]);
    expect(decodeAll(frags)).toEqual([
      { type: 'ping', data: new Uint8Array(0) },
      { type: 'text', data: 'Hello' },
    ]);
    const big = frame(
      OP_BINARY,
      new Uint8Array(70000).map((_, i) => i),
    );
    const all = new Uint8Array([...hello, ...frags, ...big]);
    const d = new FrameDecoder();
    const evs: WsEvent[] = [];
    for (let i = 0; i < all.length; i++) evs.push(...d.push(all.subarray(i, i + 1)));
    expect(evs.map((e) => e.type)).toEqual(['text', 'ping', 'text', 'binary']);
    expect((evs[3] as { data: Uint8Array }).data).toEqual(new Uint8Array(70000).map((_, i) => i));
  });

  it("fails with the RFC's codes: 1002 for protocol errors, 1007 for bad UTF-8, 1009 for too big", () => {
    const fail = (b: Uint8Array, opts = {}) =>
      decodeAll(b, opts).find((e) => e.type === 'fail') as { code: number } | undefined;
    expect(fail(new Uint8Array([0x81, 0x81, 1, 2, 3, 4, 0x41]))?.code).toBe(CLOSE_PROTOCOL_ERROR); // masked by the server
    expect(fail(new Uint8Array([0xc1, 0x00]))?.code).toBe(CLOSE_PROTOCOL_ERROR); // RSV1
    expect(fail(new Uint8Array([0x83, 0x00]))?.code).toBe(CLOSE_PROTOCOL_ERROR); // opcode 3
    expect(fail(frame(OP_CONT, 'x'))?.code).toBe(CLOSE_PROTOCOL_ERROR); // nothing to continue
    expect(fail(new Uint8Array([...frame(OP_TEXT, 'a', false), ...frame(OP_TEXT, 'b')]))?.code).toBe(
      CLOSE_PROTOCOL_ERROR,
    );
    expect(fail(frame(OP_PING, 'x', false))?.code).toBe(CLOSE_PROTOCOL_ERROR); // fragmented control
    expect(fail(frame(OP_PING, new Uint8Array(126)))?.code).toBe(CLOSE_PROTOCOL_ERROR);
    expect(fail(new Uint8Array([0x82, 0x7e, 0x00, 0x05, 1, 2, 3, 4, 5]))?.code).toBe(CLOSE_PROTOCOL_ERROR); // non-minimal length
    expect(fail(frame(OP_CLOSE, new Uint8Array([3])))?.code).toBe(CLOSE_PROTOCOL_ERROR);
    expect(fail(frame(OP_CLOSE, new Uint8Array([0x03, 0xed])))?.code).toBe(CLOSE_PROTOCOL_ERROR); // 1005 on the wire
    expect(fail(frame(OP_TEXT, new Uint8Array([0xc3, 0x28])))?.code).toBe(CLOSE_INVALID_DATA);
    // A split multi-byte character across fragments is fine; only the whole message is checked.
    const u = enc('ü');
    expect(
      decodeAll(new Uint8Array([...frame(OP_TEXT, u.subarray(0, 1), false), ...frame(OP_CONT, u.subarray(1))])),
    ).toEqual([{ type: 'text', data: 'ü' }]);
    expect(fail(frame(OP_BINARY, new Uint8Array(11)), { maxMessageBytes: 10 })?.code).toBe(CLOSE_TOO_BIG);
    // Refused from the header alone: a 2^40-byte frame is not waited for.
    expect(fail(new Uint8Array([0x82, 0x7f, 0, 0, 1, 0, 0, 0, 0, 0]))?.code).toBe(CLOSE_TOO_BIG);
    expect(decodeAll(frame(OP_CLOSE, closePayload(4000, 'bye')))).toEqual([
      { type: 'close', code: 4000, reason: 'bye' },
    ]);
    expect(decodeAll(frame(OP_CLOSE, new Uint8Array(0)))).toEqual([{ type: 'close', code: 1005, reason: '' }]);
    // Nothing after a Close or a failure is decoded.
    const d = new FrameDecoder();
    d.push(new Uint8Array([0xc1, 0x00]));
    expect(d.push(frame(OP_TEXT, 'x'))).toEqual([]);
  });

  it('property: random and mutated input never throws; it yields events, at most one fail (1002/1007/1009) and nothing after', () => {
    const validFrames = fc
      .array(
        fc.oneof(
          fc.string({ maxLength: 40 }).map((s) => frame(OP_TEXT, s)),
          fc.uint8Array({ maxLength: 300 }).map((b) => frame(OP_BINARY, b)),
          fc.uint8Array({ maxLength: 125 }).map((b) => frame(OP_PING, b)),
          fc
            .string({ maxLength: 20 })
            .map((s) => new Uint8Array([...frame(OP_TEXT, s.slice(0, 10), false), ...frame(OP_CONT, s.slice(10))])),
        ),
        { maxLength: 6 },
      )
      .map((fs) => fs.reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array(0)));
    const mutated = fc
      .tuple(
        validFrames,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'insert', 'delete')), {
          maxLength: 4,
        }),
      )
      .map(([b, muts]) => {
        const a = [...b];
        for (const [at, v, how] of muts) {
          const i = a.length ? at % a.length : 0;
          if (how === 'flip' && a.length) a[i] ^= v || 1;
          else if (how === 'insert') a.splice(i, 0, v);
          else if (a.length) a.splice(i, 1);
        }
        return new Uint8Array(a);
      });
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 400 }), validFrames, mutated),
        fc.array(fc.nat(), { maxLength: 5 }),
        (bytes, cuts) => {
          const d = new FrameDecoder({ maxMessageBytes: 1000 });
          const evs: WsEvent[] = [];
          let prev = 0;
          for (const c of [...new Set(cuts.map((c) => c % (bytes.length + 1)))]
            .sort((a, b) => a - b)
            .concat(bytes.length)) {
            evs.push(...d.push(bytes.subarray(prev, c)));
            prev = c;
          }
          const ends = evs.filter((e) => e.type === 'fail' || e.type === 'close');
          expect(ends.length).toBeLessThanOrEqual(1);
          if (ends.length) expect(evs.at(-1)).toBe(ends[0]);
          for (const e of evs)
            if (e.type === 'fail') expect([CLOSE_PROTOCOL_ERROR, CLOSE_INVALID_DATA, CLOSE_TOO_BIG]).toContain(e.code);
        },
      ),
      fuzz(3000),
    );
  });

  it('property: any split of valid frames decodes to the same messages', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 50 }), fc.uint8Array({ maxLength: 70000 / 50 })), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (msgs, cuts) => {
          const bytes = msgs
            .map((m) => (typeof m === 'string' ? frame(OP_TEXT, m) : frame(OP_BINARY, m)))
            .reduce((a, b) => new Uint8Array([...a, ...b]));
          const d = new FrameDecoder();
          const evs: WsEvent[] = [];
          let prev = 0;
          for (const c of [...new Set(cuts.map((c) => c % (bytes.length + 1)))]
            .sort((a, b) => a - b)
            .concat(bytes.length)) {
            evs.push(...d.push(bytes.subarray(prev, c)));
            prev = c;
          }
          expect(evs.map((e) => (e.type === 'text' || e.type === 'binary' ? e.data : e))).toEqual(msgs);
        },
      ),
      fuzz(300),
    );
  });
});

describe('WebSocket client against a `ws` server on loopback', () => {
  let server: Server;
  let wss: WebSocketServer;
  let port = 0;
  const seen: { headers: Record<string, unknown> }[] = [];
  const serverSockets: WsSocket[] = [];

  beforeAll(async () => {
    server = createServer((_q, r) => r.writeHead(404).end());
    wss = new WebSocketServer({
      noServer: true,
      maxPayload: 1 << 20,
      handleProtocols: (ps) => (ps.has('echo.v1') ? 'echo.v1' : false),
    });
    server.on('upgrade', (req, sock, head) => {
      if (req.url?.startsWith('/nope')) {
        sock.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, sock, head, (ws) => {
        seen.push({ headers: req.headers }); // `ws` refuses unmasked client frames (1002), so every echo proves our masking
        serverSockets.push(ws);
        ws.on('message', (data, isBinary) => {
          const s = isBinary ? '' : data.toString();
          if (s === 'fragments') {
            ws.send('frag', { fin: false });
            ws.send('men', { fin: false });
            ws.send('ted', { fin: true });
          } else if (s === 'ping me') {
            ws.ping('are you there');
          } else if (s === 'server closes') {
            ws.close(4001, 'server says bye');
          } else if (s === 'bad utf8') {
            (ws as unknown as { _socket: net.Socket })._socket.write(Buffer.from([0x81, 0x02, 0xc3, 0x28]));
          } else {
            ws.send(data, { binary: isBinary });
          }
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    wss.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const dial = () =>
    new Promise<ReturnType<typeof socketConn>>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(socketConn(s)));
      s.once('error', reject);
    });
  async function open(
    target = '/echo',
    protocols = ['echo.v1', 'other'],
  ): Promise<{ ws: WebSocketClient; msgs: (string | Uint8Array)[]; closed: Promise<WsCloseInfo> }> {
    const ws = await connectWebSocket({
      conn: await dial(),
      host: '127.0.0.1',
      port,
      target,
      protocols,
      headers: [
        ['Origin', 'http://nas:8080'],
        ['Cookie', 'session=abc'],
      ],
      maxMessageBytes: 1 << 20,
    });
    const msgs: (string | Uint8Array)[] = [];
    ws.onmessage = (d) => msgs.push(d);
    const closed = new Promise<WsCloseInfo>((r) => (ws.onclose = r));
    return { ws, msgs, closed };
  }

  it('handshakes (subprotocol, Origin and Cookie reach the server), echoes text/binary/large, closes cleanly', async () => {
    const { ws, msgs, closed } = await open();
    expect(ws.protocol).toBe('echo.v1');
    expect(seen.at(-1)!.headers.origin).toBe('http://nas:8080');
    expect(seen.at(-1)!.headers.cookie).toBe('session=abc');
    const big = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
    await ws.send('hello über tailnet');
    await ws.send(new Uint8Array([0, 1, 2, 255]));
    await ws.send(big);
    await ws.send('fragments');
    await expect.poll(() => msgs.length).toBe(4);
    expect(msgs[0]).toBe('hello über tailnet');
    expect(msgs[1]).toEqual(new Uint8Array([0, 1, 2, 255]));
    expect(msgs[2]).toEqual(big);
    expect(msgs[3]).toBe('fragmented');
    expect(ws.bufferedAmount).toBe(0);
    ws.close(1000, 'done');
    expect(await closed).toEqual({ code: 1000, reason: 'done', wasClean: true });
  });

  it('answers a ping with a pong carrying the same data', async () => {
    const { ws } = await open();
    const server = serverSockets.at(-1)!;
    const pong = new Promise<string>((r) => server.once('pong', (d) => r(d.toString())));
    await ws.send('ping me');
    expect(await pong).toBe('are you there');
    ws.close();
  });

  it('a server-initiated close is echoed and reported with its code and reason', async () => {
    const { ws, closed } = await open();
    const server = serverSockets.at(-1)!;
    const serverSaw = new Promise<number>((r) => server.once('close', (code) => r(code)));
    await ws.send('server closes');
    expect(await closed).toEqual({ code: 4001, reason: 'server says bye', wasClean: true });
    expect(await serverSaw).toBe(4001);
  });

  it('invalid UTF-8 from the server fails the connection: 1007 sent, reported as 1006', async () => {
    const { ws, closed } = await open();
    const server = serverSockets.at(-1)!;
    const serverSaw = new Promise<number>((r) => server.once('close', (code) => r(code)));
    await ws.send('bad utf8');
    const info = await closed;
    expect(info.code).toBe(1006);
    expect(info.wasClean).toBe(false);
    expect(info.error).toMatch(/1007/);
    expect(await serverSaw).toBe(1007);
  });

  it('a refused upgrade is an HttpError naming the status; a server without our subprotocol gets none', async () => {
    await expect(connectWebSocket({ conn: await dial(), host: '127.0.0.1', port, target: '/nope' })).rejects.toThrow(
      /403/,
    );
    const { ws } = await open('/echo', ['something']);
    expect(ws.protocol).toBe('');
    ws.close();
  });
});
