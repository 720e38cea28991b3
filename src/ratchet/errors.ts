// The ratchet's closed set of failure codes (spec/ratchet.md §9).
import { CodedError, codedGuard } from '../coded-error.js';

export type RatchetErrorCode =
  | 'INVALID_ARGUMENT' // a caller's argument has the wrong type, length or value
  | 'MALFORMED' // message bytes that do not parse (length, version, ratchet key)
  | 'DECRYPT_FAILED' // the message does not authenticate under the key its header selects
  | 'REPLAY' // the message's key is no longer held: already used (or evicted)
  | 'TOO_MANY_SKIPPED' // the message is more than MAX_SKIP ahead in its chain
  | 'DOWNGRADE' // a classical (version 1) message to a hybrid session (§12.5)
  | 'BAD_STATE'; // state bytes that do not decode, or a state that cannot do this (send before receiving)

export class RatchetError extends CodedError<RatchetErrorCode> {}

export const isRatchetError = codedGuard(RatchetError);
