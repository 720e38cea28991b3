// A small bounded map with least-recently-used eviction, for the native backend's key
// objects: importing a raw key into OpenSSL costs more than the operation that uses it
// (25 µs for a private key against 30 µs for the X25519 itself, bench "where the node
// backend spends its time"), and a few keys are used over and over (a sender's identity,
// a mailbox's secret, the base point, a relay's signing key).
export class KeyCache<V> {
  private readonly map = new Map<string, V>();
  constructor(readonly limit: number) {}

  /** The value under `id`, made by `make` on a miss; a hit becomes the most recent entry. */
  get(id: string, make: () => V): V {
    const hit = this.map.get(id);
    if (hit !== undefined) {
      this.map.delete(id);
      this.map.set(id, hit);
      return hit;
    }
    const v = make();
    this.map.set(id, v);
    if (this.map.size > this.limit) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
    return v;
  }

  delete(id: string): void {
    this.map.delete(id);
  }

  get size(): number {
    return this.map.size;
  }
}
