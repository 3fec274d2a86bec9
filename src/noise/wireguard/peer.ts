// A peer of the WireGuard device: its handshake state, keypairs, timers, cookies and queues (wireguard-go
// device/peer.go), and what the device reports of it.
import type { OrderedQueue } from './aead-batch.js';
import type { CookieGenerator } from './cookie.js';
import type { ConsumedInitiation, InitiatorState } from './handshake.js';
import type { Keypair, Keypairs } from './keypair.js';
import type { InitiationKind, PeerTimers } from './timers.js';

export interface WireGuardPeerStatus {
  lastHandshakeAt?: number;
  rxBytes: number;
  txBytes: number;
  handshakeAttempts: number;
  hasSession: boolean;
}

export type HandshakeState =
  | { state: 'none' }
  | { state: 'initiationSent'; localIndex: number; initiator: InitiatorState }
  | { state: 'initiationConsumed'; consumed: ConsumedInitiation };

export interface Peer {
  readonly publicKey: Uint8Array;
  readonly timers: PeerTimers;
  readonly cookies: CookieGenerator;
  readonly keypairs: Keypairs;
  handshake: HandshakeState;
  lastTimestamp: Uint8Array;
  lastInitiationConsumedAt: number;
  lastSentHandshakeAt: number;
  staged: Uint8Array[];
  rxBytes: number;
  txBytes: number;
  readonly txQueue: OrderedQueue;
  readonly rxQueue: OrderedQueue;
  removed: boolean;
  /** DH(our static, their static), once per peer (wireguard-go precomputedStaticStatic). */
  staticStatic?: Uint8Array;
  /** That DH while an asynchronous key computes it. */
  staticStaticPending?: Promise<void>;
  /** An initiation asked for while staticStatic was computing: sent when it is ready. */
  initiationWanted?: InitiationKind;
}

export type IndexEntry = { peer: Peer; keypair?: Keypair };
