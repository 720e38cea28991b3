// The crypto core's closed set of failure codes (spec/crypto.md §1.3).
// Callers branch on `code`, never on message text or class name.
import { CodedError, codedGuard } from '../coded-error.js';

export type CryptoErrorCode =
  | 'INVALID_TYPE' // an argument is not a Uint8Array (or not the expected kind of value)
  | 'INVALID_LENGTH' // a byte string has the wrong length
  | 'INVALID_ARGUMENT' // a value is out of its documented range
  | 'NON_CANONICAL' // an encoding that is not the unique canonical one
  | 'LOW_ORDER_POINT' // an X25519 public key of small order
  | 'ZERO_SHARED_SECRET' // an X25519 result of all zeroes
  | 'DECRYPT_FAILED' // an AEAD tag, HPKE open or envelope authenticator did not verify
  | 'BAD_PADDING' // a padded plaintext whose length prefix or filler is wrong
  | 'MESSAGE_LIMIT' // an HPKE context ran out of sequence numbers
  | 'PROOF_INVALID' // a zero-knowledge proof (the OPRF's DLEQ proof) did not verify
  | 'BACKEND_UNAVAILABLE'; // the requested backend does not exist on this platform

export class CryptoError extends CodedError<CryptoErrorCode> {}

export const isCryptoError = codedGuard(CryptoError);
