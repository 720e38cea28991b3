// The owner's read commands: SUB, UNSUB, FETCH, ACK (spec/protocol.md §5.4–§5.7).
import { DELIVERY_OVERHEAD, ProtocolError, type AckFrame, type FetchFrame, type RelayFrame, type SubFrame, type UnsubFrame } from '../wire/index.js';
import { ok, requireAuth, storeFailure, storeWrite } from './cmd-common.js';
import type { RelayContext } from './context.js';
import { MSG_ID_BLOCK } from './mailboxes.js';
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

export function handleFetch(ctx: RelayContext, session: Session, f: FetchFrame): RelayFrame {
  const state = requireAuth(session, f.readId);
  for (const e of ctx.store.queueRange(state.iid, 0, state.durableUpTo, state.removing.size + 1)) {
    if (state.removing.has(e.msgId)) continue;
    return { type: 'MSG', corr: 0, readId: state.record.readId, msgId: e.msgId, delivered: e.delivered };
  }
  return { type: 'EMPTY', corr: 0 };
}

export function handleAck(ctx: RelayContext, session: Session, f: AckFrame): Promise<RelayFrame> {
  const state = requireAuth(session, f.readId);
  const msgId = f.msgId;
  if (state.removing.has(msgId) || msgId > state.durableUpTo) throw new ProtocolError('NO_MSG');
  const info = ctx.store.queueEntryInfo(state.iid, msgId);
  if (!info) throw new ProtocolError('NO_MSG');
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
