// Invitations and the handshake (spec/client.md §3, §4): the inviter makes a signed one-time
// invitation with its own mailbox; the acceptor checks it, sends a HELLO there and waits for
// the inviter's confirm; the inviter, on the HELLO, makes a pending contact and answers. Each
// side marks its contact established once the other's confirm has decrypted (receiving.ts).
import {
  equalBytes, safetyCode, sealEnvelope, sha256, toHex, x25519KeyPair, type X25519SecretKey,
} from '../crypto/index.js';
import { isProtocolError } from '../wire/index.js';
import type { ClientContext } from './context.js';
import { newLocalId } from './context.js';
import { ClientError, relayFailure } from './errors.js';
import { acceptorSecret, decodeHello, encodeHello, inviterSecret, transcriptHash } from './handshake.js';
import { dhKeyOf, sameIdentity } from './identity.js';
import {
  checkNotExpired, DEFAULT_INVITATION_TTL_SECONDS, encodeInvitation, formatInvitationLink, invitationCapability, parseInvitationLink,
} from './invitation.js';
import { newMailboxKeys, sendCapability, type Delivered } from './mailbox.js';
import { newPayload } from './payload.js';
import { forgetContact } from './contacts.js';
import { dropped, type Handled, type Opened } from './handled.js';
import { sealPayload } from './sending.js';
import { classifySendError } from './send-pool.js';
import { startInitiator, startResponder } from './session.js';
import { del, KIND, put, type ContactRecord, type InvitationRecord, type MailboxRecord } from './state.js';
import type { Contact } from './types.js';

/** Relay TTL of envelopes in an invitation mailbox beyond the invitation's own expiry. */
export const INVITATION_MAILBOX_SLACK_SECONDS = 3600;

/** A one-time invitation link (§3), with a private mailbox on the home relay and a one-time X25519 key. */
export async function createInvitation(ctx: ClientContext, opts: { ttlSeconds?: number; name?: string } = {}): Promise<string> {
  ctx.assertOpen();
  const ttl = opts.ttlSeconds ?? DEFAULT_INVITATION_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > 30 * 24 * 3600) throw new ClientError('INVALID_ARGUMENT', 'ttlSeconds must be 1 .. 30 days');
  const keys = newMailboxKeys();
  try {
    await ctx.link(ctx.homeRelay).create(keys, Math.max(60, ttl + INVITATION_MAILBOX_SLACK_SECONDS));
  } catch (e) {
    throw relayFailure(e, 'createInvitation');
  }
  const invKey = x25519KeyPair();
  const expiresAt = Math.floor(Date.now() / 1000) + ttl;
  const payload = encodeInvitation({
    inviter: ctx.identity.publicKey, invitationKey: invKey.publicKey, expiresAt,
    relay: ctx.homeRelay, mailboxKey: keys.mailboxKey, accessKey: keys.accessKey!,
  }, ctx.identity.sign.seed);
  const inv: InvitationRecord = { id: newLocalId(), payload, invitationSecret: invKey.secretKey, mailboxId: newLocalId(), expiresAt, name: opts.name ?? null };
  const mb: MailboxRecord = { id: inv.mailboxId, address: ctx.homeRelay, keys, role: 'invitation', ownerId: inv.id, status: 'active', createdAt: Date.now() };
  ctx.invitations.set(inv.id, inv);
  ctx.addMailbox(mb);
  await ctx.store.write([put(KIND.invitation, inv.id, inv), put(KIND.mailbox, mb.id, mb)]);
  return formatInvitationLink(payload);
}

/**
 * Accepts an invitation (§4): sends the handshake to the inviter's one-time mailbox and
 * resolves once the inviter's answer has arrived. HANDSHAKE_TIMEOUT if it does not arrive
 * in time (the contact may still complete later, with a 'contact' event).
 */
export async function acceptInvitation(ctx: ClientContext, link: string, opts: { name?: string; timeoutMs?: number } = {}): Promise<Contact> {
  ctx.assertOpen();
  const { invitation: inv, payload } = parseInvitationLink(link);
  checkNotExpired(inv, Date.now());
  if (sameIdentity(inv.inviter, ctx.identity.publicKey)) throw new ClientError('OWN_INVITATION', 'this invitation was made by this identity');
  const acceptedId = toHex(sha256(payload));
  if (ctx.store.has(KIND.accepted, acceptedId)) throw new ClientError('INVITATION_USED', 'this invitation was already accepted');

  const keys = newMailboxKeys();
  try {
    await ctx.link(ctx.homeRelay).create(keys, 0);
  } catch (e) {
    throw relayFailure(e, 'acceptInvitation');
  }
  const ephemeral = x25519KeyPair();
  const helloBody = encodeHello({ identity: ctx.identity.publicKey, binding: ctx.identity.binding, ephemeralKey: ephemeral.publicKey, capability: sendCapability(ctx.homeRelay, keys) });
  const th = transcriptHash(payload, helloBody);
  const sk = acceptorSecret(ctx.identity, ephemeral, inv.inviter, inv.invitationKey, th);

  const contact: ContactRecord = {
    id: newLocalId(), name: ctx.uniqueName(opts.name), identity: inv.inviter, transcriptHash: th,
    safetyCode: safetyCode(ctx.identity.publicKey, inv.inviter, th), verified: false, established: false, role: 'acceptor',
    inboxId: newLocalId(), nextInboxId: null, rotatedAt: null, peer: null, createdAt: Date.now(),
  };
  const mb: MailboxRecord = { id: contact.inboxId, address: ctx.homeRelay, keys, role: 'contact', ownerId: contact.id, status: 'active', createdAt: Date.now() };
  ctx.contacts.set(contact.id, contact);
  ctx.setSession(contact.id, startResponder(sk, th, ephemeral));
  ctx.addMailbox(mb);
  const established = new Promise<Contact>((resolve, reject) => ctx.acceptWaiters.set(contact.id, { resolve, reject }));
  established.catch(() => undefined);
  await ctx.store.write([
    ctx.contactOp(contact), ctx.sessionOp(contact.id), put(KIND.mailbox, mb.id, mb),
    put(KIND.accepted, acceptedId, { contactId: contact.id }),
  ]);

  const envelope = sealEnvelope({ mailboxKey: inv.mailboxKey, sender: ctx.identity.dh, body: helloBody });
  try {
    await sendWithRetry(ctx, invitationCapability(inv), envelope);
  } catch (e) {
    await forgetContact(ctx, contact.id);
    // AUTH: no mailbox with this sendId and access key. The relay answers an unknown mailbox and
    // a wrong access key alike; the access key is signed (§3.1), so the mailbox is gone (§4.1).
    if (isProtocolError(e) && e.errorName === 'AUTH') {
      throw new ClientError('INVITATION_USED', "the invitation's mailbox is gone at the relay: the invitation was used by someone else, or withdrawn", { cause: e });
    }
    throw relayFailure(e, 'acceptInvitation');
  }

  const timeoutMs = opts.timeoutMs ?? ctx.opts.handshakeTimeoutMs ?? 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      established,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ClientError('HANDSHAKE_TIMEOUT', 'the inviter has not answered yet; the contact completes when it does')), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    ctx.acceptWaiters.delete(contact.id);
  }
}

/** A direct SEND (the handshake), retrying transient failures until the relay timeout. */
async function sendWithRetry(ctx: ClientContext, cap: ReturnType<typeof invitationCapability>, envelope: Uint8Array): Promise<void> {
  const deadline = Date.now() + ctx.relayTimeout;
  for (let attempt = 0; ; attempt++) {
    try {
      return await ctx.senders.send(cap, envelope, ctx.relayTimeout);
    } catch (e) {
      if (classifySendError(e) === 'permanent' || Date.now() + 200 * 2 ** attempt > deadline || ctx.closed) throw e;
      await new Promise((r) => setTimeout(r, Math.min(2_000, 200 * 2 ** attempt)));
    }
  }
}

/** The inviter: a HELLO on an invitation mailbox (§4.2). Runs in that mailbox's queue. */
export async function handleHello(ctx: ClientContext, mb: MailboxRecord, opened: Opened, d: Delivered): Promise<Handled> {
  const inv = ctx.invitations.get(mb.ownerId);
  if (!inv || mb.status !== 'active') return dropped(ctx, 'replay');
  // §4.2: in time if processed before the expiry (our clock, to the second), or if the relay's
  // whole arrival minute (its clock is minute-coarse) lies before it.
  if (Math.floor(Date.now() / 1000) > inv.expiresAt && (d.receivedAtMinutes + 1) * 60 > inv.expiresAt) return dropped(ctx, 'expired');
  let hello;
  try { hello = decodeHello(opened.body); } catch { return dropped(ctx, 'malformed'); }
  if (!equalBytes(dhKeyOf(hello.identity), opened.senderKey)) return dropped(ctx, 'unknown-sender');
  if (sameIdentity(hello.identity, ctx.identity.publicKey)) return dropped(ctx, 'malformed');

  const th = transcriptHash(inv.payload, opened.body);
  const sk = inviterSecret(ctx.identity, inv.invitationSecret as X25519SecretKey, hello, th);
  const keys = newMailboxKeys();
  await ctx.link(ctx.homeRelay).create(keys, 0); // a failure leaves the HELLO queued at the relay, for later
  if (!ctx.invitations.has(inv.id)) return dropped(ctx, 'replay');
  const contact: ContactRecord = {
    id: newLocalId(), name: ctx.uniqueName(inv.name ?? undefined), identity: hello.identity, transcriptHash: th,
    // Pending until Bob proves, in the ratchet, that he derived the same keys (§4.2, receiving.ts).
    safetyCode: safetyCode(ctx.identity.publicKey, hello.identity, th), verified: false, established: false, role: 'inviter',
    inboxId: newLocalId(), nextInboxId: null, rotatedAt: null, peer: hello.capability, createdAt: Date.now(),
  };
  const inbox: MailboxRecord = { id: contact.inboxId, address: ctx.homeRelay, keys, role: 'contact', ownerId: contact.id, status: 'active', createdAt: Date.now() };
  ctx.contacts.set(contact.id, contact);
  ctx.setSession(contact.id, startInitiator(sk, th, hello.ephemeralKey));
  ctx.addMailbox(inbox);
  const { entry, op } = sealPayload(ctx, contact, newPayload({ type: 'confirm', capability: sendCapability(ctx.homeRelay, keys) }));
  // One-time: the invitation is consumed now; its mailbox is deleted after the commit.
  ctx.invitations.delete(inv.id);
  mb.status = 'deleting';
  return {
    ops: [
      ctx.contactOp(contact), ctx.sessionOp(contact.id), put(KIND.mailbox, inbox.id, inbox), op, del(KIND.invitation, inv.id),
      put(KIND.mailbox, mb.id, mb),
    ],
    send: [entry],
    after: [() => { void ctx.deleteMailbox(mb); }],
  };
}
