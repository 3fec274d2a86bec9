// Transport keypairs and their current/previous/next rotation. Spec: the WireGuard paper §5.4.5 and
// §6.1 (the responder may not send until the initiator confirms the session with its first packet);
// rotation rules as in wireguard-go device/noise-protocol.go BeginSymmetricSession and
// ReceivedWithKeypair, device/keypair.go.
import type { PacketCipher } from './aead-batch.js';
import { ReplayFilter } from './replay.js';

export interface Keypair {
  readonly localIndex: number;
  readonly remoteIndex: number;
  readonly isInitiator: boolean;
  /** Clock time (ms) of derivation: REKEY_AFTER_TIME / REJECT_AFTER_TIME count from here. */
  readonly createdAt: number;
  readonly sender: PacketCipher;
  readonly receiver: PacketCipher;
  /** Next counter to send. */
  sendCounter: number;
  readonly replay: ReplayFilter;
}

export function newKeypair(p: Omit<Keypair, 'sendCounter' | 'replay'>): Keypair {
  return { ...p, sendCounter: 0, replay: new ReplayFilter() };
}

/** The three slots of one peer. Methods return the keypairs that left, so their indices can be freed. */
export class Keypairs {
  current: Keypair | undefined;
  previous: Keypair | undefined;
  /** A responder's session, unconfirmed until the initiator's first transport packet arrives. */
  next: Keypair | undefined;

  /** Initiator: the session is confirmed by the response, so it becomes current at once. */
  installAsInitiator(kp: Keypair): Keypair[] {
    const gone: Keypair[] = [];
    if (this.next) {
      // an unconfirmed responder session still outranks the old current one
      if (this.current) gone.push(this.current);
      if (this.previous) gone.push(this.previous);
      this.previous = this.next;
      this.next = undefined;
    } else {
      if (this.previous) gone.push(this.previous);
      this.previous = this.current;
    }
    this.current = kp;
    return gone;
  }

  /** Responder: the session waits in `next` for confirmation; `previous` is dropped. */
  installAsResponder(kp: Keypair): Keypair[] {
    const gone: Keypair[] = [];
    if (this.next) gone.push(this.next);
    if (this.previous) gone.push(this.previous);
    this.next = kp;
    this.previous = undefined;
    return gone;
  }

  /** A packet authenticated under kp: if kp was `next`, it is now confirmed and rotates in. */
  receivedWith(kp: Keypair): { confirmed: boolean; gone: Keypair[] } {
    if (this.next !== kp) return { confirmed: false, gone: [] };
    const gone = this.previous ? [this.previous] : [];
    this.previous = this.current;
    this.current = kp;
    this.next = undefined;
    return { confirmed: true, gone };
  }

  all(): Keypair[] {
    return [this.current, this.previous, this.next].filter((k): k is Keypair => k !== undefined);
  }

  clear(): Keypair[] {
    const gone = this.all();
    this.current = this.previous = this.next = undefined;
    return gone;
  }
}
