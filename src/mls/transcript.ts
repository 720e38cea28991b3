// Transcript hashes and the confirmation tag (RFC 9420 §8.1, §8.2). Pure.
//
//   confirmed_transcript_hash_[n] = Hash(interim_transcript_hash_[n-1] || ConfirmedTranscriptHashInput_[n])
//   interim_transcript_hash_[n]   = Hash(confirmed_transcript_hash_[n] || InterimTranscriptHashInput_[n])
//   confirmation_tag              = MAC(confirmation_key, confirmed_transcript_hash)
//
// ConfirmedTranscriptHashInput is the Commit's AuthenticatedContent without its confirmation
// tag (wire_format, content, signature); InterimTranscriptHashInput is the tag (framing.ts
// encodes both). A new group starts (§11) with confirmed_transcript_hash_[0] = "" and
// interim_transcript_hash_[0] from confirmation_tag_[0] = MAC(confirmation_key_[0], "").
import { equalBytes } from '../crypto/bytes.js';
import { MlsError } from './errors.js';
import { confirmedTranscriptHashInput, interimTranscriptHashInput, type AuthenticatedContent } from './framing.js';
import type { CipherSuite } from './suite.js';

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** The two transcript hashes of an epoch. */
export interface TranscriptHashes { readonly confirmed: Uint8Array; readonly interim: Uint8Array }

/** confirmed_transcript_hash of the epoch a Commit creates (§8.2). `commit` must be a commit. */
export function confirmedTranscriptHash(suite: CipherSuite, interimBefore: Uint8Array, commit: AuthenticatedContent): Uint8Array {
  if (commit.content.contentType !== 3) throw new MlsError('STATE', 'only a commit enters the transcript');
  return suite.hash(concat(interimBefore, confirmedTranscriptHashInput(commit)));
}

/** interim_transcript_hash from the confirmed one and the Commit's confirmation tag (§8.2). */
export function interimTranscriptHash(suite: CipherSuite, confirmed: Uint8Array, confirmationTag: Uint8Array): Uint8Array {
  return suite.hash(concat(confirmed, interimTranscriptHashInput(confirmationTag)));
}

/** Both hashes after a Commit whose auth carries its confirmation tag (§8.2). */
export function nextTranscriptHashes(suite: CipherSuite, interimBefore: Uint8Array, commit: AuthenticatedContent): TranscriptHashes {
  const tag = commit.auth.confirmationTag;
  if (!tag) throw new MlsError('MALFORMED', 'a commit without a confirmation tag');
  const confirmed = confirmedTranscriptHash(suite, interimBefore, commit);
  return { confirmed, interim: interimTranscriptHash(suite, confirmed, tag) };
}

/** confirmation_tag = MAC(confirmation_key, confirmed_transcript_hash) (§8.1). */
export function confirmationTag(suite: CipherSuite, confirmationKey: Uint8Array, confirmedTranscriptHash: Uint8Array): Uint8Array {
  return suite.mac(confirmationKey, confirmedTranscriptHash);
}

/** Checks a received confirmation tag in constant time; BAD_CONFIRMATION when it does not match (§8.1). */
export function verifyConfirmationTag(suite: CipherSuite, confirmationKey: Uint8Array, confirmedTranscriptHash: Uint8Array, tag: Uint8Array): void {
  if (!equalBytes(confirmationTag(suite, confirmationKey, confirmedTranscriptHash), tag)) {
    throw new MlsError('BAD_CONFIRMATION', 'confirmation tag does not match the transcript');
  }
}

/** The transcript hashes of a new group's epoch 0 (§11): confirmed "" and its interim hash. */
export function initialTranscriptHashes(suite: CipherSuite, confirmationKey: Uint8Array): TranscriptHashes {
  const confirmed = new Uint8Array(0);
  return { confirmed, interim: interimTranscriptHash(suite, confirmed, confirmationTag(suite, confirmationKey, confirmed)) };
}
