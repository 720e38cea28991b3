// The events a relay process publishes on the mailbox bus (mailbox-bus.ts), gathered until the
// end of the current event-loop turn (setImmediate: after the I/O callbacks of this turn), so
// that every commit resolved in the turn, and every ACK answered in it, leaves in one message
// (per shard) instead of one each: one IPC write or NATS publish per turn.
import type { MailboxEvent } from './mailbox-bus.js';

export interface EventBatch { readonly q: Set<number>; readonly r: Set<number>; readonly g: Set<number>; s: number[] }

export const emptyBatch = (): EventBatch => ({ q: new Set(), r: new Set(), g: new Set(), s: [] });

export function addEvent(b: EventBatch, kind: MailboxEvent, iid: number): void {
  (kind === 'queued' ? b.q : kind === 'removed' ? b.r : b.g).add(iid);
}

/** Calls `flush` once at the end of the current turn, however often it is asked in between. */
export class TurnFlush {
  private pending = false;
  constructor(private readonly flush: () => void) {}
  request(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => { this.pending = false; this.flush(); });
  }
}
