// lmdb 3.x batches the writes of one event turn behind an internal "batch start" write whose
// commit promise it keeps to itself. When that transaction fails (disk full, EIO), the promise
// rejects with no handler, and Node ends the process on an unhandled rejection. Measured on a
// 4 MiB tmpfs: 274 unhandled rejections in 300 failed commits of 20 writes each (0 with
// `eventTurnBatching: false`, which would split our multi-write operations across
// transactions). Every write the relay issues is observed by LmdbStore; this guard absorbs
// only lmdb's own commit-failure rejections while a store is open (spec/protocol.md §11.6)
// and leaves every other unhandled rejection to Node's default (it rethrows it).

const LMDB_COMMIT_FAILED = 'Commit failed (see commitError for details)';

/** True for the error lmdb rejects every promise of a failed commit with. */
export function isLmdbCommitFailure(e: unknown): boolean {
  return e instanceof Error && e.message === LMDB_COMMIT_FAILED && 'commitError' in e;
}

const listeners = new Set<() => void>();
let absorbed = 0;

function onUnhandled(reason: unknown): void {
  if (isLmdbCommitFailure(reason)) {
    absorbed++;
    const ce = (reason as { commitError?: unknown }).commitError;
    if (ce instanceof Promise) ce.catch(() => {});
    for (const l of listeners) l();
    return;
  }
  // Someone else decides; alone, behave as Node does without a listener (--unhandled-rejections=throw).
  if (process.listenerCount('unhandledRejection') === 1) throw reason;
}

/**
 * Installs the guard while at least one holder needs it; `onFailure` hears of each absorbed
 * commit failure (the store then settles its flush waits). The returned function releases it.
 */
export function holdLmdbCommitGuard(onFailure: () => void): () => void {
  const holder = (): void => onFailure();
  if (listeners.size === 0) process.on('unhandledRejection', onUnhandled);
  listeners.add(holder);
  return () => {
    if (!listeners.delete(holder)) return;
    if (listeners.size === 0) process.off('unhandledRejection', onUnhandled);
  };
}

/** lmdb commit rejections absorbed so far (tests). */
export function absorbedCommitFailures(): number {
  return absorbed;
}
