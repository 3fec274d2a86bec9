import fc from 'fast-check';
import { fuzz } from '../../platform/fuzz.testkit.js';
import { describe, expect, it } from 'vitest';
import {
  COOKIE_REPLY_SIZE,
  decodeCookieReply,
  decodeInitiation,
  decodeResponse,
  decodeTransportHeader,
  encodeCookieReply,
  encodeInitiation,
  encodeResponse,
  INITIATION_SIZE,
  RESPONSE_SIZE,
  writeTransportHeader,
} from './messages.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe('WireGuard message codecs', () => {
  it('initiation/response/cookie reply round-trip and have the protocol sizes', () => {
    fc.assert(
      fc.property(
        u32,
        u32,
        bytes(32),
        bytes(48),
        bytes(28),
        bytes(16),
        bytes(16),
        bytes(24),
        bytes(32),
        (s, r, e, st, ts, m1, m2, nonce, ck) => {
          const i = encodeInitiation({
            sender: s,
            ephemeral: e,
            encryptedStatic: st,
            encryptedTimestamp: ts,
            mac1: m1,
            mac2: m2,
          });
          expect(i.length).toBe(INITIATION_SIZE);
          expect(decodeInitiation(i)).toEqual({
            sender: s,
            ephemeral: e,
            encryptedStatic: st,
            encryptedTimestamp: ts,
            mac1: m1,
            mac2: m2,
          });
          const resp = encodeResponse({
            sender: s,
            receiver: r,
            ephemeral: e,
            encryptedNothing: m1,
            mac1: m1,
            mac2: m2,
          });
          expect(resp.length).toBe(RESPONSE_SIZE);
          expect(decodeResponse(resp)).toEqual({
            sender: s,
            receiver: r,
            ephemeral: e,
            encryptedNothing: m1,
            mac1: m1,
            mac2: m2,
          });
          const c = encodeCookieReply({ receiver: r, nonce, encryptedCookie: ck });
          expect(c.length).toBe(COOKIE_REPLY_SIZE);
          expect(decodeCookieReply(c)).toEqual({ receiver: r, nonce, encryptedCookie: ck });
          // a message is never mistaken for another type
          expect(decodeResponse(i)).toBeNull();
          expect(decodeInitiation(c)).toBeNull();
        },
      ),
      fuzz(100),
    );
  });

  it('transport header: 64-bit little-endian counter, exact up to 2^53', () => {
    fc.assert(
      fc.property(u32, fc.maxSafeNat(), (r, counter) => {
        const d = new Uint8Array(32);
        writeTransportHeader(d, r, counter);
        expect(d[0]).toBe(4);
        expect(decodeTransportHeader(d)).toEqual({ receiver: r, counter });
      }),
      fuzz(100),
    );
    const d = new Uint8Array(32);
    d[0] = 4;
    d.fill(0xff, 8, 16);
    expect(decodeTransportHeader(d)!.counter).toBe(Number.POSITIVE_INFINITY);
    expect(decodeTransportHeader(d.subarray(0, 31))).toBeNull();
  });

  it('decoders never throw on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        for (const f of [decodeInitiation, decodeResponse, decodeCookieReply, decodeTransportHeader])
          expect(() => f(b)).not.toThrow();
      }),
      fuzz(100),
    );
  });
});
