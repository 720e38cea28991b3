// The relay-wide bound on bytes waiting in connections' send buffers (spec/protocol.md §7, §8):
// maxBufferedBytes bounds one connection, maxBufferedBytesTotal all of them. Each connection
// reports its buffered amount when it writes, when its socket drains and on the connection
// timer; when the sum passes the bound, the connections holding the most are closed as slow
// readers (4005) and their sockets cut at once (a client that does not read would not read the
// close frame either), until the sum is back to three quarters of the bound. A well-behaved
// client's buffer is near zero, so it is never the one shed.

/** What the budget needs of a connection. */
export interface OutboundHolder {
  /** Closes the connection as a slow reader and frees its buffers now. */
  shed(): void;
}

const SHED_TO = 0.75;

export class OutboundBudget {
  private total = 0;
  private readonly held = new Map<OutboundHolder, number>();
  private shedding = false;

  constructor(readonly cap: number, private readonly onShed: (n: number) => void = () => {}) {}

  get bytes(): number { return this.total; }

  /** `holder` now has `bytes` buffered. Sheds the largest holders if the sum is over the bound. */
  report(holder: OutboundHolder, bytes: number): void {
    const was = this.held.get(holder) ?? 0;
    if (bytes === was) return;
    this.total += bytes - was;
    if (bytes > 0) this.held.set(holder, bytes);
    else this.held.delete(holder);
    if (this.total > this.cap) this.shed();
  }

  /** The holder is gone. */
  release(holder: OutboundHolder): void {
    this.report(holder, 0);
  }

  private shed(): void {
    if (this.shedding) return; // shed() closes holders, which report 0 while we iterate
    this.shedding = true;
    try {
      const largest = [...this.held].sort((a, b) => b[1] - a[1]);
      let n = 0;
      for (const [holder] of largest) {
        if (this.total <= this.cap * SHED_TO) break;
        this.release(holder);
        holder.shed();
        n++;
      }
      if (n > 0) this.onShed(n);
    } finally {
      this.shedding = false;
    }
  }
}
