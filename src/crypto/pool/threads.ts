// Worker threads for the pool (spec/crypto.md §1), where the platform has them: on Node,
// node:worker_threads and the core count. Browser builds replace this module with
// threads.browser.ts (package.json "browser"), so a web bundle names no Node built-in.
import type { Worker } from 'node:worker_threads';

export interface Threads {
  readonly Worker: typeof Worker;
  /** How many workers a pool starts when its options name no size. */
  readonly parallelism: number;
}

const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** Node's worker threads, or null on a platform without them. */
export async function loadThreads(): Promise<Threads | null> {
  if (!isNode) return null;
  const [{ Worker: W }, { availableParallelism }] = await Promise.all([import('node:worker_threads'), import('node:os')]);
  return { Worker: W, parallelism: availableParallelism() };
}
