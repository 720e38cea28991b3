// Helpers shared by the command handlers.
import { ProtocolError, type RelayFrame } from '../wire/index.js';
import type { RelayContext } from './context.js';
import type { Maybe } from './crypto-lane.js';
import { errorSummary } from './log.js';
import { hexOf, type MailboxState } from './mailboxes.js';
import type { Session } from './session.js';
import { startWrite, StoreError } from './store.js';

export const ok = (): RelayFrame => ({ type: 'OK', corr: 0 });

/** The mailbox this connection authenticated for `readId`, else ERR AUTH (spec/protocol.md §5.3). */
export function requireAuth(session: Session, readId: Uint8Array): MailboxState {
  const hex = hexOf(readId);
  const state = session.auth.get(hex);
  if (state && state.live && state.readHex === hex) return state;
  if (state) {
    // Deleted or rotated away since this connection authenticated.
    session.forgetAuth(hex);
  }
  throw new ProtocolError('AUTH');
}

/**
 * Whether `session` may authenticate one more mailbox: ERR LIMIT past maxAuthPerConnection,
 * ERR BUSY past the relay-wide maxAuthTotal (spec/protocol.md §5.3, §8).
 */
export function checkAuthRoom(ctx: RelayContext, session: Session, readHex?: string): void {
  if (readHex !== undefined && session.auth.has(readHex)) return;
  if (session.auth.size >= ctx.config.maxAuthPerConnection) throw new ProtocolError('LIMIT', 'authenticated mailboxes');
  if (!ctx.budgets.auth.fits()) throw new ProtocolError('BUSY', 'relay-wide bound on authenticated mailboxes');
}

/** Records that `session` may read `state` (AUTH, CREATE). */
export function authorize(session: Session, state: MailboxState): void {
  session.addAuth(state.readHex, state);
}

/**
 * A store write failed: count it and answer INTERNAL (spec/protocol.md §7, §11.6). The disk
 * guard logs the episode once; a failure that is not the store's (a bug) is logged here.
 */
export function storeFailure(ctx: RelayContext, op: string, e: unknown): ProtocolError {
  ctx.metrics.storeWriteFailures.inc(op);
  if (!(e instanceof StoreError)) ctx.log.error('internal_error', { op, ...errorSummary(e) });
  return new ProtocolError('INTERNAL', 'store write failed');
}

/**
 * Runs a store write with the relay's bookkeeping: `pendingWrites` counts it until its
 * continuation has run (drain waits for zero, so every OK has been written by then).
 */
export function storeWrite<T, R>(ctx: RelayContext, start: () => Promise<T>, onDone: (v: T) => R, onFail: (e: unknown) => R): Promise<R> {
  ctx.pendingWrites++;
  return startWrite(start).then(
    (v) => { try { return onDone(v); } finally { ctx.pendingWrites--; } },
    (e: unknown) => { try { return onFail(e); } finally { ctx.pendingWrites--; } },
  );
}

/**
 * `f(value)` once `work` is done, keeping `state` in memory until then (worker threads): an
 * evicted state would be reloaded as a second copy with its own counters. Synchronous work
 * stays synchronous.
 */
export function thenPinned<T, R>(state: MailboxState | undefined, work: Maybe<T>, f: (v: T) => Maybe<R>): Maybe<R> {
  if (!(work instanceof Promise)) return f(work);
  if (!state) return work.then(f);
  state.pending++;
  return work.then((v) => { state.pending--; return f(v); }, (e: unknown) => { state.pending--; throw e; });
}

export function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < b.length; i++) acc |= b[i]!;
  return acc === 0;
}

/**
 * Clamps a requested ttl (0 = default) to the relay's bounds (spec/protocol.md §5.2); a closed
 * relay's to its policy's retention too (spec/admission.md §5.4), whatever else is configured.
 */
export function effectiveTtl(ctx: RelayContext, requested: number): number {
  const c = ctx.config;
  const ttl = requested === 0 ? c.defaultTtlSeconds : Math.min(c.maxTtlSeconds, Math.max(c.minTtlSeconds, requested));
  return ctx.admission === null ? ttl : Math.min(ttl, ctx.admission.retentionSeconds);
}

/** An envelope's time to live in its mailbox: the mailbox's, within a closed relay's retention as it is now (spec/admission.md §5.4). */
export function envelopeTtl(ctx: RelayContext, mailboxTtlSeconds: number): number {
  return ctx.admission === null ? mailboxTtlSeconds : Math.min(mailboxTtlSeconds, ctx.admission.retentionSeconds);
}

/** The minute an entry stored at `nowMs` for `ttlSeconds` expires in (rounded up: never early). */
export const expiryMinuteAfter = (nowMs: number, ttlSeconds: number): number => Math.ceil((nowMs + ttlSeconds * 1000) / 60_000);
