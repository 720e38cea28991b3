// Sections that run one at a time per key (spec/client.md §9.4). Sending holds its contact's
// key from the ratchet step until the outbox has the envelope, so that per contact the ratchet
// order, the outbox order and the order on the wire are one order, even when a fan-out (many
// keys, with an await for the crypto pool in between) and single sends interleave.
//
// Keys are claimed at the call, synchronously: sections holding a common key run in call
// order. A section waits only for earlier sections that share a key with it, so a send to one
// contact never waits for a fan-out that does not include it. Claiming all keys at once means
// two sections can never wait for each other.
export class KeyedSerial {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` after every earlier section holding one of `keys`; resolves or rejects as `fn` does. */
  run<T>(keys: Iterable<string>, fn: () => Promise<T>): Promise<T> {
    const mine = new Set(keys);
    const before = new Set<Promise<void>>();
    for (const k of mine) { const t = this.tails.get(k); if (t) before.add(t); }
    let release!: () => void;
    const done = new Promise<void>((r) => { release = r; });
    for (const k of mine) this.tails.set(k, done);
    const result = Promise.all(before).then(fn);
    // A failed section releases its keys too; the map keeps only keys still held.
    const finish = (): void => {
      for (const k of mine) if (this.tails.get(k) === done) this.tails.delete(k);
      release();
    };
    result.then(finish, finish);
    return result;
  }

  /** Whether a section holds or waits for one of `keys` (a caller may then skip the queue). */
  busy(keys: Iterable<string>): boolean {
    for (const k of keys) if (this.tails.has(k)) return true;
    return false;
  }

  /** Keys held or waited for (0 when idle). */
  get size(): number { return this.tails.size; }
}
