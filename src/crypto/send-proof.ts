// The relay's check of a SEND's proof (spec/protocol.md §5.10): the same work whatever the
// mailbox. Both the access-key verifier and the proof-of-work digest are computed for every
// SEND; the caller picks the one that applies afterwards, so unknown id, wrong key and bad
// proof-of-work cannot be told apart by timing. Pure, so a worker thread can run it.
import { abytes, equalBytes } from './bytes.js';
import { accessVerifierOf } from './ids.js';
import { verifyPow } from './pow.js';

export interface SendProofInput {
  readonly serverNonce: Uint8Array;
  readonly sendId: Uint8Array;
  readonly envelope: Uint8Array;
  /** The access key (private mailbox) or a proof-of-work nonce (public mailbox). */
  readonly proof: Uint8Array;
  readonly difficulty: number;
  /** The mailbox's access verifier; a random stand-in for an unknown or public mailbox. */
  readonly verifier: Uint8Array;
}

export interface SendProofCheck {
  /** The proof is a proof-of-work nonce meeting `difficulty` (crypto.md §8). */
  readonly powValid: boolean;
  /** H(access label || proof) equals `verifier`, compared in constant time. */
  readonly keyValid: boolean;
}

export function checkSendProof(input: SendProofInput): SendProofCheck {
  const powValid = verifyPow(input.serverNonce, input.sendId, input.envelope, input.proof, input.difficulty);
  const keyValid = equalBytes(accessVerifierOf(input.proof), abytes(input.verifier, 'verifier', 32));
  return { powValid, keyValid };
}
