// Mailbox rotation and upkeep (spec/client.md §8.2): a contact is moved to a new mailbox of
// ours; the old one is drained and deleted once the contact writes to the new one, or after
// the grace period. Maintenance also retires expired invitations and retries deletions.
import type { ClientContext } from './context.js';
import { newLocalId } from './context.js';
import { ClientError, relayFailure } from './errors.js';
import { INVITATION_MAILBOX_SLACK_SECONDS } from './invitations.js';
import { newMailboxKeys, sendCapability } from './mailbox.js';
import { newPayload } from './payload.js';
import type { StoreOp } from './profile-store.js';
import { retire } from './receiving.js';
import { sendPayload } from './sending.js';
import { del, KIND, put, type ChannelRecord, type MailboxRecord } from './state.js';

const DEFAULT_ROTATION_GRACE_MS = 7 * 24 * 3600_000;

/** Rotates the mailbox of every channel with a contact's devices (spec/devices.md §4.1). */
export async function rotateMailbox(ctx: ClientContext, contactId: string): Promise<void> {
  ctx.assertOpen();
  const p = ctx.requireContact(contactId);
  if (!ctx.isEstablished(p)) throw new ClientError('CONTACT_PENDING', 'the handshake with this contact has not completed');
  for (const ch of ctx.channelsOf(p.id)) if (ch.established) await rotateChannel(ctx, ch);
}

/** Creates the new mailbox and tells the device in the ratchet; resolves when the relay accepted the notice. */
async function rotateChannel(ctx: ClientContext, c: ChannelRecord): Promise<void> {
  if (c.nextInboxId) return; // a rotation is already under way
  const keys = newMailboxKeys();
  try {
    await ctx.link(ctx.homeRelay).create(keys, 0);
  } catch (e) {
    throw relayFailure(e, 'rotateMailbox');
  }
  const mb: MailboxRecord = { id: newLocalId(), address: ctx.homeRelay, keys, role: 'contact', ownerId: c.id, status: 'active', createdAt: Date.now() };
  ctx.addMailbox(mb);
  c.nextInboxId = mb.id;
  c.rotatedAt = Date.now();
  try {
    await sendPayload(ctx, c, newPayload({ type: 'rotate-mailbox', capability: sendCapability(ctx.homeRelay, keys) }), [put(KIND.mailbox, mb.id, mb), ctx.channelOp(c)]);
  } catch (e) {
    throw relayFailure(e, 'rotateMailbox');
  }
}

/** Periodic: expired invitations, rotation grace periods, deletions that failed. */
export async function maintain(ctx: ClientContext): Promise<void> {
  if (ctx.closed) return;
  const now = Date.now();
  const ops: StoreOp[] = [];
  for (const inv of [...ctx.invitations.values()]) {
    if (inv.expiresAt * 1000 + INVITATION_MAILBOX_SLACK_SECONDS * 1000 < now) {
      ctx.invitations.delete(inv.id);
      ops.push(del(KIND.invitation, inv.id));
      const mb = ctx.mailboxes.get(inv.mailboxId);
      if (mb) { mb.status = 'deleting'; ops.push(put(KIND.mailbox, mb.id, mb)); }
    }
  }
  const grace = ctx.opts.rotationGraceMs ?? DEFAULT_ROTATION_GRACE_MS;
  for (const c of ctx.channels.values()) {
    if (c.nextInboxId && c.rotatedAt !== null && c.rotatedAt + grace < now) {
      const old = ctx.mailboxes.get(c.inboxId);
      c.inboxId = c.nextInboxId;
      c.nextInboxId = null;
      c.rotatedAt = null;
      ops.push(ctx.channelOp(c));
      if (old) { old.status = 'retiring'; ops.push(put(KIND.mailbox, old.id, old)); }
    }
  }
  if (ops.length > 0) await ctx.store.write(ops).catch(() => undefined);
  for (const mb of [...ctx.mailboxes.values()]) {
    if (mb.status === 'retiring') ctx.serial(mb.id, () => retire(ctx, mb));
    else if (mb.status === 'deleting') void ctx.deleteMailbox(mb);
  }
}
