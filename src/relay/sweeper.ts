// The expiry sweeper (spec/protocol.md §11): deletes envelopes whose time to live has passed,
// reading the expiry index oldest first, in bounded batches, yielding to traffic between them.
import { DELIVERY_OVERHEAD } from '../wire/index.js';
import { storeFailure, storeWrite } from './cmd-common.js';
import type { RelayContext } from './context.js';
import type { MailboxState } from './mailboxes.js';
import type { QueueRef } from './store.js';

export const SWEEP_BATCH = 512;
const yieldToTraffic = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** One sweep: up to `maxBatches` batches of `batch` entries. Resolves with the number of envelopes deleted. */
export async function sweepExpired(ctx: RelayContext, batch = SWEEP_BATCH, maxBatches = 64): Promise<number> {
  let deleted = 0;
  for (let b = 0; b < maxBatches && !ctx.draining; b++) {
    const nowMinute = Math.floor(ctx.now() / 60_000);
    const refs = await ctx.store.expired(nowMinute, batch);
    if (refs.length === 0) break;
    const remove: QueueRef[] = [];
    const held: Array<{ state: MailboxState; msgId: number; size: number }> = [];
    for (const r of refs) {
      // Every removal goes through the mailbox's state (loaded if needed) to keep its counters exact.
      const state = await ctx.mailboxes.get(r.iid);
      if (state) {
        if (state.removing.has(r.msgId) || state.busy !== null || r.msgId > state.durableUpTo) continue;
        const info = await ctx.store.queueEntryInfo(r.iid, r.msgId);
        if (info) {
          state.removing.add(r.msgId);
          state.pending++;
          held.push({ state, msgId: r.msgId, size: info.deliveredBytes - DELIVERY_OVERHEAD });
        }
      }
      remove.push(r); // also drops index entries whose envelope is already gone
    }
    if (remove.length === 0) break;
    const ok = await storeWrite(ctx, () => ctx.store.dequeue(remove), () => {
      for (const h of held) {
        h.state.removing.delete(h.msgId);
        h.state.pending--;
        h.state.count--;
        h.state.bytes -= h.size;
        h.state.subscription?.removed(h.msgId);
      }
      if (ctx.bus) for (const iid of new Set(remove.map((r) => r.iid))) ctx.bus.publish('removed', iid);
      deleted += held.length;
      ctx.metrics.envelopesExpired.inc('', held.length);
      return true;
    }, (e: unknown) => {
      for (const h of held) { h.state.removing.delete(h.msgId); h.state.pending--; }
      storeFailure(ctx, 'sweep', e);
      return false;
    });
    if (!ok) break;
    if (refs.length < batch) break;
    await yieldToTraffic();
  }
  ctx.mailboxes.evict();
  return deleted;
}
