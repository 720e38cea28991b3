// The admission layer's closed set of failure codes (spec/admission.md §8): tokens, the
// organisation policy and the audit log. Callers branch on `code`, never on message text;
// the lower layer's error (a CryptoError, a MalformedError), when there is one, is the `cause`.
import { CodedError, codedGuard } from '../coded-error.js';

export const ADMISSION_ERROR_CODES = [
  'ADMISSION_REQUIRED', // a closed relay was asked to CREATE without a token
  'ADMISSION_REFUSED', // a token or issue request that is malformed or does not verify (one answer for both)
  'TOKEN_SPENT', // the token was redeemed before, in its epoch
  'TOKEN_EPOCH', // the epoch is unknown to this party, not open yet, or over (for issuing or for redeeming)
  'QUOTA_EXCEEDED', // the member's tokens for this epoch are used up
  'ISSUER_UNAVAILABLE', // the issuer is at one of its bounds or cannot reach the directory: try again later
  'ISSUER_INVALID', // an issuer's answer that is malformed, whose proof fails, or whose key is not the policy's
  'POLICY_INVALID', // a policy that does not decode or breaks its rules
  'POLICY_SIGNATURE', // a policy whose signature does not verify under the organisation's key
  'AUDIT_MALFORMED', // an audit log or entry that does not decode
  'AUDIT_SIGNATURE', // an audit entry whose signature does not verify under the admin key in force
  'AUDIT_CHAIN', // an audit entry that does not follow its predecessor: changed, removed, inserted or reordered
  'AUDIT_HEAD', // an audit log that does not reach the head the verifier remembered: truncated or forked
  'INVALID_ARGUMENT', // a caller's argument is out of its documented range
] as const;

export type AdmissionErrorCode = (typeof ADMISSION_ERROR_CODES)[number];

export class AdmissionError extends CodedError<AdmissionErrorCode> {}

export const isAdmissionError = codedGuard(AdmissionError);
