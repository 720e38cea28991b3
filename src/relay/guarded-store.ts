// The store behind the disk guard (spec/protocol.md §11.6): writes that add data (CREATE, SEND,
// ROTATE) are refused while free space is at the reserve, without reaching LMDB; writes that
// free space (ACK, DEL, expiry) always go through. Every write's outcome is reported to the
// guard once, so an episode is logged once and ends by itself at the first commit after it.
import type { DiskGuard } from './disk-guard.js';
import type { Appended, AppendRequest, MailboxRecord, QueueEntry, QueueRef, Store, TokenSpend } from './store.js';
import { startWrite, StoreConflictError, StoreError } from './store.js';

/** A write refused before it reached the store because free space is at the reserve. */
export class StoreFullError extends StoreError {
  readonly code = 'STORE_FULL' as const;
  constructor() {
    super('free disk space is at the reserve');
    this.name = 'StoreFullError';
  }
}

/** Mailbox record and index entries, in bytes (spec/protocol.md §11.2), for the admission estimate. */
const MAILBOX_BYTES = 512;

export class GuardedStore implements Store {
  constructor(private readonly inner: Store, private readonly guard: DiskGuard) {}

  findByReadId(readId: Uint8Array) { return this.inner.findByReadId(readId); }
  findBySendId(sendId: Uint8Array) { return this.inner.findBySendId(sendId); }
  getMailbox(iid: number) { return this.inner.getMailbox(iid); }
  loadMailbox(iid: number) { return this.inner.loadMailbox(iid); }
  hasMailbox(iid: number) { return this.inner.hasMailbox(iid); }
  queueStats(iid: number) { return this.inner.queueStats(iid); }
  queueEntryInfo(iid: number, msgId: number) { return this.inner.queueEntryInfo(iid, msgId); }
  queueRange(iid: number, afterMsgId: number, uptoMsgId: number, limit: number) { return this.inner.queueRange(iid, afterMsgId, uptoMsgId, limit); }
  expired(nowMinute: number, limit: number) { return this.inner.expired(nowMinute, limit); }
  counts() { return this.inner.counts(); }
  expiredMailboxes(today: number, limit: number) { return this.inner.expiredMailboxes(today, limit); }

  spentEpochs() { return this.inner.spentEpochs(); }
  spentCount(epoch: number) { return this.inner.spentCount(epoch); }

  createMailbox(record: MailboxRecord, expiryDay: number, spend?: TokenSpend): Promise<void> {
    return this.growing(MAILBOX_BYTES, () => this.inner.createMailbox(record, expiryDay, spend));
  }
  dropSpentEpoch(epoch: number): Promise<number> {
    return this.observe(() => this.inner.dropSpentEpoch(epoch));
  }
  // Moving an expiry day rewrites two small index entries: it adds next to nothing.
  setMailboxExpiry(iid: number, expiryDay: number): Promise<void> {
    return this.observe(() => this.inner.setMailboxExpiry(iid, expiryDay));
  }
  adoptMailboxesWithoutExpiry(expiryDay: number): Promise<number> {
    return this.observe(() => this.inner.adoptMailboxesWithoutExpiry(expiryDay));
  }
  enqueue(iid: number, entry: QueueEntry, ceiling: number | null): Promise<void> {
    return this.growing(entry.delivered.length, () => this.inner.enqueue(iid, entry, ceiling));
  }
  appendEnvelope(iid: number, request: AppendRequest): Promise<Appended> {
    return this.growing(request.envelopeBytes, () => this.inner.appendEnvelope(iid, request));
  }
  rotateMailbox(previous: MailboxRecord, next: MailboxRecord, reseal: (msgId: number, delivered: Uint8Array) => Uint8Array): Promise<void> {
    // Re-sealing rewrites the whole queue: charge for a full one.
    return startWrite(async () => {
      const stats = await this.inner.queueStats(previous.iid);
      return this.growing(MAILBOX_BYTES + stats.deliveredBytes, () => this.inner.rotateMailbox(previous, next, reseal));
    });
  }
  dequeue(refs: readonly QueueRef[], ceiling?: { iid: number; value: number } | null): Promise<void> {
    return this.observe(() => this.inner.dequeue(refs, ceiling));
  }
  deleteMailbox(record: MailboxRecord): Promise<number> {
    return this.observe(() => this.inner.deleteMailbox(record));
  }

  // Forwarded SENDs (spec/federation.md §6): a key is a few bytes next to its envelope.
  get forwardSeen() { return this.inner.forwardSeen?.bind(this.inner); }
  get recordForward() {
    const inner = this.inner;
    return inner.recordForward ? (key: Uint8Array, expiryMinute: number) => this.observe(() => inner.recordForward!(key, expiryMinute)) : undefined;
  }
  get sweepForwards() { return this.inner.sweepForwards?.bind(this.inner); }

  backup(dir: string): Promise<void> { return this.inner.backup(dir); }
  close(): Promise<void> {
    this.guard.close();
    return this.inner.close();
  }

  private growing<T>(bytes: number, write: () => Promise<T>): Promise<T> {
    const charged = this.guard.admit(bytes);
    if (charged === null) return Promise.reject(new StoreFullError());
    return this.observe(write, charged);
  }

  private observe<T>(write: () => Promise<T>, charged = 0): Promise<T> {
    return startWrite(write).then(
      (v) => { this.guard.settled(charged); return v; },
      (e: unknown) => {
        // A conflict with another process's commit wrote nothing and says nothing about the disk.
        this.guard.settled(charged, e instanceof StoreConflictError ? undefined : e ?? new Error('store write failed'));
        throw e;
      },
    );
  }
}
