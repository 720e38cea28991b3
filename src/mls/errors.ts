// The MLS layer's closed set of failure codes (spec/groups.md §8). Callers branch on
// `code`; `message` says what was wrong. Anything a peer or a relay sent that does not
// verify surfaces as one of these, never as a crash.
import { CodedError, codedGuard } from '../coded-error.js';

export type MlsErrorCode =
  | 'MALFORMED' // bytes that do not decode as the TLS structure expected (RFC 9420 §2.1)
  | 'UNSUPPORTED' // a version, cipher suite, credential or proposal type we do not speak
  | 'BAD_SIGNATURE' // a SignWithLabel signature that does not verify (§5.1.2)
  | 'BAD_MEMBERSHIP_TAG' // a PublicMessage membership tag that does not verify (§6.2)
  | 'DECRYPT_FAILED' // an AEAD or HPKE open failed (§5.1.3, §6.3)
  | 'BAD_CONFIRMATION' // a confirmation tag that does not match (§8.1)
  | 'INVALID_TREE' // a ratchet tree that fails validation (§7.9, §7.9.2, §12.4.3.1)
  | 'INVALID_KEY_PACKAGE' // a KeyPackage that fails validation (§10.1)
  | 'INVALID_PROPOSAL' // a proposal or proposal list that §12.2 forbids
  | 'INVALID_COMMIT' // a Commit that §12.4.2 forbids
  | 'WRONG_EPOCH' // a message for another epoch than the one it can be processed in
  | 'WRONG_GROUP' // a message for another group
  | 'UNKNOWN_SENDER' // a sender that is not a member (or a blank leaf)
  | 'GENERATION_TOO_FAR' // a secret-tree generation beyond the forward window (§9.1)
  | 'KEY_REUSED' // a generation whose key was already consumed (§9.2)
  | 'NOT_AUTHORIZED' // a change the group policy does not allow from this sender
  | 'NO_WELCOME_FOR_US' // a Welcome with no EncryptedGroupSecrets for our KeyPackage (§12.4.3.1)
  | 'EXPIRED' // a KeyPackage or leaf outside its lifetime (§7.2)
  | 'STATE'; // an operation the group's current state does not allow

export class MlsError extends CodedError<MlsErrorCode> {}

export const isMlsError = codedGuard(MlsError);
