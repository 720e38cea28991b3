// When a forwarded SEND's answer leaves (spec/federation.md §5): an OK leaves after the
// destination's durable commit, so a refusal or a DEDUPED that left at once would tell the
// forwarding relay, by its timing, what the 18 sealed bytes hide. Refusals are held until the
// next OK's commit releases them, or, when no commit comes, for about the time a commit has
// been taking (a moving average, with jitter), whichever is first.

/** The first guess of a commit's time, before any OK has been measured. */
const INITIAL_COMMIT_MS = 2;
/** The average's weight of one new measure (1/16). */
const EWMA_WEIGHT = 1 / 16;
/** No refusal waits longer than this, whatever the average says. */
const MAX_HOLD_MS = 1_000;

export class AnswerPacing {
  private held: Array<() => void> = [];
  private typicalMs = INITIAL_COMMIT_MS;
  private timer: ReturnType<typeof setTimeout> | null = null;

  /** An OK committed `ms` after its request came in: it releases every refusal held meanwhile. */
  committed(ms: number): void {
    this.typicalMs += (Math.min(ms, MAX_HOLD_MS) - this.typicalMs) * EWMA_WEIGHT;
    this.release();
  }

  /** Resolves when the next commit releases it, or after about one commit time if none comes. */
  hold(): Promise<void> {
    return new Promise((resolve) => {
      this.held.push(resolve);
      if (this.timer === null) {
        this.timer = setTimeout(() => { this.timer = null; this.release(); }, this.typicalMs * (0.5 + Math.random()));
      }
    });
  }

  /** Lets every held refusal go (at each commit, and when the relay stops). */
  release(): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    const held = this.held;
    this.held = [];
    for (const r of held) r();
  }
}
