// SEND (spec/protocol.md §5.10): the steady-state path. Two hashes and a constant-time compare
// (the verifier and the proof-of-work, both always), one XChaCha20-Poly1305 seal, one batched store write, then the
// push. No public-key operation.
import {
  accessVerifierOf, equalBytes, minutesNow, sealDelivery, verifyPow, type DeliveryKey,
} from '../crypto/index.js';
import { isEnvelopeBucket, ProtocolError, type RelayFrame, type SendFrame } from '../wire/index.js';
import { ok, storeFailure, storeWrite } from './cmd-common.js';
import { MAX_PENDING_WRITES, MAX_POW_NONCES_PER_CONNECTION, type RelayContext } from './context.js';
import { hexOf, type MailboxState } from './mailboxes.js';
import { NoncePool } from './nonce-pool.js';
import type { Session } from './session.js';

const nonces = new NoncePool();

/**
 * Checks the sender's proof with the same work whatever the case (spec/protocol.md §5.10):
 * both the proof-of-work digest and the access-key verifier are computed for every SEND, and
 * only then is the one that applies chosen, so unknown id, wrong key and bad proof-of-work
 * cannot be told apart by timing. The extra hash costs a private SEND about 3 µs per KiB.
 */
function authenticate(ctx: RelayContext, session: Session, f: SendFrame, state: MailboxState | undefined): string | null | false {
  const powValid = verifyPow(session.serverNonce, f.sendId, f.envelope, f.proof, ctx.config.powDifficulty);
  const keyValid = equalBytes(accessVerifierOf(f.proof), state && !state.isPublic ? state.record.accessVerifier : ctx.dummyVerifier);
  if (!state || !state.live) return false;
  if (state.isPublic) {
    // Proof-of-work bound to this connection and this envelope (spec/crypto.md §8).
    const nonceHex = hexOf(f.proof);
    return powValid && !session.powNonces.has(nonceHex) ? nonceHex : false;
  }
  return keyValid ? null : false;
}

export function handleSend(ctx: RelayContext, session: Session, f: SendFrame): Promise<RelayFrame> {
  const size = f.envelope.length;
  if (!isEnvelopeBucket(size)) throw new ProtocolError('SIZE');
  const state = ctx.mailboxes.findBySendId(f.sendId);
  const auth = authenticate(ctx, session, f, state);
  if (auth === false || !state) throw new ProtocolError('AUTH');
  const c = ctx.config;
  const [maxEnvelopes, maxBytes] = state.isPublic ? [c.publicMaxEnvelopes, c.publicMaxBytes] : [c.privateMaxEnvelopes, c.privateMaxBytes];
  if (state.count + 1 > maxEnvelopes || state.bytes + size > maxBytes) throw new ProtocolError('QUOTA');
  if (!session.bucket.take(performance.now())) throw new ProtocolError('RATE');
  if (state.busy || ctx.pendingWrites >= MAX_PENDING_WRITES) throw new ProtocolError('BUSY');
  if (auth !== null) {
    if (session.powNonces.size >= MAX_POW_NONCES_PER_CONNECTION) throw new ProtocolError('RATE', 'proof-of-work nonces exhausted on this connection');
    session.powNonces.add(auth);
  }

  // The delivery layer is applied before the commit: stored bytes are delivered bytes (spec/crypto.md §6).
  const { msgId, ceiling } = state.assignMsgId();
  const nowMs = ctx.now();
  const delivered = sealDelivery(state.record.dk as DeliveryKey, msgId, minutesNow(nowMs), f.envelope, nonces.next());
  const expiryMinute = Math.ceil((nowMs + state.record.ttlSeconds * 1000) / 60_000);
  state.count++;
  state.bytes += size;
  const pending = state.beginSend(msgId, delivered);
  const settle = (done: boolean): void => state.settleSend(pending, done, (id, bytes) => state.subscription?.durable(id, bytes));

  return storeWrite(ctx, () => ctx.store.enqueue(state.iid, { msgId, expiryMinute, delivered }, ceiling),
    () => {
      ctx.metrics.envelopesIn.inc();
      settle(true);
      return ok();
    },
    (e: unknown) => {
      state.count--;
      state.bytes -= size;
      if (ceiling !== null) state.ceiling = 0; // re-record the reservation with the next write
      if (auth !== null) session.powNonces.delete(auth);
      settle(false);
      throw storeFailure(ctx, 'send', e);
    },
  );
}
