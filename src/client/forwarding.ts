// Private routing for senders (spec/federation.md §4, §5): ask one's own relay for the
// destination relay's keys (signed by the destination, checked against the fingerprint in its
// address), then hand it a SEND sealed to the destination. The answer comes back sealed; an
// idempotency key chosen once per envelope makes a retry safe.
import {
  equalBytes, FORWARD_OVERHEAD, forwardServerNonce, openForwardResponse, randomBytes, relayFingerprintOf, sealForward, solvePow,
  verifyRelayDeliveryKey, IDEMPOTENCY_KEY_BYTES, type Ed25519PublicKey, type X25519PublicKey,
} from '../crypto/index.js';
import { errorName, parseRelayAddress, ProtocolError } from '../wire/index.js';
import type { RelayConnection } from './connection.js';
import { ClientError } from './errors.js';
import { MAX_POW_DIFFICULTY, type SendCapability } from './mailbox.js';

/** A destination relay's keys, as its own signature vouches for them. */
export interface DestinationRelay {
  readonly fingerprint: Uint8Array;
  readonly signKey: Ed25519PublicKey;
  readonly deliveryKey: X25519PublicKey;
  readonly powDifficulty: number;
}

/** KEY_QUERY through `conn`; INVALID if the keys do not match the address's fingerprint or signature. */
export async function queryDestination(conn: RelayConnection, address: string, timeoutMs?: number): Promise<DestinationRelay> {
  const fingerprint = parseRelayAddress(address).fingerprint;
  const f = await conn.request({ type: 'KEY_QUERY', relay: fingerprint }, timeoutMs === undefined ? {} : { timeoutMs });
  if (f.type !== 'RELAY_KEY') throw new ProtocolError('MALFORMED', `expected RELAY_KEY, relay answered ${f.type}`);
  const signKey = f.signKey.slice() as Ed25519PublicKey;
  const deliveryKey = f.deliveryKey.slice() as X25519PublicKey;
  // The forwarding relay passes these on: only the destination's signature makes them true.
  if (!equalBytes(relayFingerprintOf(signKey), fingerprint) || !verifyRelayDeliveryKey(signKey, deliveryKey, f.signature)) {
    throw new ProtocolError('INVALID', 'the destination relay\'s keys do not match its address');
  }
  return { fingerprint, signKey, deliveryKey, powDifficulty: f.powDifficulty };
}

export const newIdempotencyKey = (): Uint8Array => randomBytes(IDEMPOTENCY_KEY_BYTES);

/**
 * FORWARD through `conn` to `destination`. Resolves once the destination committed the envelope;
 * rejects with the destination's error (AUTH, QUOTA, …), or this relay's (NO_PEER, PEER_DOWN:
 * retry with the same `idempotencyKey`, and the destination keeps one copy).
 */
export async function forwardEnvelope(
  conn: RelayConnection, destination: DestinationRelay, cap: SendCapability, envelope: Uint8Array, idempotencyKey: Uint8Array, timeoutMs?: number,
): Promise<void> {
  if (!cap.accessKey && destination.powDifficulty > MAX_POW_DIFFICULTY) {
    throw new ClientError('POW_TOO_HARD', `the destination asks ${destination.powDifficulty} bits of proof-of-work; clients spend at most ${MAX_POW_DIFFICULTY}`);
  }
  const proof = cap.accessKey ?? solvePow(forwardServerNonce(idempotencyKey), cap.sendId, envelope, destination.powDifficulty);
  const { sealed, responseKey } = sealForward(destination.deliveryKey, { idempotencyKey, sendId: cap.sendId, proof, envelope });
  const f = await conn.request({ type: 'FORWARD', relay: destination.fingerprint, sealed }, timeoutMs === undefined ? {} : { timeoutMs });
  if (f.type !== 'FORWARDED') throw new ProtocolError('MALFORMED', `expected FORWARDED, relay answered ${f.type}`);
  let code: number;
  try {
    code = openForwardResponse(responseKey, f.response);
  } catch {
    throw new ProtocolError('MALFORMED', 'the destination\'s answer does not open');
  }
  if (code !== 0) throw new ProtocolError(errorName(code) ?? 'INTERNAL', 'from the destination relay');
}

/** Bytes of a FORWARD's sealed request for an envelope of `bucket` bytes. */
export const forwardedSize = (bucket: number): number => bucket + FORWARD_OVERHEAD;
