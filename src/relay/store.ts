// The relay's storage interface (spec/protocol.md §11). Reads see committed state and return a
// value now or later (Maybe): an embedded store (LMDB) answers synchronously, which keeps the
// relay's fast path free of promises; a networked store answers with a promise. Writes are
// asynchronous and resolve only once durable (a rejected write stored nothing). Writes issued
// in one event turn may be committed together (group commit), so a caller that issues several
// writes synchronously gets them in one atomic transaction. test/relay/store-conformance.ts
// is what every implementation must pass.
import type { Maybe } from './maybe.js';

export type { Maybe } from './maybe.js';

/** What the relay keeps per mailbox (spec/protocol.md §4): nothing else. */
export interface MailboxRecord {
  /** Internal random id: keys the record, the queue and the expiry index. Never on the wire. */
  readonly iid: number;
  readonly readId: Uint8Array;
  readonly readKey: Uint8Array;
  readonly sendId: Uint8Array;
  /** H("sealpost/v1/access" || accessKey); all zero for a public mailbox. */
  readonly accessVerifier: Uint8Array;
  /** The delivery-layer key (spec/crypto.md §6), derived once at CREATE/ROTATE. */
  readonly dk: Uint8Array;
  readonly flags: number;
  readonly ttlSeconds: number;
}

export interface QueueEntry {
  readonly msgId: number;
  /** Minutes since the epoch at which the envelope expires (spec/protocol.md §11). */
  readonly expiryMinute: number;
  /** The delivered form (spec/crypto.md §6): exactly the bytes a MSG frame carries. */
  readonly delivered: Uint8Array;
}

export interface QueueRef { readonly iid: number; readonly msgId: number; readonly expiryMinute: number }

export interface QueueStats { count: number; deliveredBytes: number; lastMsgId: number }

/** Everything the relay loads with a mailbox, in one read (one round trip for a networked store). */
export interface LoadedMailbox {
  readonly record: MailboxRecord;
  readonly stats: QueueStats;
  /** All msgIds ever assigned in this mailbox are below this (0: none reserved). */
  readonly ceiling: number;
  /** Undefined when none is recorded (a record from before mailbox expiry). */
  readonly expiryDay: number | undefined;
}

/** A mailbox in the expiry index (spec/protocol.md §11.5): it expires after `expiryDay`. */
export interface MailboxExpiryRef { readonly iid: number; readonly expiryDay: number }

/**
 * SEND on a store shared by several relay processes (spec/protocol.md §11.7): the store assigns
 * the msgId, checks the quota and reads the delivery key inside the write transaction, so that
 * msgIds follow commit order and the quota holds whichever process took the envelope.
 */
export interface AppendRequest {
  readonly expiryMinute: number;
  /** The verifier the send proof was checked against: a rotated mailbox refuses the envelope. */
  readonly accessVerifier: Uint8Array;
  readonly maxEnvelopes: number;
  /** Quota in envelope bytes (the delivery layer's overhead is not counted). */
  readonly maxBytes: number;
  readonly envelopeBytes: number;
  /** Seals the envelope for delivery once its msgId and the mailbox's current dk are known. */
  seal(msgId: number, dk: Uint8Array): Uint8Array;
  /**
   * A forwarded SEND's idempotency key (spec/federation.md §6), recorded in the envelope's
   * transaction: StoreConflictError DUPLICATE (nothing written) if it was recorded before, by
   * any process; a refused SEND records nothing.
   */
  readonly forward?: ForwardKey | undefined;
}

/** A forwarded SEND's idempotency key and the minute after which it may be forgotten. */
export interface ForwardKey { readonly key: Uint8Array; readonly expiryMinute: number }

export interface Appended { readonly msgId: number; readonly delivered: Uint8Array }

/**
 * A closed relay's admission token, spent in the CREATE's own transaction (spec/admission.md
 * §4.2): its epoch and spentId, and nothing else (no time, no mailbox next to it).
 */
export interface TokenSpend { readonly epoch: number; readonly spentId: Uint8Array }

export interface Store {
  // -- reads (committed state; now or later) --
  findByReadId(readId: Uint8Array): Maybe<number | undefined>;
  findBySendId(sendId: Uint8Array): Maybe<number | undefined>;
  getMailbox(iid: number): Maybe<MailboxRecord | undefined>;
  /** The record, queue statistics, msgId ceiling and expiry day of a mailbox; undefined if it does not exist. */
  loadMailbox(iid: number): Maybe<LoadedMailbox | undefined>;
  hasMailbox(iid: number): Maybe<boolean>;
  queueStats(iid: number): Maybe<QueueStats>;
  /** Size and expiry of one queued envelope, without copying it. */
  queueEntryInfo(iid: number, msgId: number): Maybe<{ deliveredBytes: number; expiryMinute: number } | undefined>;
  /** Entries with afterMsgId < msgId <= uptoMsgId, in msgId order, at most `limit`. */
  queueRange(iid: number, afterMsgId: number, uptoMsgId: number, limit: number): Maybe<QueueEntry[]>;
  /** Expiry-index entries with expiryMinute <= nowMinute, oldest first, at most `limit`. */
  expired(nowMinute: number, limit: number): Maybe<QueueRef[]>;
  counts(): Maybe<{ mailboxes: number; envelopes: number }>;
  /** Mailboxes whose expiry day is before `today`, oldest first, at most `limit`. */
  expiredMailboxes(today: number, limit: number): Maybe<MailboxExpiryRef[]>;
  /** The epochs that have spent tokens recorded (spec/admission.md §4.2), ascending. */
  spentEpochs(): Maybe<number[]>;
  /** How many tokens of `epoch` are recorded as spent. */
  spentCount(epoch: number): Maybe<number>;

  // -- writes (resolve when durable) --
  /**
   * Creates a mailbox that expires after `expiryDay` unless used (setMailboxExpiry). With
   * `spend`, records the token as spent in the same transaction: StoreConflictError SPENT (and
   * nothing written) if it was spent before (spec/admission.md §4.2).
   */
  createMailbox(record: MailboxRecord, expiryDay: number, spend?: TokenSpend): Promise<void>;
  /** Forgets every spent token of `epoch` (its redemption window closed); resolves with how many. */
  dropSpentEpoch(epoch: number): Promise<number>;
  /** Moves a mailbox's expiry day (it was used). */
  setMailboxExpiry(iid: number, expiryDay: number): Promise<void>;
  /** Gives every mailbox without an expiry day this one (stores from before mailbox expiry); resolves with how many. */
  adoptMailboxesWithoutExpiry(expiryDay: number): Promise<number>;
  /** Queues one envelope; `ceiling`, when given, raises the mailbox's msgId reservation. */
  enqueue(iid: number, entry: QueueEntry, ceiling: number | null): Promise<void>;
  /** Shared stores only: queues one envelope with a msgId and a quota check made in the transaction. */
  appendEnvelope(iid: number, request: AppendRequest): Promise<Appended>;
  /** Removes queue entries and their expiry-index entries (missing ones are ignored); may record a msgId ceiling. */
  dequeue(refs: readonly QueueRef[], ceiling?: { iid: number; value: number } | null): Promise<void>;
  /** Replaces a mailbox's read id/key, access verifier and dk, re-sealing its queue with `reseal`. */
  rotateMailbox(previous: MailboxRecord, next: MailboxRecord, reseal: (msgId: number, delivered: Uint8Array) => Uint8Array): Promise<void>;
  /** Deletes a mailbox, its ids, its queue, its expiry entries and its own expiry; resolves with the number of envelopes removed. */
  deleteMailbox(record: MailboxRecord): Promise<number>;

  // -- forwarded SENDs (spec/federation.md §6); a store without them cannot take forwarded SENDs.
  // A shared store takes a SEND's key with its envelope (AppendRequest.forward); a store of one
  // process, by recordForward in the enqueue's turn. --
  /** Whether a forwarded SEND with this idempotency key was committed. */
  forwardSeen?: ((key: Uint8Array) => Maybe<boolean>) | undefined;
  /** Records a forwarded SEND's idempotency key; issued in the same turn as its enqueue, it commits with it (stores of one process). */
  recordForward?: ((key: Uint8Array, expiryMinute: number) => Promise<void>) | undefined;
  /**
   * Forgets idempotency keys past their minute, a slice per call: at most `limit` keys are read
   * (a store without an index by minute goes on from where the last call stopped); resolves with how many.
   */
  sweepForwards?: ((nowMinute: number, limit: number) => Promise<number>) | undefined;

  /** A consistent copy of the store in `dir` (made while running). */
  backup(dir: string): Promise<void>;
  close(): Promise<void>;
}

/** Starts a write: a synchronous throw becomes a rejection, so callers handle one outcome. */
export function startWrite<T>(write: () => Promise<T>): Promise<T> {
  try {
    return write();
  } catch (e) {
    return Promise.reject(e);
  }
}

export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/**
 * A shared-store write refused by what another process committed first (spec/protocol.md §11.7):
 * QUOTA (the mailbox is full), GONE (deleted or rotated: its id or verifier changed), DUPLICATE
 * (CREATE of an id that exists; a forwarded SEND whose idempotency key is recorded,
 * spec/federation.md §6), SPENT (CREATE with an admission token already spent,
 * spec/admission.md §4.2). Nothing was written.
 */
export class StoreConflictError extends StoreError {
  constructor(readonly code: 'QUOTA' | 'GONE' | 'DUPLICATE' | 'SPENT') {
    super(`refused: ${code}`);
    this.name = 'StoreConflictError';
  }
}
