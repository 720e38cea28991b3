// Receiving (spec/client.md §6). An envelope on a contact mailbox is handled at once, in
// the turn it arrives: open the delivery layer, skip a msgId already processed, open the
// sealed envelope, check the sender, run the ratchet, and queue every resulting change as one
// store write (group-committed with the others, §7.4). Once that has committed the envelope
// is ACKed (not awaited) and the events fire, in arrival order. A crash before the commit
// leaves the envelope queued at the relay; after it, the seen set absorbs the redelivery.
//
// Work that needs the relay (a handshake's CREATE, draining a retired mailbox) runs in the
// mailbox's own serial queue, so it never holds up other mailboxes.
import { equalBytes, openEnvelope, toBase64url } from '../crypto/index.js';
import { MalformedError, type MsgFrame } from '../wire/index.js';
import type { RelayConnection } from './connection.js';
import type { ClientContext, InboundHandlers } from './context.js';
import { dropped, type Handled, type Opened } from './handled.js';
import { BODY_RATCHET } from './handshake.js';
import { dhKeyOf } from './identity.js';
import { handleHello } from './invitations.js';
import { addSiblingDevice, ensureKeyPackages, handleGroupEnvelope, readdPending, receiveKeyPackage, receiveWelcomeChunk } from './groups.js';
import { openDelivered, sendCapability, type Delivered } from './mailbox.js';
import type { OutboxEntry } from './outbox.js';
import { decodePayload, newPayload, type Payload } from './payload.js';
import type { StoreOp } from './profile-store.js';
import { sealPayload, sendPayload, submit } from './sending.js';
import { accountOp, checkSerials, introAcceptable, takeDeviceList, takeLinkedDevice, takeSentCopy } from './devices.js';
import { acceptIntro, holdIntro, onChannelEstablished, takeContactSync } from './device-sync.js';
import { SessionError, sessionDecrypt } from './session.js';
import { receivedUnder, takeTimer } from './timers.js';
import { KIND, put, SELF, type ChannelRecord, type MailboxRecord, type MessageRecord } from './state.js';
import type { Message } from './types.js';

export function inboundHandlers(ctx: ClientContext): InboundHandlers {
  return {
    onMessage(conn, keys, msg) {
      const mb = ctx.mailboxByKeys.get(keys);
      if (!mb || ctx.closed) return;
      // §6.4: counted until finished; past the hard cap the relay ignores back-pressure.
      if (!ctx.inboundBudget.take(conn)) { ctx.counters.errors++; conn.abort(); return; }
      const release = (): void => ctx.inboundBudget.release(conn);
      if (mb.role === 'contact' && !ctx.inboundTails.has(mb.id)) {
        try {
          receive(ctx, conn, mb, msg).then(release, () => { ctx.counters.errors++; release(); });
        } catch {
          ctx.counters.errors++; // left unacknowledged: the relay delivers it again after a reconnect
          release();
        }
      } else if (!ctx.serial(mb.id, () => receive(ctx, conn, mb, msg), release)) {
        release();
      }
    },
    onLost(keys) {
      const mb = ctx.mailboxByKeys.get(keys);
      if (mb) ctx.serial(mb.id, () => ctx.store.write(ctx.forgetMailbox(mb)));
    },
  };
}

function receive(ctx: ClientContext, conn: RelayConnection, mb: MailboxRecord, msg: MsgFrame): Promise<void> {
  let delivered: Delivered;
  try {
    delivered = openDelivered(conn, mb.keys, msg);
  } catch {
    return finish(ctx, conn, mb, msg.msgId, dropped(ctx, 'delivery'));
  }
  return handleDelivered(ctx, conn, mb, delivered);
}

/** `conn` is the connection that delivered the envelope; its ACK goes there. */
export function handleDelivered(ctx: ClientContext, conn: RelayConnection, mb: MailboxRecord, d: Delivered): Promise<void> {
  if (ctx.seen.get(mb.id)?.has(d.msgId)) {
    ctx.link(mb.address).ack(conn, mb.keys, d.msgId);
    return Promise.resolve();
  }
  let opened: Opened;
  try {
    opened = openEnvelope({ mailboxSecret: mb.keys.mailboxSecret, mailboxKey: mb.keys.mailboxKey, envelope: d.envelope });
  } catch {
    return finish(ctx, conn, mb, d.msgId, dropped(ctx, 'undecryptable'));
  }
  if (mb.role === 'invitation') return handleHello(ctx, mb, opened, d).then((h) => finish(ctx, conn, mb, d.msgId, h));
  if (mb.role === 'link') {
    // A linking attempt's mailbox (spec/devices.md §3): handled by the attempt, if it is still running.
    const handler = ctx.linkHandlers.get(mb.id);
    if (handler) handler(opened);
    return finish(ctx, conn, mb, d.msgId, { ops: [], send: [], after: [] });
  }
  if (mb.role === 'group') {
    // A group envelope that must wait (an epoch not reached, a Welcome not yet in) is left
    // unacknowledged and handled again when it can be (spec/groups.md §12.2).
    const h = handleGroupEnvelope(ctx, mb, opened, () => { void handleDelivered(ctx, conn, mb, d).catch(() => { ctx.counters.errors++; }); });
    return h ? finish(ctx, conn, mb, d.msgId, h) : Promise.resolve();
  }
  return finish(ctx, conn, mb, d.msgId, handleRatchet(ctx, mb, opened));
}

/** Queues the result with the msgId marked seen; once committed, ACKs and runs the effects. */
function finish(ctx: ClientContext, conn: RelayConnection, mb: MailboxRecord, msgId: number, h: Handled): Promise<void> {
  const seen = ctx.mailboxes.get(mb.id) === mb ? ctx.seen.get(mb.id) : undefined;
  if (seen) {
    seen.add(msgId);
    h.ops.push(ctx.seenOp(mb.id));
  }
  const written = ctx.store.write(h.ops);
  for (const entry of h.send) void submit(ctx, entry, written).catch(() => undefined);
  return written.then(() => {
    ctx.link(mb.address).ack(conn, mb.keys, msgId);
    for (const f of h.after) f();
  });
}

/** A ratchet message on a channel's mailbox (spec/client.md §5, §6; spec/devices.md §4). */
function handleRatchet(ctx: ClientContext, mb: MailboxRecord, opened: Opened): Handled {
  const c = ctx.channels.get(mb.ownerId);
  if (!c || !equalBytes(opened.senderKey, dhKeyOf(c.identity))) return dropped(ctx, 'unknown-sender');
  if (opened.body.length < 1 || opened.body[0] !== BODY_RATCHET) return dropped(ctx, 'malformed');
  const session = ctx.sessions.get(c.id);
  if (!session) return dropped(ctx, 'unknown-sender');
  let plaintext: Uint8Array;
  try {
    plaintext = sessionDecrypt(session, opened.body.subarray(1)); // a refused message leaves the session as it was
  } catch (e) {
    return dropped(ctx, e instanceof SessionError && e.reason === 'replay' ? 'replay' : 'ratchet');
  }
  const ops: StoreOp[] = [ctx.sessionOp(c.id)];
  const after: Array<() => void> = [];
  const send: OutboxEntry[] = [];
  const h: Handled = { ops, send, after };
  let payload: Payload;
  try {
    payload = decodePayload(plaintext);
  } catch (e) {
    if (!(e instanceof MalformedError)) throw e;
    return dropped(ctx, 'malformed', ops);
  }
  ctx.counters.received++;
  let channelChanged = false;
  const reply = (p: Payload): void => {
    if (!c.peer || ctx.channels.get(c.id) !== c) return;
    try { const r = sealPayload(ctx, c, p); ops.push(r.op); send.push(r.entry); } catch { /* SEND_REJECTED: the next message tries again */ }
  };
  // Key confirmation (§4.2): a message that decrypts proves that the other device derived the
  // same keys. The inviter's channel is established at the first one (the acceptor's confirm).
  const wasPending = !c.established;
  if (wasPending && c.role === 'inviter') {
    const take = c.contactId === SELF && c.origin === 'link' ? takeLinkedDevice : takeDeviceList;
    if (payload.type !== 'confirm' || !take(ctx, c, payload.deviceList, h)) return dropped(ctx, 'unknown-sender', ops);
    establish(ctx, c, h);
    channelChanged = true;
  }
  // The contact wrote to our new mailbox: it has switched, so the old one can go (§8.2).
  if (c.nextInboxId === mb.id) {
    const old = ctx.mailboxes.get(c.inboxId);
    c.inboxId = mb.id;
    c.nextInboxId = null;
    c.rotatedAt = null;
    channelChanged = true;
    if (old) {
      old.status = 'retiring';
      ops.push(put(KIND.mailbox, old.id, old));
      after.push(() => ctx.serial(old.id, () => retire(ctx, old)));
    }
  }
  const person = ctx.personOf(c);
  if (c.established) checkSerials(ctx, c, payload, reply);
  switch (payload.type) {
    case 'text': {
      if (!person) break; // texts come from contacts; our own devices send copies ('sent')
      // Its expiry follows the timer it was sent under, not the conversation's now (§10.2).
      const { timer, expiresAt } = receivedUnder(ctx, payload.timer, payload.sentAt);
      const m: Message = { contactId: person.id, id: toBase64url(payload.id), text: payload.text, sentAt: payload.sentAt, receivedAt: Date.now(), verified: person.verified, expiresAt };
      if (ctx.keepHistory) ops.push(put(KIND.message, `${person.id}:${ctx.messageSeq}`, { seq: ctx.messageSeq++, direction: 'in', ...m, timer } satisfies MessageRecord));
      after.push(() => ctx.emit('message', m));
      const r = ctx.receipts;
      if (r) after.push(() => r.add(c.id, payload.id));
      break;
    }
    case 'receipt':
      if (person) after.push(() => ctx.emit('receipt', { contactId: person.id, ids: payload.ids.map(toBase64url) }));
      break;
    case 'rotate-mailbox':
      c.peer = payload.capability;
      channelChanged = true;
      break;
    case 'confirm':
      if (!wasPending) break;
      if (!takeDeviceList(ctx, c, payload.deviceList, h)) return dropped(ctx, 'unknown-sender', ops);
      c.peer = payload.capability;
      channelChanged = true;
      if (c.role === 'acceptor') {
        // The inviter's confirm decrypted: established here; confirm back, so that the inviter's is too (§4.1 step 6).
        establish(ctx, c, h);
        const ack = confirmBack(ctx, c);
        if (ack) { ops.push(ack.op); send.push(ack.entry); }
      }
      break;
    case 'key-package':
      if (receiveKeyPackage(ctx, c, payload.keyPackage, ops)) {
        after.push(() => { void readdPending(ctx, c.id).then(() => addSiblingDevice(ctx, c)).catch(() => { ctx.counters.errors++; }); });
      }
      break;
    case 'group-welcome':
      receiveWelcomeChunk(ctx, c, payload.chunk, ops, after);
      break;
    case 'device-list':
      if (!takeDeviceList(ctx, c, payload.deviceList, h)) ctx.dropped('malformed');
      break;
    case 'list-request': {
      const own = ctx.account?.list;
      if (own) reply(newPayload({ type: 'device-list', deviceList: own.bytes }));
      break;
    }
    case 'intro':
      if (introAcceptable(ctx, c, payload.invitation)) after.push(() => { void acceptIntro(ctx, c.contactId, payload.invitation); });
      break;
    case 'intro-forward': {
      if (c.contactId !== SELF) break; // only our own devices ask us to introduce them
      const target = [...ctx.channels.values()].find((x) => x.established && equalBytes(x.identity, payload.device));
      if (target) after.push(() => { void sendPayload(ctx, target, newPayload({ type: 'intro', invitation: payload.invitation })).catch(() => undefined); });
      else holdIntro(ctx, payload.device, payload.invitation);
      break;
    }
    case 'sent':
      if (c.contactId === SELF) takeSentCopy(ctx, payload, h);
      break;
    case 'contact-sync':
      if (c.contactId === SELF) takeContactSync(ctx, payload, h, c);
      break;
    case 'timer':
      takeTimer(ctx, c, payload, h);
      break;
  }
  if (channelChanged && ctx.channels.get(c.id) === c) ops.push(ctx.channelOp(c));
  return h;
}

/**
 * A channel's handshake completed (§4.2; spec/devices.md §4.3): the app hears of a new contact,
 * a waiting acceptInvitation resolves, and the texts sent to that device's account since the
 * device was added (before this channel worked) follow.
 */
function establish(ctx: ClientContext, c: ChannelRecord, h: Handled): void {
  c.established = true;
  c.establishedAt = Date.now();
  // The new device keeps its account only now that the device linking it answered (spec/devices.md §3.5).
  if (c.contactId === SELF && c.origin === 'link' && c.role === 'acceptor') h.ops.push(accountOp(ctx));
  const person = ctx.personOf(c);
  const first = person ? ctx.channelsOf(person.id).every((x) => x === c || !x.established) : false;
  h.after.push(() => {
    const waiter = ctx.acceptWaiters.get(c.id);
    if (person) {
      const v = ctx.view(person);
      waiter?.resolve(v);
      if (first) ctx.emit('contact', v);
    } else {
      waiter?.resolve(null);
    }
    onChannelEstablished(ctx, c);
  });
}
/** The acceptor's confirm (§4.1 step 6): its mailbox for this channel and its device list, in the ratchet. None if it cannot be sealed. */
function confirmBack(ctx: ClientContext, c: ChannelRecord): { entry: OutboxEntry; op: StoreOp } | null {
  const inbox = ctx.mailboxes.get(c.inboxId);
  if (!inbox) return null;
  try {
    return sealPayload(ctx, c, newPayload({ type: 'confirm', capability: sendCapability(inbox.address, inbox.keys), deviceList: ctx.requireAccount().list.bytes }));
  } catch {
    return null; // the inviter's mailbox key cannot be sealed to: it stays pending there, and sends here are SEND_REJECTED
  }
}

/** Drains a replaced mailbox with FETCH, then deletes it (spec/client.md §8.2); runs in the mailbox's queue. */
export async function retire(ctx: ClientContext, mb: MailboxRecord): Promise<void> {
  if (mb.status !== 'retiring' || ctx.mailboxes.get(mb.id) !== mb) return; // done already
  const l = ctx.link(mb.address);
  for (let i = 0; i < 10_000; i++) {
    const { conn, delivered } = await l.fetch(mb.keys);
    if (!delivered) break;
    await handleDelivered(ctx, conn, mb, delivered);
  }
  mb.status = 'deleting';
  await ctx.store.write([put(KIND.mailbox, mb.id, mb)]);
  await ctx.deleteMailbox(mb);
}
