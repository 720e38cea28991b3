// One connection's subscription to one mailbox (spec/protocol.md §5.4): pushes the queue in
// msgId order, then new envelopes as they become durable, keeping at most `window` pushed
// envelopes unacknowledged. Unacknowledged envelopes stay queued; a later SUB (this or another
// connection) starts again from the oldest, so nothing is lost and msgIds let clients dedup.
import type { MailboxState } from './mailboxes.js';
import { andThen, whenFailed } from './maybe.js';
import type { QueueEntry, Store } from './store.js';

export interface Subscriber {
  /** Sends `MSG readId msgId delivered` with corr 0; false if the connection can take no more. */
  push(readId: Uint8Array, msgId: number, delivered: Uint8Array): boolean;
  /** The subscription was ended by someone else; `notify` sends `END readId`. */
  dropSubscription(sub: Subscription, notify: boolean): void;
  /** False while the connection's send buffer is above its push threshold. */
  canPush(): boolean;
  /** Calls `sub.pump()` again once the send buffer has drained. */
  pauseUntilDrained(sub: Subscription): void;
}

export class Subscription {
  /** Pushed and not yet acknowledged (or expired). */
  private readonly inflight = new Set<number>();
  /** Highest msgId pushed or skipped. */
  private cursor = 0;
  /** True when every durable envelope after `cursor` has been pushed. */
  private caughtUp = false;
  private ended = false;
  private wakeScheduled = false;
  /** A read of an asynchronous store is out. */
  private reading = false;
  /** Asked to pump while a read was out. */
  private readAgain = false;
  /** This SUB's place in the order of all SUBs on a shared store (mailbox-bus.ts); null until known. */
  busSeq: number | null = null;

  /** The readId this subscription was made with (ROTATE ends it). */
  readonly readId: Uint8Array;
  readonly readHex: string;

  constructor(readonly state: MailboxState, readonly owner: Subscriber, private readonly store: Store, private readonly window: number) {
    this.readId = state.record.readId;
    this.readHex = state.readHex;
  }

  get unacknowledged(): number { return this.inflight.size; }

  /**
   * Pushes what the window and the connection's send buffer allow from the stored queue. A
   * store that answers later (a promise) has one read out at a time; the pump goes on when it
   * arrives. A failed read leaves the subscription as it was: the next event pumps again.
   */
  pump(): void {
    const s = this.state;
    if (this.reading) { this.readAgain = true; return; } // committed since that read started: read again after it
    while (!this.ended && !this.reading) {
      const room = this.window - this.inflight.size;
      if (room <= 0) return;
      if (!this.owner.canPush()) { this.paused(); return; }
      const read = this.store.queueRange(s.iid, this.cursor, s.durableUpTo, room);
      if (read instanceof Promise) {
        this.reading = true;
        this.caughtUp = false;
        this.readAgain = false;
        const after = (more: boolean): void => {
          this.reading = false;
          if (more || this.readAgain) this.pump();
        };
        read.then((entries) => after(this.deliver(entries, room)), () => after(false));
        return;
      }
      if (!this.deliver(read, room)) return;
    }
  }

  /** Pushes entries read from the store; true if the pump should read on. */
  private deliver(entries: readonly QueueEntry[], room: number): boolean {
    if (this.ended) return false;
    const s = this.state;
    for (const e of entries) {
      if (!this.owner.canPush()) { this.paused(); return false; }
      if (e.msgId <= this.cursor) continue; // pushed from memory while the read was out
      this.cursor = e.msgId;
      if (s.removing.has(e.msgId)) continue;
      this.inflight.add(e.msgId);
      if (!this.owner.push(this.readId, e.msgId, e.delivered)) return false;
    }
    if (entries.length < room) { this.caughtUp = true; return false; }
    this.caughtUp = false;
    return true;
  }

  /** A send became durable (called in msgId order): push it straight from memory when possible. */
  durable(msgId: number, delivered: Uint8Array): void {
    if (this.ended || msgId <= this.cursor) return;
    if (!this.caughtUp || this.inflight.size >= this.window) { this.caughtUp = false; return; }
    if (!this.owner.canPush()) { this.paused(); return; }
    this.cursor = msgId;
    this.inflight.add(msgId);
    this.owner.push(this.readId, msgId, delivered);
  }

  /**
   * Shared store (spec/scale-out.md §3): envelopes were committed, here or by another process.
   * msgIds follow commit order there, so reading on from the cursor misses none; one read per
   * event-loop turn whatever the number of commits in it.
   */
  wake(): void {
    if (this.wakeScheduled || this.ended) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      if (!this.ended) this.pump();
    });
  }

  /** Another process removed envelopes (ACK on another connection, expiry): frees their window slots. */
  recheck(): void {
    if (this.ended) return;
    for (const msgId of [...this.inflight]) {
      whenFailed(andThen(this.store.queueEntryInfo(this.state.iid, msgId), (info) => {
        if (info === undefined && this.inflight.delete(msgId)) this.wake();
      }), () => { /* the next event checks again */ });
    }
  }

  private paused(): void {
    this.caughtUp = false;
    this.owner.pauseUntilDrained(this);
  }

  /** An envelope left the queue (ACK from any connection, or expiry). */
  removed(msgId: number): void {
    if (this.inflight.delete(msgId) && !this.caughtUp) this.pump();
  }

  end(): void {
    this.ended = true;
    this.inflight.clear();
  }
}

/** Ends a mailbox's subscription, wherever it is (takeover, UNSUB, DEL, ROTATE). */
export function endSubscription(state: MailboxState, notify: boolean): void {
  const sub = state.subscription;
  if (!sub) return;
  state.subscription = null;
  sub.end();
  sub.owner.dropSubscription(sub, notify);
}
