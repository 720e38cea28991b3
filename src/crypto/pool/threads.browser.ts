// The browser's stand-in for threads.ts (package.json "browser"): no worker threads, so a
// pool runs its work inline (size 0).
import type { Threads } from './threads.js';

export async function loadThreads(): Promise<Threads | null> {
  return null;
}
