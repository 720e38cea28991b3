// The ratchet's state and limits (spec/ratchet.md §4.1, §8): plain data, shared by the
// algorithm (ratchet.ts) and the byte layouts (codec.ts).
import type { Brand, X25519KeyPair, X25519PublicKey } from '../crypto/index.js';
import type { PqState } from './pq.js';

// ---- §8 limits ------------------------------------------------------------------------

/** Message keys one message may make the receiver derive and store in one chain. */
export const MAX_SKIP = 1000;
/** Skipped message keys kept in all; the oldest are evicted beyond this. */
export const MAX_SKIPPED_TOTAL = 2000;
/** Remote ratchet keys of closed receiving chains remembered to recognise replays. */
export const MAX_RETIRED = 16;
/** Longest associated data accepted. */
export const MAX_AD_LENGTH = 1024;

// ---- §4.1 state -----------------------------------------------------------------------

export type RootKey = Brand<Uint8Array, 'RatchetRootKey'>;
export type ChainKey = Brand<Uint8Array, 'RatchetChainKey'>;
export type MessageKey = Brand<Uint8Array, 'RatchetMessageKey'>;

/** A message key kept for a message that has not arrived yet (§5.3). */
export interface SkippedKey {
  readonly dh: X25519PublicKey;
  readonly n: number;
  readonly mk: MessageKey;
}

/** Treat as read-only: only this module changes it. Field names follow the algorithm's. */
export interface RatchetState {
  /** AD: bound into every message's AEAD (§3.3). */
  readonly ad: Uint8Array;
  readonly rk: RootKey;
  /** Own current ratchet key pair. */
  readonly dhs: X25519KeyPair;
  /** Peer's current ratchet public key; null until the first message of a receiver. */
  readonly dhr: X25519PublicKey | null;
  readonly cks: ChainKey | null;
  readonly ckr: ChainKey | null;
  /** Messages sent in the current sending chain, received in the current receiving chain, sent in the previous sending chain. */
  readonly ns: number;
  readonly nr: number;
  readonly pn: number;
  /** skippedId(dh, n) -> key, oldest first. */
  readonly skipped: ReadonlyMap<string, SkippedKey>;
  /** Peer ratchet keys of closed receiving chains, oldest first. */
  readonly retired: readonly X25519PublicKey[];
  /** The post-quantum ratchet of a hybrid session (§12); null in a classical one. */
  readonly pq: PqState | null;
}
