// The owner's mailbox commands: CREATE, AUTH, ROTATE, DEL (spec/protocol.md §5.2, §5.3, §5.8,
// §5.9). These are the only commands with a public-key operation (one Ed25519 verify, and one
// X25519 for CREATE/ROTATE), each once per mailbox per connection.
import {
  createMessage, deliveryKey as deriveDeliveryKey, ed25519Verify, openDelivery, randomBytes, readAuthMessage, readIdOf,
  rotateMessage, sealDelivery, x25519PublicKey, type DeliveryKey, type Ed25519PublicKey,
} from '../crypto/index.js';
import {
  bodyWithoutSignature, MAILBOX_FLAG_PUBLIC, ProtocolError,
  type AuthFrame, type CreateFrame, type DelFrame, type RelayFrame, type RotateFrame,
} from '../wire/index.js';
import { authorize, effectiveTtl, isAllZero, ok, requireAuth, storeFailure, storeWrite } from './cmd-common.js';
import type { RelayContext } from './context.js';
import { hexOf } from './mailboxes.js';
import type { Session } from './session.js';
import type { MailboxRecord } from './store.js';
import { endSubscription } from './subscription.js';

/** dk for a mailbox delivery key (spec/crypto.md §6), or ERR INVALID for a key that is not a valid X25519 point. */
function mailboxDk(ctx: RelayContext, mailboxDeliveryKey: Uint8Array): Uint8Array {
  try {
    const key = x25519PublicKey(mailboxDeliveryKey, 'deliveryKey');
    return deriveDeliveryKey(ctx.identity.deliverySecret, key, ctx.identity.deliveryKey, key);
  } catch {
    throw new ProtocolError('INVALID', 'delivery key');
  }
}

/** Flags and verifier agree: public ⇔ all-zero verifier (spec/protocol.md §4). */
function checkVerifier(flags: number, verifier: Uint8Array): void {
  if (((flags & MAILBOX_FLAG_PUBLIC) !== 0) !== isAllZero(verifier)) throw new ProtocolError('INVALID', 'access verifier does not match the mailbox kind');
}

const idInUse = (ctx: RelayContext, kind: 'r' | 's', id: Uint8Array): boolean =>
  ctx.reservedIds.has(kind + hexOf(id)) ||
  (kind === 'r' ? ctx.store.findByReadId(id) : ctx.store.findBySendId(id)) !== undefined;

/** A fresh internal id: random 53 bits (not a counter, which would date mailboxes). */
function newIid(ctx: RelayContext): number {
  for (;;) {
    const b = randomBytes(7);
    const iid = (b[0]! & 0x1f) * 2 ** 48 + ((b[1]! << 16) | (b[2]! << 8) | b[3]!) * 2 ** 24 + ((b[4]! << 16) | (b[5]! << 8) | b[6]!);
    if (iid !== 0 && !ctx.reservedIds.has('i' + iid) && !ctx.store.hasMailbox(iid)) return iid;
  }
}

export function handleCreate(ctx: RelayContext, session: Session, f: CreateFrame, raw: Uint8Array): Promise<RelayFrame> {
  const msg = createMessage(session.serverNonce, session.clientNonce, bodyWithoutSignature(raw));
  if (!ed25519Verify(f.signature, msg, f.readKey as Ed25519PublicKey)) throw new ProtocolError('AUTH');
  if ((f.flags & ~MAILBOX_FLAG_PUBLIC) !== 0) throw new ProtocolError('INVALID', 'unknown flags');
  checkVerifier(f.flags, f.accessVerifier);
  if (f.token.length !== 0) throw new ProtocolError('INVALID', 'admission tokens are not accepted by this relay');
  const dk = mailboxDk(ctx, f.deliveryKey);
  const readId = readIdOf(f.readKey as Ed25519PublicKey);
  if (idInUse(ctx, 'r', readId) || idInUse(ctx, 's', f.sendId)) throw new ProtocolError('DUPLICATE');
  if (session.auth.size >= ctx.config.maxAuthPerConnection) throw new ProtocolError('LIMIT', 'authenticated mailboxes');

  const record: MailboxRecord = {
    iid: newIid(ctx), readId, readKey: f.readKey.slice(), sendId: f.sendId.slice(), accessVerifier: f.accessVerifier.slice(),
    dk, flags: f.flags, ttlSeconds: effectiveTtl(ctx, f.ttlSeconds),
  };
  const reserved = ['r' + hexOf(readId), 's' + hexOf(record.sendId), 'i' + record.iid];
  for (const r of reserved) ctx.reservedIds.add(r);
  const unreserve = (): void => { for (const r of reserved) ctx.reservedIds.delete(r); };
  return storeWrite(ctx, () => ctx.store.createMailbox(record),
    () => {
      unreserve();
      authorize(session, ctx.mailboxes.created(record));
      return { type: 'CREATED', corr: 0, readId: record.readId, sendId: record.sendId };
    },
    (e: unknown) => {
      unreserve();
      throw storeFailure(ctx, 'create', e);
    },
  );
}

export function handleAuth(ctx: RelayContext, session: Session, f: AuthFrame): RelayFrame {
  const state = ctx.mailboxes.findByReadId(f.readId);
  const usable = state !== undefined && state.live && state.readHex === hexOf(f.readId);
  // Unknown and known mailboxes cost the same verification (spec/crypto.md §5).
  const key = usable ? (state.record.readKey as Ed25519PublicKey) : ctx.dummyReadKey;
  const valid = ed25519Verify(f.signature, readAuthMessage(session.serverNonce, session.clientNonce, f.readId), key);
  if (!valid || !usable) throw new ProtocolError('AUTH');
  if (!session.auth.has(state.readHex) && session.auth.size >= ctx.config.maxAuthPerConnection) throw new ProtocolError('LIMIT', 'authenticated mailboxes');
  authorize(session, state);
  return ok();
}

export function handleRotate(ctx: RelayContext, session: Session, f: RotateFrame, raw: Uint8Array): Promise<RelayFrame> {
  const state = requireAuth(session, f.readId);
  const msg = rotateMessage(session.serverNonce, session.clientNonce, bodyWithoutSignature(raw));
  if (!ed25519Verify(f.signature, msg, f.newReadKey as Ed25519PublicKey)) throw new ProtocolError('AUTH');
  checkVerifier(state.record.flags, f.newAccessVerifier);
  const newDk = mailboxDk(ctx, f.newDeliveryKey);
  const newReadId = readIdOf(f.newReadKey as Ed25519PublicKey);
  const newHex = hexOf(newReadId);
  if (newHex !== state.readHex && idInUse(ctx, 'r', newReadId)) throw new ProtocolError('DUPLICATE');
  if (state.busy) throw new ProtocolError('BUSY');

  const prev = state.record;
  const next: MailboxRecord = { ...prev, readId: newReadId, readKey: f.newReadKey.slice(), accessVerifier: f.newAccessVerifier.slice(), dk: newDk };
  // Queued envelopes are re-sealed under the new dk in the same transaction (spec/protocol.md §11).
  const reseal = (msgId: number, delivered: Uint8Array): Uint8Array => {
    const { receivedAtMinutes, envelope } = openDelivery(prev.dk as DeliveryKey, msgId, delivered);
    return sealDelivery(newDk as DeliveryKey, msgId, receivedAtMinutes, envelope);
  };
  state.busy = 'rotate';
  const reservation = 'r' + newHex;
  ctx.reservedIds.add(reservation);
  const oldHex = state.readHex;
  return storeWrite(ctx, () => ctx.store.rotateMailbox(prev, next, reseal),
    () => {
      state.busy = null;
      ctx.reservedIds.delete(reservation);
      ctx.mailboxes.rotated(state, next);
      // Pushes so far carried the old readId and dk: the subscription ends (END oldReadId).
      endSubscription(state, true);
      // This connection now reads the mailbox under its new readId.
      if (session.auth.get(oldHex) === state) {
        session.auth.delete(oldHex);
        session.auth.set(newHex, state);
      } else {
        authorize(session, state);
      }
      return { type: 'ROTATED', corr: 0, newReadId };
    },
    (e: unknown) => {
      state.busy = null;
      ctx.reservedIds.delete(reservation);
      throw storeFailure(ctx, 'rotate', e);
    },
  );
}

export function handleDel(ctx: RelayContext, session: Session, f: DelFrame): Promise<RelayFrame> {
  const state = requireAuth(session, f.readId);
  if (state.busy) throw new ProtocolError('BUSY');
  state.busy = 'delete';
  const sub = state.subscription;
  if (sub) endSubscription(state, sub.owner !== session);
  return storeWrite(ctx, () => ctx.store.deleteMailbox(state.record),
    () => {
      state.busy = null;
      ctx.mailboxes.forget(state);
      if (session.auth.get(state.readHex) === state) {
        session.auth.delete(state.readHex);
        state.refs--;
      }
      return ok();
    },
    (e: unknown) => {
      state.busy = null;
      throw storeFailure(ctx, 'del', e);
    },
  );
}

