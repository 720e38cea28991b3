// The mailbox bus between relay processes on several machines (spec/scale-out.md §6): NATS core
// publish/subscribe. A mailbox's events go to subject `sealpost.mailbox.<shard>`, shard =
// iid mod SHARDS (never one subject per mailbox), and every process subscribes to all shards,
// since any of them may hold any subscription. A message carries the internal ids of the
// mailboxes concerned and, for SUBs, their numbers: nothing the relay does not already keep in
// its database, no envelope, no readId or sendId. SUBs are numbered by the store (a PostgreSQL
// sequence), so the order does not depend on NATS delivering in order.
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { randomBytes } from '../crypto/index.js';
import { addEvent, emptyBatch, TurnFlush, type EventBatch } from './event-batch.js';
import type { MailboxBus, MailboxBusHandlers, MailboxEvent } from './mailbox-bus.js';

export const SHARDS = 64;
const PREFIX = 'sealpost.mailbox.';

/** One process's events for one shard. */
interface ShardMessage { readonly o: string; readonly q: number[]; readonly r: number[]; readonly g: number[]; readonly s: number[] }

export interface NatsBusOptions {
  readonly servers: string;
  /** The next number in the global order of SUBs (PgStore.nextSubscriptionNumber). */
  readonly nextSubscriptionNumber: () => Promise<number>;
  readonly onError?: (e: unknown) => void;
}

export class NatsMailboxBus implements MailboxBus {
  private handlers: MailboxBusHandlers | null = null;
  private readonly origin = Buffer.from(randomBytes(8)).toString('hex');
  private readonly out = new Map<number, EventBatch>();
  private readonly flusher = new TurnFlush(() => this.flush());
  /** SUBs here still waiting for their number, and the highest number heard meanwhile from elsewhere, per mailbox. */
  private readonly unnumbered = new Map<number, { waiting: number; heard: number }>();
  private readonly sub: Subscription;

  private constructor(private readonly nc: NatsConnection, private readonly opts: NatsBusOptions) {
    this.sub = nc.subscribe(`${PREFIX}*`, { callback: (err, msg) => { if (!err) this.receive(msg.data); } });
  }

  static async connect(opts: NatsBusOptions): Promise<NatsMailboxBus> {
    const nc = await connect({ servers: opts.servers, maxReconnectAttempts: -1, reconnectTimeWait: 250, name: 'sealpost-relay' });
    return new NatsMailboxBus(nc, opts);
  }

  listen(handlers: MailboxBusHandlers): void { this.handlers = handlers; }

  publish(kind: MailboxEvent, iid: number): void {
    addEvent(this.shardOut(iid), kind, iid);
    this.flusher.request();
  }

  announceSubscription(iid: number, sequenced: (seq: number) => void): void {
    const u = this.unnumbered.get(iid) ?? { waiting: 0, heard: 0 };
    u.waiting++;
    this.unnumbered.set(iid, u);
    this.opts.nextSubscriptionNumber().then((seq) => {
      sequenced(seq);
      if (--u.waiting === 0) this.unnumbered.delete(iid);
      // A later SUB elsewhere that we heard of before our number came: ours ends now.
      if (u.heard > seq) this.handlers?.subscribed(iid, u.heard);
      this.shardOut(iid).s.push(iid, seq);
      this.flusher.request();
    }, (e: unknown) => {
      if (--u.waiting === 0) this.unnumbered.delete(iid);
      this.opts.onError?.(e); // unnumbered: it yields to any SUB elsewhere it hears of
    });
  }

  async close(): Promise<void> {
    this.flush();
    this.handlers = null;
    this.sub.unsubscribe();
    await this.nc.drain().catch(() => this.nc.close());
  }

  private shardOut(iid: number): EventBatch {
    const shard = iid % SHARDS;
    let o = this.out.get(shard);
    if (!o) this.out.set(shard, (o = emptyBatch()));
    return o;
  }

  private flush(): void {
    for (const [shard, o] of this.out) {
      const m: ShardMessage = { o: this.origin, q: [...o.q], r: [...o.r], g: [...o.g], s: o.s };
      try {
        this.nc.publish(PREFIX + shard, JSON.stringify(m));
      } catch (e) {
        this.opts.onError?.(e); // the connection is closed: the processes learn again at the next event
      }
    }
    this.out.clear();
  }

  private receive(data: Uint8Array): void {
    let m: ShardMessage;
    try {
      m = JSON.parse(Buffer.from(data).toString('utf8')) as ShardMessage;
    } catch {
      return;
    }
    const h = this.handlers;
    if (!h || m.o === this.origin) return;
    for (let i = 0; i + 1 < m.s.length; i += 2) {
      const iid = m.s[i]!, seq = m.s[i + 1]!;
      const u = this.unnumbered.get(iid);
      if (u && seq > u.heard) u.heard = seq;
      h.subscribed(iid, seq);
    }
    for (const iid of m.g) h.event('gone', iid);
    for (const iid of m.q) h.event('queued', iid);
    for (const iid of m.r) h.event('removed', iid);
  }
}
