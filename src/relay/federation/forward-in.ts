// A forwarded SEND at its destination (spec/federation.md §4, §6): open it with the relay's
// delivery key, drop a retry whose idempotency key was committed before, and run it as a SEND
// whose idempotency key commits in the envelope's own transaction. The answer is sealed to the
// client under the key exported from the request, always 18 bytes. The open (an X25519 and the
// HPKE key schedule) runs where the relay's crypto runs (spec/protocol.md §12): with workers, the
// FWDs of one link batch are opened as one batch off the event loop.
import { forwardServerNonce, isCryptoPoolError, sealForwardResponse } from '../../crypto/index.js';
import type { OpenedForward } from '../../crypto/pool/ops.js';
import { ERROR_CODES, isProtocolError, type SendFrame } from '../../wire/index.js';
import { expiryMinuteAfter } from '../cmd-common.js';
import { handleSend } from '../cmd-send.js';
import type { RelayContext } from '../context.js';
import { errorSummary } from '../log.js';
import { hexOf } from '../mailboxes.js';
import type { Maybe } from '../maybe.js';
import { StoreConflictError } from '../store.js';
import type { TokenBucket } from '../token-bucket.js';
import type { AnswerPacing } from './answer-pacing.js';
import type { FederationMetrics } from './host.js';

/** Forwarded SENDs being committed at once, relay-wide; more answer BUSY (spec/federation.md §8). */
export const MAX_FORWARDS_IN_PROGRESS = 65_536;

/** Where forwarded SENDs come from: a partner's link, or this relay's own client (same-relay routing). */
export interface ForwardSource {
  readonly bucket: TokenBucket;
}

/** The relay-wide part: idempotency keys whose SEND is running (a retry meanwhile answers BUSY). */
export interface ForwardIntake {
  readonly running: Set<string>;
  readonly metrics: FederationMetrics;
  /** Holds refusals until a commit, so their timing does not tell them from an OK (§5). */
  readonly pacing: AnswerPacing;
}

/** A sealed answer, or an unsealed refusal: the request did not open, or the relay could not open it now. */
export type IntakeResult = { readonly response: Uint8Array } | { readonly code: 'FORWARD_INVALID' | 'BUSY' };

export function takeForwarded(ctx: RelayContext, intake: ForwardIntake, source: ForwardSource, sealed: Uint8Array): Maybe<IntakeResult> {
  const refused = (e: unknown): IntakeResult => {
    // A request that does not open (spec/federation.md §6 step 1); a full or stopping crypto lane is BUSY.
    const code = isProtocolError(e) || isCryptoPoolError(e) ? 'BUSY' : 'FORWARD_INVALID';
    intake.metrics.forwardsIn.inc(code);
    return { code };
  };
  let opened: Maybe<OpenedForward>;
  try {
    opened = ctx.crypto.run('openForward', { secretKey: ctx.identity.deliverySecret, publicKey: ctx.identity.deliveryKey, sealed });
  } catch (e) {
    return refused(e);
  }
  return opened instanceof Promise ? opened.then((o) => intakeOpened(ctx, intake, source, o), refused) : intakeOpened(ctx, intake, source, opened);
}

function intakeOpened(ctx: RelayContext, intake: ForwardIntake, source: ForwardSource, { request, responseKey }: OpenedForward): Maybe<IntakeResult> {
  const answer = (name: keyof typeof ERROR_CODES | 'OK' | 'DEDUPED'): IntakeResult => {
    intake.metrics.forwardsIn.inc(name);
    return { response: sealForwardResponse(responseKey, name === 'OK' || name === 'DEDUPED' ? 0 : ERROR_CODES[name]) };
  };
  const store = ctx.store;
  // A shared store takes the key with the envelope; a store of one process, by recordForward.
  if (!store.forwardSeen || (ctx.bus === null && !store.recordForward)) return answer('INTERNAL');
  const keyHex = hexOf(request.idempotencyKey);
  const started = performance.now();
  // Every answer but an OK waits for a commit to leave with (answer-pacing.ts, spec/federation.md §5).
  const paced = (r: IntakeResult): Promise<IntakeResult> => intake.pacing.hold().then(() => r);
  // One attempt at a time per key: a retry that overtakes the first would be a second copy.
  if (intake.running.has(keyHex) || intake.running.size >= MAX_FORWARDS_IN_PROGRESS || ctx.draining) return paced(answer('BUSY'));
  intake.running.add(keyHex);
  // The proof is bound to the idempotency key (forwardServerNonce), whose store entry already
  // refuses a replay: its nonce is held for this request only, then its budget given back,
  // so a busy link never fills a per-connection set (spec/federation.md §6).
  const pow = new Set<string>();
  const done = (r: IntakeResult): IntakeResult => {
    intake.running.delete(keyHex);
    if (pow.size > 0) { ctx.budgets.powNonces.give(pow.size); pow.clear(); }
    return r;
  };
  const fail = (e: unknown): Promise<IntakeResult> => {
    if (isProtocolError(e)) return paced(done(answer(e.errorName)));
    // Another process committed this key meanwhile (a shared store): the SEND is there once.
    if (e instanceof StoreConflictError && e.code === 'DUPLICATE') return paced(done(answer('DEDUPED')));
    ctx.log.error('internal_error', { op: 'forward', ...errorSummary(e) });
    return paced(done(answer('INTERNAL')));
  };
  const ok = (): IntakeResult => {
    intake.pacing.committed(performance.now() - started);
    return done(answer('OK'));
  };
  try {
    return Promise.resolve(store.forwardSeen(request.idempotencyKey)).then((seen) => {
      if (seen) return paced(done(answer('DEDUPED')));
      // Kept until the mailbox's longest TTL: a retry after that could be a second copy (spec/federation.md §6).
      const keyExpiryMinute = expiryMinuteAfter(ctx.now(), ctx.config.maxTtlSeconds);
      const key = request.idempotencyKey.slice();
      const frame: SendFrame = { type: 'SEND', corr: 0, sendId: request.sendId, proof: request.proof, envelope: request.envelope };
      const origin = {
        serverNonce: forwardServerNonce(key), powNonces: pow, bucket: source.bucket,
        forward: { key, expiryMinute: keyExpiryMinute },
      };
      try {
        return Promise.resolve(handleSend(ctx, origin, frame)).then(ok, fail);
      } catch (e) {
        return fail(e);
      }
    }, fail);
  } catch (e) {
    return fail(e);
  }
}
