// Invitations and the handshake (spec/client.md §3, §4): the inviter makes a signed one-time
// invitation with its own mailbox; the acceptor checks it, sends a HELLO there and waits for
// the inviter's confirm; the inviter, on the HELLO, makes a pending contact and answers. Each
// side marks its contact established once the other's confirm has decrypted (receiving.ts).
import { newIdempotencyKey } from './forwarding.js';
import {
  equalBytes, mlKem768KeyPair, safetyCode, sealEnvelope, sha256, toHex, wipe, x25519KeyPair, type X25519SecretKey,
} from '../crypto/index.js';
import { isProtocolError } from '../wire/index.js';
import type { ClientContext } from './context.js';
import { newLocalId } from './context.js';
import { ClientError, relayFailure } from './errors.js';
import { acceptorSecret, decodeHello, encodeHello, inviterSecret, transcriptHash } from './handshake.js';
import { dhKeyOf, sameIdentity } from './identity.js';
import {
  checkNotExpired, DEFAULT_INVITATION_TTL_SECONDS, encodeInvitation, formatInvitationLink, invitationCapability, parseInvitationLink, type Invitation,
} from './invitation.js';
import { newMailboxKeys, sendCapability, type Delivered } from './mailbox.js';
import { newPayload } from './payload.js';
import { forgetChannel, forgetContact } from './contacts.js';
import { hasDevice } from './device-list.js';
import { looksLikeLinkCode } from './link-exchange.js';
import type { StoreOp } from './profile-store.js';
import { dropped, type Handled, type Opened } from './handled.js';
import { sealPayload } from './sending.js';
import { classifySendError } from './send-pool.js';
import { startInitiator, startResponder } from './session.js';
import { del, KIND, put, type ChannelRecord, type ContactRecord, type InvitationRecord, type MailboxRecord } from './state.js';
import type { Contact } from './types.js';

/** Relay TTL of envelopes in an invitation mailbox beyond the invitation's own expiry. */
export const INVITATION_MAILBOX_SLACK_SECONDS = 3600;

/** A one-time invitation link (§3), with a private mailbox on the home relay and a one-time X25519 key. */
export async function createInvitation(ctx: ClientContext, opts: { ttlSeconds?: number; name?: string } = {}): Promise<string> {
  ctx.requireAccount();
  const ttl = opts.ttlSeconds ?? DEFAULT_INVITATION_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > 30 * 24 * 3600) throw new ClientError('INVALID_ARGUMENT', 'ttlSeconds must be 1 .. 30 days');
  const inv = await makeInvitation(ctx, { ttlSeconds: ttl, name: opts.name ?? null, contactId: null, origin: 'invitation' });
  return formatInvitationLink(inv.payload);
}

/**
 * An invitation record and its mailbox: one a person accepts (`contactId` null: the acceptor
 * becomes a new contact), or one a device of ours or of a contact accepts (spec/devices.md §3.4, §4.2).
 */
export async function makeInvitation(
  ctx: ClientContext,
  o: { ttlSeconds: number; name: string | null; contactId: string | null; origin: ChannelRecord['origin']; device?: Uint8Array; deviceList?: Uint8Array },
): Promise<InvitationRecord> {
  const keys = newMailboxKeys();
  try {
    // The relay's default TTL, as for every other mailbox of ours: a lifetime of its own would tell
    // the relay an invitation, a link or an introduction apart (spec/devices.md §10); the
    // invitation's own expiry is signed in it, and the mailbox is deleted when it expires.
    await ctx.link(ctx.homeRelay).create(keys, 0);
  } catch (e) {
    throw relayFailure(e, 'createInvitation');
  }
  const invKey = x25519KeyPair();
  const expiresAt = Math.floor(Date.now() / 1000) + o.ttlSeconds;
  const payload = encodeInvitation({
    inviter: ctx.identity.publicKey, invitationKey: invKey.publicKey, expiresAt,
    relay: ctx.homeRelay, mailboxKey: keys.mailboxKey, accessKey: keys.accessKey!,
  }, ctx.identity.sign.seed);
  const inv: InvitationRecord = {
    id: newLocalId(), payload, invitationSecret: invKey.secretKey, mailboxId: newLocalId(), expiresAt, name: o.name,
    contactId: o.contactId, origin: o.origin, device: o.device ?? null, deviceList: o.deviceList ?? null,
  };
  const mb: MailboxRecord = { id: inv.mailboxId, address: ctx.homeRelay, keys, role: 'invitation', ownerId: inv.id, status: 'active', createdAt: Date.now() };
  ctx.invitations.set(inv.id, inv);
  ctx.addMailbox(mb);
  await ctx.store.write([put(KIND.invitation, inv.id, inv), put(KIND.mailbox, mb.id, mb)]);
  return inv;
}

/**
 * Accepts an invitation (§4): sends the handshake to the inviter's one-time mailbox and
 * resolves once the inviter's answer has arrived. HANDSHAKE_TIMEOUT if it does not arrive
 * in time (the contact may still complete later, with a 'contact' event).
 */
export async function acceptInvitation(ctx: ClientContext, link: string, opts: { name?: string; timeoutMs?: number } = {}): Promise<Contact> {
  ctx.assertOpen();
  if (typeof link === 'string' && looksLikeLinkCode(link)) {
    throw new ClientError('LINK_CODE_NOT_INVITATION', 'this is a device-linking code, not a contact invitation: it would add a device to an account. Never enter a code someone sent you; linking starts on your own device (spec/devices.md §3.1)');
  }
  const account = ctx.requireAccount();
  const { invitation: inv, payload } = parseInvitationLink(link);
  checkNotExpired(inv, Date.now());
  if (hasDevice(account.list, inv.inviter)) throw new ClientError('OWN_INVITATION', 'this invitation was made by a device of this account');
  if (ctx.store.has(KIND.accepted, toHex(sha256(payload)))) throw new ClientError('INVITATION_USED', 'this invitation was already accepted');
  const person: ContactRecord = {
    id: newLocalId(), name: ctx.uniqueName(opts.name), account: null, deviceList: null, safetyCode: '', verified: false, createdAt: Date.now(), announced: [],
  };
  const started = await startAcceptor(ctx, inv, payload, person, 'invitation');
  const timeoutMs = opts.timeoutMs ?? ctx.opts.handshakeTimeoutMs ?? 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      started.established as Promise<Contact>,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ClientError('HANDSHAKE_TIMEOUT', 'the inviter has not answered yet; the contact completes when it does')), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    ctx.acceptWaiters.delete(started.channel.id);
  }
}

/**
 * The acceptor's side of a handshake (§4.1), for a person's invitation (`person` is new) or
 * for an introduction or link (`person` is the contact id the channel belongs to, or SELF).
 * Resolves once the hello is at the relay; `established` once the inviter's confirm decrypted.
 */
export async function startAcceptor(
  ctx: ClientContext, inv: Invitation, payload: Uint8Array, person: ContactRecord | string, origin: ChannelRecord['origin'],
): Promise<{ channel: ChannelRecord; established: Promise<Contact | null> }> {
  const keys = newMailboxKeys();
  try {
    await ctx.link(ctx.homeRelay).create(keys, 0);
  } catch (e) {
    throw relayFailure(e, 'acceptInvitation');
  }
  const ephemeral = x25519KeyPair();
  const kem = mlKem768KeyPair(); // the hybrid session's handshake KEM (spec/ratchet.md §12.7)
  const helloBody = encodeHello({
    identity: ctx.identity.publicKey, binding: ctx.identity.binding, ephemeralKey: ephemeral.publicKey, kemKey: kem.encapsulationKey,
    capability: sendCapability(ctx.homeRelay, keys),
  });
  const th = transcriptHash(payload, helloBody);
  const sk = acceptorSecret(ctx.identity, ephemeral, inv.inviter, inv.invitationKey, th);
  const channel: ChannelRecord = {
    id: newLocalId(), contactId: typeof person === 'string' ? person : person.id, identity: inv.inviter, transcriptHash: th,
    established: false, establishedAt: 0, origin, role: 'acceptor',
    inboxId: newLocalId(), nextInboxId: null, rotatedAt: null, peer: null, createdAt: Date.now(),
  };
  const mb: MailboxRecord = { id: channel.inboxId, address: ctx.homeRelay, keys, role: 'contact', ownerId: channel.id, status: 'active', createdAt: Date.now() };
  const ops: StoreOp[] = [];
  if (typeof person !== 'string') { ctx.contacts.set(person.id, person); ops.push(ctx.contactOp(person)); }
  ctx.channels.set(channel.id, channel);
  ctx.setSession(channel.id, startResponder(sk, th, ephemeral, kem.seed));
  wipe(kem.seed); // the session holds its own copy
  ctx.addMailbox(mb);
  const established = new Promise<Contact | null>((resolve, reject) => ctx.acceptWaiters.set(channel.id, { resolve, reject }));
  established.catch(() => undefined);
  await ctx.store.write([
    ...ops, ctx.channelOp(channel), ctx.sessionOp(channel.id), put(KIND.mailbox, mb.id, mb),
    put(KIND.accepted, toHex(sha256(payload)), { contactId: channel.id }),
  ]);

  const envelope = sealEnvelope({ mailboxKey: inv.mailboxKey, sender: ctx.identity.dh, body: helloBody });
  try {
    await sendWithRetry(ctx, invitationCapability(inv), envelope);
  } catch (e) {
    ctx.acceptWaiters.delete(channel.id);
    await forgetChannel(ctx, channel.id);
    if (typeof person !== 'string') await forgetContact(ctx, person.id);
    // AUTH: no mailbox with this sendId and access key. The relay answers an unknown mailbox and
    // a wrong access key alike; the access key is signed (§3.1), so the mailbox is gone (§4.1).
    if (isProtocolError(e) && e.errorName === 'AUTH') {
      throw new ClientError('INVITATION_USED', "the invitation's mailbox is gone at the relay: the invitation was used by someone else, or withdrawn", { cause: e });
    }
    throw relayFailure(e, 'acceptInvitation');
  }
  return { channel, established };
}

/** The handshake's SEND (direct or forwarded), retrying transient failures until the relay timeout. */
async function sendWithRetry(ctx: ClientContext, cap: ReturnType<typeof invitationCapability>, envelope: Uint8Array): Promise<void> {
  const deadline = Date.now() + ctx.relayTimeout;
  // One key for every attempt: a forwarded retry is then stored once (spec/federation.md §6).
  const key = newIdempotencyKey();
  for (let attempt = 0; ; attempt++) {
    try {
      return await ctx.senders.send(cap, envelope, ctx.relayTimeout, key);
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
  // An invitation made for one device (an introduction or a link) takes a hello from that device only.
  if (inv.device && !sameIdentity(inv.device, hello.identity)) return dropped(ctx, 'unknown-sender');
  const sk = inviterSecret(ctx.identity, inv.invitationSecret as X25519SecretKey, hello, th);
  const keys = newMailboxKeys();
  await ctx.link(ctx.homeRelay).create(keys, 0); // a failure leaves the HELLO queued at the relay, for later
  if (!ctx.invitations.has(inv.id)) return dropped(ctx, 'replay');
  const ops: StoreOp[] = [];
  let contactId = inv.contactId ?? null;
  if (contactId === null) {
    const person: ContactRecord = {
      id: newLocalId(), name: ctx.uniqueName(inv.name ?? undefined), account: null, deviceList: null, safetyCode: '', verified: false, createdAt: Date.now(), announced: [],
    };
    ctx.contacts.set(person.id, person);
    ops.push(ctx.contactOp(person));
    contactId = person.id;
  }
  // Pending until the acceptor proves, in the ratchet, that it derived the same keys (§4.2, receiving.ts).
  const contact: ChannelRecord = {
    id: newLocalId(), contactId, identity: hello.identity, transcriptHash: th, established: false, establishedAt: 0, origin: inv.origin ?? 'invitation', role: 'inviter',
    inboxId: newLocalId(), nextInboxId: null, rotatedAt: null, peer: hello.capability, createdAt: Date.now(),
  };
  const inbox: MailboxRecord = { id: contact.inboxId, address: ctx.homeRelay, keys, role: 'contact', ownerId: contact.id, status: 'active', createdAt: Date.now() };
  ctx.channels.set(contact.id, contact);
  ctx.setSession(contact.id, startInitiator(sk, th, hello.ephemeralKey, hello.kemKey));
  ctx.addMailbox(inbox);
  // A link's confirm carries the list that certifies the new device (spec/devices.md §3.4).
  const deviceList = inv.deviceList ?? ctx.requireAccount().list.bytes;
  const { entry, op } = sealPayload(ctx, contact, newPayload({ type: 'confirm', capability: sendCapability(ctx.homeRelay, keys), deviceList }));
  // One-time: the invitation is consumed now; its mailbox is deleted after the commit.
  ctx.invitations.delete(inv.id);
  mb.status = 'deleting';
  return {
    ops: [
      ...ops, ctx.channelOp(contact), ctx.sessionOp(contact.id), put(KIND.mailbox, inbox.id, inbox), op, del(KIND.invitation, inv.id),
      put(KIND.mailbox, mb.id, mb),
    ],
    send: [entry],
    after: [() => { void ctx.deleteMailbox(mb); }],
  };
}
