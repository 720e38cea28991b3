// Fan-out (spec/client.md §9.4): one text to many contacts. The ratchet step is per contact and
// stays on the calling thread; sealing (HPKE + sender authenticator, spec/crypto.md §9), the
// costly part, goes to the crypto core's worker pool as ONE batch, whose results come back in
// the order of the recipients.
//
// - `sealToMany` is the pure part (the benchmark's fan-out suite measures it): a batch under
//   INLINE_BELOW recipients, or no pool, is sealed on the calling thread.
// - `FanoutSealer` holds the client's pool: its own (made at the first large fan-out, closed
//   with the client) or one the app shares (never closed here).
// - `planFanout` resolves the recipients: one slot per argument, each contact sealed once.
import {
  isCryptoError, isCryptoPoolError, sealEnvelope, CryptoPool,
  type PoolItemErrorCode, type PoolResult, type X25519KeyPair, type X25519PublicKey,
} from '../crypto/index.js';
import { ClientError } from './errors.js';
import type { ClientOptions } from './types.js';

/**
 * Below this many recipients a fan-out is sealed inline. Measured on the 2-core reference
 * machine (native backend, about 180 µs a seal): a pool batch costs a round trip of about
 * 150 µs, and the pool gives no chunk to a second worker under 2 × 8 items, so up to 12
 * recipients a pool of 1 or 2 workers is 7–25% slower than inline; at 16, 2 workers are
 * 1.3× faster (2.1 vs 2.7 ms), at 64, 1.4×.
 */
export const INLINE_BELOW = 16;
/** Most recipients of one fan-out (INVALID_ARGUMENT beyond). */
export const MAX_FANOUT = 10_000;

export interface SealTarget {
  readonly mailboxKey: X25519PublicKey;
  readonly body: Uint8Array;
}

/**
 * Seals each target's body from `sender` (spec/crypto.md §9), in one batch through `pool`,
 * or inline when there is no pool or fewer than `inlineBelow` targets. One result per
 * target, in order; a target that fails gets `{ ok: false, error }` and the others are
 * unaffected. A pool that is closed or loses a worker meanwhile costs time, not the batch:
 * it is sealed inline instead. Envelopes are copied out of the pool's result buffers, so
 * that keeping one (in the outbox) does not keep its whole chunk.
 */
export async function sealToMany(
  sender: X25519KeyPair, targets: readonly SealTarget[], pool: CryptoPool | null, inlineBelow = INLINE_BELOW,
): Promise<PoolResult<Uint8Array>[]> {
  if (!pool || pool.isClosed || targets.length < inlineBelow) return sealInline(sender, targets);
  let results: PoolResult<Uint8Array>[];
  try {
    results = await pool.sealEnvelopes(targets.map((t) => ({ mailboxKey: t.mailboxKey, sender, body: t.body })));
  } catch (e) {
    if (isCryptoPoolError(e, 'POOL_CLOSED') || isCryptoPoolError(e, 'WORKER_FAILED')) return sealInline(sender, targets);
    throw e;
  }
  return results.map((r) => (r.ok ? { ok: true, value: r.value.slice() } : r));
}

function sealInline(sender: X25519KeyPair, targets: readonly SealTarget[]): PoolResult<Uint8Array>[] {
  return targets.map((t): PoolResult<Uint8Array> => {
    try {
      return { ok: true, value: sealEnvelope({ mailboxKey: t.mailboxKey, sender, body: t.body }) };
    } catch (e) {
      const error: PoolItemErrorCode = isCryptoError(e) ? e.code : 'INTERNAL';
      return { ok: false, error };
    }
  });
}

export type FanoutPoolOptions = Pick<ClientOptions, 'cryptoWorkers' | 'cryptoPool'>;

/** INVALID_ARGUMENT for pool options out of range (checked at Client.open). */
export function checkFanoutOptions(opts: FanoutPoolOptions): void {
  const w = opts.cryptoWorkers;
  if (w !== undefined && (typeof w !== 'number' || !Number.isSafeInteger(w) || w < 0 || w > 256)) {
    throw new ClientError('INVALID_ARGUMENT', 'cryptoWorkers must be an integer in [0, 256]');
  }
  if (opts.cryptoPool !== undefined && !(opts.cryptoPool instanceof CryptoPool)) {
    throw new ClientError('INVALID_ARGUMENT', 'cryptoPool must be a CryptoPool');
  }
  if (w !== undefined && opts.cryptoPool !== undefined) {
    throw new ClientError('INVALID_ARGUMENT', 'give cryptoWorkers or cryptoPool, not both');
  }
}

/** The client's pool for fan-out: made lazily, so that a client that never fans out starts no thread. */
export class FanoutSealer {
  private own: Promise<CryptoPool | null> | null = null;
  private closed = false;

  constructor(private readonly opts: FanoutPoolOptions) {}

  /** `sealToMany` through the client's pool (inline while small, or if the pool cannot start). */
  async seal(sender: X25519KeyPair, targets: readonly SealTarget[]): Promise<PoolResult<Uint8Array>[]> {
    const pool = targets.length < INLINE_BELOW ? null : await this.pool();
    return sealToMany(sender, targets, pool);
  }

  /** Closes the client's own pool (a shared one stays open). */
  async close(): Promise<void> {
    this.closed = true;
    const own = this.own;
    if (own) await (await own)?.close();
  }

  private pool(): Promise<CryptoPool | null> {
    if (this.opts.cryptoPool) return Promise.resolve(this.opts.cryptoPool);
    if (this.closed || this.opts.cryptoWorkers === 0) return Promise.resolve(null);
    // A pool that cannot start (no worker threads here) is not retried: fan-out seals inline.
    this.own ??= CryptoPool.create(this.opts.cryptoWorkers === undefined ? {} : { size: this.opts.cryptoWorkers })
      .then((p) => (p.size === 0 ? p.close().then(() => null) : p), () => null);
    return this.own;
  }
}

/** One argument of a fan-out, resolved: the contact it names, or why it has none. */
export type PlannedRecipient<C> = { readonly contact: C } | { readonly error: ClientError };

/**
 * Resolves each argument with `find` (by id or name). A contact named twice is planned once:
 * `targets` lists the distinct contacts in the order they first appear, and `slots[i]` says
 * which target (or which error) argument i gets.
 */
export function planFanout<C extends { readonly id: string }>(
  args: readonly unknown[], find: (idOrName: string) => C | undefined,
): { targets: C[]; slots: Array<number | ClientError> } {
  const targets: C[] = [];
  const index = new Map<string, number>();
  const slots = args.map((a): number | ClientError => {
    const c = typeof a === 'string' ? find(a) : undefined;
    if (!c) return new ClientError('UNKNOWN_CONTACT', 'no such contact');
    let i = index.get(c.id);
    if (i === undefined) { i = targets.push(c) - 1; index.set(c.id, i); }
    return i;
  });
  return { targets, slots };
}
