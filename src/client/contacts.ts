// Contacts (spec/client.md §10): listing, verification against the safety code, labels,
// history, and forgetting a contact with everything it owns.
import { safetyCodesMatch } from '../crypto/index.js';
import type { ClientContext } from './context.js';
import { ClientError } from './errors.js';
import { decodeRecord } from './records.js';
import { forgetChannelOps } from './devices.js';
import { del, KIND, loadAll, put, type MessageRecord } from './state.js';
import { live } from './timer-rules.js';
import type { Contact, HistoryEntry } from './types.js';

export function listContacts(ctx: ClientContext): Contact[] {
  return [...ctx.contacts.values()].sort((a, b) => a.createdAt - b.createdAt).map((c) => ctx.view(c));
}

/** Marks a contact verified when `code` is its safety code; SAFETY_CODE_MISMATCH otherwise (nothing changes). */
export async function verifyContact(ctx: ClientContext, contactId: string, code: string): Promise<Contact> {
  ctx.assertOpen();
  const c = ctx.requireContact(contactId);
  if (!c.account) throw new ClientError('CONTACT_PENDING', 'the handshake with this contact has not completed');
  if (typeof code !== 'string' || !safetyCodesMatch(c.safetyCode, code)) {
    throw new ClientError('SAFETY_CODE_MISMATCH', 'the code does not match: do not trust this contact until you know why');
  }
  if (!c.verified) {
    c.verified = true;
    await ctx.store.write([ctx.contactOp(c)]);
    ctx.emit('contact', ctx.view(c));
    ctx.syncContact(c); // our other devices take the verification too (spec/devices.md §4.2)
  }
  return ctx.view(c);
}

export async function renameContact(ctx: ClientContext, contactId: string, name: string): Promise<Contact> {
  ctx.assertOpen();
  const c = ctx.requireContact(contactId);
  if (typeof name !== 'string' || name.trim() === '') throw new ClientError('INVALID_ARGUMENT', 'a name must not be empty');
  c.name = name.trim();
  await ctx.store.write([ctx.contactOp(c)]);
  return ctx.view(c);
}

/** Stored texts with a contact, oldest first (empty when keepHistory is false); expired ones are left out (§10.2). */
export function history(ctx: ClientContext, contactId: string): HistoryEntry[] {
  const c = ctx.requireContact(contactId);
  const now = Date.now();
  return loadAll<MessageRecord>(ctx.store, KIND.message)
    .filter((m) => m.contactId === c.id && live(m, now))
    .sort((a, b) => a.seq - b.seq)
    .map(({ seq: _s, timer: _t, expiresAt, ...m }) => ({ ...m, expiresAt: expiresAt ?? 0 }));
}

/** Forgets a contact: every channel with its devices (sessions wiped), records, queued envelopes and mailboxes. */
export async function forgetContact(ctx: ClientContext, contactId: string): Promise<void> {
  const p = ctx.contacts.get(contactId);
  if (!p) return;
  for (const ch of ctx.channelsOf(contactId)) await forgetChannel(ctx, ch.id);
  ctx.contacts.delete(contactId);
  await ctx.store.write([del(KIND.contact, contactId)]);
}

/** Forgets one channel: its session (wiped), records, queued envelopes and mailboxes. */
export async function forgetChannel(ctx: ClientContext, channelId: string): Promise<void> {
  const c = ctx.channels.get(channelId);
  if (!c) return;
  const ops = forgetChannelOps(ctx, c);
  const owned = [...ctx.mailboxes.values()].filter((mb) => mb.role === 'contact' && mb.ownerId === channelId);
  for (const mb of owned) { mb.status = 'deleting'; ops.push(put(KIND.mailbox, mb.id, mb)); }
  for (const [id, v] of ctx.store.entries(KIND.accepted)) {
    if (decodeRecord<{ contactId: string }>(v).contactId === channelId) ops.push(del(KIND.accepted, id));
  }
  await ctx.store.write(ops);
  for (const mb of owned) void ctx.deleteMailbox(mb);
}
