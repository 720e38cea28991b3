// A RecordBackend in memory (spec/client.md §7): for tests and for profiles that must leave
// nothing behind. Commits are atomic; `failCommits` makes them fail (the store's error path).
import { toHex } from '../crypto/index.js';
import type { RecordBackend, RecordChange } from './profile-store.js';

export class MemoryRecords implements RecordBackend {
  private readonly data = new Map<string, readonly [Uint8Array, Uint8Array]>();
  /** When set, every commit rejects with it and changes nothing. */
  failCommits: Error | null = null;
  closed = false;

  get(key: Uint8Array): Uint8Array | undefined {
    return this.data.get(toHex(key))?.[1];
  }

  entries(): Iterable<readonly [Uint8Array, Uint8Array]> {
    return [...this.data.values()];
  }

  async commit(changes: readonly RecordChange[]): Promise<void> {
    await Promise.resolve();
    if (this.failCommits) throw this.failCommits;
    for (const c of changes) {
      if (c.value === null) this.data.delete(toHex(c.key));
      else this.data.set(toHex(c.key), [c.key.slice(), c.value.slice()]);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
