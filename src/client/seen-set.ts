// The seen set of one mailbox (spec/client.md §6.2): the last SEEN_WINDOW relay msgIds
// processed there, so that an envelope redelivered after a crash between the store commit
// and the ACK is acknowledged again without being processed twice. O(1) has and add.
export const SEEN_WINDOW = 512;

export class SeenSet {
  private readonly ids = new Set<number>();
  private readonly order: number[] = [];

  constructor(initial: readonly number[] = []) {
    for (const id of initial.slice(-SEEN_WINDOW)) this.add(id);
  }

  has(msgId: number): boolean { return this.ids.has(msgId); }

  add(msgId: number): void {
    if (this.ids.has(msgId)) return;
    this.ids.add(msgId);
    this.order.push(msgId);
    if (this.order.length > SEEN_WINDOW) this.ids.delete(this.order.shift()!);
  }

  /** The msgIds, oldest first (the stored form). */
  list(): number[] { return [...this.order]; }
}
