import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzz } from '../platform/fuzz.testkit.js';
import { decodeFromNode, decodeToNode } from './proxy-protocol.js';

const port = { postMessage: () => {}, onmessage: null };

describe('proxy protocol decoders', () => {
  it('decodes every message the Service Worker sends', () => {
    const body = new ArrayBuffer(2);
    expect(
      decodeToNode({
        type: 'request',
        id: 1,
        method: 'POST',
        url: 'http://nas:80/',
        headers: [['a', 'b']],
        body,
        referrer: '/proxy/nas/80/',
        destination: 'iframe',
      }),
    ).toEqual({
      ok: true,
      msg: {
        type: 'request',
        id: 1,
        method: 'POST',
        url: 'http://nas:80/',
        headers: [['a', 'b']],
        body,
        referrer: '/proxy/nas/80/',
        destination: 'iframe',
      },
    });
    expect(decodeToNode({ type: 'ack', id: 2, bytes: 10 })).toEqual({
      ok: true,
      msg: { type: 'ack', id: 2, bytes: 10 },
    });
    expect(decodeToNode({ type: 'cancel', id: 3 })).toEqual({ ok: true, msg: { type: 'cancel', id: 3 } });
    expect(decodeToNode({ type: 'ping', id: 4 })).toEqual({ ok: true, msg: { type: 'ping', id: 4 } });
    expect(decodeToNode({ type: 'websocket', id: 5, url: 'http://nas:80/ws' }, [port])).toEqual({
      ok: true,
      msg: { type: 'websocket', id: 5, url: 'http://nas:80/ws', protocols: [], page: port },
    });
  });

  it('refuses malformed messages with what the receiver needs to answer them', () => {
    expect(decodeToNode(null)).toEqual({ ok: false, reason: 'not an object' });
    expect(decodeToNode({ type: 'request', id: 'x' })).toEqual({ ok: false, reason: 'no numeric id' });
    expect(decodeToNode({ type: 'request', id: 7, url: 'http://x/', headers: 'nope' })).toMatchObject({
      ok: false,
      id: 7,
      type: 'request',
    });
    expect(decodeToNode({ type: 'request', id: 7, url: 'http://x/', headers: [], body: 'text' })).toMatchObject({
      ok: false,
      id: 7,
      type: 'request',
    });
    expect(decodeToNode({ type: 'websocket', id: 8, url: 'http://x/', protocols: [1] }, [port])).toMatchObject({
      ok: false,
      id: 8,
      type: 'websocket',
      page: port,
    });
    expect(decodeToNode({ type: 'websocket', id: 8, url: 'http://x/' })).toMatchObject({
      ok: false,
      type: 'websocket',
      page: undefined,
    });
    expect(decodeToNode({ type: 'weird', id: 9 })).toMatchObject({ ok: false, id: 9 });
    expect(decodeToNode({ type: 'toString', id: 9 })).toMatchObject({ ok: false, id: 9 });
    expect(decodeFromNode({ type: 'response', id: 1, status: '200', headers: [] })).toMatchObject({ ok: false, id: 1 });
    expect(decodeFromNode({ type: 'chunk', id: 1, data: 5 })).toMatchObject({ ok: false, id: 1 });
    expect(decodeFromNode({ type: 'response', id: 1, status: 200, headers: [['a', 'b']] })).toEqual({
      ok: true,
      msg: { type: 'response', id: 1, status: 200, statusText: '', headers: [['a', 'b']] },
    });
  });

  it('property: never throws, whatever arrives', () => {
    const msg = fc.record(
      {
        type: fc.oneof(
          fc.constantFrom(
            'request',
            'ack',
            'cancel',
            'ping',
            'websocket',
            'response',
            'chunk',
            'end',
            'error',
            'pong',
            '__proto__',
            'constructor',
          ),
          fc.anything(),
        ),
        id: fc.oneof(fc.integer(), fc.anything()),
        url: fc.anything(),
        headers: fc.anything(),
        body: fc.anything(),
        method: fc.anything(),
        bytes: fc.anything(),
        protocols: fc.anything(),
        status: fc.anything(),
        statusText: fc.anything(),
        data: fc.anything(),
        message: fc.anything(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.oneof(msg, fc.anything()),
        fc.array(fc.oneof(fc.constant(port), fc.anything()), { maxLength: 2 }),
        (m, ports) => {
          const a = decodeToNode(m, ports);
          const b = decodeFromNode(m);
          expect(typeof a.ok).toBe('boolean');
          expect(typeof b.ok).toBe('boolean');
        },
      ),
      fuzz(500),
    );
  });
});
