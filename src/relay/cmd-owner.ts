// The owner's mailbox commands: CREATE, AUTH, ROTATE, DEL (spec/protocol.md §5.2, §5.3, §5.8,
// §5.9). These are the only commands with a public-key operation (one Ed25519 verify, and one
// X25519 for CREATE/ROTATE), each once per mailbox per connection. Those run where the relay's
// crypto runs (crypto-lane.ts), as does ROTATE's re-sealing of the queue.
import {
  createMessage, deliveryKeyFromShared, isCryptoError, randomBytes, readAuthMessage, readIdOf, rotateMessage, x25519PublicKey,
  type DeliveryKey, type Ed25519PublicKey, type SharedSecret, type X25519PublicKey,
} from '../crypto/index.js';
import { DIRECT } from '../crypto/pool/ops.js';
import {
  bodyWithoutSignature, MAILBOX_FLAG_PUBLIC, ProtocolError,
  type AuthFrame, type CreateFrame, type DelFrame, type RelayFrame, type RotateFrame,
} from '../wire/index.js';
import { authorize, checkAuthRoom, effectiveTtl, isAllZero, ok, thenPinned, requireAuth, storeFailure, storeWrite } from './cmd-common.js';
import type { RelayContext } from './context.js';
import { andThen, type Maybe } from './maybe.js';
import { hexOf, type MailboxState } from './mailboxes.js';
import type { Session } from './session.js';
import { StoreConflictError, type MailboxRecord, type TokenSpend } from './store.js';
import { endSubscription } from './subscription.js';
import { dayOf, expiryDayAfterUse, noteUse } from './mailbox-expiry.js';

const invalidDeliveryKey = (): ProtocolError => new ProtocolError('INVALID', 'delivery key');

/** dk for a mailbox delivery key (spec/crypto.md §6), or ERR INVALID for a key that is not a valid X25519 point. */
function mailboxDk(ctx: RelayContext, mailboxDeliveryKey: Uint8Array): Maybe<DeliveryKey> {
  let key: X25519PublicKey;
  let shared: Maybe<SharedSecret>;
  try {
    key = x25519PublicKey(mailboxDeliveryKey, 'deliveryKey');
    shared = ctx.crypto.run('x25519', { secretKey: ctx.identity.deliverySecret, publicKey: key });
  } catch (e) {
    if (e instanceof ProtocolError) throw e; // BUSY
    throw invalidDeliveryKey();
  }
  const derive = (s: SharedSecret): DeliveryKey => deliveryKeyFromShared(s, ctx.identity.deliveryKey, key);
  if (!(shared instanceof Promise)) return derive(shared);
  return shared.then(derive, (e: unknown) => { throw isCryptoError(e) ? invalidDeliveryKey() : e; });
}

/** An Ed25519 check on the relay's crypto lane. */
const verify = (ctx: RelayContext, signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Maybe<boolean> =>
  ctx.crypto.run('verifyEd25519', { signature, message, publicKey });

/** Flags and verifier agree: public ⇔ all-zero verifier (spec/protocol.md §4). */
function checkVerifier(flags: number, verifier: Uint8Array): void {
  if (((flags & MAILBOX_FLAG_PUBLIC) !== 0) !== isAllZero(verifier)) throw new ProtocolError('INVALID', 'access verifier does not match the mailbox kind');
}

const idInUse = (ctx: RelayContext, kind: 'r' | 's', id: Uint8Array): Maybe<boolean> =>
  ctx.reservedIds.has(kind + hexOf(id)) ||
  andThen(kind === 'r' ? ctx.store.findByReadId(id) : ctx.store.findBySendId(id), (iid) => iid !== undefined || ctx.reservedIds.has(kind + hexOf(id)));

/** A fresh internal id: random 53 bits (not a counter, which would date mailboxes). */
function newIid(ctx: RelayContext): Maybe<number> {
  const b = randomBytes(7);
  const iid = (b[0]! & 0x1f) * 2 ** 48 + ((b[1]! << 16) | (b[2]! << 8) | b[3]!) * 2 ** 24 + ((b[4]! << 16) | (b[5]! << 8) | b[6]!);
  if (iid === 0 || ctx.reservedIds.has('i' + iid)) return newIid(ctx);
  return andThen(ctx.store.hasMailbox(iid), (taken) => (taken || ctx.reservedIds.has('i' + iid) ? newIid(ctx) : iid));
}

export function handleCreate(ctx: RelayContext, session: Session, f: CreateFrame, raw: Uint8Array): Maybe<RelayFrame> {
  const msg = createMessage(session.serverNonce, session.clientNonce, bodyWithoutSignature(raw));
  return andThen(verify(ctx, f.signature, msg, f.readKey), (valid) => {
    if (!valid) throw new ProtocolError('AUTH');
    if ((f.flags & ~MAILBOX_FLAG_PUBLIC) !== 0) throw new ProtocolError('INVALID', 'unknown flags');
    checkVerifier(f.flags, f.accessVerifier);
    // An open relay takes no token (spec/protocol.md §5.2); a closed one checks it last (§5.12).
    if (f.token.length !== 0 && ctx.admission === null) throw new ProtocolError('INVALID', 'admission tokens are not accepted by this relay');
    return andThen(mailboxDk(ctx, f.deliveryKey), (dk) => createMailbox(ctx, session, f, dk));
  });
}

function createMailbox(ctx: RelayContext, session: Session, f: CreateFrame, dk: DeliveryKey): Maybe<RelayFrame> {
  const readId = readIdOf(f.readKey as Ed25519PublicKey);
  return andThen(idInUse(ctx, 'r', readId), (readTaken) => andThen(readTaken || idInUse(ctx, 's', f.sendId), (taken) => {
    if (taken) throw new ProtocolError('DUPLICATE');
    checkAuthRoom(ctx, session);
    // After the checks above, so that only a CREATE that would succeed spends the budget (spec/protocol.md §5.2).
    if (!ctx.createBudget.take(session.addressGroup, performance.now())) throw new ProtocolError('RATE', 'mailbox creation budget of this address');
    const spend = admit(ctx, f.token);
    return andThen(newIid(ctx), (iid) => commitCreate(ctx, session, f, dk, readId, iid, spend));
  }));
}

/**
 * A closed relay's token check (spec/admission.md §4.1 steps 1–3), after every other check of
 * CREATE passed, the address's CREATE budget included: what to spend in the commit (step 4),
 * or null on an open relay.
 */
function admit(ctx: RelayContext, token: Uint8Array): TokenSpend | null {
  if (ctx.admission === null) return null;
  try {
    return ctx.admission.check(token, ctx.now());
  } catch (e) {
    if (e instanceof ProtocolError) ctx.metrics.admissionRefusals.inc(e.errorName);
    throw e;
  }
}

const spendKey = (s: TokenSpend): string => `t${s.epoch}:${hexOf(s.spentId)}`;

function commitCreate(ctx: RelayContext, session: Session, f: CreateFrame, dk: DeliveryKey, readId: Uint8Array, iid: number, spend: TokenSpend | null): Promise<RelayFrame> {
  // Reserved before any other read can be answered: a CREATE racing this one sees the ids taken.
  if (ctx.reservedIds.has('r' + hexOf(readId)) || ctx.reservedIds.has('s' + hexOf(f.sendId))) throw new ProtocolError('DUPLICATE');
  // The same token in two CREATEs in flight: the second is refused now (the store refuses it across processes).
  if (spend && ctx.reservedIds.has(spendKey(spend))) throw tokenSpent(ctx);
  const record: MailboxRecord = {
    iid, readId, readKey: f.readKey.slice(), sendId: f.sendId.slice(), accessVerifier: f.accessVerifier.slice(),
    dk, flags: f.flags, ttlSeconds: effectiveTtl(ctx, f.ttlSeconds),
  };
  const reserved = ['r' + hexOf(readId), 's' + hexOf(record.sendId), 'i' + record.iid, ...(spend ? [spendKey(spend)] : [])];
  for (const r of reserved) ctx.reservedIds.add(r);
  const unreserve = (): void => { for (const r of reserved) ctx.reservedIds.delete(r); };
  const expiryDay = expiryDayAfterUse(dayOf(ctx.now()), record.ttlSeconds);
  return storeWrite(ctx, () => ctx.store.createMailbox(record, expiryDay, spend ?? undefined),
    () => {
      unreserve();
      if (spend) ctx.metrics.tokensSpent.inc(String(spend.epoch));
      authorize(session, ctx.mailboxes.created(record, expiryDay));
      return { type: 'CREATED', corr: 0, readId: record.readId, sendId: record.sendId };
    },
    (e: unknown) => {
      unreserve();
      if (e instanceof StoreConflictError && e.code === 'SPENT') throw tokenSpent(ctx);
      if (e instanceof StoreConflictError) throw new ProtocolError('DUPLICATE'); // taken by another process meanwhile
      throw storeFailure(ctx, 'create', e);
    },
  );
}

function tokenSpent(ctx: RelayContext): ProtocolError {
  ctx.metrics.admissionRefusals.inc('TOKEN_SPENT');
  return new ProtocolError('TOKEN_SPENT');
}

export function handleAuth(ctx: RelayContext, session: Session, f: AuthFrame): Maybe<RelayFrame> {
  const readHex = hexOf(f.readId);
  const usable = (s: MailboxState | undefined): s is MailboxState => s !== undefined && s.live && s.readHex === readHex;
  return andThen(ctx.mailboxes.findByReadId(f.readId), (found) => {
    // Unknown and known mailboxes cost the same verification (spec/crypto.md §5).
    const key = usable(found) ? found.record.readKey : ctx.dummyReadKey;
    const valid = verify(ctx, f.signature, readAuthMessage(session.serverNonce, session.clientNonce, f.readId), key);
    return thenPinned(found, valid, (v) => {
      // Checked again: a DEL or ROTATE may have finished while the signature was checked.
      if (!v || !usable(found)) throw new ProtocolError('AUTH');
      checkAuthRoom(ctx, session, found.readHex);
      authorize(session, found);
      noteUse(ctx, found);
      return ok();
    });
  });
}

export function handleRotate(ctx: RelayContext, session: Session, f: RotateFrame, raw: Uint8Array): Maybe<RelayFrame> {
  const state = requireAuth(session, f.readId);
  const msg = rotateMessage(session.serverNonce, session.clientNonce, bodyWithoutSignature(raw));
  return thenPinned(state, verify(ctx, f.signature, msg, f.newReadKey), (valid) => {
    if (!valid) throw new ProtocolError('AUTH');
    checkVerifier(state.record.flags, f.newAccessVerifier);
    return thenPinned(state, mailboxDk(ctx, f.newDeliveryKey), (newDk) => rotate(ctx, session, f, newDk));
  });
}

function rotate(ctx: RelayContext, session: Session, f: RotateFrame, newDk: DeliveryKey): Maybe<RelayFrame> {
  const newReadId = readIdOf(f.newReadKey as Ed25519PublicKey);
  const newHex = hexOf(newReadId);
  return thenPinned(requireAuth(session, f.readId), idInUse(ctx, 'r', newReadId), (inUse) => commitRotate(ctx, session, f, newDk, newReadId, newHex, inUse));
}

function commitRotate(ctx: RelayContext, session: Session, f: RotateFrame, newDk: DeliveryKey, newReadId: Uint8Array, newHex: string, newIdInUse: boolean): Promise<RelayFrame> {
  const state = requireAuth(session, f.readId); // again: a DEL or ROTATE may have finished meanwhile
  if (newHex !== state.readHex && (newIdInUse || ctx.reservedIds.has('r' + newHex))) throw new ProtocolError('DUPLICATE');
  if (state.busy) throw new ProtocolError('BUSY');

  const prev = state.record;
  const next: MailboxRecord = { ...prev, readId: newReadId, readKey: f.newReadKey.slice(), accessVerifier: f.newAccessVerifier.slice(), dk: newDk };
  state.busy = 'rotate';
  const reservation = 'r' + newHex;
  ctx.reservedIds.add(reservation);
  const oldHex = state.readHex;
  // Queued envelopes are re-sealed under the new dk in the same transaction (spec/protocol.md §11),
  // after the seals in flight have issued their writes (they are re-sealed too).
  const start = async (): Promise<void> => {
    await state.whenSealed();
    const resealed = await resealQueue(ctx, state, prev.dk as DeliveryKey, newDk);
    return ctx.store.rotateMailbox(prev, next, (msgId, delivered) => resealed.get(msgId) ?? DIRECT.resealDelivery({ oldDk: prev.dk as DeliveryKey, newDk, msgId, delivered, nonce: randomBytes(24) }));
  };
  return storeWrite(ctx, start,
    () => {
      state.busy = null;
      ctx.reservedIds.delete(reservation);
      ctx.mailboxes.rotated(state, next);
      ctx.bus?.publish('gone', state.iid);
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
      if (e instanceof StoreConflictError) throw new ProtocolError(e.code === 'GONE' ? 'AUTH' : 'DUPLICATE'); // another process changed it first
      throw storeFailure(ctx, 'rotate', e);
    },
  );
}

/**
 * With worker threads, the committed queue is re-sealed there before the transaction, which
 * then only writes. Entries it does not cover (writes not yet committed when it read) are
 * re-sealed inline in the transaction. Inline relays re-seal everything in the transaction.
 */
async function resealQueue(ctx: RelayContext, state: MailboxState, oldDk: DeliveryKey, newDk: DeliveryKey): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>();
  if (ctx.crypto.workers === 0) return out;
  const entries = await ctx.store.queueRange(state.iid, 0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  let jobs: Maybe<Uint8Array>[];
  try {
    jobs = entries.map((e) => ctx.crypto.run('resealDelivery', { oldDk, newDk, msgId: e.msgId, delivered: e.delivered.slice(), nonce: randomBytes(24) }));
  } catch {
    return out; // the crypto queue is full: the transaction re-seals them all
  }
  const results = await Promise.allSettled(jobs);
  results.forEach((r, i) => { if (r.status === 'fulfilled') out.set(entries[i]!.msgId, r.value); });
  return out;
}

export function handleDel(ctx: RelayContext, session: Session, f: DelFrame): Promise<RelayFrame> {
  const state = requireAuth(session, f.readId);
  if (state.busy) throw new ProtocolError('BUSY');
  state.busy = 'delete';
  // Seals in flight issue their writes first, so the delete removes those envelopes too.
  const start = async (): Promise<number> => {
    await state.whenSealed();
    return ctx.store.deleteMailbox(state.record);
  };
  return storeWrite(ctx, start,
    () => {
      state.busy = null;
      // Only once the mailbox is gone: a DEL that fails leaves its subscription as it was.
      const sub = state.subscription;
      if (sub) endSubscription(state, sub.owner !== session);
      ctx.mailboxes.forget(state);
      ctx.bus?.publish('gone', state.iid);
      if (session.auth.get(state.readHex) === state) session.forgetAuth(state.readHex);
      return ok();
    },
    (e: unknown) => {
      state.busy = null;
      if (e instanceof StoreConflictError) throw new ProtocolError('AUTH'); // deleted or rotated by another process first
      throw storeFailure(ctx, 'del', e);
    },
  );
}

