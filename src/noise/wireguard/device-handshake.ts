// The handshake path of a WireGuardDevice (wireguard-go device/receive.go handshake part and
// noise-protocol.go callers): MAC1/cookie admission, initiations and responses received and sent,
// cookie replies, the per-peer static-static DH.
//
// Our static key may be a WebCrypto CryptoKey whose X25519 is asynchronous (crypto/static-key.ts).
// Handshake messages then finish in a later task; transport data never waits for it. The rules
// that keep this a plain state machine (tested in device-async.test.ts):
//  - a derivation in flight holds no claim on the peer: everything it changes (timestamps, the
//    handshake state, indices, keypairs) changes synchronously after its last await, and only
//    after re-checking the world: device open, peer still present, and for a response, the peer
//    still waiting on that very initiation (`peer.handshake === hs`, else "superseded");
//  - everything that uses an ephemeral private key runs before any await or after that check,
//    so a newer initiation (which zeroes the old ephemeral) can never feed a half-finished one;
//  - with a raw key the DH is synchronous and each message finishes in the call that received it;
//  - at most MAX_DERIVATIONS DHs wait at a time (handshake floods stay bounded; MAC1, cookies and
//    the rate limiter still run first).
import { toHex } from '../../crypto/bytes.js';
import { generatePrivateKey } from '../../crypto/x25519.js';
import { DeviceSend } from './device-send.js';
import {
  type ConsumedInitiation,
  createResponse,
  initiationMessage,
  type InitiationStatic,
  openInitiationStatic,
  openInitiationTimestamp,
  openResponse,
  tai64n,
  timestampAfter,
} from './handshake.js';
import { newKeypair } from './keypair.js';
import {
  decodeCookieReply,
  decodeInitiation,
  decodeResponse,
  encodeCookieReply,
  encodeInitiation,
  encodeResponse,
  type Initiation,
  type Response,
} from './messages.js';
import type { HandshakeState, Peer } from './peer.js';
import type { InitiationKind } from './timers.js';

export abstract class DeviceHandshake extends DeviceSend {
  /** MAC1 always; under load MAC2 (else answer with a cookie) and the per-source rate limit. */
  protected admitHandshake(d: Uint8Array, hint: Uint8Array | undefined): boolean {
    if (!this.checker.checkMac1(d)) {
      this.stats.rxDropBadMac1++;
      return false;
    }
    const source = hint ?? new Uint8Array(0);
    if (this.load.note()) {
      if (!this.checker.checkMac2(d, source)) {
        this.stats.rxDropNeedCookie++;
        const senderIndex = new DataView(d.buffer, d.byteOffset + 4, 4).getUint32(0, true);
        if (hint) {
          const reply = encodeCookieReply(this.checker.createReply(d, senderIndex, source));
          this.stats.cookieRepliesSent++;
          this.transmitRaw(hint, reply);
        }
        return false;
      }
      if (!this.limiter.allow(source)) {
        this.stats.rxDropRateLimited++;
        return false;
      }
    }
    return true;
  }

  protected receiveInitiation(d: Uint8Array): void {
    const msg = decodeInitiation(d);
    if (!msg) {
      this.stats.rxDropHandshakeInvalid++;
      return;
    }
    if (!this.derivationSlot()) return;
    // es = DH(our static, their ephemeral) opens their static key; then the peer's static-static.
    this.withDh(
      () => this.key.dh(msg.ephemeral),
      (es) => {
        if (this.closed) {
          this.stats.rxDropClosed++;
          return;
        }
        const half = openInitiationStatic(this.publicKey, msg, es);
        es.fill(0);
        if (!half) {
          this.stats.rxDropHandshakeInvalid++;
          return;
        }
        const peer = this.peers.get(toHex(half.remoteStatic));
        if (!peer) {
          this.stats.rxDropUnknownPeer++;
          return;
        }
        this.withStaticStatic(
          peer,
          () => this.finishInitiation(d, msg, half, peer),
          () => this.stats.rxDropHandshakeInvalid++,
        );
      },
      () => this.stats.rxDropHandshakeInvalid++,
    );
  }

  /** The rest of message 1, once the peer's static-static is known; all state changes happen here, in one go. */
  protected finishInitiation(d: Uint8Array, msg: Initiation, half: InitiationStatic, peer: Peer): void {
    if (this.closed) {
      this.stats.rxDropClosed++;
      return;
    }
    if (peer.removed || !peer.staticStatic) {
      this.stats.rxDropPeerGone++;
      return;
    }
    const consumed = openInitiationTimestamp(half, msg, peer.staticStatic);
    if (!consumed) {
      this.stats.rxDropHandshakeInvalid++;
      return;
    }
    // wireguard-go ConsumeMessageInitiation: replay (timestamp must grow) and flood protection.
    // Checked now, after every await: of two copies in flight, the first to finish wins.
    if (!timestampAfter(consumed.timestamp, peer.lastTimestamp)) {
      this.stats.rxDropStaleTimestamp++;
      return;
    }
    const now = this.o.clock.now();
    if (now - peer.lastInitiationConsumedAt <= this.cfg.handshakeInitiationRateMs) {
      this.stats.rxDropInitiationFlood++;
      return;
    }
    peer.lastTimestamp = consumed.timestamp;
    peer.lastInitiationConsumedAt = now;
    // Our own initiation, if one is out, is abandoned (as wireguard-go): its response, even one
    // whose DH is in flight now, will find the handshake superseded.
    this.clearHandshake(peer);
    peer.handshake = { state: 'initiationConsumed', consumed };
    this.stats.handshakeInitiationsReceived++;
    this.event(peer, { type: 'initiation-received' });
    peer.rxBytes += d.length;
    peer.timers.anyAuthenticatedPacketTraversal();
    peer.timers.anyAuthenticatedPacketReceived();
    this.sendResponse(peer, consumed);
  }

  /** Runs `next` once peer.staticStatic is known: at once, or when our key has computed it. */
  protected withStaticStatic(peer: Peer, next: () => void, failed: () => void): void {
    if (peer.staticStatic) {
      next();
      return;
    }
    if (!peer.staticStaticPending) {
      let done: () => void = () => {};
      peer.staticStaticPending = new Promise<void>((r) => (done = r));
      this.withDh(
        () => this.key.dh(peer.publicKey),
        (ss) => {
          peer.staticStaticPending = undefined;
          if (peer.removed) ss.fill(0);
          else peer.staticStatic = ss;
          done();
        },
        () => {
          peer.staticStaticPending = undefined;
          this.stats.internalErrors++; // addPeer refused low-order keys: our key itself failed
          done();
        },
      );
      // A synchronous key has answered already.
      if (peer.staticStatic) return next();
      if (!peer.staticStaticPending) return failed();
    }
    // Waiters continue in the order they asked (e.g. our wanted initiation before their initiation).
    const p = peer.staticStaticPending.then(() => {
      this.derivations.delete(p);
      // A peer removed meanwhile goes on to `next`, which counts it gone.
      this.guard(peer.staticStatic || peer.removed ? next : failed);
    });
    this.derivations.add(p);
  }

  protected initiateIfWanted(peer: Peer): void {
    const kind = peer.initiationWanted;
    peer.initiationWanted = undefined;
    if (kind) this.sendInitiation(peer, kind);
  }

  protected receiveResponse(d: Uint8Array): void {
    const msg = decodeResponse(d);
    if (!msg) {
      this.stats.rxDropHandshakeInvalid++;
      return;
    }
    const entry = this.indices.get(msg.receiver);
    const hs = entry?.peer.handshake;
    if (!entry || entry.keypair || !hs || hs.state !== 'initiationSent' || hs.localIndex !== msg.receiver) {
      this.stats.rxDropUnexpectedResponse++;
      return;
    }
    if (!this.derivationSlot()) return;
    const peer = entry.peer;
    // se = DH(our static, their ephemeral); the ephemeral half (ee) runs in openResponse, after the check below.
    this.withDh(
      () => this.key.dh(msg.ephemeral),
      (se) => this.finishResponse(d, msg, peer, hs, se),
      () => this.stats.rxDropHandshakeInvalid++,
    );
  }

  protected finishResponse(
    d: Uint8Array,
    msg: Response,
    peer: Peer,
    hs: Extract<HandshakeState, { state: 'initiationSent' }>,
    se: Uint8Array,
  ): void {
    if (this.closed) {
      this.stats.rxDropClosed++;
      return;
    }
    if (peer.removed) {
      this.stats.rxDropPeerGone++;
      return;
    }
    // While se was computed, a newer initiation (ours or the peer's) may have replaced this one,
    // or a copy of this response finished first: its ephemeral key is gone, its index freed.
    const entry = this.indices.get(msg.receiver);
    if (peer.handshake !== hs || !entry || entry.peer !== peer || entry.keypair) {
      this.stats.rxDropHandshakeSuperseded++;
      return;
    }
    const keys = openResponse(hs.initiator, msg, se);
    se.fill(0);
    if (!keys) {
      this.stats.rxDropHandshakeInvalid++;
      return;
    }
    this.stats.handshakeResponsesReceived++;
    this.event(peer, { type: 'response-received' });
    peer.rxBytes += d.length;
    peer.timers.anyAuthenticatedPacketTraversal();
    peer.timers.anyAuthenticatedPacketReceived();
    const kp = newKeypair({
      localIndex: msg.receiver,
      remoteIndex: msg.sender,
      isInitiator: true,
      createdAt: this.o.clock.now(),
      sender: this.cipher(keys.sendKey),
      receiver: this.cipher(keys.receiveKey),
    });
    keys.sendKey.fill(0);
    keys.receiveKey.fill(0);
    hs.initiator.ephemeralPrivate.fill(0);
    peer.handshake = { state: 'none' };
    this.indices.set(msg.receiver, { peer, keypair: kp });
    this.freeKeypairs(peer.keypairs.installAsInitiator(kp));
    peer.timers.sessionDerived();
    this.handshakeComplete(peer);
    this.sendKeepalive(peer);
  }

  protected receiveCookieReply(d: Uint8Array): void {
    const reply = decodeCookieReply(d);
    const entry = reply && this.indices.get(reply.receiver);
    if (!reply || !entry) {
      this.stats.rxDropUnknownIndex++;
      return;
    }
    if (entry.peer.cookies.consumeReply(reply)) this.stats.cookieRepliesAccepted++;
    else this.stats.rxDropCookieReplyInvalid++;
  }

  protected sendInitiation(peer: Peer, kind: InitiationKind): void {
    if (peer.removed || this.closed) return;
    if (!peer.staticStatic) {
      // First handshake with this peer and an asynchronous key: compute the static-static once,
      // then send (the rate limit below is judged then). A fresh wish outranks a retry.
      if (kind !== 'early' && peer.initiationWanted !== 'fresh') peer.initiationWanted = kind;
      this.withStaticStatic(
        peer,
        () => this.initiateIfWanted(peer),
        () => (peer.initiationWanted = undefined),
      );
      return;
    }
    if (kind === 'early') {
      // A first-contact retry (timers.ts) replaces only an initiation still unanswered; it leaves
      // the REKEY_TIMEOUT rate limit below anchored at the fresh initiation.
      if (peer.handshake.state !== 'initiationSent') return;
    } else {
      if (kind === 'fresh') peer.timers.handshakeAttempts = 0;
      const now = this.o.clock.now();
      if (now - peer.lastSentHandshakeAt < this.cfg.rekeyTimeoutMs) return; // at most one per REKEY_TIMEOUT
      peer.lastSentHandshakeAt = now;
    }
    this.clearHandshake(peer);
    const index = this.newIndex({ peer });
    const { message, state } = initiationMessage({
      localPublic: this.publicKey,
      staticStatic: peer.staticStatic,
      remoteStatic: peer.publicKey,
      ephemeralPrivate: generatePrivateKey(this.o.random),
      timestamp: tai64n(this.wall()),
      sender: index,
    });
    const bytes = encodeInitiation(message);
    peer.cookies.addMacs(bytes);
    peer.handshake = { state: 'initiationSent', localIndex: index, initiator: state };
    peer.timers.anyAuthenticatedPacketTraversal();
    peer.timers.anyAuthenticatedPacketSent();
    this.stats.handshakeInitiationsSent++;
    if (kind === 'early') this.stats.handshakeEarlyRetries++;
    this.event(peer, { type: 'initiation-sent', kind, attempt: peer.timers.handshakeAttempts });
    this.transmit(peer, bytes);
    peer.timers.handshakeInitiated(kind);
  }

  protected sendResponse(peer: Peer, consumed: ConsumedInitiation): void {
    peer.lastSentHandshakeAt = this.o.clock.now();
    const index = this.newIndex({ peer });
    const r = createResponse({ consumed, ephemeralPrivate: generatePrivateKey(this.o.random), sender: index });
    peer.handshake = { state: 'none' };
    if (!r) {
      this.indices.delete(index);
      this.stats.rxDropHandshakeInvalid++;
      return;
    }
    const bytes = encodeResponse(r.message);
    peer.cookies.addMacs(bytes);
    const kp = newKeypair({
      localIndex: index,
      remoteIndex: consumed.remoteIndex,
      isInitiator: false,
      createdAt: this.o.clock.now(),
      sender: this.cipher(r.keys.sendKey),
      receiver: this.cipher(r.keys.receiveKey),
    });
    r.keys.sendKey.fill(0);
    r.keys.receiveKey.fill(0);
    this.indices.set(index, { peer, keypair: kp });
    this.freeKeypairs(peer.keypairs.installAsResponder(kp));
    peer.timers.sessionDerived();
    peer.timers.anyAuthenticatedPacketTraversal();
    peer.timers.anyAuthenticatedPacketSent();
    this.stats.handshakeResponsesSent++;
    this.event(peer, { type: 'response-sent' });
    this.transmit(peer, bytes);
  }
}
