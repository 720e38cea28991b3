// What every connection handler shares: config, identity, store, mailbox states, metrics,
// logs, the clock, and the bookkeeping that draining needs.
import type { Ed25519PublicKey } from '../crypto/index.js';
import type { AdmissionGate } from './admission-gate.js';
import type { RelayConfig } from './config.js';
import type { RelayBudgets } from './budgets.js';
import type { CreateBudget } from './create-budget.js';
import type { OutboundBudget } from './outbound-budget.js';
import type { RelayCrypto } from './crypto-lane.js';
import type { RelayIdentity } from './identity.js';
import type { Logger } from './log.js';
import type { MailboxBus } from './mailbox-bus.js';
import type { MailboxRegistry } from './mailboxes.js';
import type { RelayMetrics } from './metrics.js';
import type { Store } from './store.js';
import type { Federation } from './federation/federation.js';

/** Writes in flight across the relay beyond which write commands answer BUSY (spec/protocol.md §7). */
export const MAX_PENDING_WRITES = 200_000;
/** Commands awaiting their commit per connection beyond which write commands answer BUSY. */
export const MAX_IN_FLIGHT_PER_CONNECTION = 8_192;
/** Mailbox states kept in memory when unpinned (LRU). */
export const MAILBOX_CACHE_SIZE = 50_000;
/** Proof-of-work nonces remembered per connection; past this, public sends answer RATE. */
export const MAX_POW_NONCES_PER_CONNECTION = 65_536;

export interface RelayContext {
  readonly config: RelayConfig;
  readonly identity: RelayIdentity;
  readonly store: Store;
  /** Where signature checks, SEND proofs, the delivery layer and forwarded SENDs' opens run: inline or on worker threads. */
  readonly crypto: RelayCrypto;
  readonly mailboxes: MailboxRegistry;
  /** CREATEs left per address group (spec/protocol.md §5.2). */
  readonly createBudget: CreateBudget;
  /** Relay-wide bounds on what per-connection limits bound (spec/protocol.md §8). */
  readonly budgets: RelayBudgets;
  readonly outbound: OutboundBudget;
  readonly metrics: RelayMetrics;
  readonly log: Logger;
  /** Wall clock in ms (injectable for TTL tests): receivedAt and expiry. */
  readonly now: () => number;
  /** A read key no mailbox has: AUTH for an unknown readId verifies against it (spec/crypto.md §5). */
  readonly dummyReadKey: Ed25519PublicKey;
  /** A verifier no mailbox has: SEND to an unknown sendId compares against it. */
  readonly dummyVerifier: Uint8Array;
  /** readId/sendId hex (and a closed relay's token) of CREATE and ROTATE in flight, so that two cannot claim the same id or token. */
  readonly reservedIds: Set<string>;
  /**
   * Other relay processes on the same store (spec/scale-out.md): null for a relay alone on its
   * store. When set, the store is shared: SEND assigns msgIds in the store's transaction.
   */
  readonly bus: MailboxBus | null;
  /** Partner relays and private routing (spec/federation.md); null when no partner is configured. */
  readonly federation: Federation | null;
  /** A closed relay's admission (spec/admission.md §4.3); null for an open relay. */
  readonly admission: AdmissionGate | null;
  /** Store writes issued and not yet answered (close() waits for zero). */
  pendingWrites: number;
  draining: boolean;
}
