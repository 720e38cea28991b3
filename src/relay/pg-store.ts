// The PostgreSQL implementation of the relay store (spec/scale-out.md §6): relay processes on
// any number of machines share one database. Always a shared store: SEND assigns its msgId,
// checks the quota and reads the dk under the mailbox row's lock (SELECT … FOR UPDATE), so
// msgIds follow commit order per mailbox. Every write is one transaction, committed (with
// PostgreSQL's default synchronous_commit = on: flushed to its WAL) before it resolves.
//
//   mailbox  (iid PK, record, expiry_day, ceiling, envelopes, bytes)   record: the LMDB layout (lmdb-store.ts)
//   read_ids (read_id PK, iid)     send_ids (send_id PK, iid)
//   queue    ((iid, msg_id) PK, expiry_minute, delivered)   index (expiry_minute, iid, msg_id)
//   sub_order  a sequence: the global order of SUBs (mailbox-bus.ts)
//   spent    ((epoch, spent_id) PK)   closed relays' spent tokens (spec/admission.md §4.2)
//
// readId and sendId appear together only in the record; no table holds an address, a time
// finer than the expiry minute, or anything about senders. Queries are parameterised and never
// logged by the relay; errors become StoreError with the SQLSTATE only.
import pg from 'pg';
import { DELIVERY_OVERHEAD } from '../wire/constants.js';
import type { Appended, AppendRequest, LoadedMailbox, MailboxExpiryRef, MailboxRecord, QueueEntry, QueueRef, QueueStats, Store, TokenSpend } from './store.js';
import { StoreConflictError, StoreError } from './store.js';

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

export interface PgStoreOptions {
  /** postgres://user@host:port/db */
  connectionString: string;
  /** Connections in the pool. */
  maxConnections?: number;
  onCommit?: (latencyMs: number) => void;
}

export class PgStore implements Store {
  private readonly pool: pg.Pool;
  private closed = false;
  /** The last SEND in flight per mailbox (appendEnvelope). */
  private readonly appending = new Map<number, Promise<void>>();

  private constructor(private readonly opts: PgStoreOptions) {
    this.pool = new pg.Pool({ connectionString: opts.connectionString, max: opts.maxConnections ?? 16, connectionTimeoutMillis: 5_000 });
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
    if (this.closed) throw new StoreError('store is closed');
    try {
      return await this.pool.query(text, values);
    } catch (e) {
      throw storeError(e);
    }
  }

  /** One transaction: committed before it resolves, rolled back if `work` throws. */
  private async tx<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreError('store is closed');
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
  async findBySendId(sendId: Uint8Array): Promise<number | undefined> {
    const r = await this.q('SELECT iid FROM send_ids WHERE send_id = $1', [buf(sendId)]);
    return r.rows[0] ? num(r.rows[0].iid) : undefined;
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
  async queueEntryInfo(iid: number, msgId: number): Promise<{ deliveredBytes: number; expiryMinute: number } | undefined> {
    const r = await this.q('SELECT octet_length(delivered) AS n, expiry_minute FROM queue WHERE iid = $1 AND msg_id = $2', [iid, msgId]);
    return r.rows[0] ? { deliveredBytes: num(r.rows[0].n), expiryMinute: num(r.rows[0].expiry_minute) } : undefined;
  }
  async queueRange(iid: number, afterMsgId: number, uptoMsgId: number, limit: number): Promise<QueueEntry[]> {
    if (limit <= 0 || uptoMsgId <= afterMsgId) return [];
    const r = await this.q('SELECT msg_id, expiry_minute, delivered FROM queue WHERE iid = $1 AND msg_id > $2 AND msg_id <= $3 ORDER BY msg_id LIMIT $4',
      [iid, afterMsgId, Math.min(uptoMsgId, Number.MAX_SAFE_INTEGER), Math.min(limit, 1_000_000)]);
    return r.rows.map((row) => ({ msgId: num(row.msg_id), expiryMinute: num(row.expiry_minute), delivered: new Uint8Array(row.delivered as Buffer) }));
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
   * SENDs to one mailbox from this process go one after the other, in the order issued (a
   * client's pipelined SENDs keep their order); across processes the row lock orders them.
   */
  appendEnvelope(iid: number, req: AppendRequest): Promise<Appended> {
    const previous = this.appending.get(iid);
    const mine = previous ? previous.then(() => this.append(iid, req), () => this.append(iid, req)) : this.append(iid, req);
    const tail = mine.then(() => {}, () => {});
    this.appending.set(iid, tail);
    void tail.then(() => { if (this.appending.get(iid) === tail) this.appending.delete(iid); });
    return mine;
  }

  private append(iid: number, req: AppendRequest): Promise<Appended> {
    return this.tx(async (c) => {
      // The row lock orders the SENDs to one mailbox: each reads the ceiling the last one left.
      const r = await c.query('SELECT record, ceiling, envelopes, bytes FROM mailbox WHERE iid = $1 FOR UPDATE', [iid]);
      const row = r.rows[0];
      const record = row ? decodeRecord(iid, row.record as Buffer) : undefined;
      if (!record || !same(record.accessVerifier, req.accessVerifier)) throw new StoreConflictError('GONE');
      if (num(row.envelopes) + 1 > req.maxEnvelopes || num(row.bytes) + req.envelopeBytes > req.maxBytes) throw new StoreConflictError('QUOTA');
      const msgId = Math.max(1, num(row.ceiling));
      const delivered = req.seal(msgId, record.dk);
      await c.query('INSERT INTO queue (iid, msg_id, expiry_minute, delivered) VALUES ($1, $2, $3, $4)', [iid, msgId, req.expiryMinute, buf(delivered)]);
      await c.query('UPDATE mailbox SET ceiling = $2, envelopes = envelopes + 1, bytes = bytes + $3 WHERE iid = $1', [iid, msgId + 1, req.envelopeBytes]);
      return { msgId, delivered };
    });
  }

  dequeue(refs: readonly QueueRef[], ceiling: { iid: number; value: number } | null = null): Promise<void> {
    return this.tx(async (c) => {
      if (ceiling) await c.query('UPDATE mailbox SET ceiling = GREATEST(ceiling, $2) WHERE iid = $1', [ceiling.iid, ceiling.value]);
      if (refs.length === 0) return;
      // Only what is still there is removed and counted (another process may have removed some).
      const gone = await c.query(`DELETE FROM queue q USING unnest($1::bigint[], $2::bigint[]) AS r(iid, msg_id)
        WHERE q.iid = r.iid AND q.msg_id = r.msg_id RETURNING q.iid, octet_length(q.delivered) AS n`, [refs.map((r) => r.iid), refs.map((r) => r.msgId)]);
      const per = new Map<number, { n: number; bytes: number }>();
      for (const row of gone.rows) {
        const p = per.get(num(row.iid)) ?? { n: 0, bytes: 0 };
        p.n++;
        p.bytes += charge(num(row.n));
        per.set(num(row.iid), p);
      }
      for (const [iid, p] of [...per].sort((a, b) => a[0] - b[0])) {
        await c.query('UPDATE mailbox SET envelopes = GREATEST(0, envelopes - $2), bytes = GREATEST(0, bytes - $3) WHERE iid = $1', [iid, p.n, p.bytes]);
      }
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => {});
  }
}
