// A forwarded SEND at its destination (spec/federation.md §4, §6): open it with the relay's
// delivery key, drop a retry whose idempotency key was committed before, and run it as a SEND
// whose idempotency key commits in the envelope's own transaction. The answer is sealed to the
// client under the key exported from the request, always 18 bytes.
import { forwardServerNonce, openForward, sealForwardResponse, type AeadKey, type ForwardRequest } from '../../crypto/index.js';
import { ERROR_CODES, isProtocolError, type SendFrame } from '../../wire/index.js';
import { handleSend } from '../cmd-send.js';
import type { RelayContext } from '../context.js';
import { errorSummary } from '../log.js';
import { hexOf } from '../mailboxes.js';
import { StoreConflictError } from '../store.js';
import type { TokenBucket } from '../token-bucket.js';
import type { FederationMetrics } from './host.js';

/** Forwarded SENDs being committed at once, relay-wide; more answer BUSY (spec/federation.md §8). */
export const MAX_FORWARDS_IN_PROGRESS = 65_536;

/** Where forwarded SENDs come from: a partner's link, or this relay's own client (same-relay routing). */
export interface ForwardSource {
  readonly bucket: TokenBucket;
  readonly powNonces: Set<string>;
}

/** The relay-wide part: idempotency keys whose SEND is running (a retry meanwhile answers BUSY). */
export interface ForwardIntake {
  readonly running: Set<string>;
  readonly metrics: FederationMetrics;
}

export type IntakeResult = { readonly response: Uint8Array } | { readonly code: 'FORWARD_INVALID' };

export function takeForwarded(ctx: RelayContext, intake: ForwardIntake, source: ForwardSource, sealed: Uint8Array): Promise<IntakeResult> | IntakeResult {
  let request: ForwardRequest;
  let responseKey: AeadKey;
  try {
    ({ request, responseKey } = openForward({ secretKey: ctx.identity.deliverySecret, publicKey: ctx.identity.deliveryKey }, sealed));
  } catch {
    intake.metrics.forwardsIn.inc('FORWARD_INVALID');
    return { code: 'FORWARD_INVALID' };
  }
  const answer = (name: keyof typeof ERROR_CODES | 'OK' | 'DEDUPED'): IntakeResult => {
    intake.metrics.forwardsIn.inc(name);
    return { response: sealForwardResponse(responseKey, name === 'OK' || name === 'DEDUPED' ? 0 : ERROR_CODES[name]) };
  };
  const store = ctx.store;
  // A shared store takes the key with the envelope; a store of one process, by recordForward.
  if (!store.forwardSeen || (ctx.bus === null && !store.recordForward)) return answer('INTERNAL');
  const keyHex = hexOf(request.idempotencyKey);
  // One attempt at a time per key: a retry that overtakes the first would be a second copy.
  if (intake.running.has(keyHex) || intake.running.size >= MAX_FORWARDS_IN_PROGRESS || ctx.draining) return answer('BUSY');
  intake.running.add(keyHex);
  const done = (r: IntakeResult): IntakeResult => { intake.running.delete(keyHex); return r; };
  const fail = (e: unknown): IntakeResult => {
    if (isProtocolError(e)) return done(answer(e.errorName));
    // Another process committed this key meanwhile (a shared store): the SEND is there once.
    if (e instanceof StoreConflictError && e.code === 'DUPLICATE') return done(answer('DEDUPED'));
    ctx.log.error('internal_error', { op: 'forward', ...errorSummary(e) });
    return done(answer('INTERNAL'));
  };
  try {
    return Promise.resolve(store.forwardSeen(request.idempotencyKey)).then((seen) => {
      if (seen) return done(answer('DEDUPED'));
      // Kept until the mailbox's longest TTL: a retry after that could be a second copy (spec/federation.md §6).
      const keyExpiryMinute = Math.ceil((ctx.now() + ctx.config.maxTtlSeconds * 1000) / 60_000);
      const key = request.idempotencyKey.slice();
      const frame: SendFrame = { type: 'SEND', corr: 0, sendId: request.sendId, proof: request.proof, envelope: request.envelope };
      const origin = {
        serverNonce: forwardServerNonce(key), powNonces: source.powNonces, bucket: source.bucket,
        forward: { key, expiryMinute: keyExpiryMinute },
      };
      try {
        return Promise.resolve(handleSend(ctx, origin, frame)).then(() => done(answer('OK')), fail);
      } catch (e) {
        return fail(e);
      }
    }, fail);
  } catch (e) {
    return fail(e);
  }
}
