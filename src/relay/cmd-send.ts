// SEND (spec/protocol.md §5.10): the steady-state path. The proof check (two hashes and a
// constant-time compare, both always), then the quota and rate checks and a msgId, then one
// XChaCha20-Poly1305 seal, one batched store write, and the push. No public-key operation.
// The proof check and the seal run where the relay's crypto runs (crypto-lane.ts): inline,
// or on worker threads, in which case they are two asynchronous steps handed back in order.
import { minutesNow, type DeliveryKey, type SendProofCheck } from '../crypto/index.js';
import { DIRECT } from '../crypto/pool/ops.js';
import { isEnvelopeBucket, ProtocolError, type RelayFrame, type SendFrame } from '../wire/index.js';
import { envelopeTtl, expiryMinuteAfter, ok, thenPinned, storeFailure, storeWrite } from './cmd-common.js';
import { MAX_PENDING_WRITES, MAX_POW_NONCES_PER_CONNECTION, type RelayContext } from './context.js';
import { andThen, type Maybe } from './maybe.js';
import { hexOf, type MailboxState } from './mailboxes.js';
import { noteUse } from './mailbox-expiry.js';
import { NoncePool } from './nonce-pool.js';
import { StoreConflictError, type ForwardKey } from './store.js';
import type { TokenBucket } from './token-bucket.js';

const nonces = new NoncePool();

/**
 * Where a SEND comes from: a client connection (Session), or a forwarded SEND from a partner
 * relay (spec/federation.md §6), whose proof-of-work nonce is bound to its idempotency key and
 * whose key is committed in the envelope's transaction (`forward`).
 */
export interface SendOrigin {
  readonly serverNonce: Uint8Array;
  readonly powNonces: Set<string>;
  readonly bucket: TokenBucket;
  readonly forward?: ForwardKey | undefined;
}

/** One process's store: the key's write, issued in the envelope's event turn, is one transaction with it. */
const withForward = (ctx: RelayContext, write: Promise<unknown>, origin: SendOrigin): Promise<unknown> =>
  origin.forward ? Promise.all([write, ctx.store.recordForward!(origin.forward.key, origin.forward.expiryMinute)]) : write;

/**
 * Which proof applies, once both were computed with the same work whatever the case
 * (spec/protocol.md §5.10): false (ERR AUTH), null (access key) or the proof-of-work nonce
 * to remember for this connection.
 */
function authorizeSend(session: SendOrigin, f: SendFrame, state: MailboxState | undefined, check: SendProofCheck): string | null | false {
  if (!state || state.deleted) return false;
  if (!state.isPublic) return check.keyValid ? null : false;
  // Proof-of-work bound to this connection and this envelope (spec/crypto.md §8).
  const nonceHex = hexOf(f.proof);
  return check.powValid && !session.powNonces.has(nonceHex) ? nonceHex : false;
}

export function handleSend(ctx: RelayContext, session: SendOrigin, f: SendFrame): Maybe<RelayFrame> {
  if (!isEnvelopeBucket(f.envelope.length)) throw new ProtocolError('SIZE');
  return andThen(ctx.mailboxes.findBySendId(f.sendId), (state) => {
    const check = ctx.crypto.run('checkSendProof', {
      serverNonce: session.serverNonce, sendId: f.sendId, envelope: f.envelope, proof: f.proof, difficulty: ctx.config.powDifficulty,
      verifier: state && !state.isPublic ? state.record.accessVerifier : ctx.dummyVerifier,
    });
    return thenPinned(state, check, (c) => admit(ctx, session, f, state, c));
  });
}

function admit(ctx: RelayContext, session: SendOrigin, f: SendFrame, state: MailboxState | undefined, check: SendProofCheck): Maybe<RelayFrame> {
  const size = f.envelope.length;
  const auth = authorizeSend(session, f, state, check);
  if (auth === false || !state) throw new ProtocolError('AUTH');
  // Its ROTATE or DEL is being committed (spec/protocol.md §5.9); checked after the proof, so
  // that only a holder of the capability learns it.
  if (state.busy) throw new ProtocolError('BUSY');
  const c = ctx.config;
  const [maxEnvelopes, maxBytes] = state.isPublic ? [c.publicMaxEnvelopes, c.publicMaxBytes] : [c.privateMaxEnvelopes, c.privateMaxBytes];
  // On a shared store the counters here miss other processes' envelopes: the store checks.
  if (ctx.bus === null && (state.count + 1 > maxEnvelopes || state.bytes + size > maxBytes)) throw new ProtocolError('QUOTA');
  if (!session.bucket.take(performance.now())) throw new ProtocolError('RATE');
  if (ctx.pendingWrites >= MAX_PENDING_WRITES) throw new ProtocolError('BUSY');
  if (auth !== null) {
    if (session.powNonces.size >= MAX_POW_NONCES_PER_CONNECTION) throw new ProtocolError('RATE', 'proof-of-work nonces exhausted on this connection');
    if (!ctx.budgets.powNonces.take()) throw new ProtocolError('BUSY', 'relay-wide bound on proof-of-work nonces');
    session.powNonces.add(auth);
  }

  if (ctx.bus !== null) return appendShared(ctx, session, f, state, auth, maxEnvelopes, maxBytes);

  // The delivery layer is applied before the commit: stored bytes are delivered bytes (spec/crypto.md §6).
  const { msgId, ceiling } = state.assignMsgId();
  const nowMs = ctx.now();
  const expiryMinute = expiryMinuteAfter(nowMs, envelopeTtl(ctx, state.record.ttlSeconds));
  state.count++;
  state.bytes += size;
  const pending = state.beginSend(msgId);
  const settle = (done: boolean): void => state.settleSend(pending, done, (id, bytes) => state.subscription?.durable(id, bytes));
  const undo = (): void => {
    state.count--;
    state.bytes -= size;
    if (ceiling !== null) state.ceiling = 0; // re-record the reservation with the next write
    if (auth !== null && session.powNonces.delete(auth)) ctx.budgets.powNonces.give();
    settle(false);
  };

  let sealed: Maybe<Uint8Array>;
  try {
    sealed = ctx.crypto.run('sealDelivery', { dk: state.record.dk as DeliveryKey, msgId, receivedAtMinutes: minutesNow(nowMs), envelope: f.envelope, nonce: nonces.next() });
  } catch (e) {
    undo();
    throw e;
  }
  const write = (delivered: Uint8Array): Promise<RelayFrame> => {
    pending.delivered = delivered;
    return storeWrite(ctx, () => withForward(ctx, ctx.store.enqueue(state.iid, { msgId, expiryMinute, delivered }, ceiling), session),
      () => {
        ctx.metrics.envelopesIn.inc();
        settle(true);
        noteUse(ctx, state);
        return ok();
      },
      (e: unknown) => {
        undo();
        throw storeFailure(ctx, 'send', e);
      },
    );
  };
  if (!(sealed instanceof Promise)) return write(sealed);
  // ROTATE and DEL wait for this seal, so that nothing is stored under a retired dk.
  state.sealStarted();
  return sealed.then(
    (delivered) => { try { return write(delivered); } finally { state.sealEnded(); } },
    (e: unknown) => { state.sealEnded(); undo(); throw e; },
  );
}

/**
 * SEND on a store shared with other relay processes (spec/scale-out.md §2): the msgId, the
 * quota and the delivery key are read inside the store's write transaction, where the seal
 * runs too (inline: it needs the msgId, a few microseconds). The process holding the
 * mailbox's subscription, here or elsewhere, then reads the new envelope from the store.
 */
function appendShared(ctx: RelayContext, session: SendOrigin, f: SendFrame, state: MailboxState, pow: string | null, maxEnvelopes: number, maxBytes: number): Promise<RelayFrame> {
  const nowMs = ctx.now();
  const expiryMinute = expiryMinuteAfter(nowMs, envelopeTtl(ctx, state.record.ttlSeconds));
  const receivedAtMinutes = minutesNow(nowMs);
  state.pending++;
  return storeWrite(ctx, () => ctx.store.appendEnvelope(state.iid, {
    expiryMinute, accessVerifier: state.record.accessVerifier, maxEnvelopes, maxBytes, envelopeBytes: f.envelope.length,
    seal: (msgId, dk) => DIRECT.sealDelivery({ dk: dk as DeliveryKey, msgId, receivedAtMinutes, envelope: f.envelope, nonce: nonces.next() }),
    forward: session.forward,
  }),
  () => {
    state.pending--;
    ctx.metrics.envelopesIn.inc();
    ctx.bus!.publish('queued', state.iid);
    state.subscription?.wake();
    noteUse(ctx, state);
    return ok();
  },
  (e: unknown) => {
    state.pending--;
    if (pow !== null && session.powNonces.delete(pow)) ctx.budgets.powNonces.give();
    // DUPLICATE: a forwarded SEND whose key another attempt committed; its intake answers it.
    if (e instanceof StoreConflictError && e.code === 'DUPLICATE' && session.forward) throw e;
    if (e instanceof StoreConflictError) throw new ProtocolError(e.code === 'QUOTA' ? 'QUOTA' : 'AUTH');
    throw storeFailure(ctx, 'send', e);
  });
}
