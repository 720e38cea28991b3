// What a relay process does when another process on the same store reports an event
// (mailbox-bus.ts, spec/scale-out.md §3). Only mailboxes this process holds in memory matter.
import type { RelayContext } from './context.js';
import type { MailboxBus } from './mailbox-bus.js';
import { andThen, whenFailed, type Maybe } from './maybe.js';
import { errorSummary } from './log.js';
import type { MailboxState } from './mailboxes.js';
import { endSubscription } from './subscription.js';

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

/** The cached state still matches the stored record (it was reloaded after the change). */
function current(ctx: RelayContext, state: MailboxState): Maybe<boolean> {
  const c = state.record;
  return andThen(ctx.store.getMailbox(state.iid), (r) => r !== undefined && same(r.readId, c.readId) && same(r.dk, c.dk) && same(r.accessVerifier, c.accessVerifier));
}

export function followMailboxEvents(ctx: RelayContext, bus: MailboxBus): void {
  bus.listen({
    event(kind, iid) {
      const state = ctx.mailboxes.peek(iid);
      if (!state) return;
      if (kind === 'queued') state.subscription?.pump(); // one event per mailbox per batch: read now
      else if (kind === 'removed') state.subscription?.recheck();
      else {
        whenFailed(andThen(current(ctx, state), (fresh) => {
          if (fresh || state.deleted) return;
          // Rotated or deleted elsewhere: the cached record is stale. Its subscriber gets END (as
          // after a ROTATE or DEL here) and connections that authenticated it must AUTH again.
          endSubscription(state, true);
          ctx.mailboxes.forget(state);
        }), (e) => ctx.log.error('bus_event_failed', errorSummary(e)));
      }
    },
    subscribed(iid, seq) {
      const state = ctx.mailboxes.peek(iid);
      const sub = state?.subscription;
      // A SUB here without its number yet came after this one (the bus numbers in order).
      if (state && sub && sub.busSeq !== null && sub.busSeq < seq) endSubscription(state, true);
    },
  });
}
