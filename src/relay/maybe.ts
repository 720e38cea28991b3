// A value now or later: what the relay's crypto lane returns (inline or on worker threads) and
// what store reads return (an embedded store answers at once, a networked one later).
// Synchronous values stay synchronous, so the embedded fast path costs no promise.

export type Maybe<T> = T | Promise<T>;

/** Applies `f` to a value that may still be coming; synchronous values stay synchronous. */
export const andThen = <T, R>(v: Maybe<T>, f: (v: T) => Maybe<R>): Maybe<R> => (v instanceof Promise ? v.then(f) : f(v));

/** For work started and not awaited: a later failure goes to `onError`, never unhandled. */
export function whenFailed(v: Maybe<unknown>, onError: (e: unknown) => void): void {
  if (v instanceof Promise) v.catch(onError);
}
