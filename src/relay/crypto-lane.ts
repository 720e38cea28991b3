// Where the relay's crypto runs (spec/protocol.md §12): on the event loop (cryptoWorkers = 0),
// or on a CryptoPool of worker threads. With a pool, the work submitted during one turn of
// the event loop goes out as one batch per operation (flushed by setImmediate, after that
// turn's I/O callbacks), and results come back in submission order, across batches and
// operations: the commands waiting on them continue in the order they arrived, whatever the
// pool's size. Inline, each call returns its result (or throws) at once.
import { CryptoError, CryptoPool, type BackendName, type PoolIn, type PoolOut, type PoolResult } from '../crypto/index.js';
import { DIRECT, type DirectOpName } from '../crypto/pool/ops.js';
import { ProtocolError } from '../wire/index.js';

import type { Maybe } from './maybe.js';

export { andThen, type Maybe } from './maybe.js';

/** Items queued or running in the pool beyond which commands that need crypto answer BUSY. */
export const MAX_QUEUED_CRYPTO = 65_536;

interface Job {
  readonly op: DirectOpName;
  readonly item: unknown;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  /** Set when its batch is back; handed over once every earlier job's is. */
  outcome?: PoolResult<unknown> | { readonly ok: false; readonly failed: unknown };
}

export interface RelayCryptoStats { readonly workers: number; readonly queued: number; readonly batches: number; readonly items: number }

export class RelayCrypto {
  private pending: Job[] = [];
  private scheduled = false;
  /** Settles once every earlier turn's results have been handed back. */
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private batches = 0;
  private items = 0;

  private constructor(private readonly pool: CryptoPool | null) {}

  /** `workers` 0 runs everything inline. */
  static async create(workers: number, backend?: BackendName): Promise<RelayCrypto> {
    if (workers === 0) return new RelayCrypto(null);
    return new RelayCrypto(await CryptoPool.create({ size: workers, ...(backend ? { backend } : {}) }));
  }

  get workers(): number { return this.pool?.size ?? 0; }
  /** Work submitted and not yet handed back (drain waits for zero). */
  get busy(): number { return this.queued; }

  stats(): RelayCryptoStats {
    return { workers: this.workers, queued: this.queued, batches: this.batches, items: this.items };
  }

  /** Runs `op` on `item`: the result now (inline), or a promise settled in submission order. */
  run<K extends DirectOpName>(op: K, item: PoolIn<K>): Maybe<PoolOut<K>> {
    const pool = this.pool;
    if (!pool) return (DIRECT[op] as (i: PoolIn<K>) => PoolOut<K>)(item);
    if (pool.isClosed) throw new ProtocolError('BUSY', 'relay stopping');
    if (this.queued >= MAX_QUEUED_CRYPTO) throw new ProtocolError('BUSY', 'crypto queue full');
    this.queued++;
    return new Promise<PoolOut<K>>((resolve, reject) => {
      this.pending.push({ op, item, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const jobs = this.pending;
    this.pending = [];
    if (jobs.length === 0) return;
    const byOp = new Map<DirectOpName, Job[]>();
    for (const j of jobs) {
      const list = byOp.get(j.op);
      if (list) list.push(j);
      else byOp.set(j.op, [j]);
    }
    this.batches += byOp.size;
    this.items += jobs.length;
    const batches = [...byOp].map(([op, list]) =>
      this.pool!.run(op, list.map((j) => j.item) as PoolIn<typeof op>[]).then(
        (results) => { list.forEach((j, i) => { j.outcome = results[i]!; }); },
        (failed: unknown) => { for (const j of list) j.outcome = { ok: false, failed }; },
      ));
    // After every earlier turn: a fast batch never overtakes a slow one.
    this.tail = Promise.all([this.tail, ...batches]).then(() => {
      this.queued -= jobs.length;
      for (const j of jobs) {
        const o = j.outcome!;
        if (o.ok) j.resolve(o.value);
        else if ('failed' in o) j.reject(o.failed);
        else j.reject(o.error === 'INTERNAL' ? new Error(`${j.op} failed in a worker`) : new CryptoError(o.error, `${j.op} failed in a worker`));
      }
    });
  }

  /** Stops the workers; work still queued fails (its commands answer INTERNAL). */
  async close(): Promise<void> {
    await this.pool?.close();
  }
}
