// The owner's read commands: SUB, UNSUB, FETCH, ACK (spec/protocol.md §5.4–§5.7).
import { DELIVERY_OVERHEAD, ProtocolError, type AckFrame, type FetchFrame, type RelayFrame, type SubFrame, type UnsubFrame } from '../wire/index.js';
import { ok, requireAuth, storeFailure, storeWrite, thenPinned } from './cmd-common.js';
import type { RelayContext } from './context.js';
import { MSG_ID_BLOCK, type MailboxState } from './mailboxes.js';
import type { Maybe } from './maybe.js';
import type { Session } from './session.js';
import { endSubscription, Subscription } from './subscription.js';

export function handleSub(ctx: RelayContext, session: Session, f: SubFrame): RelayFrame {
  const state = requireAuth(session, f.readId);
  if (session.subs.has(state.readHex)) return ok();
  if (session.subs.size >= ctx.config.maxSubscriptionsPerConnection) throw new ProtocolError('LIMIT', 'subscriptions');
  endSubscription(state, true); // one subscriber per mailbox: the previous one gets END
  const sub = new Subscription(state, session, ctx.store, ctx.config.deliveryWindow);
  state.subscription = sub;
  session.subs.set(sub.readHex, sub);
  // Other processes on the store end theirs once this SUB has its place (mailbox-bus.ts).
  ctx.bus?.announceSubscription(state.iid, (seq) => { sub.busSeq = seq; });
  // After OK has gone out (the dispatcher writes it synchronously on return).
  queueMicrotask(() => {
    try { sub.pump(); } catch (e) { storeFailure(ctx, 'sub', e); }
  });
  return ok();
}

export function handleUnsub(_ctx: RelayContext, session: Session, f: UnsubFrame): RelayFrame {
  const state = requireAuth(session, f.readId);
  if (state.subscription && session.subs.get(state.readHex) === state.subscription) endSubscription(state, false);
  return ok();
}

export function handleFetch(ctx: RelayContext, session: Session, f: FetchFrame): Maybe<RelayFrame> {
  const state = requireAuth(session, f.readId);
  return thenPinned(state, ctx.store.queueRange(state.iid, 0, state.durableUpTo, state.removing.size + 1), (entries): RelayFrame => {
    for (const e of entries) {
      if (state.removing.has(e.msgId)) continue;
      return { type: 'MSG', corr: 0, readId: state.record.readId, msgId: e.msgId, delivered: e.delivered };
    }
    return { type: 'EMPTY', corr: 0 };
  });
}

export function handleAck(ctx: RelayContext, session: Session, f: AckFrame): Maybe<RelayFrame> {
  const state = requireAuth(session, f.readId);
  const msgId = f.msgId;
  if (state.removing.has(msgId) || msgId > state.durableUpTo) throw new ProtocolError('NO_MSG');
  return thenPinned(state, ctx.store.queueEntryInfo(state.iid, msgId), (info) => removeAcked(ctx, state, msgId, info));
}

function removeAcked(ctx: RelayContext, state: MailboxState, msgId: number, info: { deliveredBytes: number; expiryMinute: number } | undefined): Promise<RelayFrame> {
  // Checked again: an ACK of the same msgId may have started while the entry was read.
  if (!info || state.removing.has(msgId)) throw new ProtocolError('NO_MSG');
  const size = info.deliveredBytes - DELIVERY_OVERHEAD;
  // A send whose msgId reservation failed to commit left no ceiling: record one now.
  const ceiling = ctx.bus === null && state.ceiling === 0 && state.nextMsgId > 1 ? state.nextMsgId + MSG_ID_BLOCK : null;
  if (ceiling !== null) state.ceiling = ceiling;
  state.removing.add(msgId);
  state.pending++;
  return storeWrite(ctx, () => ctx.store.dequeue([{ iid: state.iid, msgId, expiryMinute: info.expiryMinute }], ceiling === null ? null : { iid: state.iid, value: ceiling }),
    () => {
      state.removing.delete(msgId);
      state.pending--;
      state.count--;
      state.bytes -= size;
      state.subscription?.removed(msgId);
      ctx.bus?.publish('removed', state.iid);
      return ok();
    },
    (e: unknown) => {
      state.removing.delete(msgId);
      state.pending--;
      if (ceiling !== null) state.ceiling = 0;
      throw storeFailure(ctx, 'ack', e);
    },
  );
}
