// The LMDB implementation of the relay store (spec/protocol.md §11). One environment in the
// data directory, six named databases:
//
//   mailbox   iid                           -> record (fixed binary layout, below; v2 ends with the expiry day)
//   read      readId[32]                    -> iid
//   send      sendId[32]                    -> iid
//   seq       iid                           -> msgId ceiling (reserved in blocks)
//   queue     [iid, msgId]                  -> expiryMinute[4] || delivered
//   expiry    [expiryMinute, iid, msgId]    -> (empty)
//   mexpiry   [expiryDay, iid]              -> (empty)      unused mailboxes expire (§11.5)
//   qstat     iid                           -> [envelopes, envelope bytes]   shared stores only (§11.7)
//   spent     epoch[4] || spentId[32]       -> (empty)      closed relays' spent tokens (spec/admission.md §4.2)
//
// A store opened `shared` serves several relay processes on one machine (LMDB is
// multi-process): SEND, ACK, expiry, ROTATE, DEL and CREATE then run as transactions that read
// what other processes committed (msgId ceiling, queue counters, the mailbox record) under
// LMDB's write lock, and keep `qstat` exact (the SENDs, and the removals, that arrive before a
// commit starts share one child transaction, spec/protocol.md §11.7); the primary rebuilds `qstat` before the processes
// start (rebuildSharedCounters), since a single-process relay does not keep it.
//
// readId and sendId appear together only in the mailbox record. Writes use lmdb's asynchronous
// batching: everything issued in one event turn commits in one transaction (group commit),
// and each write promise is awaited until the batch is flushed to disk (with lmdb's default
// overlappingSync the commit promise resolves before the fsync; `flushed` follows it).
import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { equalBytes } from '../crypto/index.js';
import { DELIVERY_OVERHEAD } from '../wire/constants.js';
import type { Appended, AppendRequest, LoadedMailbox, MailboxExpiryRef, MailboxRecord, QueueEntry, QueueRef, QueueStats, Store, TokenSpend } from './store.js';
import { StoreConflictError, StoreError } from './store.js';
import { holdLmdbCommitGuard } from './lmdb-commit-guard.js';

/** Initial map size. lmdb grows the map on its own as the file grows; on Linux the file stays sparse. */
export const INITIAL_MAP_SIZE = 1024 ** 3;
/** Version 2 adds the expiry day (spec/protocol.md §11.5); version 1 records are read, and rewritten as 2. */
const RECORD_VERSION = 2;
const RECORD_V1_BYTES = 2 + 4 + 5 * 32;
const RECORD_BYTES = RECORD_V1_BYTES + 4;
const EMPTY = new Uint8Array(0);
const MAX_MSG_ID = Number.MAX_SAFE_INTEGER;

export interface LmdbStoreOptions {
  /** Directory of the LMDB environment (created 0700 if missing). */
  path: string;
  /** Called once per durable write with its latency in milliseconds (metrics). */
  onCommit?: (latencyMs: number) => void;
  /** Other relay processes use the same environment (spec/protocol.md §11.7). */
  shared?: boolean;
}

/** Quota bytes of a stored queue value (expiry prefix and delivery layer not counted). */
const chargeOf = (v: Uint8Array): number => v.length - 4 - DELIVERY_OVERHEAD;

function encodeRecord(r: MailboxRecord, expiryDay: number): Uint8Array {
  const out = new Uint8Array(RECORD_BYTES);
  const dv = new DataView(out.buffer);
  out[0] = RECORD_VERSION;
  out[1] = r.flags;
  dv.setUint32(2, r.ttlSeconds);
  let o = 6;
  for (const f of [r.readId, r.readKey, r.sendId, r.accessVerifier, r.dk]) { out.set(f, o); o += 32; }
  dv.setUint32(o, expiryDay);
  return out;
}

function decodeRecord(iid: number, b: Uint8Array): MailboxRecord {
  if (!((b[0] === 1 && b.length === RECORD_V1_BYTES) || (b[0] === RECORD_VERSION && b.length === RECORD_BYTES))) throw new StoreError('mailbox record has an unknown layout');
  // One copy, of its own (Buffer#slice would be a view into lmdb's reused read buffer); the fields are views into it.
  const own = Uint8Array.prototype.slice.call(b, 0, RECORD_V1_BYTES);
  const dv = new DataView(own.buffer);
  const f = (i: number): Uint8Array => own.subarray(6 + 32 * i, 6 + 32 * (i + 1));
  return { iid, flags: own[1]!, ttlSeconds: dv.getUint32(2), readId: f(0), readKey: f(1), sendId: f(2), accessVerifier: f(3), dk: f(4) };
}

/** The expiry day of a stored record; undefined for a version 1 record (none recorded). */
function expiryDayOf(b: Uint8Array | undefined): number | undefined {
  if (!b || b[0] !== RECORD_VERSION || b.length !== RECORD_BYTES) return undefined;
  return new DataView(b.buffer, b.byteOffset, b.length).getUint32(RECORD_V1_BYTES);
}

function encodeQueueValue(expiryMinute: number, delivered: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + delivered.length);
  new DataView(out.buffer).setUint32(0, expiryMinute);
  out.set(delivered, 4);
  return out;
}

const expiryOf = (v: Uint8Array): number => new DataView(v.buffer, v.byteOffset, 4).getUint32(0);
const asKey = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.length);
/** `epoch[4] || spentId[32]`: one epoch's spent tokens are one key range (spec/admission.md §4.2). */
function spentKey(epoch: number, id: Uint8Array = EMPTY): Buffer {
  const k = Buffer.alloc(4 + id.length);
  k.writeUInt32BE(epoch, 0);
  k.set(id, 4);
  return k;
}
/** The keys of one epoch: [epoch, epoch + 1). */
const epochRange = (epoch: number): { start: Buffer; end: Buffer } =>
  ({ start: spentKey(epoch), end: epoch === 0xffffffff ? Buffer.alloc(5, 0xff) : spentKey(epoch + 1) });
/** Spent ids removed per transaction when an epoch is dropped. */
const DROP_BATCH = 4096;

type Flushable = PromiseLike<unknown> & { flushed?: PromiseLike<unknown> };

/** One shared-store SEND in an append batch; `outcome` is set inside the batch's transaction. */
interface PendingAppend { readonly iid: number; readonly req: AppendRequest; outcome: Appended | Error | null }
/** A mailbox as an append batch's transaction sees it: counters as left by the batch's SENDs so far. */
interface AppendTarget { readonly record: MailboxRecord; next: number; count: number; bytes: number; added: number }
interface AppendBatch { readonly items: PendingAppend[]; bytes: number; commit: Flushable; started: boolean }
/** Bounds of one append batch (a bigger one waits for the next transaction): SENDs, envelope bytes. */
const APPEND_BATCH_MAX = 512;
const APPEND_BATCH_BYTES = 8 * 1024 * 1024;
/** Removal calls (dequeue) in one child transaction. */
const REMOVAL_BATCH_MAX = 512;
interface RemovalBatch { readonly items: Array<{ refs: readonly QueueRef[]; ceiling: { iid: number; value: number } | null }>; commit: Flushable; started: boolean }
interface FlushWait { readonly since: number; settle(e?: unknown): void }

/** A durable write still waiting for its fsync after this long is settled by an explicit sync. */
const FLUSH_RESCUE_MS = 2_000;
/** close() waits this long at most for lmdb, which can hang after a failed commit. */
const CLOSE_WAIT_MS = 2_000;
const within = (p: PromiseLike<unknown>, ms: number): Promise<unknown> =>
  Promise.race([Promise.resolve(p).catch(() => {}), new Promise((r) => setTimeout(r, ms))]);

/**
 * lmdb rejects every write of a failed commit with an error whose `commitError` is a second
 * promise, rejected later with the cause (ENOSPC, EIO, MDB_MAP_FULL). Left unobserved it
 * would be an unhandled rejection, which ends the process (spec/protocol.md §11.6).
 */
const observed = new WeakSet<object>();
function observeCommitError(e: unknown): never {
  const ce = (e as { commitError?: unknown } | null)?.commitError;
  if (ce instanceof Promise && !observed.has(ce)) {
    observed.add(ce);
    ce.catch(() => { /* the write's own rejection reports the failure */ });
  }
  throw e;
}

export class LmdbStore implements Store {
  private readonly root: RootDatabase;
  private readonly mailbox: Database<Uint8Array, number>;
  private readonly read: Database<number, Buffer>;
  private readonly send: Database<number, Buffer>;
  private readonly seq: Database<number, number>;
  private readonly queue: Database<Uint8Array, [number, number]>;
  private readonly expiry: Database<Uint8Array, [number, number, number]>;
  private readonly mexpiry: Database<Uint8Array, [number, number]>;
  /** Shared stores only (a single-process store has no such database). */
  private readonly qstat: Database<[number, number], number>;
  /** Idempotency keys of forwarded SENDs committed here (spec/federation.md §6): key → expiry minute. */
  private readonly forwarded: Database<number, Buffer>;
  private readonly spent: Database<Uint8Array, Buffer>;
  readonly shared: boolean;
  private readonly onCommit: ((ms: number) => void) | undefined;
  private closed = false;
  private readonly releaseGuard: () => void;
  private readonly flushWaits = new Set<FlushWait>();
  private readonly flushWaitOf = new WeakMap<object, Promise<void>>();
  private readonly rescueTimer: NodeJS.Timeout;
  /** The append batch SENDs join until its transaction starts (appendEnvelope). */
  private openAppends: AppendBatch | null = null;
  private openRemovals: RemovalBatch | null = null;
  /** The read snapshot was renewed in this turn (fresh). */
  private renewed = false;

  constructor(opts: LmdbStoreOptions) {
    mkdirSync(opts.path, { recursive: true, mode: 0o700 });
    // Default sync settings (no noSync, no mapAsync): a commit is crash-safe; separateFlushed
    // exposes the fsync so that writes can be acknowledged only once they are on disk.
    this.root = open({ path: opts.path, maxDbs: 12, mapSize: INITIAL_MAP_SIZE, separateFlushed: true, permissionsMode: 0o600 } as Parameters<typeof open>[0]);
    this.mailbox = this.root.openDB({ name: 'mailbox', encoding: 'binary' });
    this.read = this.root.openDB({ name: 'read', keyEncoding: 'binary' });
    this.send = this.root.openDB({ name: 'send', keyEncoding: 'binary' });
    this.seq = this.root.openDB({ name: 'seq' });
    this.queue = this.root.openDB({ name: 'queue', encoding: 'binary' });
    this.expiry = this.root.openDB({ name: 'expiry', encoding: 'binary' });
    this.mexpiry = this.root.openDB({ name: 'mexpiry', encoding: 'binary' });
    this.spent = this.root.openDB({ name: 'spent', keyEncoding: 'binary', encoding: 'binary' });
    this.shared = opts.shared === true;
    this.qstat = this.shared ? this.root.openDB({ name: 'qstat' }) : (null as never);
    this.forwarded = this.root.openDB({ name: 'forwarded', keyEncoding: 'binary' });
    this.onCommit = opts.onCommit;
    this.releaseGuard = holdLmdbCommitGuard(() => this.rescueFlushWaits(0));
    this.rescueTimer = setInterval(() => this.rescueFlushWaits(FLUSH_RESCUE_MS), FLUSH_RESCUE_MS);
    this.rescueTimer.unref();
  }

  // ---- reads ----------------------------------------------------------------------------

  /**
   * Shared store: lmdb keeps one read snapshot until a timer renews it, so a read right after
   * another process's commit (its bus event, which arrives in a turn of its own) could miss it.
   * The first read of each turn starts a fresh snapshot; the others of that turn share it.
   */
  private fresh(): void {
    if (!this.shared || this.renewed) return;
    (this.root as unknown as { resetReadTxn(): void }).resetReadTxn();
    this.renewed = true;
    queueMicrotask(() => { this.renewed = false; });
  }

  findByReadId(readId: Uint8Array): number | undefined {
    this.fresh();
    return this.read.get(asKey(readId));
  }
  findBySendId(sendId: Uint8Array): number | undefined {
    this.fresh();
    return this.send.get(asKey(sendId));
  }
  getMailbox(iid: number): MailboxRecord | undefined {
    this.fresh();
    const b = this.mailbox.get(iid);
    return b ? decodeRecord(iid, b) : undefined;
  }
  loadMailbox(iid: number): LoadedMailbox | undefined {
    this.fresh();
    const b = this.mailbox.getBinaryFast(iid);
    if (!b) return undefined;
    const expiryDay = expiryDayOf(b);
    const record = decodeRecord(iid, b);
    return { record, stats: this.queueStats(iid), ceiling: this.msgIdCeiling(iid), expiryDay };
  }
  hasMailbox(iid: number): boolean {
    this.fresh();
    return this.mailbox.getBinaryFast(iid) !== undefined;
  }
  msgIdCeiling(iid: number): number {
    return this.seq.get(iid) ?? 0;
  }
  queueStats(iid: number): QueueStats {
    let count = 0, deliveredBytes = 0, lastMsgId = 0;
    for (const key of this.queue.getKeys({ start: [iid, 0], end: [iid, MAX_MSG_ID] })) {
      const v = this.queue.getBinaryFast(key);
      if (!v) continue;
      count++;
      deliveredBytes += v.length - 4;
      lastMsgId = key[1];
    }
    return { count, deliveredBytes, lastMsgId };
  }
  queueEntryInfo(iid: number, msgId: number): { deliveredBytes: number; expiryMinute: number } | undefined {
    this.fresh();
    const v = this.queue.getBinaryFast([iid, msgId]);
    return v && v.length >= 4 ? { deliveredBytes: v.length - 4, expiryMinute: expiryOf(v) } : undefined;
  }
  queueRange(iid: number, afterMsgId: number, uptoMsgId: number, limit: number): QueueEntry[] {
    this.fresh();
    if (limit <= 0 || uptoMsgId <= afterMsgId) return [];
    const out: QueueEntry[] = [];
    for (const { key, value } of this.queue.getRange({ start: [iid, afterMsgId + 1], end: [iid, uptoMsgId + 1], limit })) {
      out.push({ msgId: key[1], expiryMinute: expiryOf(value), delivered: value.subarray(4) });
    }
    return out;
  }
  expired(nowMinute: number, limit: number): QueueRef[] {
    this.fresh();
    const out: QueueRef[] = [];
    for (const key of this.expiry.getKeys({ start: [0, 0, 0], end: [nowMinute + 1, 0, 0], limit })) {
      out.push({ expiryMinute: key[0], iid: key[1], msgId: key[2] });
    }
    return out;
  }
  mailboxExpiryDay(iid: number): number | undefined {
    return expiryDayOf(this.mailbox.getBinaryFast(iid));
  }
  expiredMailboxes(today: number, limit: number): MailboxExpiryRef[] {
    const out: MailboxExpiryRef[] = [];
    for (const key of this.mexpiry.getKeys({ start: [0, 0], end: [today, 0], limit })) out.push({ expiryDay: key[0], iid: key[1] });
    return out;
  }
  spentEpochs(): number[] {
    const out: number[] = [];
    for (let next: Buffer | undefined = spentKey(0); next !== undefined;) {
      const [key] = [...this.spent.getKeys({ start: next, limit: 1 })] as Buffer[];
      if (key === undefined) break;
      const epoch = key.readUInt32BE(0);
      out.push(epoch);
      next = epoch === 0xffffffff ? undefined : spentKey(epoch + 1);
    }
    return out;
  }
  spentCount(epoch: number): number {
    return this.spent.getCount(epochRange(epoch));
  }
  counts(): { mailboxes: number; envelopes: number } {
    const n = (db: Database<unknown, never>): number => (db.getStats() as { entryCount?: number }).entryCount ?? 0;
    return { mailboxes: n(this.mailbox as never), envelopes: n(this.queue as never) };
  }

  // ---- writes ---------------------------------------------------------------------------

  /**
   * Waits until every promise of one logical write is committed and flushed. Each promise is
   * observed here (so that none rejects unhandled), and so is lmdb's `commitError` that a
   * failed commit attaches to its rejections (lmdb rejects it later with the cause).
   */
  private async durable<T>(writes: readonly Flushable[], started: number, value?: () => T): Promise<T> {
    // Usually every write of one call shares lmdb's commit promise: one await, one flush wait.
    const first = writes[0]!;
    const distinct = writes.every((w) => w === first) ? [first] : [...new Set(writes)];
    try {
      if (distinct.length === 1) await first;
      else await Promise.all(distinct.map((w) => Promise.resolve(w).catch(observeCommitError)));
    } catch (e) {
      try { observeCommitError(e); } catch { /* observed */ }
      this.rescueFlushWaits(0);
      throw e instanceof StoreError ? e : new StoreError('commit failed', { cause: e });
    }
    try {
      if (distinct.length === 1) await this.flushedOrSynced(first.flushed ?? this.root.flushed);
      else await Promise.all([...new Set(distinct.map((w) => w.flushed ?? this.root.flushed))].map((f) => this.flushedOrSynced(f)));
    } catch (e) {
      throw new StoreError('flush failed', { cause: e });
    }
    this.onCommit?.(performance.now() - started);
    return value ? value() : (undefined as T);
  }

  /**
   * lmdb drops the flush callbacks of a batch whose commit failed, so a write committed just
   * before a failure may never see its `flushed` resolve. Such waits are settled by an explicit
   * fsync of the environment instead (after any failure, and for waits older than
   * FLUSH_RESCUE_MS): durable when it succeeds, INTERNAL when it does not. One wait per lmdb
   * flush promise (one per transaction), shared by the writes in it.
   */
  private flushedOrSynced(f: PromiseLike<unknown>): Promise<void> {
    const known = this.flushWaitOf.get(f);
    if (known) return known;
    const wait = new Promise<void>((resolve, reject) => {
      const w: FlushWait = { since: performance.now(), settle: (e) => { this.flushWaits.delete(w); if (e === undefined) resolve(); else reject(e); } };
      this.flushWaits.add(w);
      Promise.resolve(f).then(() => w.settle(), (e: unknown) => { try { observeCommitError(e); } catch { /* observed */ } w.settle(e ?? new Error('flush failed')); });
    });
    if (f !== this.root.flushed) this.flushWaitOf.set(f, wait); // that one is a live view, not one flush
    return wait;
  }

  /** An fsync of the whole environment (lmdb's `sync`, not in its typings). */
  private syncEnv(done: (err?: unknown) => void): void {
    try {
      (this.root as unknown as { sync(cb: (err?: unknown) => void): void }).sync(done);
    } catch (e) {
      done(e);
    }
  }

  private rescueFlushWaits(olderThanMs: number): void {
    const now = performance.now();
    const waits = [...this.flushWaits].filter((w) => now - w.since >= olderThanMs);
    if (waits.length === 0 || this.closed) return;
    for (const w of waits) this.flushWaits.delete(w);
    this.syncEnv((err?: unknown) => {
      for (const w of waits) w.settle(err ? (err instanceof Error ? err : new Error(String(err))) : undefined);
    });
  }

  private writing(): number {
    if (this.closed) throw new StoreError('store is closed');
    return performance.now();
  }

  createMailbox(r: MailboxRecord, expiryDay: number, spend?: TokenSpend): Promise<void> {
    const t = this.writing();
    if (this.shared || spend) {
      // Another process may have taken one of these ids since this one looked; a token is spent
      // in the mailbox's transaction, so a crash keeps both or neither (spec/admission.md §4.2).
      let refused: StoreConflictError | null = null;
      const p = this.root.childTransaction(() => {
        if (this.shared && (this.read.get(asKey(r.readId)) !== undefined || this.send.get(asKey(r.sendId)) !== undefined || this.mailbox.getBinaryFast(r.iid) !== undefined)) {
          refused = new StoreConflictError('DUPLICATE');
          return;
        }
        if (spend) {
          const key = spentKey(spend.epoch, spend.spentId);
          if (this.spent.getBinaryFast(key) !== undefined) { refused = new StoreConflictError('SPENT'); return; }
          this.spent.put(key, EMPTY);
        }
        this.mailbox.put(r.iid, encodeRecord(r, expiryDay));
        this.read.put(asKey(r.readId), r.iid);
        this.send.put(asKey(r.sendId), r.iid);
        this.mexpiry.put([expiryDay, r.iid], EMPTY);
        if (this.shared) this.qstat.put(r.iid, [0, 0]);
      });
      return this.durable([p], t, () => { if (refused) throw refused; });
    }
    return this.durable([
      this.mailbox.put(r.iid, encodeRecord(r, expiryDay)),
      this.read.put(asKey(r.readId), r.iid),
      this.send.put(asKey(r.sendId), r.iid),
      this.mexpiry.put([expiryDay, r.iid], EMPTY),
    ], t);
  }

  async dropSpentEpoch(epoch: number): Promise<number> {
    let total = 0;
    for (;;) {
      const t = this.writing();
      let n = 0;
      const p = this.root.childTransaction(() => {
        for (const key of this.spent.getKeys({ ...epochRange(epoch), limit: DROP_BATCH })) { this.spent.remove(key); n++; }
      });
      await this.durable([p], t);
      total += n;
      if (n < DROP_BATCH) return total;
    }
  }

  setMailboxExpiry(iid: number, expiryDay: number): Promise<void> {
    const t = this.writing();
    const p = this.root.childTransaction(() => {
      this.setExpiryInTxn(iid, expiryDay);
    });
    return this.durable([p], t);
  }

  /** Inside a write transaction: rewrites the record as version 2 with `expiryDay` and moves its index entry. */
  private setExpiryInTxn(iid: number, expiryDay: number): void {
    const b = this.mailbox.get(iid);
    if (b === undefined) return; // deleted meanwhile
    const was = expiryDayOf(b);
    if (was !== undefined) this.mexpiry.remove([was, iid]);
    this.mailbox.put(iid, encodeRecord(decodeRecord(iid, b), expiryDay));
    this.mexpiry.put([expiryDay, iid], EMPTY);
  }

  adoptMailboxesWithoutExpiry(expiryDay: number): Promise<number> {
    const t = this.writing();
    const entries = (db: Database<unknown, never>): number => (db.getStats() as { entryCount?: number }).entryCount ?? 0;
    if (entries(this.mexpiry as never) >= entries(this.mailbox as never)) return Promise.resolve(0); // nothing to adopt: no scan
    let n = 0;
    const p = this.root.childTransaction(() => {
      for (const iid of this.mailbox.getKeys()) {
        if (expiryDayOf(this.mailbox.getBinaryFast(iid)) !== undefined) continue;
        this.setExpiryInTxn(iid, expiryDay);
        n++;
      }
    });
    return this.durable<number>([p], t, () => n);
  }

  forwardSeen(key: Uint8Array): boolean {
    this.fresh();
    return this.forwarded.get(asKey(key)) !== undefined;
  }

  /** Issued in the same event turn as its envelope's write, it commits in the same transaction. */
  recordForward(key: Uint8Array, expiryMinute: number): Promise<void> {
    const t = this.writing();
    return this.durable([this.forwarded.put(asKey(key), expiryMinute)], t);
  }

  /** Where the last sweep of forwarded keys stopped: keys are random, so sweeps go round. */
  private forwardCursor: Buffer | null = null;

  async sweepForwards(nowMinute: number, limit: number): Promise<number> {
    const t = this.writing();
    const old: Buffer[] = [];
    let seen = 0;
    let last: Buffer | null = null;
    const range = this.forwarded.getRange(this.forwardCursor ? { start: this.forwardCursor } : {});
    for (const { key, value } of range) {
      last = Buffer.from(key);
      if (value <= nowMinute) old.push(last);
      if (++seen >= limit) break;
    }
    // A sweep reads at most `limit` keys; the next goes on from there, and from the start after the end.
    this.forwardCursor = seen >= limit ? last : null;
    if (old.length === 0) return 0;
    return this.durable(old.map((k) => this.forwarded.remove(k)), t, () => old.length);
  }

  enqueue(iid: number, e: QueueEntry, ceiling: number | null): Promise<void> {
    const t = this.writing();
    const writes: Flushable[] = [];
    if (ceiling !== null) writes.push(this.seq.put(iid, ceiling));
    writes.push(this.expiry.put([e.expiryMinute, iid, e.msgId], EMPTY));
    writes.push(this.queue.put([iid, e.msgId], encodeQueueValue(e.expiryMinute, e.delivered)));
    return this.durable(writes, t);
  }

  /**
   * Shared-store SEND (spec/protocol.md §11.7). SENDs join the open append batch, which is one
   * child transaction: when lmdb runs it, it closes (later SENDs open the next) and applies its
   * SENDs in arrival order, each checked and given its msgId there, so the batch costs one
   * nested transaction instead of one per SEND. A SEND refused there writes nothing and leaves
   * the others alone; all of them resolve only once the commit is on disk.
   */
  appendEnvelope(iid: number, req: AppendRequest): Promise<Appended> {
    const t = this.writing();
    if (!this.shared) throw new StoreError('appendEnvelope needs a store opened shared');
    let batch = this.openAppends;
    if (!batch || batch.started || batch.items.length >= APPEND_BATCH_MAX || batch.bytes >= APPEND_BATCH_BYTES) batch = this.openAppendBatch();
    const item: PendingAppend = { iid, req, outcome: null };
    batch.items.push(item);
    batch.bytes += req.envelopeBytes;
    return this.durable<Appended>([batch.commit], t, () => {
      const o = item.outcome;
      if (o === null) throw new StoreError('append was not applied');
      if (o instanceof Error) throw o;
      return o;
    });
  }

  private openAppendBatch(): AppendBatch {
    const batch: AppendBatch = { items: [], bytes: 0, commit: null as never, started: false };
    batch.commit = this.root.childTransaction(() => {
      batch.started = true;
      if (this.openAppends === batch) this.openAppends = null;
      // Each mailbox's record and counters are read once and written once per batch.
      const mailboxes = new Map<number, AppendTarget | null | StoreError>();
      for (const item of batch.items) {
        let m = mailboxes.get(item.iid);
        if (m === undefined) {
          try {
            m = this.appendTarget(item.iid);
          } catch (e) {
            m = e instanceof StoreError ? e : new StoreError('mailbox unreadable', { cause: e }); // this mailbox's SENDs only
          }
          mailboxes.set(item.iid, m);
        }
        item.outcome = m instanceof Error ? m : this.appendInTxn(item.iid, m, item.req);
      }
      for (const [iid, m] of mailboxes) {
        if (!m || m instanceof Error || m.added === 0) continue;
        this.seq.put(iid, m.next);
        this.qstat.put(iid, [m.count, m.bytes]);
      }
    });
    if (!batch.started) this.openAppends = batch; // once lmdb took it, and only if it has not run yet
    return batch;
  }

  private openRemovalBatch(): RemovalBatch {
    const batch: RemovalBatch = { items: [], commit: null as never, started: false };
    batch.commit = this.root.childTransaction(() => {
      batch.started = true;
      if (this.openRemovals === batch) this.openRemovals = null;
      for (const { refs, ceiling } of batch.items) this.removeInTxn(refs, ceiling);
    });
    if (!batch.started) this.openRemovals = batch;
    return batch;
  }

  /** Another process may have removed some of them already: only what is there is counted. */
  private removeInTxn(refs: readonly QueueRef[], ceiling: { iid: number; value: number } | null): void {
    if (ceiling && (this.seq.get(ceiling.iid) ?? 0) < ceiling.value) this.seq.put(ceiling.iid, ceiling.value);
    for (const r of refs) {
      this.expiry.remove([r.expiryMinute, r.iid, r.msgId]);
      const v = this.queue.getBinaryFast([r.iid, r.msgId]);
      if (!v) continue;
      const charge = chargeOf(v);
      this.queue.remove([r.iid, r.msgId]);
      const [count, bytes] = this.qstat.get(r.iid) ?? [1, charge];
      this.qstat.put(r.iid, [Math.max(0, count - 1), Math.max(0, bytes - charge)]);
    }
  }

  /** Inside the batch's transaction: a mailbox's record and counters as committed, or null if it is gone. */
  private appendTarget(iid: number): AppendTarget | null {
    const b = this.mailbox.getBinaryFast(iid);
    if (!b) return null;
    const record = decodeRecord(iid, b); // first: b is lmdb's read buffer, reused by the next read
    const [count, bytes] = this.qstat.get(iid) ?? [0, 0];
    // The ceiling is above every msgId ever assigned here (spec/protocol.md §11.3): the next
    // msgId is the ceiling itself, so msgIds follow the order of the SENDs in these transactions.
    return { record, next: Math.max(1, this.seq.get(iid) ?? 0), count, bytes, added: 0 };
  }

  /** One SEND against its mailbox as the SENDs before it in the batch left it; written only if accepted. */
  private appendInTxn(iid: number, m: AppendTarget | null, req: AppendRequest): Appended | Error {
    if (!m || !equalBytes(m.record.accessVerifier, req.accessVerifier)) return new StoreConflictError('GONE');
    if (m.count + 1 > req.maxEnvelopes || m.bytes + req.envelopeBytes > req.maxBytes) return new StoreConflictError('QUOTA');
    // Checked and written here: write transactions of all processes run one at a time, so one
    // SEND per key commits (spec/federation.md §6).
    const forward = req.forward ? asKey(req.forward.key) : null;
    if (forward && this.forwarded.get(forward) !== undefined) return new StoreConflictError('DUPLICATE');
    const msgId = m.next;
    let delivered: Uint8Array;
    try {
      delivered = req.seal(msgId, m.record.dk); // before any write: a failed seal leaves nothing behind
    } catch (e) {
      return new StoreError('seal failed', { cause: e });
    }
    m.next = msgId + 1;
    m.count++;
    m.bytes += req.envelopeBytes;
    m.added++;
    this.expiry.put([req.expiryMinute, iid, msgId], EMPTY);
    this.queue.put([iid, msgId], encodeQueueValue(req.expiryMinute, delivered));
    if (forward) this.forwarded.put(forward, req.forward!.expiryMinute);
    return { msgId, delivered };
  }

  dequeue(refs: readonly QueueRef[], ceiling: { iid: number; value: number } | null = null): Promise<void> {
    const t = this.writing();
    if (this.shared) {
      // Like SENDs, the removals of a moment (ACKs, the sweep) share one child transaction.
      let batch = this.openRemovals;
      if (!batch || batch.started || batch.items.length >= REMOVAL_BATCH_MAX) batch = this.openRemovalBatch();
      batch.items.push({ refs, ceiling });
      return this.durable([batch.commit], t);
    }
    const writes: Flushable[] = ceiling ? [this.seq.put(ceiling.iid, ceiling.value)] : [];
    for (const r of refs) {
      writes.push(this.expiry.remove([r.expiryMinute, r.iid, r.msgId]));
      writes.push(this.queue.remove([r.iid, r.msgId]));
    }
    return this.durable(writes, t);
  }

  rotateMailbox(prev: MailboxRecord, next: MailboxRecord, reseal: (msgId: number, delivered: Uint8Array) => Uint8Array): Promise<void> {
    const t = this.writing();
    // A child transaction runs after the single writes queued before it and aborts as a whole
    // if the callback throws, so the record, the index and the queue change together.
    let gone = false;
    const p = this.root.childTransaction(() => {
      if (this.shared) {
        // Another process may have rotated or deleted it since this one read the record.
        const b = this.mailbox.getBinaryFast(prev.iid);
        const current = b ? decodeRecord(prev.iid, b) : undefined;
        gone = !current || !equalBytes(current.readId, prev.readId) || this.read.get(asKey(next.readId)) !== undefined && !equalBytes(next.readId, prev.readId);
        if (gone) return;
      }
      const entries = [...this.queue.getRange({ start: [prev.iid, 0], end: [prev.iid, MAX_MSG_ID] })];
      for (const { key, value } of entries) {
        this.queue.put(key, encodeQueueValue(expiryOf(value), reseal(key[1], value.subarray(4))));
      }
      this.read.remove(asKey(prev.readId));
      this.read.put(asKey(next.readId), next.iid);
      this.mailbox.put(next.iid, encodeRecord(next, expiryDayOf(this.mailbox.getBinaryFast(prev.iid)) ?? 0));
    });
    return this.durable([p], t, () => { if (gone) throw new StoreConflictError('GONE'); });
  }

  deleteMailbox(r: MailboxRecord): Promise<number> {
    const t = this.writing();
    let removed = 0;
    let gone = false;
    const p = this.root.childTransaction(() => {
      if (this.shared) {
        const b = this.mailbox.getBinaryFast(r.iid);
        gone = !b || !equalBytes(decodeRecord(r.iid, b).readId, r.readId);
        if (gone) return;
        this.qstat.remove(r.iid);
      }
      const entries = [...this.queue.getRange({ start: [r.iid, 0], end: [r.iid, MAX_MSG_ID] })];
      for (const { key, value } of entries) {
        this.expiry.remove([expiryOf(value), r.iid, key[1]]);
        this.queue.remove(key);
      }
      this.seq.remove(r.iid);
      const expiryDay = expiryDayOf(this.mailbox.getBinaryFast(r.iid));
      if (expiryDay !== undefined) this.mexpiry.remove([expiryDay, r.iid]);
      this.read.remove(asKey(r.readId));
      this.send.remove(asKey(r.sendId));
      this.mailbox.remove(r.iid);
      removed = entries.length;
    });
    return this.durable<number>([p], t, () => {
      if (gone) throw new StoreConflictError('GONE');
      return removed;
    });
  }

  /**
   * Before the processes of a shared store start (spec/protocol.md §11.7): recounts `qstat`
   * from the queues and raises each msgId ceiling above the mailbox's last queued msgId, since a
   * single-process relay keeps neither. Resolves with the number of mailboxes counted.
   */
  rebuildSharedCounters(): Promise<number> {
    const t = this.writing();
    let n = 0;
    const p = this.root.childTransaction(() => {
      for (const key of [...this.qstat.getKeys()]) this.qstat.remove(key);
      for (const iid of this.mailbox.getKeys()) {
        let count = 0, bytes = 0, last = 0;
        for (const { key, value } of this.queue.getRange({ start: [iid, 0], end: [iid, MAX_MSG_ID] })) {
          count++;
          bytes += chargeOf(value);
          last = key[1];
        }
        this.qstat.put(iid, [count, bytes]);
        if ((this.seq.get(iid) ?? 0) <= last) this.seq.put(iid, last + 1);
        n++;
      }
    });
    return this.durable<number>([p], t, () => n);
  }

  async backup(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    await this.root.backup(dir, false);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.rescueTimer);
    try {
      await within(this.root.flushed, CLOSE_WAIT_MS);
      await within(new Promise<void>((r) => this.syncEnv(() => r())), CLOSE_WAIT_MS);
      await within(this.root.close(), CLOSE_WAIT_MS);
    } finally {
      for (const w of [...this.flushWaits]) w.settle(new StoreError('store is closed'));
      this.releaseGuard();
    }
  }
}
