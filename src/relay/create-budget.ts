// The per-address budget for creating mailboxes (spec/protocol.md §5.2, §8): a token bucket per
// address group (an IPv4 address or an IPv6 /64), so that many connections from one address
// share one budget. In memory only; a group's bucket is forgotten once it has refilled.
import { TokenBucket } from './token-bucket.js';

/** Most address groups remembered at once; past it the least recently used are forgotten. */
const MAX_GROUPS = 100_000;

export class CreateBudget {
  private readonly buckets = new Map<string, { bucket: TokenBucket; last: number }>(); // insertion order = LRU
  private readonly refillMs: number;

  constructor(private readonly perHour: number, private readonly burst: number) {
    this.refillMs = (burst / perHour) * 3_600_000;
  }

  /** Takes one CREATE from `group`'s budget, if it has one left. */
  take(group: string, nowMs: number): boolean {
    let e = this.buckets.get(group);
    if (e) this.buckets.delete(group);
    else e = { bucket: new TokenBucket(this.perHour / 3_600, this.burst, nowMs), last: nowMs };
    e.last = nowMs;
    this.buckets.set(group, e);
    this.prune(nowMs);
    return e.bucket.take(nowMs);
  }

  get size(): number { return this.buckets.size; }

  private prune(nowMs: number): void {
    for (const [group, e] of this.buckets) {
      if (this.buckets.size <= MAX_GROUPS && nowMs - e.last < this.refillMs) return;
      this.buckets.delete(group);
    }
  }
}
