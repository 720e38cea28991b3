// The process's limit on open files (RLIMIT_NOFILE), which bounds connections: every socket is
// a descriptor, and so are the store, the log file, worker threads and the metrics listener.
// Node has no getrlimit; on Linux the soft limit is in /proc/self/limits. Elsewhere: unknown.
import { readFileSync } from 'node:fs';

/** Descriptors kept back from connections: LMDB, logs, workers, metrics, accept bursts. */
export const FD_HEADROOM = 256;

/** The soft limit on open files, or null where it cannot be read. */
export function readFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return null;
    return m[1] === 'unlimited' ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/** maxConnections, lowered to fit below the file limit (spec/protocol.md §8). */
export function connectionsWithinFileLimit(maxConnections: number, fileLimit: number | null): number {
  if (fileLimit === null) return maxConnections;
  return Math.max(1, Math.min(maxConnections, fileLimit - FD_HEADROOM));
}
