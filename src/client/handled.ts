// What handling one incoming envelope produces (spec/client.md §6.1): the store ops, the
// outbox entries that go out once they are committed, and the effects that follow the commit.
import type { X25519PublicKey } from '../crypto/index.js';
import type { ClientContext } from './context.js';
import type { OutboxEntry } from './outbox.js';
import type { StoreOp } from './profile-store.js';
import type { DropReason } from './types.js';

/** What handling one envelope produced: store ops, outbox entries that go with them, and effects for after the commit. */
export interface Handled {
  readonly ops: StoreOp[];
  readonly send: OutboxEntry[];
  readonly after: Array<() => void>;
}

export interface Opened { readonly senderKey: X25519PublicKey; readonly body: Uint8Array }

export function dropped(ctx: ClientContext, reason: DropReason, ops: StoreOp[] = []): Handled {
  ctx.dropped(reason);
  return { ops, send: [], after: [() => ctx.emit('dropped', { reason })] };
}

