// CryptoPool: bulk crypto on worker threads with a batch API (DESIGN "Crypto core").
//
// - A batch is split into chunks (about four a worker, at least 8 items each, at most
//   `maxChunk`); workers pull the next chunk as they finish one (two in hand each). Each
//   chunk is packed into ONE fresh ArrayBuffer that postMessage transfers (no copy), and the
//   worker transfers its packed results back. One item alone costs a round trip (~100 µs
//   here); 16 or more packed together cost under 1 µs an item. Batch and pack.
// - Results come back in the order of the items. An item that fails gets `{ ok: false, error }`
//   in its slot; the other items of its batch are unaffected.
// - At most `maxQueue` batches are admitted at once (queued or running). Further calls wait,
//   in order, until one completes: back-pressure that a producer feels as a slower await.
//   `room()` resolves when a batch could be admitted without waiting.
// - `close()` rejects every batch not yet completed, and every caller still waiting, with a
//   CryptoPoolError('POOL_CLOSED'), and terminates the workers.
// - `size: 0` runs everything on the calling thread with the same API (and in browsers,
//   where there are no worker threads). Idle workers are unref'd: a forgotten pool does not
//   keep the process alive, but close() it anyway.
//
// Decoded results are views into their chunk's result buffer: they share one ArrayBuffer.
import type { Worker } from 'node:worker_threads';
import type { BackendName } from '../backend.js';
import { getBackend, withBackend } from '../primitives.js';
import { packFields, unpackFields } from './codec.js';
import { OPS, errorStatus, isPoolOp, statusCode, type PoolIn, type PoolOpName, type PoolOut, type PoolResult } from './ops.js';
import { CodedError, codedGuard } from '../../coded-error.js';
import { execPacked } from './exec.js';
import { loadThreads } from './threads.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

export type CryptoPoolErrorCode = 'POOL_CLOSED' | 'WORKER_FAILED' | 'INVALID_ARGUMENT';

/** A failure of a whole batch (never of one item: those are result slots). */
export class CryptoPoolError extends CodedError<CryptoPoolErrorCode> {}
export const isCryptoPoolError = codedGuard(CryptoPoolError);

export interface CryptoPoolOptions {
  /** Worker threads; 0 runs inline on the calling thread. Default: os.availableParallelism(). */
  readonly size?: number;
  /** Batches admitted at once (queued or running) before callers wait. Default 64. */
  readonly maxQueue?: number;
  /** Crypto backend the workers use. Default: the calling thread's current backend. */
  readonly backend?: BackendName;
  /** Most items in one chunk sent to one worker. Default 256. */
  readonly maxChunk?: number;
}

export interface CryptoPoolStats {
  readonly size: number;
  readonly backend: BackendName;
  readonly maxQueue: number;
  /** Batches admitted and not yet completed. */
  readonly inFlight: number;
  /** Callers waiting for admission. */
  readonly waiting: number;
  /** The most batches ever in flight at once (never above maxQueue). */
  readonly peakInFlight: number;
  readonly batches: number;
  readonly items: number;
  readonly chunks: number;
}

// Chunks each worker may hold at once: one running, one waiting in its port, so a worker
// never idles for a round trip between chunks.
const PIPELINE_DEPTH = 2;
const DEFAULT_MAX_QUEUE = 64;
const DEFAULT_MAX_CHUNK = 256;
const CHUNKS_PER_WORKER = 4;
const MIN_CHUNK = 8;

interface Chunk {
  readonly id: number;
  readonly op: PoolOpName;
  buf: ArrayBuffer | null;
  readonly done: (buf: ArrayBuffer) => void;
  readonly fail: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  readonly outstanding: Map<number, Chunk>;
  alive: boolean;
}

type WorkerCtor = typeof Worker;


function checkInt(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new CryptoPoolError('INVALID_ARGUMENT', `${name} must be an integer in [${min}, ${max}]`);
  }
  return v;
}

export class CryptoPool {
  readonly size: number;
  readonly backend: BackendName;
  readonly maxQueue: number;
  readonly maxChunk: number;

  private readonly slots: Slot[] = [];
  private readonly queue: Chunk[] = [];
  private queueHead = 0;
  private nextId = 1;
  private inFlight = 0;
  private peakInFlight = 0;
  private batches = 0;
  private items = 0;
  private chunks = 0;
  private readonly waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private roomWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private readonly pendingFails = new Set<(e: Error) => void>();
  private closed = false;
  private closing: Promise<void> | null = null;
  private WorkerClass: WorkerCtor | null = null;
  private readonly workerUrl: URL = new URL('./worker.js', import.meta.url);

  private constructor(size: number, backend: BackendName, maxQueue: number, maxChunk: number) {
    this.size = size;
    this.backend = backend;
    this.maxQueue = maxQueue;
    this.maxChunk = maxChunk;
  }

  /** Starts the workers and resolves once each has loaded the crypto core. */
  static async create(options: CryptoPoolOptions = {}): Promise<CryptoPool> {
    const threads = await loadThreads();
    const defaultSize = threads?.parallelism ?? 0;
    const size = checkInt(options.size ?? defaultSize, 'size', 0, 256);
    const maxQueue = checkInt(options.maxQueue ?? DEFAULT_MAX_QUEUE, 'maxQueue', 1, 1 << 20);
    const maxChunk = checkInt(options.maxChunk ?? DEFAULT_MAX_CHUNK, 'maxChunk', 1, 1 << 20);
    const backend = options.backend ?? getBackend();
    // Fails early (BACKEND_UNAVAILABLE) for a backend this platform lacks.
    withBackend(backend, () => undefined);
    const pool = new CryptoPool(size, backend, maxQueue, maxChunk);
    if (size > 0) {
      if (!threads) throw new CryptoPoolError('INVALID_ARGUMENT', 'worker threads need Node; use size 0');
      pool.WorkerClass = threads.Worker;
      try {
        await Promise.all(Array.from({ length: size }, () => pool.spawn()));
      } catch (e) {
        await pool.close().catch(() => undefined);
        throw e;
      }
    }
    return pool;
  }

  // ---- batch API ------------------------------------------------------------------------

  /** Seals each item (spec/crypto.md §9); a slot holds the envelope or an error code. */
  sealEnvelopes(items: readonly PoolIn<'sealEnvelope'>[]): Promise<PoolResult<PoolOut<'sealEnvelope'>>[]> {
    return this.run('sealEnvelope', items);
  }
  /** Opens each item; DECRYPT_FAILED or BAD_PADDING in the slot of an envelope that does not open. */
  openEnvelopes(items: readonly PoolIn<'openEnvelope'>[]): Promise<PoolResult<PoolOut<'openEnvelope'>>[]> {
    return this.run('openEnvelope', items);
  }
  /** RFC 8032 strict verification of each item: `{ ok: true, value: false }` for a bad signature. */
  verifyEd25519(items: readonly PoolIn<'verifyEd25519'>[]): Promise<PoolResult<PoolOut<'verifyEd25519'>>[]> {
    return this.run('verifyEd25519', items);
  }

  /** Runs `op` over `items`; resolves with one result per item, in order. */
  async run<K extends PoolOpName>(op: K, items: readonly PoolIn<K>[]): Promise<PoolResult<PoolOut<K>>[]> {
    if (!isPoolOp(op)) throw new CryptoPoolError('INVALID_ARGUMENT', `unknown pool operation ${String(op)}`);
    if (!Array.isArray(items)) throw new CryptoPoolError('INVALID_ARGUMENT', 'items must be an array');
    if (items.length === 0) { this.assertOpen(); return []; }
    await this.acquire();
    this.assertOpen(); // close() may have run while this call waited for its turn
    this.batches++;
    this.items += items.length;
    const def = OPS[op];
    // Items that cannot even be encoded (wrong types) fail in their slot here.
    const encoded: (Uint8Array[] | number)[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      try { encoded[i] = def.encode(items[i]!); } catch (e) { encoded[i] = errorStatus(e); }
    }
    if (this.size === 0) {
      try {
        return withBackend(this.backend, () => encoded.map((enc): PoolResult<PoolOut<K>> => {
          if (typeof enc === 'number') return { ok: false, error: statusCode(enc) };
          try { return { ok: true, value: def.decode(def.exec(enc)) }; } catch (e) { return { ok: false, error: statusCode(errorStatus(e)) }; }
        }));
      } finally { this.release(); }
    }
    return this.dispatchBatch(op, encoded);
  }

  /**
   * Runs a batch already packed with `packBatch` and resolves with its packed results (read
   * them with `unpackResults`). The buffer is transferred to one worker, so it is detached
   * (byteLength 0) once the call has dispatched it.
   */
  async runPacked(op: PoolOpName, buffer: ArrayBuffer): Promise<ArrayBuffer> {
    if (!isPoolOp(op)) throw new CryptoPoolError('INVALID_ARGUMENT', `unknown pool operation ${String(op)}`);
    if (!(buffer instanceof ArrayBuffer)) throw new CryptoPoolError('INVALID_ARGUMENT', 'buffer must be an ArrayBuffer');
    await this.acquire();
    this.assertOpen();
    this.batches++;
    if (this.size === 0) {
      try { return withBackend(this.backend, () => execPacked(op, buffer)); } finally { this.release(); }
    }
    return new Promise<ArrayBuffer>((resolve, reject) => {
      let settled = false;
      const fail = (e: Error): void => { if (!settled) { settled = true; this.pendingFails.delete(fail); this.release(); reject(e); } };
      this.pendingFails.add(fail);
      this.enqueue({
        id: this.nextId++, op, buf: buffer, fail,
        done: (out) => { if (!settled) { settled = true; this.pendingFails.delete(fail); this.release(); resolve(out); } },
      });
      this.pump();
    });
  }

  /** Resolves when a batch would be admitted without waiting (for producers that pace themselves). */
  room(): Promise<void> {
    if (this.closed) return Promise.reject(new CryptoPoolError('POOL_CLOSED', 'the pool is closed'));
    if (this.inFlight < this.maxQueue) return Promise.resolve();
    return new Promise((resolve, reject) => this.roomWaiters.push({ resolve, reject }));
  }

  stats(): CryptoPoolStats {
    return {
      size: this.size, backend: this.backend, maxQueue: this.maxQueue, inFlight: this.inFlight,
      waiting: this.waiters.length, peakInFlight: this.peakInFlight, batches: this.batches,
      items: this.items, chunks: this.chunks,
    };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Rejects all pending batches and waiting callers (POOL_CLOSED) and terminates the workers. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    const err = (): CryptoPoolError => new CryptoPoolError('POOL_CLOSED', 'the pool was closed before this batch completed');
    for (const w of this.waiters.splice(0)) w.reject(err());
    for (const w of this.roomWaiters.splice(0)) w.reject(err());
    for (const fail of [...this.pendingFails]) fail(err());
    this.queue.length = 0;
    this.queueHead = 0;
    const slots = this.slots.splice(0);
    this.closing = Promise.all(slots.map(async (s) => {
      s.alive = false;
      s.outstanding.clear();
      await s.worker.terminate();
    })).then(() => undefined);
    return this.closing;
  }

  // ---- admission (back-pressure) -------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new CryptoPoolError('POOL_CLOSED', 'the pool is closed');
  }

  private acquire(): Promise<void> {
    this.assertOpen();
    if (this.inFlight < this.maxQueue && this.waiters.length === 0) {
      this.inFlight++;
      if (this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
      return Promise.resolve();
    }
    // The slot is handed over by release(), so inFlight never exceeds maxQueue.
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) { next.resolve(); return; }
    this.inFlight--;
    if (this.roomWaiters.length > 0) {
      const ws = this.roomWaiters;
      this.roomWaiters = [];
      for (const w of ws) w.resolve();
    }
  }

  // ---- dispatch --------------------------------------------------------------------------

  private dispatchBatch<K extends PoolOpName>(op: K, encoded: (Uint8Array[] | number)[]): Promise<PoolResult<PoolOut<K>>[]> {
    const def = OPS[op];
    const n = encoded.length;
    // About CHUNKS_PER_WORKER chunks a worker (so that a worker slowed by something else does
    // not hold the whole batch back: the others pull the rest), never below MIN_CHUNK items, and
    // at least one chunk per worker when there are enough items.
    const per = Math.min(this.maxChunk, Math.ceil(n / this.size), Math.max(MIN_CHUNK, Math.ceil(n / (this.size * CHUNKS_PER_WORKER))));
    const results: PoolResult<PoolOut<K>>[] = new Array(n);
    return new Promise((resolve, reject) => {
      let pending = Math.ceil(n / per);
      let settled = false;
      const fail = (e: Error): void => {
        if (settled) return;
        settled = true;
        this.pendingFails.delete(fail);
        this.release();
        reject(e);
      };
      this.pendingFails.add(fail);
      for (let start = 0; start < n; start += per) {
        const end = Math.min(n, start + per);
        const buf = packFields(encoded.slice(start, end), def.arity);
        this.enqueue({
          id: this.nextId++, op, buf, fail,
          done: (out) => {
            if (settled) return;
            try {
              const view = unpackFields(out);
              if (view.count !== end - start) throw new CryptoPoolError('WORKER_FAILED', 'a worker returned the wrong number of results');
              for (let i = 0; i < view.count; i++) {
                const s = view.status(i);
                results[start + i] = s === 0 ? { ok: true, value: def.decode(view.fields(i)) } : { ok: false, error: statusCode(s) };
              }
            } catch (e) {
              fail(e instanceof Error ? e : new Error(String(e)));
              return;
            }
            if (--pending === 0) {
              settled = true;
              this.pendingFails.delete(fail);
              this.release();
              resolve(results);
            }
          },
        });
      }
      this.pump();
    });
  }

  private enqueue(chunk: Chunk): void {
    this.chunks++;
    this.queue.push(chunk);
  }

  private pump(): void {
    while (this.queueHead < this.queue.length) {
      let best: Slot | undefined;
      for (const s of this.slots) {
        if (s.alive && s.outstanding.size < PIPELINE_DEPTH && (!best || s.outstanding.size < best.outstanding.size)) best = s;
      }
      if (!best) break;
      const chunk = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined as unknown as Chunk;
      const buf = chunk.buf!;
      chunk.buf = null;
      if (best.outstanding.size === 0) best.worker.ref();
      best.outstanding.set(chunk.id, chunk);
      const req: WorkerRequest = { id: chunk.id, op: chunk.op, buf };
      best.worker.postMessage(req, [buf]);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  // ---- workers ---------------------------------------------------------------------------

  private spawn(): Promise<void> {
    const W = this.WorkerClass!;
    // Workers inherit the parent's execArgv, except that --input-type (valid only with --eval)
    // would stop them: then pass the rest explicitly, and nothing if Node refuses one of those
    // (it refuses process-wide flags such as V8 options when they are given explicitly).
    const workerData = { backend: this.backend };
    let worker: Worker;
    if (!process.execArgv.some((a) => a.startsWith('--input-type'))) {
      worker = new W(this.workerUrl, { workerData });
    } else {
      try {
        worker = new W(this.workerUrl, { workerData, execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')) });
      } catch (e) {
        if ((e as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
        worker = new W(this.workerUrl, { workerData, execArgv: [] });
      }
    }
    const slot: Slot = { worker, outstanding: new Map(), alive: false };
    this.slots.push(slot);
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (msg: WorkerReply) => {
        if ('ready' in msg) {
          ready = true;
          slot.alive = true;
          worker.unref();
          resolve();
          this.pump();
          return;
        }
        const chunk = slot.outstanding.get(msg.id);
        if (!chunk) return;
        slot.outstanding.delete(msg.id);
        if (slot.outstanding.size === 0) worker.unref();
        if ('buf' in msg) chunk.done(msg.buf);
        else chunk.fail(new CryptoPoolError('WORKER_FAILED', msg.error));
        this.pump();
      });
      const lost = (why: string): void => {
        if (!slot.alive && ready) return;
        slot.alive = false;
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots.splice(i, 1);
        const chunks = [...slot.outstanding.values()];
        slot.outstanding.clear();
        for (const c of chunks) c.fail(new CryptoPoolError('WORKER_FAILED', why));
        if (!ready) { ready = true; reject(new CryptoPoolError('WORKER_FAILED', why)); return; }
        if (!this.closed) {
          // Replace it; its work of the moment was failed above, the queue carries on.
          this.spawn().catch(() => undefined);
        }
      };
      worker.on('error', (e: Error) => lost(`worker error: ${e.message}`));
      worker.on('exit', (code) => { if (!this.closed) lost(`worker exited with code ${code}`); });
    });
  }
}

// ---- packing for callers that build their own batches -------------------------------------

/** Packs `items` for `runPacked`. Throws (CryptoError) for an item of the wrong shape. */
export function packBatch<K extends PoolOpName>(op: K, items: readonly PoolIn<K>[]): ArrayBuffer {
  if (!isPoolOp(op)) throw new CryptoPoolError('INVALID_ARGUMENT', `unknown pool operation ${String(op)}`);
  const def = OPS[op];
  return packFields(items.map((it) => def.encode(it)), def.arity);
}

/** Reads the packed results of `runPacked`, in item order. */
export function unpackResults<K extends PoolOpName>(op: K, buffer: ArrayBuffer): PoolResult<PoolOut<K>>[] {
  if (!isPoolOp(op)) throw new CryptoPoolError('INVALID_ARGUMENT', `unknown pool operation ${String(op)}`);
  const def = OPS[op];
  const view = unpackFields(buffer);
  const out: PoolResult<PoolOut<K>>[] = new Array(view.count);
  for (let i = 0; i < view.count; i++) {
    const s = view.status(i);
    out[i] = s === 0 ? { ok: true, value: def.decode(view.fields(i)) } : { ok: false, error: statusCode(s) };
  }
  return out;
}
