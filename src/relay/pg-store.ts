// The PostgreSQL implementation of the relay store (spec/scale-out.md §6): relay processes on
// any number of machines share one database. Always a shared store: SEND assigns its msgId,
// checks the quota and reads the dk under the mailbox row's lock (SELECT … FOR UPDATE), so
// msgIds follow commit order per mailbox. Every write is one transaction, committed (with
// PostgreSQL's default synchronous_commit = on: flushed to its WAL) before it resolves. SENDs,
// removals and the per-command lookups go in batches (batch-queue.ts, spec/scale-out.md §6):
// one transaction or query for all that arrived while the previous one was out.
//
//   mailbox  (iid PK, record, expiry_day, ceiling, envelopes, bytes)   record: the LMDB layout (lmdb-store.ts)
//   read_ids (read_id PK, iid)     send_ids (send_id PK, iid)
//   queue    ((iid, msg_id) PK, expiry_minute, delivered)   index (expiry_minute, iid, msg_id)
//   sub_order  a sequence: the global order of SUBs (mailbox-bus.ts)
//   spent    ((epoch, spent_id) PK)   closed relays' spent tokens (spec/admission.md §4.2)
//   forwarded (idem PK, expiry_minute)   forwarded SENDs' idempotency keys (spec/federation.md §6)
//
// readId and sendId appear together only in the record; no table holds an address, a time
// finer than the expiry minute, or anything about senders. Queries are parameterised and never
// logged by the relay; errors become StoreError with the SQLSTATE only.
import pg from 'pg';
import { DELIVERY_OVERHEAD } from '../wire/constants.js';
import type { Appended, AppendRequest, LoadedMailbox, MailboxExpiryRef, MailboxRecord, QueueEntry, QueueRef, QueueStats, Store, TokenSpend } from './store.js';
import { StoreConflictError, StoreError } from './store.js';
import { BatchQueue } from './batch-queue.js';

const RECORD_BYTES = 2 + 4 + 5 * 32;

function encodeRecord(r: MailboxRecord): Buffer {
  const out = Buffer.alloc(RECORD_BYTES);
  out[0] = 1;
  out[1] = r.flags;
  out.writeUInt32BE(r.ttlSeconds, 2);
  let o = 6;
  for (const f of [r.readId, r.readKey, r.sendId, r.accessVerifier, r.dk]) { out.set(f, o); o += 32; }
  return out;
}

function decodeRecord(iid: number, b: Uint8Array): MailboxRecord {
  if (b.length !== RECORD_BYTES || b[0] !== 1) throw new StoreError('mailbox record has an unknown layout');
  const own = Uint8Array.prototype.slice.call(b);
  const f = (i: number): Uint8Array => own.subarray(6 + 32 * i, 6 + 32 * (i + 1));
  return { iid, flags: own[1]!, ttlSeconds: new DataView(own.buffer).getUint32(2), readId: f(0), readKey: f(1), sendId: f(2), accessVerifier: f(3), dk: f(4) };
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS mailbox (
  iid BIGINT PRIMARY KEY, record BYTEA NOT NULL, expiry_day INTEGER NOT NULL,
  ceiling BIGINT NOT NULL DEFAULT 0, envelopes INTEGER NOT NULL DEFAULT 0, bytes BIGINT NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS mailbox_expiry ON mailbox (expiry_day, iid);
CREATE TABLE IF NOT EXISTS read_ids (read_id BYTEA PRIMARY KEY, iid BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS send_ids (send_id BYTEA PRIMARY KEY, iid BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS queue (
  iid BIGINT NOT NULL, msg_id BIGINT NOT NULL, expiry_minute INTEGER NOT NULL, delivered BYTEA NOT NULL,
  PRIMARY KEY (iid, msg_id));
CREATE INDEX IF NOT EXISTS queue_expiry ON queue (expiry_minute, iid, msg_id);
CREATE SEQUENCE IF NOT EXISTS sub_order;
CREATE TABLE IF NOT EXISTS spent (epoch BIGINT NOT NULL, spent_id BYTEA NOT NULL, PRIMARY KEY (epoch, spent_id));
CREATE TABLE IF NOT EXISTS forwarded (idem BYTEA PRIMARY KEY, expiry_minute INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS forwarded_expiry ON forwarded (expiry_minute);
`;

/** Advisory lock key held while the schema is created. */
const SCHEMA_LOCK = 0x5ea1;

const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.length);
const num = (v: unknown): number => Number(v);
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(buf(a), buf(b)) === 0;
/** Quota bytes of a delivered envelope. */
const charge = (deliveredBytes: number): number => deliveredBytes - DELIVERY_OVERHEAD;

/** A database failure as a StoreError: its SQLSTATE or network code, never the query or its values. */
function storeError(e: unknown): StoreError {
  if (e instanceof StoreError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  return new StoreError(`database error${typeof code === 'string' ? ` ${code}` : ''}`, { cause: e });
}

/** One SEND waiting for its batch (appendEnvelope). */
interface PendingAppend { readonly iid: number; readonly req: AppendRequest }
/** The idempotency keys a SEND batch inserted (claimForwards): taken by accepted SENDs, given back by refused ones. */
interface ForwardClaims { take(key: Uint8Array): boolean; giveBack(key: Uint8Array): void; left(): Buffer[] }
/** One dequeue call waiting for its batch. */
interface PendingRemoval { readonly refs: readonly QueueRef[]; readonly ceiling: { iid: number; value: number } | null }
/** Bounds of one batch of SENDs: count and envelope bytes (a bigger one goes in the next transaction). */
const APPEND_BATCH_MAX = 256;
const APPEND_BATCH_BYTES = 8 * 1024 * 1024;
/** Lookups by sendId, or of queue entries, in one query (one per SEND, one per ACK). */
const LOOKUP_BATCH_MAX = 512;
/** Queue reads in one query: each brings up to a delivery window of envelopes. */
const RANGE_BATCH_MAX = 64;
interface RangeRead { readonly iid: number; readonly after: number; readonly upto: number; readonly limit: number }
type EntryInfo = { deliveredBytes: number; expiryMinute: number };
/** Dequeue calls (ACKs, expiry sweeps) in one transaction. */
const DEQUEUE_BATCH_MAX = 256;
/** Connections per relay process: one for the SEND batch, the rest for reads and other writes. */
export const DEFAULT_POOL_SIZE = 10;

export interface PgStoreOptions {
  /** postgres://user@host:port/db */
  connectionString: string;
  /** Connections in the pool. */
  maxConnections?: number;
  onCommit?: (latencyMs: number) => void;
}

export class PgStore implements Store {
  private readonly pool: pg.Pool;
  /** No new requests (close began); the pool is closed (close is done). */
  private closed = false;
  private ended = false;
  /** SENDs and removals waiting for their batch (group commit), and the per-command lookups. */
  private readonly appends = new BatchQueue<PendingAppend, Appended>((b) => this.appendBatch(b), { maxItems: APPEND_BATCH_MAX, maxBytes: APPEND_BATCH_BYTES });
  private readonly removals = new BatchQueue<PendingRemoval, void>((b) => this.dequeueBatch(b), { maxItems: DEQUEUE_BATCH_MAX, maxBytes: Infinity });
  private readonly sendLookups = new BatchQueue<Uint8Array, number | undefined>((b) => this.findSendIds(b), { maxItems: LOOKUP_BATCH_MAX, maxBytes: Infinity });
  private readonly rangeReads = new BatchQueue<RangeRead, QueueEntry[]>((b) => this.queueRanges(b), { maxItems: RANGE_BATCH_MAX, maxBytes: Infinity });
  private readonly entryLookups = new BatchQueue<{ iid: number; msgId: number }, EntryInfo | undefined>((b) => this.entryInfos(b), { maxItems: LOOKUP_BATCH_MAX, maxBytes: Infinity });

  private constructor(private readonly opts: PgStoreOptions) {
    this.pool = new pg.Pool({ connectionString: opts.connectionString, max: opts.maxConnections ?? DEFAULT_POOL_SIZE, connectionTimeoutMillis: 5_000 });
    // An idle connection lost (the server restarted): the pool drops it and opens another when needed.
    this.pool.on('error', () => {});
  }

  /** Connects and creates the tables if they do not exist. */
  static async open(opts: PgStoreOptions): Promise<PgStore> {
    const s = new PgStore(opts);
    try {
      // Processes starting together would race on CREATE … IF NOT EXISTS: one at a time.
      await s.pool.query(`BEGIN; SELECT pg_advisory_xact_lock(${SCHEMA_LOCK}); ${SCHEMA} COMMIT;`);
    } catch (e) {
      await s.pool.end().catch(() => {});
      throw storeError(e);
    }
    return s;
  }

  private async q(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
    if (this.ended) throw new StoreError('store is closed');
    try {
      return await this.pool.query(text, values);
    } catch (e) {
      throw storeError(e);
    }
  }

  /** One transaction: committed before it resolves, rolled back if `work` throws. */
  private async tx<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.ended) throw new StoreError('store is closed');
    const started = performance.now();
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (e) {
      throw storeError(e);
    }
    let broken = false;
    try {
      await c.query('BEGIN');
      const v = await work(c);
      await c.query('COMMIT');
      this.opts.onCommit?.(performance.now() - started);
      return v;
    } catch (e) {
      try { await c.query('ROLLBACK'); } catch { broken = true; }
      if (e instanceof StoreConflictError) throw e;
      if (!(e instanceof StoreError) && !(e as { code?: unknown } | null)?.code) throw e; // thrown by `work` itself (a failed re-seal)
      throw storeError(e);
    } finally {
      c.release(broken);
    }
  }

  // ---- reads ----------------------------------------------------------------------------

  async findByReadId(readId: Uint8Array): Promise<number | undefined> {
    const r = await this.q('SELECT iid FROM read_ids WHERE read_id = $1', [buf(readId)]);
    return r.rows[0] ? num(r.rows[0].iid) : undefined;
  }
  /** Every SEND looks its id up (known or not, the same work): the lookups of a moment share one query. */
  findBySendId(sendId: Uint8Array): Promise<number | undefined> {
    if (this.closed) return Promise.reject(new StoreError('store is closed'));
    return this.sendLookups.submit(sendId);
  }
  private async findSendIds(ids: readonly Uint8Array[]): Promise<Array<number | undefined>> {
    const r = await this.q('SELECT send_id, iid FROM send_ids WHERE send_id = ANY($1::bytea[])', [ids.map(buf)]);
    const found = new Map<string, number>(r.rows.map((row) => [(row.send_id as Buffer).toString('hex'), num(row.iid)]));
    return ids.map((id) => found.get(buf(id).toString('hex')));
  }
  async getMailbox(iid: number): Promise<MailboxRecord | undefined> {
    const r = await this.q('SELECT record FROM mailbox WHERE iid = $1', [iid]);
    return r.rows[0] ? decodeRecord(iid, r.rows[0].record as Buffer) : undefined;
  }
  async loadMailbox(iid: number): Promise<LoadedMailbox | undefined> {
    const r = await this.q(`SELECT m.record, m.expiry_day, m.ceiling, q.n, q.bytes, q.last FROM mailbox m,
      LATERAL (SELECT count(*) AS n, coalesce(sum(octet_length(delivered)), 0) AS bytes, coalesce(max(msg_id), 0) AS last FROM queue WHERE iid = m.iid) q
      WHERE m.iid = $1`, [iid]);
    const row = r.rows[0];
    if (!row) return undefined;
    return {
      record: decodeRecord(iid, row.record as Buffer), expiryDay: num(row.expiry_day), ceiling: num(row.ceiling),
      stats: { count: num(row.n), deliveredBytes: num(row.bytes), lastMsgId: num(row.last) },
    };
  }
  async hasMailbox(iid: number): Promise<boolean> {
    return (await this.q('SELECT 1 FROM mailbox WHERE iid = $1', [iid])).rowCount! > 0;
  }
  async queueStats(iid: number): Promise<QueueStats> {
    const r = await this.q('SELECT count(*) AS n, coalesce(sum(octet_length(delivered)), 0) AS bytes, coalesce(max(msg_id), 0) AS last FROM queue WHERE iid = $1', [iid]);
    return { count: num(r.rows[0].n), deliveredBytes: num(r.rows[0].bytes), lastMsgId: num(r.rows[0].last) };
  }
  /** Every ACK looks its entry up: the lookups of a moment share one query. */
  queueEntryInfo(iid: number, msgId: number): Promise<EntryInfo | undefined> {
    if (this.closed) return Promise.reject(new StoreError('store is closed'));
    return this.entryLookups.submit({ iid, msgId });
  }
  private async entryInfos(keys: ReadonlyArray<{ iid: number; msgId: number }>): Promise<Array<EntryInfo | undefined>> {
    const r = await this.q(`SELECT q.iid, q.msg_id, octet_length(q.delivered) AS n, q.expiry_minute FROM queue q
      JOIN unnest($1::bigint[], $2::bigint[]) AS k(iid, msg_id) ON q.iid = k.iid AND q.msg_id = k.msg_id`, [keys.map((k) => k.iid), keys.map((k) => k.msgId)]);
    const found = new Map<string, EntryInfo>(r.rows.map((row) => [`${num(row.iid)}:${num(row.msg_id)}`, { deliveredBytes: num(row.n), expiryMinute: num(row.expiry_minute) }]));
    return keys.map((k) => found.get(`${k.iid}:${k.msgId}`));
  }
  /** Subscriptions read on after each wake-up: the reads of a moment, for any mailboxes, share one query. */
  queueRange(iid: number, afterMsgId: number, uptoMsgId: number, limit: number): Promise<QueueEntry[]> {
    if (limit <= 0 || uptoMsgId <= afterMsgId) return Promise.resolve([]);
    if (this.closed) return Promise.reject(new StoreError('store is closed'));
    return this.rangeReads.submit({ iid, after: afterMsgId, upto: Math.min(uptoMsgId, Number.MAX_SAFE_INTEGER), limit: Math.min(limit, 1_000_000) });
  }
  private async queueRanges(reads: readonly RangeRead[]): Promise<QueueEntry[][]> {
    const r = await this.q(`SELECT k.i, q.msg_id, q.expiry_minute, q.delivered
      FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::integer[]) WITH ORDINALITY AS k(iid, after, upto, lim, i)
      CROSS JOIN LATERAL (SELECT msg_id, expiry_minute, delivered FROM queue
        WHERE queue.iid = k.iid AND msg_id > k.after AND msg_id <= k.upto ORDER BY msg_id LIMIT k.lim) q
      ORDER BY k.i, q.msg_id`, [reads.map((x) => x.iid), reads.map((x) => x.after), reads.map((x) => x.upto), reads.map((x) => x.limit)]);
    const out: QueueEntry[][] = reads.map(() => []);
    for (const row of r.rows) out[num(row.i) - 1]!.push({ msgId: num(row.msg_id), expiryMinute: num(row.expiry_minute), delivered: new Uint8Array(row.delivered as Buffer) });
    return out;
  }
  async expired(nowMinute: number, limit: number): Promise<QueueRef[]> {
    const r = await this.q('SELECT expiry_minute, iid, msg_id FROM queue WHERE expiry_minute <= $1 ORDER BY expiry_minute, iid, msg_id LIMIT $2', [nowMinute, limit]);
    return r.rows.map((row) => ({ expiryMinute: num(row.expiry_minute), iid: num(row.iid), msgId: num(row.msg_id) }));
  }
  async counts(): Promise<{ mailboxes: number; envelopes: number }> {
    const r = await this.q('SELECT (SELECT count(*) FROM mailbox) AS m, (SELECT count(*) FROM queue) AS e');
    return { mailboxes: num(r.rows[0].m), envelopes: num(r.rows[0].e) };
  }
  async expiredMailboxes(today: number, limit: number): Promise<MailboxExpiryRef[]> {
    const r = await this.q('SELECT expiry_day, iid FROM mailbox WHERE expiry_day < $1 ORDER BY expiry_day, iid LIMIT $2', [today, limit]);
    return r.rows.map((row) => ({ expiryDay: num(row.expiry_day), iid: num(row.iid) }));
  }

  async spentEpochs(): Promise<number[]> {
    return (await this.q('SELECT DISTINCT epoch FROM spent ORDER BY epoch')).rows.map((row) => num(row.epoch));
  }

  async spentCount(epoch: number): Promise<number> {
    return num((await this.q('SELECT count(*) AS n FROM spent WHERE epoch = $1', [epoch])).rows[0].n);
  }

  async forwardSeen(key: Uint8Array): Promise<boolean> {
    return (await this.q('SELECT 1 FROM forwarded WHERE idem = $1', [buf(key)])).rowCount! > 0;
  }

  /** At most `limit` expired keys; keys another process is sweeping are skipped, not waited for. */
  async sweepForwards(nowMinute: number, limit: number): Promise<number> {
    const r = await this.q(`DELETE FROM forwarded WHERE idem IN
      (SELECT idem FROM forwarded WHERE expiry_minute <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, [nowMinute, limit]);
    return r.rowCount ?? 0;
  }

  /** The next number in the global order of SUBs (mailbox-bus.ts). */
  async nextSubscriptionNumber(): Promise<number> {
    return num((await this.q("SELECT nextval('sub_order') AS n")).rows[0].n);
  }

  // ---- writes ---------------------------------------------------------------------------

  createMailbox(r: MailboxRecord, expiryDay: number, spend?: TokenSpend): Promise<void> {
    return this.tx(async (c) => {
      if (spend) {
        // Spent in the mailbox's transaction (spec/admission.md §4.2): a rollback unspends it.
        const added = await c.query('INSERT INTO spent (epoch, spent_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [spend.epoch, buf(spend.spentId)]);
        if (added.rowCount !== 1) throw new StoreConflictError('SPENT');
      }
      const taken = await c.query('SELECT (SELECT 1 FROM read_ids WHERE read_id = $1) AS r, (SELECT 1 FROM send_ids WHERE send_id = $2) AS s, (SELECT 1 FROM mailbox WHERE iid = $3) AS i',
        [buf(r.readId), buf(r.sendId), r.iid]);
      const t = taken.rows[0];
      if (t.r !== null || t.s !== null || t.i !== null) throw new StoreConflictError('DUPLICATE');
      await c.query('INSERT INTO mailbox (iid, record, expiry_day) VALUES ($1, $2, $3)', [r.iid, encodeRecord(r), expiryDay]);
      await c.query('INSERT INTO read_ids (read_id, iid) VALUES ($1, $2)', [buf(r.readId), r.iid]);
      await c.query('INSERT INTO send_ids (send_id, iid) VALUES ($1, $2)', [buf(r.sendId), r.iid]);
    }).catch((e: unknown) => {
      // Two CREATEs of one id racing: the loser's insert breaks the unique index.
      if ((e as { cause?: { code?: unknown } }).cause?.code === '23505') throw new StoreConflictError('DUPLICATE');
      throw e;
    });
  }

  async dropSpentEpoch(epoch: number): Promise<number> {
    return (await this.q('DELETE FROM spent WHERE epoch = $1', [epoch])).rowCount ?? 0;
  }

  async setMailboxExpiry(iid: number, expiryDay: number): Promise<void> {
    await this.q('UPDATE mailbox SET expiry_day = $2 WHERE iid = $1', [iid, expiryDay]);
  }

  /** Every record here has an expiry day (there were no version 1 records on PostgreSQL). */
  async adoptMailboxesWithoutExpiry(): Promise<number> {
    return 0;
  }

  enqueue(iid: number, e: QueueEntry, ceiling: number | null): Promise<void> {
    return this.tx(async (c) => {
      await c.query('INSERT INTO queue (iid, msg_id, expiry_minute, delivered) VALUES ($1, $2, $3, $4)', [iid, e.msgId, e.expiryMinute, buf(e.delivered)]);
      await c.query('UPDATE mailbox SET ceiling = GREATEST(ceiling, $2, $3), envelopes = envelopes + 1, bytes = bytes + $4 WHERE iid = $1',
        [iid, ceiling ?? 0, e.msgId + 1, charge(e.delivered.length)]);
    });
  }

  /**
   * SENDs go in batches (group-commit.ts): one transaction for the SENDs that arrived while the
   * previous batch was committed, in arrival order; across processes the row locks order them.
   */
  appendEnvelope(iid: number, req: AppendRequest): Promise<Appended> {
    if (this.closed) return Promise.reject(new StoreError('store is closed'));
    return this.appends.submit({ iid, req }, req.envelopeBytes);
  }

  /**
   * One transaction for a batch of SENDs: their mailboxes' rows are locked (in iid order, as
   * every multi-row write here does, so batches of two processes cannot deadlock), each SEND
   * is checked against the record and the counters as the SENDs before it in the batch left
   * them, and the accepted ones are written with two statements. A refused SEND (GONE, QUOTA, a
   * failed seal) is only left out: the others commit. A database error fails the whole batch,
   * and nothing of it is stored.
   */
  private appendBatch(batch: readonly PendingAppend[]): Promise<Array<Appended | Error>> {
    return this.tx(async (c) => {
      const iids = [...new Set(batch.map((a) => a.iid))].sort((a, b) => a - b);
      const r = await c.query('SELECT iid, record, ceiling, envelopes, bytes FROM mailbox WHERE iid = ANY($1::bigint[]) ORDER BY iid FOR UPDATE', [iids]);
      const rows = new Map<number, { record: MailboxRecord; ceiling: number; envelopes: number; bytes: number; added: number; addedBytes: number }>();
      for (const row of r.rows) {
        const iid = num(row.iid);
        rows.set(iid, { record: decodeRecord(iid, row.record as Buffer), ceiling: num(row.ceiling), envelopes: num(row.envelopes), bytes: num(row.bytes), added: 0, addedBytes: 0 });
      }
      const won = await this.claimForwards(c, batch);
      const ins = { iid: [] as number[], msgId: [] as number[], expiry: [] as number[], delivered: [] as Buffer[] };
      const outcomes = batch.map(({ iid, req }): Appended | Error => {
        const refuse = (e: Error): Error => { if (req.forward) won.giveBack(req.forward.key); return e; };
        if (req.forward && !won.take(req.forward.key)) return new StoreConflictError('DUPLICATE');
        const m = rows.get(iid);
        if (!m || !same(m.record.accessVerifier, req.accessVerifier)) return refuse(new StoreConflictError('GONE'));
        if (m.envelopes + 1 > req.maxEnvelopes || m.bytes + req.envelopeBytes > req.maxBytes) return refuse(new StoreConflictError('QUOTA'));
        const msgId = Math.max(1, m.ceiling);
        let delivered: Uint8Array;
        try {
          delivered = req.seal(msgId, m.record.dk);
        } catch (e) {
          return refuse(new StoreError('seal failed', { cause: e }));
        }
        m.ceiling = msgId + 1;
        m.envelopes++;
        m.bytes += req.envelopeBytes;
        m.added++;
        m.addedBytes += req.envelopeBytes;
        ins.iid.push(iid); ins.msgId.push(msgId); ins.expiry.push(req.expiryMinute); ins.delivered.push(buf(delivered));
        return { msgId, delivered };
      });
      // A refused SEND records no key: the keys no SEND took go in the same transaction.
      const unused = won.left();
      if (unused.length > 0) await c.query('DELETE FROM forwarded WHERE idem = ANY($1::bytea[])', [unused]);
      if (ins.iid.length === 0) return outcomes;
      const changed = [...rows].filter(([, m]) => m.added > 0);
      await c.query(`WITH queued AS (INSERT INTO queue (iid, msg_id, expiry_minute, delivered)
          SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::integer[], $4::bytea[]))
        UPDATE mailbox m SET ceiling = u.ceiling, envelopes = m.envelopes + u.n, bytes = m.bytes + u.b
          FROM unnest($5::bigint[], $6::bigint[], $7::integer[], $8::bigint[]) AS u(iid, ceiling, n, b) WHERE m.iid = u.iid`,
      [ins.iid, ins.msgId, ins.expiry, ins.delivered,
        changed.map(([iid]) => iid), changed.map(([, m]) => m.ceiling), changed.map(([, m]) => m.added), changed.map(([, m]) => m.addedBytes)]);
      return outcomes;
    });
  }

  /**
   * Inserts the batch's idempotency keys (spec/federation.md §6), after the mailboxes' rows and
   * in key order, so that batches of two processes cannot deadlock. A key committed before, or
   * being inserted by another transaction that then commits, is left out (ON CONFLICT waits for
   * that transaction): exactly one SEND per key commits. An inserted key is taken by the first
   * SEND of the batch carrying it that is accepted; the keys left are deleted before the commit.
   */
  private async claimForwards(c: pg.PoolClient, batch: readonly PendingAppend[]): Promise<ForwardClaims> {
    const hex = (key: Uint8Array): string => buf(key).toString('hex');
    const minutes = new Map<string, number>();
    for (const { req } of batch) if (req.forward && !minutes.has(hex(req.forward.key))) minutes.set(hex(req.forward.key), req.forward.expiryMinute);
    const keys = [...minutes.keys()].sort(); // hex order is byte order
    const open = new Set<string>();
    if (keys.length > 0) {
      const r = await c.query(`INSERT INTO forwarded (idem, expiry_minute)
        SELECT * FROM unnest($1::bytea[], $2::integer[]) AS k(idem, m) ORDER BY idem ON CONFLICT DO NOTHING RETURNING idem`,
      [keys.map((k) => Buffer.from(k, 'hex')), keys.map((k) => minutes.get(k)!)]);
      for (const row of r.rows) open.add(hex(row.idem as Buffer));
    }
    return {
      take: (key) => open.delete(hex(key)),
      giveBack: (key) => { open.add(hex(key)); },
      left: () => [...open].map((k) => Buffer.from(k, 'hex')),
    };
  }

  /** Removals go in batches like SENDs (group-commit.ts): ACKs from many connections, one commit. */
  dequeue(refs: readonly QueueRef[], ceiling: { iid: number; value: number } | null = null): Promise<void> {
    if (this.closed) return Promise.reject(new StoreError('store is closed'));
    return this.removals.submit({ refs, ceiling });
  }

  /** One transaction for a batch of dequeue calls: all of them, or (on a database error) none. */
  private dequeueBatch(batch: readonly PendingRemoval[]): Promise<void[]> {
    return this.tx(async (c) => {
      const ceilings = new Map<number, number>();
      for (const { ceiling } of batch) if (ceiling) ceilings.set(ceiling.iid, Math.max(ceilings.get(ceiling.iid) ?? 0, ceiling.value));
      const refs = batch.flatMap((b) => b.refs);
      // The mailboxes' rows first, in iid order, as a SEND batch, ROTATE and DEL take them: two
      // batches (ACKs here, the sweep elsewhere) never wait for each other in a cycle.
      const iids = [...new Set([...ceilings.keys(), ...refs.map((r) => r.iid)])].sort((a, b) => a - b);
      await c.query('SELECT 1 FROM mailbox WHERE iid = ANY($1::bigint[]) ORDER BY iid FOR UPDATE', [iids]);
      // Only what is still there is removed and counted (another process may have removed some).
      const gone = refs.length === 0 ? { rows: [] } : await c.query(`DELETE FROM queue q USING unnest($1::bigint[], $2::bigint[]) AS r(iid, msg_id)
        WHERE q.iid = r.iid AND q.msg_id = r.msg_id RETURNING q.iid, octet_length(q.delivered) AS n`, [refs.map((r) => r.iid), refs.map((r) => r.msgId)]);
      const per = new Map<number, { n: number; bytes: number; ceiling: number }>();
      for (const [iid, value] of ceilings) per.set(iid, { n: 0, bytes: 0, ceiling: value });
      for (const row of gone.rows) {
        const iid = num(row.iid);
        const p = per.get(iid) ?? { n: 0, bytes: 0, ceiling: 0 };
        p.n++;
        p.bytes += charge(num(row.n));
        per.set(iid, p);
      }
      if (per.size > 0) {
        const rows = [...per].sort((a, b) => a[0] - b[0]);
        await c.query(`UPDATE mailbox m SET ceiling = GREATEST(m.ceiling, u.ceiling), envelopes = GREATEST(0, m.envelopes - u.n), bytes = GREATEST(0, m.bytes - u.b)
          FROM unnest($1::bigint[], $2::bigint[], $3::integer[], $4::bigint[]) AS u(iid, ceiling, n, b) WHERE m.iid = u.iid`,
        [rows.map(([iid]) => iid), rows.map(([, p]) => p.ceiling), rows.map(([, p]) => p.n), rows.map(([, p]) => p.bytes)]);
      }
      return batch.map(() => undefined);
    });
  }

  rotateMailbox(prev: MailboxRecord, next: MailboxRecord, reseal: (msgId: number, delivered: Uint8Array) => Uint8Array): Promise<void> {
    return this.tx(async (c) => {
      const r = await c.query('SELECT record FROM mailbox WHERE iid = $1 FOR UPDATE', [prev.iid]);
      const current = r.rows[0] ? decodeRecord(prev.iid, r.rows[0].record as Buffer) : undefined;
      if (!current || !same(current.readId, prev.readId)) throw new StoreConflictError('GONE');
      if (!same(next.readId, prev.readId) && (await c.query('SELECT 1 FROM read_ids WHERE read_id = $1', [buf(next.readId)])).rowCount! > 0) throw new StoreConflictError('DUPLICATE');
      const queued = await c.query('SELECT msg_id, delivered FROM queue WHERE iid = $1 ORDER BY msg_id', [prev.iid]);
      for (const row of queued.rows) {
        const msgId = num(row.msg_id);
        await c.query('UPDATE queue SET delivered = $3 WHERE iid = $1 AND msg_id = $2', [prev.iid, msgId, buf(reseal(msgId, new Uint8Array(row.delivered as Buffer)))]);
      }
      await c.query('DELETE FROM read_ids WHERE read_id = $1', [buf(prev.readId)]);
      await c.query('INSERT INTO read_ids (read_id, iid) VALUES ($1, $2)', [buf(next.readId), next.iid]);
      await c.query('UPDATE mailbox SET record = $2 WHERE iid = $1', [next.iid, encodeRecord(next)]);
    });
  }

  deleteMailbox(r: MailboxRecord): Promise<number> {
    return this.tx(async (c) => {
      const cur = await c.query('SELECT record FROM mailbox WHERE iid = $1 FOR UPDATE', [r.iid]);
      const current = cur.rows[0] ? decodeRecord(r.iid, cur.rows[0].record as Buffer) : undefined;
      if (!current || !same(current.readId, r.readId)) throw new StoreConflictError('GONE');
      const removed = await c.query('DELETE FROM queue WHERE iid = $1', [r.iid]);
      await c.query('DELETE FROM read_ids WHERE read_id = $1', [buf(current.readId)]);
      await c.query('DELETE FROM send_ids WHERE send_id = $1', [buf(current.sendId)]);
      await c.query('DELETE FROM mailbox WHERE iid = $1', [r.iid]);
      return removed.rowCount ?? 0;
    });
  }

  async backup(): Promise<void> {
    throw new StoreError('back up PostgreSQL with its own tools (pg_dump, base backups)');
  }

  /** Refuses new requests, lets the batches already handed over commit, then closes the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.appends, this.removals, this.sendLookups, this.rangeReads, this.entryLookups].map((b) => b.idle()));
    this.ended = true;
    await this.pool.end().catch(() => {});
  }
}
