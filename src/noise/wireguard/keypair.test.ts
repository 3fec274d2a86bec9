// current/previous/next rotation (wireguard-go BeginSymmetricSession, ReceivedWithKeypair).
import { describe, expect, it } from 'vitest';
import { nobleEngine } from './aead-batch.js';
import { type Keypair, Keypairs, newKeypair } from './keypair.js';

const kp = (localIndex: number, isInitiator: boolean): Keypair => {
  const c = nobleEngine.cipher(new Uint8Array(32));
  return newKeypair({ localIndex, remoteIndex: localIndex + 1000, isInitiator, createdAt: 0, sender: c, receiver: c });
};

describe('Keypairs rotation', () => {
  it('initiator: new session becomes current at once, old current becomes previous, older ones leave', () => {
    const k = new Keypairs();
    expect(k.installAsInitiator(kp(1, true))).toEqual([]);
    expect(k.installAsInitiator(kp(2, true))).toEqual([]);
    expect(k.current!.localIndex).toBe(2);
    expect(k.previous!.localIndex).toBe(1);
    const gone = k.installAsInitiator(kp(3, true));
    expect(gone.map((g) => g.localIndex)).toEqual([1]);
    expect([k.current!.localIndex, k.previous!.localIndex]).toEqual([3, 2]);
  });

  it('responder: new session waits in next; it rotates in on first receipt, never on other keypairs', () => {
    const k = new Keypairs();
    k.installAsInitiator(kp(1, true));
    k.installAsInitiator(kp(2, true));
    const n = kp(3, false);
    const gone = k.installAsResponder(n);
    expect(gone.map((g) => g.localIndex)).toEqual([1]); // previous is dropped
    expect(k.current!.localIndex).toBe(2); // still sending on the old session until confirmed
    expect(k.receivedWith(k.current!).confirmed).toBe(false);
    const r = k.receivedWith(n);
    expect(r.confirmed).toBe(true);
    expect([k.current!.localIndex, k.previous!.localIndex, k.next]).toEqual([3, 2, undefined]);
    expect(k.receivedWith(n).confirmed).toBe(false); // only once
  });

  it('a second responder session replaces an unconfirmed one; an initiator session outranks both', () => {
    const k = new Keypairs();
    k.installAsInitiator(kp(1, true));
    k.installAsResponder(kp(2, false));
    expect(k.installAsResponder(kp(3, false)).map((g) => g.localIndex)).toEqual([2]);
    const gone = k.installAsInitiator(kp(4, true));
    // the unconfirmed next becomes previous (it may still receive), the old current leaves
    expect(gone.map((g) => g.localIndex)).toEqual([1]);
    expect([k.current!.localIndex, k.previous!.localIndex, k.next]).toEqual([4, 3, undefined]);
    expect(
      k
        .clear()
        .map((g) => g.localIndex)
        .sort(),
    ).toEqual([3, 4]);
    expect(k.all()).toEqual([]);
  });
});
