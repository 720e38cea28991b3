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
import { encodePayload, MAX_RECEIPT_IDS, newPayload, type Payload } from './payload.js';
import type { StoreOp } from './profile-store.js';
import { sessionEncrypt } from './session.js';
import { KIND, put, type ContactRecord, type MessageRecord } from './state.js';
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

/** Ratchet-encrypts and seals one payload to the contact's mailbox: the outbox entry and its store op. */
export function sealPayload(ctx: ClientContext, c: ContactRecord, payload: Payload): { entry: OutboxEntry; op: StoreOp } {
  if (!c.peer) throw new ClientError('CONTACT_PENDING', 'the handshake with this contact has not completed');
  const message = sessionEncrypt(ctx.sessions.get(c.id)!, encodePayload(payload));
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

/** One payload to one contact, made and queued at once; resolves when the relay accepted it. */
function queuePayload(ctx: ClientContext, c: ContactRecord, payload: Payload, extra: readonly StoreOp[]): Promise<void> {
  const { entry, op } = sealPayload(ctx, c, payload);
  const written = ctx.store.write([ctx.sessionOp(c.id), op, ...extra]);
  return submit(ctx, entry, written);
}

export async function sendPayload(ctx: ClientContext, c: ContactRecord, payload: Payload, extra: readonly StoreOp[] = []): Promise<void> {
  ctx.assertOpen();
  if (!c.established) throw new ClientError('CONTACT_PENDING', 'the handshake with this contact has not completed');
  if (!ctx.outgoing.busy([c.id])) return queuePayload(ctx, c, payload, extra);
  // A fan-out holds this contact: queue behind it (in an array: the section ends at the outbox, not at the relay's OK).
  const [accepted] = await ctx.outgoing.run([c.id], async () => { ctx.assertOpen(); return [queuePayload(ctx, c, payload, extra)]; });
  return accepted;
}

function historyOp(seq: number, c: ContactRecord, payload: Payload, text: string): StoreOp {
  const rec: MessageRecord = {
    seq, contactId: c.id, id: toBase64url(payload.id), direction: 'out', text, sentAt: payload.sentAt, receivedAt: payload.sentAt, verified: c.verified,
  };
  return put(KIND.message, `${c.id}:${seq}`, rec);
}

/** Sends a text; resolves when the relay has durably accepted the envelope (spec/protocol.md §5.10). */
export async function send(ctx: ClientContext, contactId: string, text: string): Promise<SentMessage> {
  ctx.assertOpen();
  checkText(text);
  const c = ctx.requireContact(contactId);
  const payload = newPayload({ type: 'text', text });
  const extra = ctx.keepHistory ? [historyOp(ctx.messageSeq++, c, payload, text)] : [];
  try {
    await sendPayload(ctx, c, payload, extra);
  } catch (e) {
    throw relayFailure(e, 'send');
  }
  return { id: toBase64url(payload.id), sentAt: payload.sentAt };
}

/**
 * One text to many contacts (spec/client.md §9.4): a ratchet message each, sealed in one
 * batch on the crypto pool, queued in order. `results[i]` is the outcome for `contactIds[i]`.
 */
export async function sendToMany(ctx: ClientContext, contactIds: readonly string[], text: string): Promise<SentToMany> {
  ctx.assertOpen();
  checkText(text);
  if (!Array.isArray(contactIds) || contactIds.length > MAX_FANOUT) throw new ClientError('INVALID_ARGUMENT', `contactIds must be an array of at most ${MAX_FANOUT}`);
  const payload = newPayload({ type: 'text', text });
  const { targets, slots } = planFanout(contactIds, (x) => ctx.findContact(x));
  const seq = ctx.messageSeq; // history order is call order, as for send()
  ctx.messageSeq += targets.length;
  const queued = await ctx.outgoing.run(targets.map((c) => c.id), () => fanOut(ctx, targets, payload, text, seq));
  const settled = await Promise.all(queued.map((q) => (q instanceof ClientError ? q : q.then(() => null, (e: unknown) => relayFailure(e, 'send')))));
  const results = slots.map((s, i): RecipientOutcome => {
    const error = typeof s === 'number' ? settled[s] : s;
    return error ? { contactId: String(contactIds[i]), ok: false, error } : { contactId: String(contactIds[i]), ok: true };
  });
  return { id: toBase64url(payload.id), sentAt: payload.sentAt, results };
}

/** A fan-out's section, holding all its contacts: per target, the outbox's promise or the error that kept it out. */
async function fanOut(ctx: ClientContext, targets: readonly ContactRecord[], payload: Payload, text: string, seq: number): Promise<Array<Promise<void> | ClientError>> {
  const out: Array<Promise<void> | ClientError> = new Array(targets.length);
  const plaintext = encodePayload(payload);
  const ready: Array<{ i: number; c: ContactRecord; peer: SendCapability }> = [];
  const seal: SealTarget[] = [];
  targets.forEach((c, i) => {
    if (ctx.contacts.get(c.id) !== c) out[i] = new ClientError('UNKNOWN_CONTACT', 'the contact was deleted');
    else if (!c.peer || !c.established) out[i] = new ClientError('CONTACT_PENDING', 'the handshake with this contact has not completed');
    else {
      ready.push({ i, c, peer: c.peer });
      seal.push({ mailboxKey: c.peer.mailboxKey, body: concat(RATCHET_PREFIX, sessionEncrypt(ctx.sessions.get(c.id)!, plaintext)) });
    }
  });
  const sealed = await ctx.sealer.seal(ctx.identity.dh, seal);
  ctx.assertOpen();
  const ops: StoreOp[] = [];
  const entries: Array<{ i: number; entry: OutboxEntry }> = [];
  ready.forEach(({ i, c, peer }, k) => {
    if (ctx.contacts.get(c.id) !== c) { out[i] = new ClientError('UNKNOWN_CONTACT', 'the contact was deleted'); return; }
    ops.push(ctx.sessionOp(c.id)); // kept even if sealing failed: a message key is never used twice
    const r = sealed[k]!;
    if (!r.ok) { out[i] = new ClientError('SEND_REJECTED', `the contact's mailbox key cannot be sealed to (${r.error})`); return; }
    const { entry, op } = ctx.outbox.prepare(c.id, peer, r.value);
    ops.push(op);
    entries.push({ i, entry });
    if (ctx.keepHistory) ops.push(historyOp(seq + i, c, payload, text));
  });
  const written = ctx.store.write(ops);
  for (const { i, entry } of entries) out[i] = submit(ctx, entry, written);
  return out;
}

/** Batched delivery receipts (spec/client.md §9.3). */
export async function sendReceipt(ctx: ClientContext, contactId: string, ids: Uint8Array[]): Promise<void> {
  const c = ctx.contacts.get(contactId);
  if (!c || ctx.closed) return;
  for (let i = 0; i < ids.length; i += MAX_RECEIPT_IDS) {
    await sendPayload(ctx, c, newPayload({ type: 'receipt', ids: ids.slice(i, i + MAX_RECEIPT_IDS) })).catch((e: unknown) => {
      if (!isClientError(e)) throw e;
    });
  }
}
