// Relay-wide bounds for what per-connection limits bound one connection at a time (spec/protocol.md
// §8): authenticated mailboxes (each pins a mailbox state in memory), frames held behind a key
// command (bytes), and remembered proof-of-work nonces. Past a relay-wide bound the command
// answers BUSY: the relay is full, not this connection. Outbound bytes have their own budget
// (outbound-budget.ts), which sheds the largest slow readers instead.

/** A relay-wide count that commands take from and give back to. */
export class Allowance {
  private used = 0;
  constructor(readonly cap: number) {}
  get inUse(): number { return this.used; }
  /** Whether `n` more fit. */
  fits(n = 1): boolean { return this.used + n <= this.cap; }
  take(n = 1): boolean {
    if (!this.fits(n)) return false;
    this.used += n;
    return true;
  }
  give(n = 1): void { this.used = Math.max(0, this.used - n); }
}

/** Frame bytes held behind key commands, relay-wide (1,024 frames a connection would allow 66 MiB each). */
export const MAX_HELD_BYTES_TOTAL = 64 * 1024 * 1024;
/** Proof-of-work nonces remembered, relay-wide (about 100 bytes each). */
export const MAX_POW_NONCES_TOTAL = 1_000_000;

export interface RelayBudgets {
  /** Authenticated (connection, mailbox) pairs: maxAuthTotal. */
  readonly auth: Allowance;
  readonly heldBytes: Allowance;
  readonly powNonces: Allowance;
}

/** `processes`: relay processes sharing the relay-wide bounds, each taking an equal part (spec/scale-out.md §4). */
export function createBudgets(maxAuthTotal: number, processes = 1): RelayBudgets {
  const part = (n: number): number => Math.ceil(n / processes);
  return { auth: new Allowance(maxAuthTotal), heldBytes: new Allowance(part(MAX_HELD_BYTES_TOTAL)), powNonces: new Allowance(part(MAX_POW_NONCES_TOTAL)) };
}
