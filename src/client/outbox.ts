// The persisted outbox (spec/client.md §9.1). An envelope is sealed once, written to the store
// in the same transaction as the ratchet state that produced it, and sent until the relay
// accepts it (OK: durably committed) or refuses it for good.
//
// One FIFO lane per relay address, in the order envelopes were made (so per contact, ratchet
// order). A lane keeps up to WINDOW SENDs in flight on its connection, matched by corr, so
// that the relay's group commit can batch them; an entry is sent only once its store write
// has committed, and never before an earlier entry of its lane. After a transient failure
// the lane stops, lets its in-flight SENDs settle, waits (backoff) and resends from its
// oldest unaccepted entry. Submit and pick are O(1).
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { ClientError, isClientError, relayFailure } from './errors.js';
import type { SendCapability } from './mailbox.js';
import type { ProfileStore, StoreOp } from './profile-store.js';
import { fromUtf8, IDEMPOTENCY_KEY_BYTES, utf8 } from '../crypto/index.js';
import { newIdempotencyKey } from './forwarding.js';
import { Reader, Writer } from '../wire/bytes-codec.js';
import { readCapability, writeCapability } from './capability.js';
import { decodeRecord, isJsonRecord } from './records.js';
import { classifySendError, type SendPool } from './send-pool.js';

export const OUTBOX_KIND = 'outbox';
/** SENDs in flight per relay connection (spec/client.md §9.1). */
export const SEND_WINDOW = 128;
/** Time allowed for one SEND's OK before it counts as a transient failure. */
const SEND_TIMEOUT_MS = 15_000;

export interface OutboxEntry {
  readonly seq: number;
  readonly contactId: string;
  readonly capability: SendCapability;
  readonly envelope: Uint8Array;
  readonly createdAt: number;
  /** Chosen once, kept across retries: a forwarded envelope is stored once (spec/federation.md §6). */
  readonly idempotencyKey: Uint8Array;
}

export interface OutboxHooks {
  onSent?(entry: OutboxEntry): void;
  /**
   * How long a caller waits while its lane makes no progress (no OK) before its promise
   * rejects with TIMEOUT or RELAY_UNAVAILABLE; the entry stays queued and is still sent
   * (spec/client.md §9.1). Default: no limit.
   */
  waitMs?: number;
}

type SlotState = 'writing' | 'ready' | 'sending' | 'done';
interface Slot {
  readonly entry: OutboxEntry;
  state: SlotState;
  settle: ((error: ClientError | null) => void) | null;
}

class Lane {
  slots: Slot[] = [];
  /** Index of the oldest slot not yet done. */
  head = 0;
  /** Index of the next slot to send. */
  next = 0;
  inflight = 0;
  attempt = 0;
  /** Set after a transient failure until the backoff has passed. */
  stopped = false;
  timer: ReturnType<typeof setTimeout> | null = null;
  /** Fires when the lane has made no progress for `waitMs` while callers wait. */
  watchdog: ReturnType<typeof setTimeout> | null = null;
  /** The last transient failure (what a caller who gave up is told). */
  lastError: unknown = null;

  /** Drops done slots from the front; compacts the array now and then. */
  trim(): void {
    while (this.head < this.slots.length && this.slots[this.head]!.state === 'done') this.head++;
    if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.next = Math.max(0, this.next - this.head);
      this.head = 0;
    }
    if (this.next < this.head) this.next = this.head;
  }
}

const idOf = (seq: number): string => String(seq).padStart(16, '0');

const ENTRY_VERSION = 2;

/**
 * The outbox record (spec/client.md §7.2), binary so that the envelope is stored as is:
 * version[1]=2 || seq[8] || createdAt[8] || var16(contactId) || capability (§4) || idempotencyKey[16] || envelope.
 * Version 1 had no idempotency key.
 */
export function encodeEntry(e: OutboxEntry): Uint8Array {
  const w = new Writer().u8(ENTRY_VERSION).u64(e.seq).u64(e.createdAt).var16(utf8(e.contactId));
  return writeCapability(w, e.capability).bytes(e.idempotencyKey).bytes(e.envelope).finish();
}

/** Inverse of encodeEntry; also reads the JSON records of older profiles. */
export function decodeEntry(b: Uint8Array): OutboxEntry {
  // Entries from before idempotency keys were never forwarded: a fresh key is as good.
  if (isJsonRecord(b)) return { idempotencyKey: newIdempotencyKey(), ...decodeRecord<Omit<OutboxEntry, 'idempotencyKey'>>(b) };
  const r = new Reader(b);
  const version = r.u8();
  if (version !== 1 && version !== ENTRY_VERSION) throw new ClientError('STORE_CORRUPT', 'unknown outbox record version');
  const seq = r.u64(), createdAt = r.u64(), contactId = fromUtf8(r.var16());
  const capability = readCapability(r);
  const idempotencyKey = version === 1 ? newIdempotencyKey() : r.bytes(IDEMPOTENCY_KEY_BYTES);
  return { seq, createdAt, contactId, capability, idempotencyKey, envelope: r.rest() };
}

export class Outbox {
  private readonly lanes = new Map<string, Lane>();
  private pending = 0;
  private nextSeq = 1;
  private closed = false;
  private idle: (() => void) | null = null;

  constructor(
    private readonly store: ProfileStore,
    private readonly pool: SendPool,
    private readonly hooks: OutboxHooks = {},
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {
    const loaded = store.entries(OUTBOX_KIND).map(([, v]) => decodeEntry(v)).sort((a, b) => a.seq - b.seq);
    for (const e of loaded) {
      this.append(e, 'ready', null);
      this.nextSeq = Math.max(this.nextSeq, e.seq + 1);
    }
  }

  /** Entries not yet accepted or refused. */
  get size(): number { return this.pending; }

  /** A new entry and the store op that persists it; write the op with the state change that made the envelope. */
  prepare(contactId: string, capability: SendCapability, envelope: Uint8Array): { entry: OutboxEntry; op: StoreOp } {
    const entry: OutboxEntry = { seq: this.nextSeq++, contactId, capability, envelope, createdAt: Date.now(), idempotencyKey: newIdempotencyKey() };
    return { entry, op: { kind: OUTBOX_KIND, id: idOf(entry.seq), value: encodeEntry(entry) } };
  }

  /**
   * Queues a prepared entry behind everything submitted before it; it is sent once `written`
   * (the store write holding its op) resolves. Resolves when the relay accepts it.
   */
  submit(entry: OutboxEntry, written: Promise<void>): Promise<void> {
    if (this.closed) return Promise.reject(new ClientError('CLOSED', 'the client is closed'));
    let settle!: (error: ClientError | null) => void;
    const done = new Promise<void>((resolve, reject) => { settle = (e) => (e ? reject(e) : resolve()); });
    const { lane, slot } = this.append(entry, 'writing', settle);
    if (!lane.watchdog) this.arm(lane);
    written.then(
      () => { if (slot.state === 'writing') { slot.state = 'ready'; this.pump(lane); } },
      (e: unknown) => this.complete(lane, slot, relayFailure(e, 'the message was not stored')),
    );
    return done;
  }

  /** Drops every queued entry for a contact (when it is deleted): the store ops that forget them. */
  dropContact(contactId: string): StoreOp[] {
    const ops: StoreOp[] = [];
    for (const lane of this.lanes.values()) {
      for (let i = lane.head; i < lane.slots.length; i++) {
        const s = lane.slots[i]!;
        if (s.entry.contactId !== contactId || s.state === 'done' || s.state === 'sending') continue;
        ops.push({ kind: OUTBOX_KIND, id: idOf(s.entry.seq), value: null });
        this.finish(lane, s, new ClientError('UNKNOWN_CONTACT', 'the contact was deleted'));
      }
    }
    return ops;
  }

  /** Sends whatever is queued (at open). */
  kick(): void {
    for (const lane of this.lanes.values()) this.pump(lane);
  }

  /** Stops sending; every waiting caller gets CLOSED (the entries stay stored and go out at the next open). */
  async close(): Promise<void> {
    this.closed = true;
    for (const lane of this.lanes.values()) {
      if (lane.timer) clearTimeout(lane.timer);
      if (lane.watchdog) clearTimeout(lane.watchdog);
      for (let i = lane.head; i < lane.slots.length; i++) {
        const s = lane.slots[i]!;
        s.settle?.(new ClientError('CLOSED', 'the client closed before the relay accepted this message; it stays queued'));
        s.settle = null;
      }
    }
    if ([...this.lanes.values()].some((l) => l.inflight > 0)) await new Promise<void>((r) => { this.idle = r; });
  }

  private append(entry: OutboxEntry, state: SlotState, settle: Slot['settle']): { lane: Lane; slot: Slot } {
    const address = entry.capability.address;
    let lane = this.lanes.get(address);
    if (!lane) this.lanes.set(address, (lane = new Lane()));
    const slot: Slot = { entry, state, settle };
    lane.slots.push(slot);
    this.pending++;
    return { lane, slot };
  }

  private pump(lane: Lane): void {
    if (this.closed || lane.stopped) return;
    while (lane.inflight < SEND_WINDOW && lane.next < lane.slots.length) {
      const s = lane.slots[lane.next]!;
      if (s.state === 'writing') break; // order: nothing overtakes an entry still being stored
      lane.next++;
      if (s.state !== 'ready') continue;
      s.state = 'sending';
      lane.inflight++;
      this.pool.send(s.entry.capability, s.entry.envelope, SEND_TIMEOUT_MS, s.entry.idempotencyKey).then(
        () => this.settled(lane, s, null),
        (e: unknown) => this.settled(lane, s, e),
      );
    }
  }

  private settled(lane: Lane, s: Slot, err: unknown): void {
    lane.inflight--;
    if (err === null) {
      lane.attempt = 0;
      lane.lastError = null;
      this.complete(lane, s, null);
      this.arm(lane); // progress
    } else if (!this.closed && classifySendError(err) === 'permanent') {
      this.complete(lane, s, isClientError(err) ? err : new ClientError('SEND_REJECTED', 'the relay refused the envelope', { cause: err }));
    } else {
      s.state = 'ready';
      lane.stopped = true;
      lane.lastError = err;
    }
    if (this.closed) {
      if (this.idle && [...this.lanes.values()].every((l) => l.inflight === 0)) this.idle();
      return;
    }
    if (!lane.stopped) this.pump(lane);
    else if (lane.inflight === 0 && !lane.timer) {
      // Everything in flight has settled: resend from the oldest unaccepted entry after a pause.
      lane.timer = setTimeout(() => {
        lane.timer = null;
        lane.stopped = false;
        lane.next = lane.head;
        this.pump(lane);
      }, backoffDelay(lane.attempt++, this.backoff));
    }
  }

  /** (Re)starts the lane's progress watchdog while callers wait; stops it when none does. */
  private arm(lane: Lane): void {
    if (lane.watchdog) { clearTimeout(lane.watchdog); lane.watchdog = null; }
    const waitMs = this.hooks.waitMs;
    if (waitMs === undefined || this.closed || lane.head >= lane.slots.length) return;
    lane.watchdog = setTimeout(() => { lane.watchdog = null; this.giveUp(lane); }, waitMs);
  }

  /** No progress for `waitMs`: callers of committed entries are told; the entries stay queued. */
  private giveUp(lane: Lane): void {
    const err = lane.lastError === null
      ? new ClientError('TIMEOUT', 'the relay has not accepted the message in time; it stays queued and is sent when the relay answers')
      : relayFailure(lane.lastError, 'the relay has not accepted the message; it stays queued');
    for (let i = lane.head; i < lane.slots.length; i++) {
      const s = lane.slots[i]!;
      if (s.state === 'writing' || s.state === 'done') continue;
      s.settle?.(err);
      s.settle = null;
    }
  }

  /** Accepted or refused for good: forget the stored entry, then tell the caller. */
  private complete(lane: Lane, s: Slot, error: ClientError | null): void {
    if (s.state === 'done') return;
    // Forgetting it need not be durable at once: lost in a crash, it is sent again (§9.1).
    this.store.defer([{ kind: OUTBOX_KIND, id: idOf(s.entry.seq), value: null }]);
    this.finish(lane, s, error);
    if (!error) this.hooks.onSent?.(s.entry);
  }

  private finish(lane: Lane, s: Slot, error: ClientError | null): void {
    s.state = 'done';
    this.pending--;
    s.settle?.(error);
    s.settle = null;
    lane.trim();
  }
}
