// Exponential backoff with full jitter (spec/client.md §9): attempt n waits a random time in
// [base/2, min(max, base * 2^n)].
export interface BackoffOptions { readonly baseMs: number; readonly maxMs: number }
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 200, maxMs: 15_000 };

export function backoffDelay(attempt: number, o: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const cap = Math.min(o.maxMs, o.baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(o.baseMs / 2 + random() * Math.max(0, cap - o.baseMs / 2));
}

/** A sleep that `cancel()` ends early (resolving false). */
export function sleep(ms: number): { promise: Promise<boolean>; cancel(): void } {
  let done!: (v: boolean) => void;
  const promise = new Promise<boolean>((r) => (done = r));
  const t = setTimeout(() => done(true), ms);
  return { promise, cancel: () => { clearTimeout(t); done(false); } };
}
