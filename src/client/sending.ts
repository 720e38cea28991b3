// Sending (spec/client.md §9): a ratchet step, the sealed envelope and the outbox entry are
// made in one synchronous step and written in one store transaction (shared with whatever
// else is being written, §7.4); the outbox sends the entry once that has committed, in
// order, many in flight (§9.1). A fan-out (§9.4) ratchets per contact, seals in one batch on
// the crypto pool, and holds its contacts meanwhile so that later sends stay behind it.
import { concat, sealEnvelope, toBase64url } from '../crypto/index.js';
import type { ClientContext } from './context.js';
import { ClientError, isClientError, relayFailure } from './errors.js';
import { MAX_FANOUT, planFanout, type SealTarget } from './fanout.js';
import { BODY_RATCHET } from './handshake.js';
import type { SendCapability } from './mailbox.js';
import type { OutboxEntry } from './outbox.js';
import { encodePayload, MAX_RECEIPT_IDS, MAX_SENT_ACCOUNTS, newPayload, type Payload } from './payload.js';
import { ownChannels, sendingChannels, withSerials } from './devices.js';
import type { StoreOp } from './profile-store.js';
import { sessionEncrypt } from './session.js';
import { expiryOf, sendingTimer } from './timer-rules.js';
import { KIND, put, type ChannelRecord, type ContactRecord, type MessageRecord } from './state.js';
import type { RecipientOutcome, SentMessage, SentToMany } from './types.js';

const MAX_TEXT_BYTES = 60_000;
const RATCHET_PREFIX = new Uint8Array([BODY_RATCHET]);

export function checkText(text: unknown): asserts text is string {
  if (typeof text !== 'string') throw new ClientError('INVALID_ARGUMENT', 'text must be a string');
  // UTF-8 takes at most 3 bytes per UTF-16 unit: most texts need no encoding to be checked.
  if (text.length * 3 > MAX_TEXT_BYTES && new TextEncoder().encode(text).length > MAX_TEXT_BYTES) {
    throw new ClientError('MESSAGE_TOO_LARGE', `texts are limited to ${MAX_TEXT_BYTES} bytes`);
  }
}

/** Hands a prepared entry to the outbox, to go once `written` commits; resolves when the relay accepted it. */
export function submit(ctx: ClientContext, entry: OutboxEntry, written: Promise<void>): Promise<void> {
  const p = ctx.outbox.submit(entry, written);
  if (ctx.sentTaps.length > 0) p.then(() => { for (const t of ctx.sentTaps) t(entry); }, () => undefined);
  return p;
}

/** Ratchet-encrypts and seals one payload to a channel's mailbox: the outbox entry and its store op. */
export function sealPayload(ctx: ClientContext, c: ChannelRecord, payload: Payload): { entry: OutboxEntry; op: StoreOp } {
  if (!c.peer) throw new ClientError('CONTACT_PENDING', 'the handshake with this contact has not completed');
  const message = sessionEncrypt(ctx.sessions.get(c.id)!, encodePayload(withSerials(ctx, c, payload)));
  let envelope: Uint8Array;
  try {
    envelope = sealEnvelope({ mailboxKey: c.peer.mailboxKey, sender: ctx.identity.dh, body: concat(RATCHET_PREFIX, message) });
  } catch (e) {
    // The ratchet has moved on: store it, so that its message key is never used again.
    void ctx.store.write([ctx.sessionOp(c.id)]).catch(() => undefined);
    throw new ClientError('SEND_REJECTED', "the contact's mailbox key cannot be sealed to", { cause: e });
  }
  return ctx.outbox.prepare(c.id, c.peer, envelope);
}

/** One payload to one channel, made and queued at once; resolves when the relay accepted it. */
function queuePayload(ctx: ClientContext, c: ChannelRecord, payload: Payload, extra: readonly StoreOp[]): Promise<void> {
  const { entry, op } = sealPayload(ctx, c, payload);
  const written = ctx.store.write([ctx.sessionOp(c.id), op, ...extra]);
  return submit(ctx, entry, written);
}

/** One payload to one device's channel; resolves when the relay accepted it. */
export async function sendPayload(ctx: ClientContext, c: ChannelRecord, payload: Payload, extra: readonly StoreOp[] = []): Promise<void> {
  ctx.assertOpen();
  if (!c.established) throw new ClientError('CONTACT_PENDING', 'the handshake with this contact has not completed');
  if (!ctx.outgoing.busy([c.id])) return queuePayload(ctx, c, payload, extra);
  // A fan-out holds this channel: queue behind it (in an array: the section ends at the outbox, not at the relay's OK).
  const [accepted] = await ctx.outgoing.run([c.id], async () => { ctx.assertOpen(); return [queuePayload(ctx, c, payload, extra)]; });
  return accepted;
}

function historyOp(seq: number, c: ContactRecord, payload: Payload, text: string, timer: number): StoreOp {
  const rec: MessageRecord = {
    seq, contactId: c.id, id: toBase64url(payload.id), direction: 'out', text, sentAt: payload.sentAt, receivedAt: payload.sentAt, verified: c.verified,
    timer, expiresAt: expiryOf(payload.sentAt, timer),
  };
  return put(KIND.message, `${c.id}:${seq}`, rec);
}

/** The devices of a person a text goes to; CONTACT_PENDING when there is none yet. */
function deliverable(ctx: ClientContext, p: ContactRecord): ChannelRecord[] | ClientError {
  const chs = sendingChannels(ctx, p.id);
  return chs.length > 0 && p.account ? chs : new ClientError('CONTACT_PENDING', 'the handshake with this contact has not completed');
}

/**
 * Sends a text to every device of a contact, and a copy to our other devices (spec/devices.md
 * §4.1, §4.4); resolves when the relay has durably accepted the envelopes for the contact's
 * devices (spec/protocol.md §5.10). The copies go on behind it.
 */
export async function send(ctx: ClientContext, contactId: string, text: string): Promise<SentMessage> {
  ctx.assertOpen();
  checkText(text);
  const p = ctx.requireContact(contactId);
  const r = await sendToMany(ctx, [p.id], text);
  const outcome = r.results[0]!;
  if (!outcome.ok) throw outcome.error;
  return { id: r.id, sentAt: r.sentAt };
}

/**
 * One text to many contacts (spec/client.md §9.4): a ratchet message per device, sealed in one
 * batch on the crypto pool, queued in order, with copies for our other devices. `results[i]`
 * is the outcome for `contactIds[i]`: ok when the relay accepted it for at least one device of
 * that contact, else the first device's error.
 */
export async function sendToMany(ctx: ClientContext, contactIds: readonly string[], text: string): Promise<SentToMany> {
  ctx.assertOpen();
  checkText(text);
  if (!Array.isArray(contactIds) || contactIds.length > MAX_FANOUT) throw new ClientError('INVALID_ARGUMENT', `contactIds must be an array of at most ${MAX_FANOUT}`);
  const payload = newPayload({ type: 'text', text });
  const { targets: people, slots } = planFanout(contactIds, (x) => ctx.findContact(x));
  const perPerson: Array<ChannelRecord[] | ClientError> = people.map((p) => deliverable(ctx, p));
  const sends: FanTarget[] = [];
  const extra: StoreOp[] = [];
  // Each text goes under its conversation's timer (§10.2): one payload per timer in use.
  const byTimer = new Map<number, Uint8Array[]>();
  people.forEach((p, k) => {
    const chs = perPerson[k]!;
    if (chs instanceof ClientError) return;
    const timer = sendingTimer(ctx.wallet?.policy, p);
    const timed = timer > 0 ? newPayload({ type: 'text', text, timer }, payload.sentAt, payload.id) : payload;
    for (const ch of chs) sends.push({ ch, payload: timed, person: k });
    if (ctx.keepHistory) extra.push(historyOp(ctx.messageSeq++, p, payload, text, timer));
    byTimer.set(timer, [...(byTimer.get(timer) ?? []), p.account!]);
  });
  // Copies for our other devices (§4.4), naming the accounts, at most MAX_SENT_ACCOUNTS a copy.
  for (const own of ownChannels(ctx)) {
    for (const [timer, accounts] of byTimer) {
      for (let i = 0; i < accounts.length; i += MAX_SENT_ACCOUNTS) {
        const content = { type: 'sent' as const, accounts: accounts.slice(i, i + MAX_SENT_ACCOUNTS), text, ...(timer > 0 ? { timer } : {}) };
        sends.push({ ch: own, payload: newPayload(content, payload.sentAt, payload.id), person: -1 });
      }
    }
  }
  const queued = await ctx.outgoing.run([...new Set(sends.map((t) => t.ch.id))], () => fanOut(ctx, sends, extra));
  const settled = await Promise.all(queued.map((q) => (q instanceof ClientError ? q : q.then(() => null, (e: unknown) => relayFailure(e, 'send')))));
  // A person has the text when one of their devices does (spec/devices.md §4.1): a device whose
  // mailbox is gone (long offline, being revoked) must not make every send to them fail.
  const firstError: Array<ClientError | null> = people.map((_, k) => { const x = perPerson[k]; return x instanceof ClientError ? x : null; });
  const reached = people.map(() => false);
  sends.forEach((t, i) => {
    if (t.person < 0) return;
    if (!settled[i]) reached[t.person] = true;
    else if (!firstError[t.person]) firstError[t.person] = settled[i]!;
  });
  reached.forEach((r, k) => { if (r) firstError[k] = null; });
  const results = slots.map((s, i): RecipientOutcome => {
    const error = typeof s === 'number' ? firstError[s] : s;
    return error ? { contactId: String(contactIds[i]), ok: false, error } : { contactId: String(contactIds[i]), ok: true };
  });
  return { id: toBase64url(payload.id), sentAt: payload.sentAt, results };
}

interface FanTarget { readonly ch: ChannelRecord; readonly payload: Payload; readonly person: number }

/** A fan-out's section, holding all its channels: per target, the outbox's promise or the error that kept it out. */
async function fanOut(ctx: ClientContext, targets: readonly FanTarget[], extra: readonly StoreOp[]): Promise<Array<Promise<void> | ClientError>> {
  const out: Array<Promise<void> | ClientError> = new Array(targets.length);
  const ready: Array<{ i: number; c: ChannelRecord; peer: SendCapability }> = [];
  const seal: SealTarget[] = [];
  targets.forEach(({ ch: c, payload }, i) => {
    if (ctx.channels.get(c.id) !== c) out[i] = new ClientError('UNKNOWN_CONTACT', 'the contact was deleted');
    else if (!c.peer || !c.established) out[i] = new ClientError('CONTACT_PENDING', 'the handshake with this contact has not completed');
    else {
      ready.push({ i, c, peer: c.peer });
      seal.push({ mailboxKey: c.peer.mailboxKey, body: concat(RATCHET_PREFIX, sessionEncrypt(ctx.sessions.get(c.id)!, encodePayload(withSerials(ctx, c, payload)))) });
    }
  });
  const sealed = await ctx.sealer.seal(ctx.identity.dh, seal);
  ctx.assertOpen();
  const ops: StoreOp[] = [...extra];
  const entries: Array<{ i: number; entry: OutboxEntry }> = [];
  ready.forEach(({ i, c, peer }, k) => {
    if (ctx.channels.get(c.id) !== c) { out[i] = new ClientError('UNKNOWN_CONTACT', 'the contact was deleted'); return; }
    ops.push(ctx.sessionOp(c.id)); // kept even if sealing failed: a message key is never used twice
    const r = sealed[k]!;
    if (!r.ok) { out[i] = new ClientError('SEND_REJECTED', `the contact's mailbox key cannot be sealed to (${r.error})`); return; }
    const { entry, op } = ctx.outbox.prepare(c.id, peer, r.value);
    ops.push(op);
    entries.push({ i, entry });
  });
  const written = ctx.store.write(ops);
  for (const { i, entry } of entries) out[i] = submit(ctx, entry, written);
  return out;
}

/** Batched delivery receipts (spec/client.md §9.3), back to the device that sent the texts. */
export async function sendReceipt(ctx: ClientContext, channelId: string, ids: Uint8Array[]): Promise<void> {
  const c = ctx.channels.get(channelId);
  if (!c || ctx.closed) return;
  for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS) {
    await sendPayload(ctx, c, newPayload({ type: 'receipt', ids: ids.slice(i, i + MAX_RECEIPT_IDS) })).catch((e: unknown) => {
      if (!isClientError(e)) throw e;
    });
  }
}
