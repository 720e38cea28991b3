// Batches for a networked store (spec/scale-out.md §6): requests that arrive while a batch is
// out wait, and go together in the next one, in arrival order, at most `maxItems` of them and
// `maxBytes` of payload (one bigger request goes alone). One batch at a time: a request never
// overtakes an earlier one, so a client's pipelined commands keep their order. For writes this
// is group commit (one transaction, one log flush for the batch); for lookups, one query.

export interface BatchBounds { readonly maxItems: number; readonly maxBytes: number }

interface Waiting<I, O> { readonly item: I; readonly bytes: number; resolve(o: O): void; reject(e: unknown): void }

export class BatchQueue<I, O> {
  private readonly waiting: Array<Waiting<I, O>> = [];
  private running = false;
  private idleWaiters: Array<() => void> = [];

  /**
   * `run` serves one batch (a write: in one transaction) and resolves with one outcome per
   * request, in order: a value, or an Error for a request refused alone. If it rejects, every
   * request of the batch rejects with that error (a write: nothing of the batch was stored).
   */
  constructor(private readonly run: (items: readonly I[]) => Promise<ReadonlyArray<O | Error>>, private readonly bounds: BatchBounds) {}

  submit(item: I, bytes = 0): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.waiting.push({ item, bytes, resolve, reject });
      if (!this.running) this.next();
    });
  }

  /** Requests waiting for a batch (metrics, tests). */
  get backlog(): number { return this.waiting.length; }

  /** Resolves once every request submitted so far has its outcome (a store closing drains). */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private next(): void {
    const w = this.waiting;
    if (w.length === 0) {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of waiters) f();
      return;
    }
    let n = 0, bytes = 0;
    while (n < w.length && n < this.bounds.maxItems && (n === 0 || bytes + w[n]!.bytes <= this.bounds.maxBytes)) bytes += w[n++]!.bytes;
    const batch = w.splice(0, n);
    this.running = true;
    let done: Promise<ReadonlyArray<O | Error>>;
    try {
      done = this.run(batch.map((x) => x.item));
    } catch (e) {
      done = Promise.reject(e);
    }
    done.then(
      (outcomes) => batch.forEach((x, i) => {
        const o = outcomes[i];
        if (o instanceof Error) x.reject(o);
        else x.resolve(o as O);
      }),
      (e: unknown) => { for (const x of batch) x.reject(e); },
    ).finally(() => this.next());
  }
}
