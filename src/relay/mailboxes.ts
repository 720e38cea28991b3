// In-memory mailbox state over the store: a bounded LRU of the mailboxes in use, looked up by
// sendId and readId (hex), with the counters that quotas and delivery need. Every write to a
// mailbox goes through its state, which stays pinned in memory while a write is in flight, so
// the counters always equal "committed plus pending" and never need a re-read under load.
import { DELIVERY_OVERHEAD, MAILBOX_FLAG_PUBLIC } from '../wire/index.js';
import { andThen, type Maybe } from './maybe.js';
import type { MailboxRecord, Store } from './store.js';
import { endSubscription, type Subscription } from './subscription.js';

/** msgIds are reserved in blocks: the store records a ceiling once per block (spec/protocol.md §11). */
export const MSG_ID_BLOCK = 1024;

export const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

/** A send between its msgId and its commit; `delivered` is set once sealed. */
interface PendingSend { readonly msgId: number; delivered: Uint8Array; status: 0 | 1 | 2 } // pending | durable | failed
const NOT_SEALED = new Uint8Array(0);

export class MailboxState {
  record: MailboxRecord;
  readHex: string;
  readonly sendHex: string;
  nextMsgId: number;
  ceiling: number;
  /** Envelopes and envelope bytes, counting pending sends and not counting pending removals. */
  count: number;
  bytes: number;
  /** Highest msgId known durable: delivery never goes past it. */
  durableUpTo: number;
  /** msgIds whose removal (ACK, expiry) is in flight. */
  readonly removing = new Set<number>();
  /** Writes in flight, and connections that authenticated: either pins the state in memory. */
  pending = 0;
  refs = 0;
  subscription: Subscription | null = null;
  busy: 'rotate' | 'delete' | null = null;
  deleted = false;
  /** The stored day after which it expires unused (spec/protocol.md §11.5); 0 when none is recorded. */
  expiryDay = 0;
  private readonly sends: PendingSend[] = [];
  private sendsHead = 0;
  /** Delivery seals running on worker threads; ROTATE and DEL wait for them (whenSealed). */
  private sealing = 0;
  private sealWaiters: Array<() => void> = [];

  constructor(record: MailboxRecord, nextMsgId: number, ceiling: number, count: number, bytes: number, durableUpTo: number) {
    this.record = record;
    this.readHex = hexOf(record.readId);
    this.sendHex = hexOf(record.sendId);
    this.nextMsgId = nextMsgId;
    this.ceiling = ceiling;
    this.count = count;
    this.bytes = bytes;
    this.durableUpTo = durableUpTo;
  }

  get iid(): number { return this.record.iid; }
  get isPublic(): boolean { return (this.record.flags & MAILBOX_FLAG_PUBLIC) !== 0; }
  get pinned(): boolean { return this.pending > 0 || this.refs > 0 || this.subscription !== null || this.busy !== null; }
  /** Usable for reading and sending: not deleted, not in the middle of DEL. */
  get live(): boolean { return !this.deleted && this.busy !== 'delete'; }

  /** The next msgId, and the new ceiling to persist with it when a block is used up. */
  assignMsgId(): { msgId: number; ceiling: number | null } {
    const msgId = this.nextMsgId++;
    if (msgId < this.ceiling) return { msgId, ceiling: null };
    this.ceiling = msgId + MSG_ID_BLOCK;
    return { msgId, ceiling: this.ceiling };
  }

  /** Records a send in flight; `settle` later marks it, and durable ones are released in msgId order. */
  beginSend(msgId: number): PendingSend {
    const p: PendingSend = { msgId, delivered: NOT_SEALED, status: 0 };
    this.sends.push(p);
    this.pending++;
    return p;
  }

  sealStarted(): void { this.sealing++; }
  /** Call after the sealed envelope's store write has been issued. */
  sealEnded(): void {
    if (--this.sealing > 0) return;
    const ws = this.sealWaiters;
    this.sealWaiters = [];
    for (const w of ws) w();
  }
  /** Resolves once no seal is running (their writes issued); null when none is. */
  whenSealed(): Promise<void> | null {
    return this.sealing === 0 ? null : new Promise((resolve) => this.sealWaiters.push(resolve));
  }

  /** Marks a send settled and calls `onDurable` for each send now durable, in msgId order. */
  settleSend(p: PendingSend, ok: boolean, onDurable: (msgId: number, delivered: Uint8Array) => void): void {
    p.status = ok ? 1 : 2;
    this.pending--;
    while (this.sendsHead < this.sends.length && this.sends[this.sendsHead]!.status !== 0) {
      const head = this.sends[this.sendsHead]!;
      this.sends[this.sendsHead++] = undefined as never;
      if (head.status === 1) {
        if (head.msgId > this.durableUpTo) this.durableUpTo = head.msgId;
        onDurable(head.msgId, head.delivered);
      }
    }
    if (this.sendsHead === this.sends.length) { this.sends.length = 0; this.sendsHead = 0; }
    else if (this.sendsHead > 1024) { this.sends.splice(0, this.sendsHead); this.sendsHead = 0; }
  }
}

export class MailboxRegistry {
  private readonly byIid = new Map<number, MailboxState>(); // insertion order = LRU order
  private readonly bySend = new Map<string, MailboxState>();
  private readonly byRead = new Map<string, MailboxState>();
  /** Loads from an asynchronous store in flight, by iid. */
  private readonly loading = new Map<number, Promise<MailboxState | undefined>>();

  /**
   * `shared`: other processes write the same store (spec/scale-out.md §2). Delivery then reads
   * whatever is committed (durableUpTo is unbounded: the store assigns msgIds in commit order),
   * and a cached state whose readId the store no longer has is dropped.
   */
  constructor(private readonly store: Store, private readonly capacity: number, private readonly shared = false) {}

  get size(): number { return this.byIid.size; }

  // Both lookups read the store's index whether or not the state is cached, so that an unknown
  // id costs the same lookups as a known one (spec/protocol.md §5.3, §5.10: "the same work").
  findBySendId(sendId: Uint8Array): Maybe<MailboxState | undefined> {
    return andThen(this.store.findBySendId(sendId), (iid) => {
      const s = this.bySend.get(hexOf(sendId));
      if (s) return this.touch(s);
      return iid === undefined ? undefined : this.get(iid);
    });
  }

  findByReadId(readId: Uint8Array): Maybe<MailboxState | undefined> {
    return andThen(this.store.findByReadId(readId), (iid) => {
      const hex = hexOf(readId);
      const s = this.byRead.get(hex);
      if (s) return this.touch(s);
      if (this.shared && iid !== undefined) {
        // Rotated by another process, whose event has not arrived yet.
        const stale = this.byIid.get(iid);
        if (stale && stale.readHex !== hex && stale.busy === null) {
          endSubscription(stale, true);
          this.forget(stale);
        }
      }
      return iid === undefined ? undefined : this.get(iid);
    });
  }

  /** The state of a mailbox, loaded from the store if needed; undefined if it does not exist. */
  get(iid: number): Maybe<MailboxState | undefined> {
    const s = this.byIid.get(iid);
    if (s) return this.touch(s);
    const pending = this.loading.get(iid);
    if (pending) return pending;
    const loaded = andThen(this.store.loadMailbox(iid), (m) => {
      this.loading.delete(iid);
      const meanwhile = this.byIid.get(iid); // created or loaded while the read was out
      if (meanwhile || !m) return meanwhile;
      const { record, stats, ceiling } = m;
      const next = Math.max(1, ceiling, stats.lastMsgId + 1);
      const state = new MailboxState(record, next, ceiling, stats.count, stats.deliveredBytes - stats.count * DELIVERY_OVERHEAD, this.shared ? Number.MAX_SAFE_INTEGER : stats.lastMsgId);
      state.expiryDay = m.expiryDay ?? 0;
      this.add(state);
      return state;
    });
    // One load per mailbox at a time: two would make two states with their own counters.
    if (loaded instanceof Promise) this.loading.set(iid, loaded.finally(() => this.loading.delete(iid)));
    return loaded;
  }

  /** Only if already in memory. */
  peek(iid: number): MailboxState | undefined {
    return this.byIid.get(iid);
  }

  /** Adds a freshly created mailbox. */
  created(record: MailboxRecord, expiryDay: number): MailboxState {
    const state = new MailboxState(record, 1, 0, 0, 0, this.shared ? Number.MAX_SAFE_INTEGER : 0);
    state.expiryDay = expiryDay;
    this.add(state);
    return state;
  }

  /** After ROTATE: the state carries a new record with a new readId. */
  rotated(state: MailboxState, next: MailboxRecord): void {
    this.byRead.delete(state.readHex);
    state.record = next;
    state.readHex = hexOf(next.readId);
    this.byRead.set(state.readHex, state);
  }

  /** After DEL. */
  forget(state: MailboxState): void {
    state.deleted = true;
    if (this.byIid.get(state.iid) === state) this.byIid.delete(state.iid);
    if (this.bySend.get(state.sendHex) === state) this.bySend.delete(state.sendHex);
    if (this.byRead.get(state.readHex) === state) this.byRead.delete(state.readHex);
  }

  /** Drops unpinned states beyond the capacity, least recently used first. */
  evict(): void {
    if (this.byIid.size <= this.capacity) return;
    for (const s of this.byIid.values()) {
      if (this.byIid.size <= this.capacity) break;
      if (!s.pinned) this.forgetUnpinned(s);
    }
  }

  private forgetUnpinned(s: MailboxState): void {
    this.byIid.delete(s.iid);
    this.bySend.delete(s.sendHex);
    this.byRead.delete(s.readHex);
  }

  private touch(s: MailboxState): MailboxState {
    // Map re-insertion moves the entry to the most recent end.
    this.byIid.delete(s.iid);
    this.byIid.set(s.iid, s);
    return s;
  }

  private add(s: MailboxState): void {
    this.byIid.set(s.iid, s);
    this.bySend.set(s.sendHex, s);
    this.byRead.set(s.readHex, s);
    this.evict();
  }
}
