// Private routing (spec/federation.md §4, §5): a SEND sealed to the destination relay's
// delivery key, so that the forwarding relay learns neither the mailbox nor the envelope, and
// the destination's answer sealed back to the client under a key exported from the same HPKE
// context, at one fixed size, so that the forwarding relay cannot tell OK from an error.
import { abytes, concat } from './bytes.js';
import { CryptoError } from './errors.js';
import { hpkeSetupRecipient, hpkeSetupSender } from './hpke.js';
import { LABELS } from './labels.js';
import { chacha20poly1305Open, chacha20poly1305Seal, ed25519Sign, ed25519Verify, sha256, x25519PublicKey } from './primitives.js';
import type { AeadKey, Ed25519PublicKey, Ed25519Seed, Ed25519Signature, X25519KeyPair, X25519PublicKey } from './types.js';

export const FORWARD_VERSION = 1;
export const IDEMPOTENCY_KEY_BYTES = 16;
/** version[1] idempotencyKey[16] sendId[32] proof[32] (spec/federation.md §4). */
export const FORWARD_HEADER_BYTES = 1 + IDEMPOTENCY_KEY_BYTES + 32 + 32;
/** enc[32] + AEAD tag[16] + header: a sealed request is its envelope's bucket plus this. */
export const FORWARD_OVERHEAD = 32 + 16 + FORWARD_HEADER_BYTES;
/** code[2] + tag[16] (spec/federation.md §5). */
export const FORWARD_RESPONSE_BYTES = 18;

const EMPTY = new Uint8Array(0);
const ZERO_NONCE = new Uint8Array(12);

export interface ForwardRequest {
  /** Chosen once per envelope by the sender and kept across retries: the destination dedupes on it. */
  readonly idempotencyKey: Uint8Array;
  readonly sendId: Uint8Array;
  readonly proof: Uint8Array;
  readonly envelope: Uint8Array;
}

export interface SealedForward {
  readonly sealed: Uint8Array;
  /** Opens the destination's answer (openForwardResponse). Single use: one request, one answer. */
  readonly responseKey: AeadKey;
}

/** Seals `request` to the destination relay's delivery key (HPKE base mode, info "sealpost/v1/forward"). */
export function sealForward(relayDeliveryKey: X25519PublicKey, request: ForwardRequest, ephemeral?: X25519KeyPair): SealedForward {
  x25519PublicKey(relayDeliveryKey, 'relayDeliveryKey');
  abytes(request.idempotencyKey, 'idempotencyKey', IDEMPOTENCY_KEY_BYTES);
  abytes(request.sendId, 'sendId', 32);
  abytes(request.proof, 'proof', 32);
  abytes(request.envelope, 'envelope');
  const { enc, context } = hpkeSetupSender(relayDeliveryKey, { mode: 'base', info: LABELS.forward, ...(ephemeral ? { ephemeral } : {}) });
  try {
    const plaintext = concat(new Uint8Array([FORWARD_VERSION]), request.idempotencyKey, request.sendId, request.proof, request.envelope);
    const sealed = concat(enc, context.seal(plaintext, EMPTY));
    return { sealed, responseKey: context.export(LABELS.forwardResponse, 32) as AeadKey };
  } finally {
    context.destroy();
  }
}

/** Opens a sealed request with the relay's delivery key pair; DECRYPT_FAILED for anything else. */
export function openForward(relay: X25519KeyPair, sealed: Uint8Array): { request: ForwardRequest; responseKey: AeadKey } {
  abytes(sealed, 'sealed');
  if (sealed.length < FORWARD_OVERHEAD) throw new CryptoError('DECRYPT_FAILED', 'shorter than a sealed forward request');
  const context = hpkeSetupRecipient(sealed.subarray(0, 32), relay, { mode: 'base', info: LABELS.forward });
  try {
    const p = context.open(sealed.subarray(32), EMPTY);
    if (p[0] !== FORWARD_VERSION) throw new CryptoError('DECRYPT_FAILED', `forward request version ${p[0]}`);
    let o = 1;
    const take = (n: number): Uint8Array => p.subarray(o, (o += n));
    const request: ForwardRequest = { idempotencyKey: take(IDEMPOTENCY_KEY_BYTES), sendId: take(32), proof: take(32), envelope: p.subarray(o) };
    return { request, responseKey: context.export(LABELS.forwardResponse, 32) as AeadKey };
  } finally {
    context.destroy();
  }
}

/** The destination's answer: `code` 0 for OK, else a protocol error code (spec/protocol.md §7). */
export function sealForwardResponse(responseKey: AeadKey, code: number): Uint8Array {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw new CryptoError('INVALID_ARGUMENT', 'code must be a u16');
  return chacha20poly1305Seal(responseKey, ZERO_NONCE, new Uint8Array([code >>> 8, code & 0xff]), LABELS.forwardResponse);
}

/** The code sealed by sealForwardResponse; DECRYPT_FAILED if the forwarding relay changed it. */
export function openForwardResponse(responseKey: AeadKey, response: Uint8Array): number {
  abytes(response, 'response', FORWARD_RESPONSE_BYTES);
  const p = chacha20poly1305Open(responseKey, ZERO_NONCE, response, LABELS.forwardResponse);
  return (p[0]! << 8) | p[1]!;
}

/**
 * The nonce a forwarded SEND's proof-of-work is bound to, in place of a connection's
 * serverNonce (spec/federation.md §4): the destination remembers the idempotency key, so a
 * proof cannot be used twice.
 */
export const forwardServerNonce = (idempotencyKey: Uint8Array): Uint8Array =>
  sha256(concat(LABELS.forwardNonce, abytes(idempotencyKey, 'idempotencyKey', IDEMPOTENCY_KEY_BYTES)));

/** What a relay signs so that its delivery key can be handed on by another relay (spec/federation.md §5). */
export const relayDeliveryKeyMessage = (deliveryKey: X25519PublicKey): Uint8Array =>
  concat(LABELS.relayDeliveryKey, x25519PublicKey(deliveryKey, 'deliveryKey'));

export const signRelayDeliveryKey = (seed: Ed25519Seed, deliveryKey: X25519PublicKey): Ed25519Signature =>
  ed25519Sign(seed, relayDeliveryKeyMessage(deliveryKey));

export const verifyRelayDeliveryKey = (signKey: Ed25519PublicKey, deliveryKey: X25519PublicKey, signature: Uint8Array): boolean =>
  ed25519Verify(signature, relayDeliveryKeyMessage(deliveryKey), signKey);
