// Delivery receipts (spec/client.md §9.3): off unless asked for; when on, the ids received
// from one contact are collected and sent as one receipt after a random delay, so that a
// receipt does not follow each message at once (the statistical disclosure attack on
// sealed sender, Martiny et al., NDSS 2021).
import { MAX_RECEIPT_IDS } from './payload.js';

export class ReceiptBatcher {
  private readonly pending = new Map<string, { ids: Uint8Array[]; timer: ReturnType<typeof setTimeout> }>();

  constructor(
    private readonly delay: { readonly min: number; readonly max: number },
    private readonly flush: (contactId: string, ids: Uint8Array[]) => void,
    private readonly random: () => number = Math.random,
  ) {}

  add(contactId: string, id: Uint8Array): void {
    let p = this.pending.get(contactId);
    if (!p) {
      const ms = this.delay.min + this.random() * Math.max(0, this.delay.max - this.delay.min);
      const timer = setTimeout(() => this.fire(contactId), ms);
      timer.unref?.();
      this.pending.set(contactId, (p = { ids: [], timer }));
    }
    p.ids.push(id);
    if (p.ids.length >= MAX_RECEIPT_IDS) { clearTimeout(p.timer); this.fire(contactId); }
  }

  close(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  private fire(contactId: string): void {
    const p = this.pending.get(contactId);
    this.pending.delete(contactId);
    if (p && p.ids.length) this.flush(contactId, p.ids);
  }
}
