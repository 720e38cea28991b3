// Disappearing-message timers of 1:1 conversations (spec/client.md §5.3, §10.2): setting one,
// taking a contact's or another device's, and deleting the texts whose timer ran out.
import { equalBytes } from '../crypto/index.js';
import type { ClientContext } from './context.js';
import { ClientError } from './errors.js';
import type { Handled } from './handled.js';
import { newPayload, type Payload } from './payload.js';
import { ownChannels, sendingChannels } from './devices.js';
import { sendPayload } from './sending.js';
import { del, KIND, SELF, type ChannelRecord, type ContactRecord, type MessageRecord } from './state.js';
import { decodeRecord } from './records.js';
import { appliedTimer, checkOwnTimer, expiryOf, live, takesOver, timerView, type TimerPolicy } from './timer-rules.js';
import type { Contact, TimerChange } from './types.js';

const policyOf = (ctx: ClientContext): TimerPolicy => ctx.wallet?.policy;

/** `client.setTimer`: the conversation's timer for both people and all their devices (§10.2). */
export async function setTimer(ctx: ClientContext, contactId: string, seconds: number): Promise<Contact> {
  ctx.assertOpen();
  const c = ctx.requireContact(contactId);
  checkOwnTimer(policyOf(ctx), seconds);
  const devices = sendingChannels(ctx, c.id);
  if (devices.length === 0 || !c.account) throw new ClientError('CONTACT_PENDING', 'the handshake with this contact has not completed');
  // Dated after the setting it replaces, so that a contact whose clock runs ahead does not make ours lose (§10.2).
  const payload = newPayload({ type: 'timer', seconds, account: null }, Math.max(Date.now(), (c.timerAt ?? 0) + 1));
  c.timer = seconds;
  c.timerAt = payload.sentAt;
  await ctx.store.write([ctx.contactOp(c)]); // kept even if no device of theirs can be reached now
  const account = c.account;
  const sends = [
    ...devices.map((ch) => sendPayload(ctx, ch, payload)),
    ...ownChannels(ctx).map((ch) => sendPayload(ctx, ch, newPayload({ type: 'timer', seconds, account }, payload.sentAt, payload.id))),
  ];
  ctx.emit('timer', change(ctx, c, 'me', payload.sentAt));
  // Like a text (spec/devices.md §4.1): the contact has it when one of their devices does.
  const results = await Promise.allSettled(sends.slice(0, devices.length));
  void Promise.allSettled(sends.slice(devices.length));
  if (!results.some((r) => r.status === 'fulfilled')) throw (results[0] as PromiseRejectedResult).reason;
  return ctx.view(c);
}

function change(ctx: ClientContext, c: ContactRecord, by: TimerChange['by'], at: number): TimerChange {
  const v = timerView(policyOf(ctx), c);
  return { contactId: c.id, seconds: v.disappearingSeconds, appliedSeconds: v.appliedDisappearingSeconds, by, at };
}

/** A timer payload on a channel: from a contact's device, or from one of ours naming the contact (§5.3). */
export function takeTimer(ctx: ClientContext, ch: ChannelRecord, p: Extract<Payload, { type: 'timer' }>, h: Handled): void {
  const own = ch.contactId === SELF;
  if (own !== (p.account !== null)) { ctx.dropped('malformed'); return; }
  const account = p.account;
  const c = account ? [...ctx.contacts.values()].find((x) => x.account && equalBytes(x.account, account)) : ctx.personOf(ch);
  if (!c || !takesOver(c, p.seconds, p.sentAt)) return;
  c.timer = p.seconds;
  c.timerAt = p.sentAt;
  h.ops.push(ctx.contactOp(c));
  const ev = change(ctx, c, own ? 'device' : 'contact', p.sentAt);
  h.after.push(() => ctx.emit('timer', ev));
}

/** The applied timer and expiry of a text that came under `seconds`. */
export function receivedUnder(ctx: ClientContext, seconds: number | undefined, sentAt: number): { timer: number; expiresAt: number } {
  const timer = appliedTimer(policyOf(ctx), seconds ?? 0);
  return { timer, expiresAt: expiryOf(sentAt, timer) };
}

/** Maintenance (§10.2): deletes the 1:1 texts whose timer ran out. */
export async function expireMessages(ctx: ClientContext, now = Date.now()): Promise<void> {
  const gone = ctx.store.entries(KIND.message).filter(([, v]) => !live(decodeRecord<MessageRecord>(v), now));
  if (gone.length > 0) await ctx.store.write(gone.map(([k]) => del(KIND.message, k)));
}
