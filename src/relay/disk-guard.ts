// Free space and write health of the store (spec/protocol.md §11.6). The relay keeps a reserve
// of free disk space that only space-freeing writes (ACK, DEL, expiry) may use: a write that
// adds data is refused with ERR INTERNAL before it reaches the store once the free space,
// measured with statfs every second and estimated in between from the bytes admitted, would
// fall below `diskReserveBytes`. So LMDB does not run out of space in the middle of a commit,
// and ACK and DEL, whose copy-on-write pages need a little space too, keep working.
//
// An episode starts with the first refused or failed write and ends with the first write that
// commits while the space is back above the reserve: one log line and one metric each way,
// however many writes fail in between (logs carry no ids, only sizes).
import { statfs, statfsSync } from 'node:fs';
import type { Logger } from './log.js';
import { errorSummary } from './log.js';

/** How often free space is measured (more often during an episode is not needed: a failure measures at once). */
export const DISK_POLL_MS = 1_000;
/** Bytes charged per admitted write beyond its value: LMDB pages copied on write, index entries. */
const PER_WRITE_OVERHEAD = 8 * 1024;
/** Writes resume only above the reserve plus this margin, so that an episode does not flap. */
const resumeMargin = (reserve: number): number => Math.max(1024 * 1024, reserve / 4);

export interface DiskGuardMetrics {
  writable(v: 0 | 1): void;
  episode(): void;
}

export class DiskGuard {
  /** Free bytes at the last statfs, less what was admitted since. */
  private estimate = Number.POSITIVE_INFINITY;
  /** Charged to writes admitted and not yet committed: statfs does not see them yet. */
  private inFlight = 0;
  private measuring = false;
  private episode: 'low_space' | 'commit_failed' | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly path: string, private readonly reserveBytes: number, private readonly log: Logger, private readonly metrics: DiskGuardMetrics) {
    this.estimate = this.freeBytesSync();
    this.timer = setInterval(() => this.measure(), DISK_POLL_MS);
    this.timer.unref();
    this.metrics.writable(1);
    if (this.estimate < this.reserveBytes) this.begin('low_space');
  }

  /**
   * May a write that adds about `bytes` to the store go ahead? Null: refuse it (INTERNAL).
   * Otherwise the bytes charged, to hand back to `settled` once the write is done.
   */
  admit(bytes: number): number | null {
    const cost = bytes + PER_WRITE_OVERHEAD;
    if (this.episode === 'low_space' || this.estimate - cost < this.reserveBytes) {
      this.begin('low_space');
      this.measure();
      return null;
    }
    this.estimate -= cost;
    this.inFlight += cost;
    return cost;
  }

  /** A write is done: `charged` from admit (0 for writes that free space), `error` if it failed. */
  settled(charged: number, error?: unknown): void {
    this.inFlight -= charged;
    if (error !== undefined) {
      this.begin('commit_failed', error);
      this.measure();
    } else if (this.episode === 'commit_failed') {
      this.end();
    }
  }

  get writable(): boolean { return this.episode === null; }

  close(): void {
    clearInterval(this.timer);
  }

  private begin(reason: 'low_space' | 'commit_failed', e?: unknown): void {
    if (this.episode !== null) return;
    this.episode = reason;
    this.metrics.writable(0);
    this.metrics.episode();
    this.log.error('store_write_failed', {
      reason, freeBytes: Number.isFinite(this.estimate) ? Math.max(0, this.estimate) : null, reserveBytes: this.reserveBytes,
      ...(e === undefined ? {} : errorSummary(e)),
    });
  }

  private end(): void {
    const was = this.episode;
    this.episode = null;
    this.metrics.writable(1);
    this.log.warn('store_write_recovered', { after: was, freeBytes: Number.isFinite(this.estimate) ? this.estimate : null });
  }

  private measure(): void {
    if (this.measuring) return;
    this.measuring = true;
    statfs(this.path, (err, s) => {
      this.measuring = false;
      if (err) return; // keep the estimate; the next tick tries again
      this.estimate = s.bavail * s.bsize - this.inFlight;
      // Space is back: the episode ends (a commit failure with space to spare ends at the next commit).
      if (this.episode === 'low_space' && this.estimate >= this.reserveBytes + resumeMargin(this.reserveBytes)) this.end();
    });
  }

  private freeBytesSync(): number {
    try {
      const s = statfsSync(this.path);
      return s.bavail * s.bsize;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }
}
