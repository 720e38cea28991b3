// The mailbox bus between the processes of `sealpost relay --processes N` (spec/scale-out.md §3):
// each worker sends its events to the primary over the cluster's IPC channel, coalesced per
// batch of commits; the primary (cluster-primary.ts) numbers SUBs and passes every
// event on to the other workers, and each SUB back to its own worker with its number.
import { addEvent, emptyBatch, TurnFlush } from './event-batch.js';
import type { MailboxBus, MailboxBusHandlers, MailboxEvent } from './mailbox-bus.js';

/** One turn's events from a worker: mailboxes queued to, removed from, gone, and SUBs taken. */
export interface BusBatch {
  readonly sealpostBus: 1;
  readonly q: number[];
  readonly r: number[];
  readonly g: number[];
  /** Worker → primary: iids of SUBs. Primary → worker: [iid, seq, origin worker id] triples, flattened. */
  readonly s: number[];
}

export const isBusBatch = (m: unknown): m is BusBatch => typeof m === 'object' && m !== null && (m as { sealpostBus?: unknown }).sealpostBus === 1;

/** The IPC endpoint a worker talks through (`process` in a cluster worker). */
export interface IpcChannel {
  send?(message: unknown): boolean;
  readonly connected?: boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

export class IpcMailboxBus implements MailboxBus {
  private handlers: MailboxBusHandlers | null = null;
  private readonly out = emptyBatch();
  private readonly flusher = new TurnFlush(() => this.flush());
  /** Our SUBs waiting for their number, per mailbox, in the order they were announced. */
  private readonly unnumbered = new Map<number, Array<(seq: number) => void>>();
  private readonly onMessage = (m: unknown): void => { if (isBusBatch(m)) this.receive(m); };

  constructor(private readonly channel: IpcChannel, private readonly workerId: number) {
    channel.on('message', this.onMessage);
  }

  listen(handlers: MailboxBusHandlers): void { this.handlers = handlers; }

  publish(kind: MailboxEvent, iid: number): void {
    addEvent(this.out, kind, iid);
    this.flusher.request();
  }

  announceSubscription(iid: number, sequenced: (seq: number) => void): void {
    const waiting = this.unnumbered.get(iid);
    if (waiting) waiting.push(sequenced);
    else this.unnumbered.set(iid, [sequenced]);
    this.out.s.push(iid);
    this.flusher.request();
  }

  async close(): Promise<void> {
    this.flush();
    this.channel.off('message', this.onMessage);
    this.handlers = null;
  }

  private flush(): void {
    const o = this.out;
    if (o.q.size + o.r.size + o.g.size + o.s.length === 0) return;
    const batch: BusBatch = { sealpostBus: 1, q: [...o.q], r: [...o.r], g: [...o.g], s: o.s };
    o.q.clear(); o.r.clear(); o.g.clear(); o.s = [];
    if (this.channel.connected === false || !this.channel.send) return; // the primary is gone: so is the cluster
    this.channel.send(batch);
  }

  private receive(m: BusBatch): void {
    const h = this.handlers;
    // Numbers first: our own SUBs learn their place before any later event is judged against it.
    for (let i = 0; i + 2 < m.s.length; i += 3) {
      const iid = m.s[i]!, seq = m.s[i + 1]!, origin = m.s[i + 2]!;
      if (origin === this.workerId) {
        const waiting = this.unnumbered.get(iid);
        const sequenced = waiting?.shift();
        if (waiting && waiting.length === 0) this.unnumbered.delete(iid);
        sequenced?.(seq);
      } else {
        h?.subscribed(iid, seq);
      }
    }
    if (!h) return;
    for (const iid of m.g) h.event('gone', iid);
    for (const iid of m.q) h.event('queued', iid);
    for (const iid of m.r) h.event('removed', iid);
  }
}
