// The LMDB implementation of the relay store (spec/protocol.md §11). One environment in the
// data directory, six named databases:
//
//   mailbox   iid                           -> record (fixed binary layout, below)
//   read      readId[32]                    -> iid
//   send      sendId[32]                    -> iid
//   seq       iid                           -> msgId ceiling (reserved in blocks)
//   queue     [iid, msgId]                  -> expiryMinute[4] || delivered
//   expiry    [expiryMinute, iid, msgId]    -> (empty)
//
// readId and sendId appear together only in the mailbox record. Writes use lmdb's asynchronous
// batching: everything issued in one event turn commits in one transaction (group commit),
// and each write promise is awaited until the batch is flushed to disk (with lmdb's default
// overlappingSync the commit promise resolves before the fsync; `flushed` follows it).
import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { MailboxRecord, QueueEntry, QueueRef, QueueStats, Store } from './store.js';
import { StoreError } from './store.js';

/** Initial map size. lmdb grows the map on its own as the file grows; on Linux the file stays sparse. */
export const INITIAL_MAP_SIZE = 1024 ** 3;
const RECORD_VERSION = 1;
const RECORD_BYTES = 2 + 4 + 5 * 32;
const EMPTY = new Uint8Array(0);
const MAX_MSG_ID = Number.MAX_SAFE_INTEGER;

export interface LmdbStoreOptions {
  /** Directory of the LMDB environment (created 0700 if missing). */
  path: string;
  /** Called once per durable write with its latency in milliseconds (metrics). */
  onCommit?: (latencyMs: number) => void;
}

function encodeRecord(r: MailboxRecord): Uint8Array {
  const out = new Uint8Array(RECORD_BYTES);
  const dv = new DataView(out.buffer);
  out[0] = RECORD_VERSION;
  out[1] = r.flags;
  dv.setUint32(2, r.ttlSeconds);
  let o = 6;
  for (const f of [r.readId, r.readKey, r.sendId, r.accessVerifier, r.dk]) { out.set(f, o); o += 32; }
  return out;
}

function decodeRecord(iid: number, b: Uint8Array): MailboxRecord {
  if (b.length !== RECORD_BYTES || b[0] !== RECORD_VERSION) throw new StoreError('mailbox record has an unknown layout');
  const own = b.slice(); // one copy; the fields are views into it
  const dv = new DataView(own.buffer);
  const f = (i: number): Uint8Array => own.subarray(6 + 32 * i, 6 + 32 * (i + 1));
  return { iid, flags: own[1]!, ttlSeconds: dv.getUint32(2), readId: f(0), readKey: f(1), sendId: f(2), accessVerifier: f(3), dk: f(4) };
}

function encodeQueueValue(expiryMinute: number, delivered: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + delivered.length);
  new DataView(out.buffer).setUint32(0, expiryMinute);
  out.set(delivered, 4);
  return out;
}

const expiryOf = (v: Uint8Array): number => new DataView(v.buffer, v.byteOffset, 4).getUint32(0);
const asKey = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.length);

type Flushable = PromiseLike<unknown> & { flushed?: PromiseLike<unknown> };

export class LmdbStore implements Store {
  private readonly root: RootDatabase;
  private readonly mailbox: Database<Uint8Array, number>;
  private readonly read: Database<number, Buffer>;
  private readonly send: Database<number, Buffer>;
  private readonly seq: Database<number, number>;
  private readonly queue: Database<Uint8Array, [number, number]>;
  private readonly expiry: Database<Uint8Array, [number, number, number]>;
  private readonly onCommit: ((ms: number) => void) | undefined;
  private closed = false;

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
    this.onCommit = opts.onCommit;
  }

  // ---- reads ----------------------------------------------------------------------------

  findByReadId(readId: Uint8Array): number | undefined {
    return this.read.get(asKey(readId));
  }
  findBySendId(sendId: Uint8Array): number | undefined {
    return this.send.get(asKey(sendId));
  }
  getMailbox(iid: number): MailboxRecord | undefined {
    const b = this.mailbox.get(iid);
    return b ? decodeRecord(iid, b) : undefined;
  }
  hasMailbox(iid: number): boolean {
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
    const v = this.queue.getBinaryFast([iid, msgId]);
    return v && v.length >= 4 ? { deliveredBytes: v.length - 4, expiryMinute: expiryOf(v) } : undefined;
  }
  queueRange(iid: number, afterMsgId: number, uptoMsgId: number, limit: number): QueueEntry[] {
    if (limit <= 0 || uptoMsgId <= afterMsgId) return [];
    const out: QueueEntry[] = [];
    for (const { key, value } of this.queue.getRange({ start: [iid, afterMsgId + 1], end: [iid, uptoMsgId + 1], limit })) {
      out.push({ msgId: key[1], expiryMinute: expiryOf(value), delivered: value.subarray(4) });
    }
    return out;
  }
  expired(nowMinute: number, limit: number): QueueRef[] {
    const out: QueueRef[] = [];
    for (const key of this.expiry.getKeys({ start: [0, 0, 0], end: [nowMinute + 1, 0, 0], limit })) {
      out.push({ expiryMinute: key[0], iid: key[1], msgId: key[2] });
    }
    return out;
  }
  counts(): { mailboxes: number; envelopes: number } {
    const n = (db: Database<unknown, never>): number => (db.getStats() as { entryCount?: number }).entryCount ?? 0;
    return { mailboxes: n(this.mailbox as never), envelopes: n(this.queue as never) };
  }

  // ---- writes ---------------------------------------------------------------------------

  private async durable<T>(p: Flushable, started: number): Promise<T> {
    try {
      const v = (await p) as T;
      await (p.flushed ?? this.root.flushed);
      this.onCommit?.(performance.now() - started);
      return v;
    } catch (e) {
      throw e instanceof StoreError ? e : new StoreError('commit failed', { cause: e });
    }
  }

  private writing(): number {
    if (this.closed) throw new StoreError('store is closed');
    return performance.now();
  }

  createMailbox(r: MailboxRecord): Promise<void> {
    const t = this.writing();
    this.mailbox.put(r.iid, encodeRecord(r));
    this.read.put(asKey(r.readId), r.iid);
    return this.durable(this.send.put(asKey(r.sendId), r.iid), t);
  }

  enqueue(iid: number, e: QueueEntry, ceiling: number | null): Promise<void> {
    const t = this.writing();
    if (ceiling !== null) this.seq.put(iid, ceiling);
    this.expiry.put([e.expiryMinute, iid, e.msgId], EMPTY);
    return this.durable(this.queue.put([iid, e.msgId], encodeQueueValue(e.expiryMinute, e.delivered)), t);
  }

  dequeue(refs: readonly QueueRef[], ceiling: { iid: number; value: number } | null = null): Promise<void> {
    const t = this.writing();
    let last: Flushable = ceiling ? this.seq.put(ceiling.iid, ceiling.value) : Promise.resolve(true);
    for (const r of refs) {
      this.expiry.remove([r.expiryMinute, r.iid, r.msgId]);
      last = this.queue.remove([r.iid, r.msgId]);
    }
    return this.durable(last, t);
  }

  rotateMailbox(prev: MailboxRecord, next: MailboxRecord, reseal: (msgId: number, delivered: Uint8Array) => Uint8Array): Promise<void> {
    const t = this.writing();
    // A child transaction runs after the single writes queued before it and aborts as a whole
    // if the callback throws, so the record, the index and the queue change together.
    const p = this.root.childTransaction(() => {
      const entries = [...this.queue.getRange({ start: [prev.iid, 0], end: [prev.iid, MAX_MSG_ID] })];
      for (const { key, value } of entries) {
        this.queue.put(key, encodeQueueValue(expiryOf(value), reseal(key[1], value.subarray(4))));
      }
      this.read.remove(asKey(prev.readId));
      this.read.put(asKey(next.readId), next.iid);
      this.mailbox.put(next.iid, encodeRecord(next));
    });
    return this.durable(p, t);
  }

  deleteMailbox(r: MailboxRecord): Promise<number> {
    const t = this.writing();
    const p = this.root.childTransaction(() => {
      const entries = [...this.queue.getRange({ start: [r.iid, 0], end: [r.iid, MAX_MSG_ID] })];
      for (const { key, value } of entries) {
        this.expiry.remove([expiryOf(value), r.iid, key[1]]);
        this.queue.remove(key);
      }
      this.seq.remove(r.iid);
      this.read.remove(asKey(r.readId));
      this.send.remove(asKey(r.sendId));
      this.mailbox.remove(r.iid);
      return entries.length;
    });
    return this.durable<number>(p, t);
  }

  async backup(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    await this.root.backup(dir, false);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.flushed;
    await this.root.close();
  }
}
