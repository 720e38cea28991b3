// Unused mailboxes expire (spec/protocol.md §11.5). A mailbox's expiry day is the day of its
// last use (CREATE, a successful AUTH, a committed SEND) plus its TTL in whole days; the store
// keeps only that day, never a finer time. The sweeper deletes mailboxes whose expiry day has
// passed, except those in use on an open connection, whose day it moves instead.
import { storeFailure, storeWrite } from './cmd-common.js';
import type { RelayContext } from './context.js';
import type { MailboxState } from './mailboxes.js';
import { endSubscription } from './subscription.js';

const DAY_MS = 86_400_000;
export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);

/** The last day a mailbox used on `day` may live unused: deleted no sooner than `ttlSeconds` after its last use. */
export const expiryDayAfterUse = (day: number, ttlSeconds: number): number => day + Math.ceil(ttlSeconds / 86_400);

/** Records a use of the mailbox: at most one small write per mailbox per day. */
export function noteUse(ctx: RelayContext, state: MailboxState): void {
  const day = expiryDayAfterUse(dayOf(ctx.now()), state.record.ttlSeconds);
  if (state.expiryDay >= day || !state.live) return;
  const previous = state.expiryDay;
  state.expiryDay = day;
  state.pending++;
  void storeWrite(ctx, () => ctx.store.setMailboxExpiry(state.iid, day),
    () => { state.pending--; },
    (e: unknown) => {
      state.pending--;
      if (state.expiryDay === day) state.expiryDay = previous; // tried again at the next use
      storeFailure(ctx, 'touch', e);
    });
}

const MAILBOX_SWEEP_BATCH = 256;
const yieldToTraffic = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** One pass: deletes the unused mailboxes whose expiry day has passed. Resolves with how many. */
export async function expireMailboxes(ctx: RelayContext, maxBatches = 16): Promise<number> {
  let deleted = 0;
  for (let b = 0; b < maxBatches && !ctx.draining; b++) {
    const refs = await ctx.store.expiredMailboxes(dayOf(ctx.now()), MAILBOX_SWEEP_BATCH);
    const doomed: MailboxState[] = [];
    for (const r of refs) {
      const cached = ctx.mailboxes.peek(r.iid);
      if (cached && cached.pinned) { // in use on a connection
        ctx.log.debug('mailbox_expiry_kept', { pending: cached.pending, refs: cached.refs, subscribed: cached.subscription !== null, busy: cached.busy });
        noteUse(ctx, cached);
        continue;
      }
      // Loaded and marked like a DEL, so that a SEND meanwhile answers BUSY and cannot queue into it.
      const state = cached ?? await ctx.mailboxes.get(r.iid);
      if (!state || state.busy) continue;
      state.busy = 'delete';
      doomed.push(state);
    }
    if (doomed.length === 0) break;
    const results = await Promise.all(doomed.map((state) => storeWrite(ctx, () => ctx.store.deleteMailbox(state.record),
      () => {
        state.busy = null;
        endSubscription(state, true);
        ctx.mailboxes.forget(state);
        ctx.bus?.publish('gone', state.iid);
        return true;
      },
      (e: unknown) => {
        state.busy = null;
        storeFailure(ctx, 'expire', e);
        return false;
      })));
    const n = results.filter(Boolean).length;
    deleted += n;
    ctx.metrics.mailboxesExpired.inc('', n);
    if (n < doomed.length || refs.length < MAILBOX_SWEEP_BATCH) break;
    await yieldToTraffic();
  }
  ctx.mailboxes.evict();
  return deleted;
}
