// Events between relay processes that serve one store (spec/scale-out.md §3). A process tells
// the others when it committed envelopes for a mailbox (the process holding its subscription
// pushes them), removed some (ACK, expiry: that subscription's window moves), rotated or
// deleted it (cached states are dropped), and when a SUB took a mailbox (the previous
// subscriber, wherever it is, gets END). Events carry the mailbox's internal id only: never a
// readId, sendId, envelope or msgId. SUBs are put in one global order by the bus, so that of
// two SUBs racing in two processes exactly one survives.

export type MailboxEvent = 'queued' | 'removed' | 'gone';

export interface MailboxBusHandlers {
  /** Another process committed envelopes for, removed envelopes from, or rotated or deleted mailbox `iid`. */
  event(kind: MailboxEvent, iid: number): void;
  /** Another process's SUB took mailbox `iid`; `seq` is its place in the order of all SUBs. */
  subscribed(iid: number, seq: number): void;
}

export interface MailboxBus {
  listen(handlers: MailboxBusHandlers): void;
  /** Tells the other processes (coalesced: the events of one batch of commits travel together). */
  publish(kind: MailboxEvent, iid: number): void;
  /** Announces a SUB taken here; `sequenced` is called with its place in the global order. */
  announceSubscription(iid: number, sequenced: (seq: number) => void): void;
  close(): Promise<void>;
}
