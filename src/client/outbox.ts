// The persisted outbox (spec/client.md §9). An envelope is sealed once, written to the store
// in the same transaction as the ratchet state that produced it, and sent until the relay
// accepts it (OK, durably committed) or refuses it for good. Entries to one relay address
// go out one at a time in sequence order, so a contact's messages keep their order; each
// address retries with backoff on its own.
import { backoffDelay, DEFAULT_BACKOFF, sleep, type BackoffOptions } from './backoff.js';
import { ClientError } from './errors.js';
import type { SendCapability } from './mailbox.js';
import { decodeRecord, encodeRecord } from './records.js';
import { classifySendError, type SendPool } from './send-pool.js';
import type { LocalStore, StoreOp } from './store.js';

export const OUTBOX_KIND = 'outbox';

export interface OutboxEntry {
  readonly seq: number;
  readonly contactId: string;
  readonly capability: SendCapability;
  readonly envelope: Uint8Array;
  readonly createdAt: number;
}

interface Waiter { resolve(): void; reject(e: Error): void }

export interface OutboxHooks {
  onSent?(entry: OutboxEntry): void;
  onRejected?(entry: OutboxEntry, error: unknown): void;
}

const idOf = (seq: number): string => String(seq).padStart(16, '0');

export class Outbox {
  private readonly entries = new Map<number, OutboxEntry>();
  private readonly waiters = new Map<number, Waiter>();
  private readonly running = new Set<string>();
  private readonly sleeps = new Set<{ cancel(): void }>();
  private nextSeq = 1;
  private closed = false;

  constructor(
    private readonly store: LocalStore,
    private readonly pool: SendPool,
    private readonly hooks: OutboxHooks = {},
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {
    for (const [, v] of store.entries(OUTBOX_KIND)) {
      const e = decodeRecord<OutboxEntry>(v);
      this.entries.set(e.seq, e);
      this.nextSeq = Math.max(this.nextSeq, e.seq + 1);
    }
  }

  get size(): number { return this.entries.size; }

  /** A new entry and the store op that persists it; write the op with the state change that made the envelope. */
  prepare(contactId: string, capability: SendCapability, envelope: Uint8Array): { entry: OutboxEntry; op: StoreOp } {
    const entry: OutboxEntry = { seq: this.nextSeq++, contactId, capability, envelope, createdAt: Date.now() };
    return { entry, op: { kind: OUTBOX_KIND, id: idOf(entry.seq), value: encodeRecord(entry) } };
  }

  /** Starts sending a prepared entry (after its op is written); resolves when the relay accepts it. */
  submit(entry: OutboxEntry): Promise<void> {
    this.entries.set(entry.seq, entry);
    const p = new Promise<void>((resolve, reject) => this.waiters.set(entry.seq, { resolve, reject }));
    this.kick();
    return p;
  }

  /** Drops every queued entry for a contact (when it is deleted). */
  dropContact(contactId: string): StoreOp[] {
    const ops: StoreOp[] = [];
    for (const e of [...this.entries.values()]) {
      if (e.contactId !== contactId) continue;
      this.entries.delete(e.seq);
      ops.push({ kind: OUTBOX_KIND, id: idOf(e.seq), value: null });
      this.settle(e.seq, new ClientError('UNKNOWN_CONTACT', 'the contact was deleted'));
    }
    return ops;
  }

  /** Sends whatever is queued (at open, and after each submit). */
  kick(): void {
    if (this.closed) return;
    for (const e of this.entries.values()) {
      if (!this.running.has(e.capability.address)) void this.run(e.capability.address);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.sleeps) s.cancel();
    for (const seq of [...this.waiters.keys()]) this.settle(seq, new ClientError('CLOSED', 'the client closed before the relay accepted this message; it stays queued'));
    while (this.running.size > 0) await new Promise((r) => setTimeout(r, 10));
  }

  private oldestFor(address: string): OutboxEntry | undefined {
    let best: OutboxEntry | undefined;
    for (const e of this.entries.values()) if (e.capability.address === address && (!best || e.seq < best.seq)) best = e;
    return best;
  }

  private async run(address: string): Promise<void> {
    this.running.add(address);
    let attempt = 0;
    try {
      for (let e = this.oldestFor(address); e && !this.closed; e = this.oldestFor(address)) {
        try {
          await this.pool.send(e.capability, e.envelope);
        } catch (err) {
          if (this.closed) return;
          if (classifySendError(err) === 'transient') {
            const s = sleep(backoffDelay(attempt++, this.backoff));
            this.sleeps.add(s);
            await s.promise;
            this.sleeps.delete(s);
            continue;
          }
          await this.finish(e);
          this.hooks.onRejected?.(e, err);
          this.settle(e.seq, new ClientError('SEND_REJECTED', 'the relay refused the envelope', { cause: err }));
          continue;
        }
        attempt = 0;
        await this.finish(e);
        this.hooks.onSent?.(e);
        this.settle(e.seq);
      }
    } finally {
      this.running.delete(address);
    }
  }

  private async finish(e: OutboxEntry): Promise<void> {
    this.entries.delete(e.seq);
    await this.store.write([{ kind: OUTBOX_KIND, id: idOf(e.seq), value: null }]).catch(() => undefined);
  }

  private settle(seq: number, error?: Error): void {
    const w = this.waiters.get(seq);
    if (!w) return;
    this.waiters.delete(seq);
    if (error) w.reject(error); else w.resolve();
  }
}
