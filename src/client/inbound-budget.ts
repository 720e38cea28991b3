// The bound on inbound work (spec/client.md §6.4): envelopes received and not yet finished
// (committed and their ACK sent, or dropped, or given up) are counted per connection and in
// total. At the soft cap the connection stops reading, so TCP back-pressure reaches the relay
// (an honest relay's delivery window does the rest); below half of it, reading resumes. A
// relay that still pushes past the hard cap (a platform that cannot pause, or the pushes that
// arrive while a request's answer is awaited) is dropped: what it pushed and was not yet
// acknowledged comes again after the reconnect (§9.2).
import type { RelayConnection } from './connection.js';

/** Unfinished envelopes per reading connection before it stops reading. */
export const INBOUND_PER_CONNECTION = 256;
/** Unfinished envelopes over all connections before the one receiving stops reading. */
export const INBOUND_TOTAL = 4096;
/** Beyond this multiple of a cap, the connection is dropped. */
export const INBOUND_HARD_FACTOR = 4;

export class InboundBudget {
  private total = 0;
  private readonly counts = new Map<RelayConnection, number>();
  private readonly paused = new Set<RelayConnection>();

  constructor(private readonly perConnection = INBOUND_PER_CONNECTION, private readonly max = INBOUND_TOTAL) {}

  /** Unfinished envelopes in total (tests). */
  get size(): number { return this.total; }

  /** Counts one envelope in; false (and nothing counted) when the connection is past its hard cap. */
  take(conn: RelayConnection): boolean {
    const n = (this.counts.get(conn) ?? 0) + 1;
    if (n > this.perConnection * INBOUND_HARD_FACTOR || this.total >= this.max * INBOUND_HARD_FACTOR) return false;
    this.counts.set(conn, n);
    this.total++;
    if ((n >= this.perConnection || this.total >= this.max) && !this.paused.has(conn)) {
      this.paused.add(conn);
      conn.pauseReading();
    }
    return true;
  }

  /** One envelope of `conn` is finished; resumes connections back under half their caps. */
  release(conn: RelayConnection): void {
    const n = (this.counts.get(conn) ?? 1) - 1;
    if (n > 0) this.counts.set(conn, n);
    else this.counts.delete(conn);
    this.total = Math.max(0, this.total - 1);
    if (this.paused.size === 0 || this.total > this.max / 2) return;
    for (const c of this.paused) {
      if ((this.counts.get(c) ?? 0) <= this.perConnection / 2) {
        this.paused.delete(c);
        c.resumeReading();
      }
    }
  }
}
