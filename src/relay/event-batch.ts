// The events a relay process publishes on the mailbox bus (mailbox-bus.ts), gathered until the
// current job's microtasks are done, so that the commits lmdb or the database resolve together
// leave in one message (per shard) instead of one each.
import type { MailboxEvent } from './mailbox-bus.js';

export interface EventBatch { readonly q: Set<number>; readonly r: Set<number>; readonly g: Set<number>; s: number[] }

export const emptyBatch = (): EventBatch => ({ q: new Set(), r: new Set(), g: new Set(), s: [] });

export function addEvent(b: EventBatch, kind: MailboxEvent, iid: number): void {
  (kind === 'queued' ? b.q : kind === 'removed' ? b.r : b.g).add(iid);
}

/** Calls `flush` once after the current microtasks, however often it is asked in between. */
export class MicrotaskFlush {
  private pending = false;
  constructor(private readonly flush: () => void) {}
  request(): void {
    if (this.pending) return;
    this.pending = true;
    queueMicrotask(() => { this.pending = false; this.flush(); });
  }
}
